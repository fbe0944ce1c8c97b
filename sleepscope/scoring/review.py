"""The review queue's bookkeeping: how much of it is done, and which confident runs can be accepted at once.

A night is reviewed epoch by epoch where the model is unsure or disagrees
(the doubtful epochs); between them lie long runs where it is confident.
Accepting such a run in one step (one undoable edit) leaves the technician
the doubtful epochs. Only unscored epochs are filled: a label someone set or
imported is never overwritten by a bulk accept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A run shorter than this is left for review: a confident epoch among doubtful ones is
#: usually a transition, which a technician wants to see.
MIN_RUN = 3


@dataclass(frozen=True)
class ReviewCoverage:
    doubtful: int
    reviewed: int  # doubtful epochs a person has reviewed

    def text(self) -> str:
        if self.doubtful == 0:
            return "No doubtful epoch"
        return f"{self.doubtful} doubtful epochs, {self.reviewed} reviewed"


def review_coverage(doubtful: np.ndarray, reviewed: np.ndarray) -> ReviewCoverage:
    doubtful = np.asarray(doubtful, bool)
    return ReviewCoverage(int(doubtful.sum()), int((doubtful & np.asarray(reviewed, bool)).sum()))


def confident_runs(model_stages: np.ndarray, doubtful: np.ndarray, labels: np.ndarray,
                   min_run: int = MIN_RUN) -> np.ndarray:
    """Epochs (sorted) in runs of at least `min_run` consecutive unscored, not doubtful epochs of one model stage."""
    stages = np.asarray(model_stages).astype(np.int64)
    eligible = ~np.asarray(doubtful, bool) & (np.asarray(labels) < 0) & (stages >= 0)
    key = np.where(eligible, stages, -1)
    n = key.size
    if n == 0:
        return np.zeros(0, np.int64)
    change = np.flatnonzero(key[1:] != key[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [n]))
    keep = (key[starts] >= 0) & (ends - starts >= min_run)
    if not keep.any():
        return np.zeros(0, np.int64)
    return np.concatenate([np.arange(s, e) for s, e in zip(starts[keep], ends[keep])])
