"""Two opinions side by side: where they disagree, the review queue, and choosing a combination's weight."""

from __future__ import annotations

import numpy as np


def disagreement(a_stages: np.ndarray, b_stages: np.ndarray) -> np.ndarray:
    """Epochs where both opinions give a stage and the stages differ (the GUI's second-opinion flags)."""
    a, b = np.asarray(a_stages), np.asarray(b_stages)
    n = min(len(a), len(b))
    out = np.zeros(len(a), bool)
    out[:n] = (a[:n] >= 0) & (b[:n] >= 0) & (a[:n] != b[:n])
    return out


def doubtful(unsure: np.ndarray, stages: np.ndarray, second_stages: np.ndarray | None = None) -> np.ndarray:
    """The workstation's review queue before any label is set: the epochs the model marked `unsure` and, with a
    second opinion, those where it names another stage (``ScoringController.attention_reasons``)."""
    unsure = np.asarray(unsure, bool)
    return unsure if second_stages is None else unsure | disagreement(stages, second_stages)


def doubt(probs: np.ndarray, second_stages: np.ndarray | None = None) -> np.ndarray:
    """How much each epoch deserves a technician's look, from the suggestion's probabilities.

    1 − top probability (the unsure epochs); where a second opinion picks
    another stage, 1 − (top probability − the suggestion's own probability of
    that stage): a disagreement counts in proportion to how plausible the
    suggestion itself found the other stage. Putting every disagreement first
    instead floods the queue when the second opinion is poor on a night.
    """
    probs = np.asarray(probs, np.float64)
    top = probs.max(axis=1)
    out = 1.0 - top
    if second_stages is not None:
        other = np.asarray(second_stages)[: len(probs)]
        dis = disagreement(probs.argmax(axis=1), other)
        idx = np.flatnonzero(dis)
        out[idx] = 1.0 - (top[idx] - probs[idx, other[idx]])
    return out


def review_queue(probs: np.ndarray, share: float, second_stages: np.ndarray | None = None) -> np.ndarray:
    """The `share` of epochs a technician reviews first: the most doubtful (see `doubt`), as a boolean mask."""
    d = doubt(probs, second_stages)
    k = int(round(float(share) * len(d)))
    mask = np.zeros(len(d), bool)
    mask[np.argsort(-d, kind="stable")[:k]] = True
    return mask


def errors_caught(queue: np.ndarray, stages: np.ndarray, labels: np.ndarray) -> float:
    """Share of the suggestion's errors (on labelled epochs) that the queue puts before a technician."""
    labels, stages, queue = np.asarray(labels), np.asarray(stages), np.asarray(queue, bool)
    wrong = (labels >= 0) & (stages != labels)
    return float((wrong & queue).sum() / wrong.sum()) if wrong.any() else 1.0


def choose_weight(probs_a: np.ndarray, probs_b: np.ndarray, labels: np.ndarray,
                  grid: np.ndarray | None = None) -> tuple[float, float]:
    """The weight w of `a` in w·a + (1−w)·b with the best accuracy on labelled epochs, and that accuracy.

    Chosen on validation nights, never on the nights it is then reported on.
    Ties go to the larger w (the primary scorer).
    """
    grid = np.linspace(0.0, 1.0, 21) if grid is None else np.asarray(grid)
    labels = np.asarray(labels)
    keep = labels >= 0
    if not keep.any():
        raise ValueError("no labelled epoch to choose a weight on")
    best_w, best_acc = 1.0, -1.0
    for w in sorted(grid, reverse=True):
        stages = (w * probs_a[keep] + (1 - w) * probs_b[keep]).argmax(axis=1)
        acc = float((stages == labels[keep]).mean())
        if acc > best_acc + 1e-12:
            best_w, best_acc = float(w), acc
    return best_w, best_acc


def second_opinion_columns(primary, second) -> list[dict]:
    """Per epoch: the second opinion's stage and probabilities, and whether it disagrees with the primary."""
    from sleepscope.stages import NAMES, Stage

    flags = disagreement(primary.stages, second.stages)
    name = getattr(second, "column_prefix", "yasa")
    return [{f"{name}_stage": Stage(int(second.stages[i])).label,
             **{f"{name}_p_{s}": round(float(p), 6) for s, p in zip(NAMES, second.probs[i])},
             "disagree": int(flags[i])}
            for i in range(primary.n_epochs)]
