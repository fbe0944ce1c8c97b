"""The label sets of a scoring file that can be compared: the technician's, each model's, each scorer's."""

from __future__ import annotations

import numpy as np

from sleepscope.scoring.scoring_file import ScoringFile

TECHNICIAN = "Technician"


def label_sets(sf: ScoringFile) -> dict[str, np.ndarray]:
    """Name -> stage codes per epoch (-1 unscored): the technician first, models newest first, then scorers."""
    out: dict[str, np.ndarray] = {TECHNICIAN: np.asarray(sf.labels).astype(np.int64)}
    for rec in sorted(sf.predictions.values(), key=lambda r: r.time, reverse=True):
        out[f"Model {rec.model_version}"] = np.asarray(rec.stages).astype(np.int64)
    for name, s in sf.scorer_sets.items():
        out[f"Scorer {name}"] = np.asarray(s.labels).astype(np.int64)
    return out
