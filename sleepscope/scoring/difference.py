"""How sure a difference in macro-F1 between two scorers of the same epochs is.

Two models scored on one recording differ by a few epochs here and there;
whether the difference says more than which epochs happened to be corrected
is what a paired bootstrap answers. Blocks of consecutive epochs are drawn
with replacement (neighbouring 30-s epochs are not independent), both
scorers are scored on the same draw, and the spread of the differences gives
an interval.
"""

from __future__ import annotations

import numpy as np

from sleepscope.stages import N_CLASSES


def _macro_f1(counts: np.ndarray) -> np.ndarray:
    """Macro-F1 per row of confusion counts (rows, N_CLASSES * N_CLASSES; true-major), over the stages present
    in the truth or the prediction, as ``agreement`` computes it."""
    cm = counts.reshape(len(counts), N_CLASSES, N_CLASSES)
    tp = np.einsum("rkk->rk", cm)
    true, pred = cm.sum(2), cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(true + pred > 0, 2 * tp / (true + pred), 0.0)
    present = (true + pred) > 0
    return np.where(present.any(1), (f1 * present).sum(1) / np.maximum(present.sum(1), 1), np.nan)


def _block_counts(y: np.ndarray, s: np.ndarray, block: int) -> np.ndarray:
    keep = (y >= 0) & (y < N_CLASSES)
    pair = np.where(keep, y * N_CLASSES + np.clip(s, 0, N_CLASSES - 1), -1)
    out = np.zeros((-(-len(y) // block), N_CLASSES * N_CLASSES))
    for b in range(len(out)):
        p = pair[b * block:(b + 1) * block]
        out[b] = np.bincount(p[p >= 0], minlength=N_CLASSES * N_CLASSES)
    return out


def macro_f1_difference(y: np.ndarray, a: np.ndarray, b: np.ndarray, *, block: int = 20, draws: int = 2000,
                        level: float = 0.9, seed: int = 0) -> tuple[float, float, float]:
    """(difference, low, high): macro-F1 of stages `a` minus that of stages `b` on true stages `y` (in
    recording order; -1 unscored), and the central `level` interval of that difference over `draws` paired
    bootstrap draws of blocks of `block` consecutive epochs."""
    y, a, b = (np.asarray(v, dtype=np.int64) for v in (y, a, b))
    ca, cb = _block_counts(y, a, block), _block_counts(y, b, block)
    point = float(_macro_f1(ca.sum(0, keepdims=True))[0] - _macro_f1(cb.sum(0, keepdims=True))[0])
    rng = np.random.default_rng(seed)
    picks = rng.multinomial(len(ca), np.full(len(ca), 1.0 / len(ca)), size=draws).astype(np.float64)
    diff = _macro_f1(picks @ ca) - _macro_f1(picks @ cb)
    lo, hi = np.nanquantile(diff, [(1 - level) / 2, (1 + level) / 2])
    return point, float(lo), float(hi)


def verdict(low: float, high: float) -> str:
    """"better", "worse" or "no clear difference", from a difference's interval."""
    return "better" if low > 0 else "worse" if high < 0 else "no clear difference"
