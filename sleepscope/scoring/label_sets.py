"""The label sets of a scoring file that can be compared: the technician's, each model's, each scorer's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sleepscope.scoring.agreement import Agreement, agreement
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


def agreement_apart(sf: ScoringFile, ref: str, other: str,
                    sets: dict[str, np.ndarray] | None = None) -> tuple[int, Agreement | None]:
    """When one of the two label sets compared is the technician's: (the epochs whose technician's label was taken
    unchanged from the other, an accepted model suggestion or an imported scorer's label, which agree by
    construction; the agreement on the other epochs scored in both, or None when none is). (0, None) otherwise.
    `sets`: `label_sets(sf)` when the caller has it."""
    if TECHNICIAN not in (ref, other) or ref == other:
        return 0, None
    sets = label_sets(sf) if sets is None else sets
    name = other if ref == TECHNICIAN else ref
    labels = sets[TECHNICIAN]
    if name.startswith("Model "):
        origin = SOURCE_MODEL
    else:
        scorer = sf.scorer_sets.get(name[len("Scorer "):])
        origin = IMPORT_PREFIX + (Path(scorer.source_file).name if scorer is not None and scorer.source_file
                                  else name[len("Scorer "):])
    taken = (labels >= 0) & (np.asarray(sf.sources).astype(str) == origin) & (labels == sets[name])
    rest = (sets[ref] >= 0) & (sets[other] >= 0) & ~taken
    return int(taken.sum()), (agreement(sets[ref][rest], sets[other][rest]) if rest.any() else None)
