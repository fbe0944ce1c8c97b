"""A combination of scorers: their probabilities averaged with fixed weights (itself a Scorer)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from sleepscope.model.infer import Prediction
from sleepscope.tasks import CancelToken, Progress, check


class ProbabilityAverage:
    """Σ wᵢ pᵢ over the scorers' probabilities (weights normalised to sum 1); stage = argmax.

    Epochs the first scorer leaves unscored (artefacts) stay unscored: a
    combination does not give a stage where the primary model found no signal.
    """

    name = "Combined"

    def __init__(self, scorers: Sequence, weights: Sequence[float] | None = None) -> None:
        if len(scorers) < 2:
            raise ValueError("a combination needs at least two scorers")
        w = np.ones(len(scorers)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (len(scorers),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be one non-negative number per scorer, not all 0: {weights!r}")
        self.scorers = list(scorers)
        self.weights = w / w.sum()

    @property
    def version(self) -> str:
        parts = [f"{s.name}:{s.version}*{w:.3g}" for s, w in zip(self.scorers, self.weights)]
        return "avg(" + ",".join(parts) + ")"

    def score(self, recording, progress: Progress | None = None,
              cancel: CancelToken | None = None) -> Prediction:
        preds = []
        for s in self.scorers:
            check(cancel)
            preds.append(s.score(recording, progress=progress, cancel=cancel))
        return self.combine(preds)

    def combine(self, preds: Sequence[Prediction]) -> Prediction:
        """The combination of predictions already made by the scorers (in the scorers' order)."""
        n = min(p.n_epochs for p in preds)
        probs = sum(w * p.probs[:n].astype(np.float64) for w, p in zip(self.weights, preds))
        probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
        stages = probs.argmax(axis=1).astype(np.int8)
        first = np.asarray(preds[0].stages[:n])
        stages[first < 0] = -1
        return Prediction(probs=probs, model_version=self.version, stages=stages)
