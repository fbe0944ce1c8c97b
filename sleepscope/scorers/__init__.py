"""Scorers: anything that answers `recording → Prediction`, behind one small interface.

Our stager (`StagerScorer`), YASA's classifier trained on real NSRR nights
(`YasaScorer`, when the `yasa` package is installed) and combinations of
scorers (`ProbabilityAverage`) are interchangeable for pre-scoring, the
review queue and agreement. `compare` holds what the review queue needs from
two opinions: the disagreement mask, how doubtful each epoch is, and the queue at a
fixed share of epochs.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sleepscope.model.infer import Prediction
from sleepscope.tasks import CancelToken, Progress


@runtime_checkable
class Scorer(Protocol):
    """Stage probabilities (order W, N1, N2, N3, REM) for every 30-s epoch of a recording."""

    #: short name shown beside its stages ("SleepScope", "YASA", ...)
    name: str

    @property
    def version(self) -> str:
        """Identifies the scorer's weights: two runs of the same version give the same prediction."""
        ...

    def score(self, recording, progress: Progress | None = None,
              cancel: CancelToken | None = None) -> Prediction:
        ...


from sleepscope.scorers.compare import (  # noqa: E402  (the interface first, then what builds on it)
    choose_weight,
    disagreement,
    doubt,
    errors_caught,
    review_queue,
)
from sleepscope.scorers.ensemble import ProbabilityAverage  # noqa: E402
from sleepscope.scorers.stager import StagerScorer  # noqa: E402
from sleepscope.scorers.yasa_scorer import SECOND_OPINION_SET, YasaScorer, yasa_available  # noqa: E402

__all__ = [
    "SECOND_OPINION_SET",
    "Prediction",
    "ProbabilityAverage",
    "Scorer",
    "StagerScorer",
    "YasaScorer",
    "choose_weight",
    "disagreement",
    "doubt",
    "errors_caught",
    "review_queue",
    "yasa_available",
]
