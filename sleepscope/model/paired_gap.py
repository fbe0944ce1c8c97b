"""Is one way of scoring clearly more accurate than another on the same labelled epochs?

Neighbouring epochs are not independent (a stretch the network misreads is misread by both ways
alike), so the standard error of the accuracy gap is taken over blocks of consecutive epochs, not
over epochs. Choices between a safe default and an alternative (the parent's share in a child, the
stage-transition chain) take the alternative only when its gap is above one standard error.
"""

from __future__ import annotations

import math

import numpy as np


def paired_gap(right_a: np.ndarray, right_b: np.ndarray, block: np.ndarray) -> dict:
    """Accuracy of a minus accuracy of b (`right_*`: which epochs each got right; `block`: each epoch's
    block) with its standard error over the blocks (infinite with fewer than two blocks), and whether a
    is ahead by more than that."""
    diff = np.asarray(right_a, np.float64) - np.asarray(right_b, np.float64)
    block = np.asarray(block)
    per_block = np.array([diff[block == b].mean() for b in np.unique(block)])
    gap = float(diff.mean()) if diff.size else 0.0
    se = float(per_block.std(ddof=1) / np.sqrt(per_block.size)) if per_block.size > 1 else math.inf
    return {"gap": gap, "standard_error": se, "blocks": int(per_block.size), "n_epochs": int(diff.size),
            "a_ahead": gap > se}


def night_blocks(lengths, size: int) -> np.ndarray:
    """Each epoch's block for `paired_gap`: runs of `size` consecutive epochs within one night, numbered
    across the nights (`lengths`: their epoch counts, in order), so no block spans or shares two nights."""
    out, start = [], 0
    for n in lengths:
        out.append(start + np.arange(n) // size)
        start += -(-n // size)
    return np.concatenate(out) if out else np.zeros(0, np.int64)
