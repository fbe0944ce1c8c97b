"""The label sets of a scoring file that can be compared: the technician's, each model's, each scorer's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sleepscope.scoring.scoring_file import IMPORT_PREFIX, SOURCE_MODEL, ScoringFile

TECHNICIAN = "Technician"


def label_sets(sf: ScoringFile) -> dict[str, np.ndarray]:
    """Name -> stage codes per epoch (-1 unscored): the technician first, models newest first, then scorers."""
    out: dict[str, np.ndarray] = {TECHNICIAN: np.asarray(sf.labels).astype(np.int64)}
    for rec in sorted(sf.predictions.values(), key=lambda r: r.time, reverse=True):
        out[f"Model {rec.model_version}"] = np.asarray(rec.stages).astype(np.int64)
    for name, s in sf.scorer_sets.items():
        out[f"Scorer {name}"] = np.asarray(s.labels).astype(np.int64)
    return out


def taken_from(sf: ScoringFile, name: str) -> np.ndarray:
    """Per epoch, whether the technician's label was taken unchanged from the label set `name` (an accepted model
    suggestion, an imported scorer's label): where the two agree by construction, not by judgement."""
    labels = np.asarray(sf.labels).astype(np.int64)
    other = label_sets(sf).get(name)
    if other is None or name == TECHNICIAN:
        return np.zeros(len(labels), bool)
    if name.startswith("Model "):
        origin = SOURCE_MODEL
    else:
        scorer = sf.scorer_sets.get(name[len("Scorer "):])
        origin = IMPORT_PREFIX + (Path(scorer.source_file).name if scorer is not None and scorer.source_file
                                  else name[len("Scorer "):])
    return (labels >= 0) & (np.asarray(sf.sources).astype(str) == origin) & (labels == other)
