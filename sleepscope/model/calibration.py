"""Calibrated probabilities and the "unsure" threshold, fitted on validation nights.

Temperature scaling (Guo et al., 2017): the logits are divided by one number T
fitted to minimise the negative log-likelihood of the validation epochs'
stages. It changes no argmax (accuracy is untouched) and only how sure the
probabilities say the model is. The expected calibration error (ECE) is the
share-weighted mean gap between confidence and accuracy over 15 equal-width
confidence bins.

The "unsure" threshold is chosen from measured error capture: for each
candidate threshold t, the share of epochs whose top probability is below t
(flagged) and the share of the model's errors among them (caught); the
threshold kept is the one catching the most errors beyond the share it flags
(caught - flagged), flagging at most :data:`MAX_FLAGGED` of the epochs.
All of it is stored in the model card (``calibration``) and applied by ``predict``.
"""

from __future__ import annotations

import numpy as np

#: The most epochs the unsure flag may send back to the technician.
MAX_FLAGGED = 0.15
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.40, 0.96, 0.05))
#: Used when a model card carries no calibration (models trained before it existed).
DEFAULT_UNSURE = 0.6


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-12))))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising the NLL of `labels` under softmax(logits / T) (grid, then golden-section refinement)."""
    logits, labels = np.asarray(logits), np.asarray(labels, dtype=np.int64)
    keep = labels >= 0
    logits, labels = logits[keep], labels[keep]
    if len(labels) == 0:
        raise ValueError("no labelled epochs to calibrate on")
    grid = np.geomspace(0.25, 8.0, 41)
    losses = [nll(logits, labels, t) for t in grid]
    i = int(np.argmin(losses))
    lo, hi = np.log(grid[max(0, i - 1)]), np.log(grid[min(len(grid) - 1, i + 1)])
    g = (np.sqrt(5) - 1) / 2
    for _ in range(30):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(logits, labels, np.exp(a)) < nll(logits, labels, np.exp(b)):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top-class probability (labels < 0 ignored)."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    keep = labels >= 0
    probs, labels = probs[keep], labels[keep]
    if len(labels) == 0:
        return float("nan")
    conf = probs.max(axis=1)
    right = probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.mean() * abs(conf[sel].mean() - right[sel].mean())
    return float(total)


def error_capture(probs: np.ndarray, labels: np.ndarray, thresholds=THRESHOLDS) -> list[dict]:
    """Per threshold: share of epochs flagged (top probability below it) and share of errors among them."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    keep = labels >= 0
    probs, labels = probs[keep], labels[keep]
    conf = probs.max(axis=1)
    wrong = probs.argmax(axis=1) != labels
    out = []
    for t in thresholds:
        flagged = conf < t
        out.append({"threshold": float(t), "flagged": float(flagged.mean()) if len(conf) else 0.0,
                    "caught": float((flagged & wrong).sum() / max(1, wrong.sum()))})
    return out


def choose_unsure_threshold(table: list[dict], max_flagged: float = MAX_FLAGGED) -> float:
    """The threshold of `table` (from :func:`error_capture`) with the largest caught - flagged, flagging <= max_flagged."""
    ok = [r for r in table if r["flagged"] <= max_flagged] or table[:1]
    return float(max(ok, key=lambda r: (r["caught"] - r["flagged"], -r["threshold"]))["threshold"])


def fit_calibration(logits: np.ndarray, labels: np.ndarray, temperature: float | None = None) -> dict:
    """The card's ``calibration`` entry from validation logits and stages (labels -1 ignored).

    ``temperature`` given: kept as it is (a released model whose outputs must
    not change), the fitted one only reported as ``fitted_temperature``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    keep = labels >= 0
    logits, labels = np.asarray(logits)[keep], labels[keep]
    fitted = fit_temperature(logits, labels)
    t = fitted if temperature is None else float(temperature)
    before, after = softmax(logits), softmax(logits, t)
    table = error_capture(after, labels)
    return {"temperature": t, "fitted_temperature": fitted, "ece_before": ece(before, labels),
            "ece": ece(after, labels), "unsure_threshold": choose_unsure_threshold(table), "error_capture": table,
            "n_epochs": int(len(labels))}
