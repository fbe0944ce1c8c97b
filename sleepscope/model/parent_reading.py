"""The current model's confident reading of the uncorrected epochs, for the stages the corrections hardly hold.

A technician who corrects a few hundred epochs corrects some stretches of a
night and leaves the rest, and those stretches may hold next to none of a
stage (often REM or N3). Fine-tuned on them alone, the model learns their
stage mix as the lab's and suggests that stage less on the lab's other
nights than its parent did. For each stage the corrections hold fewer than
`MIN_STAGE_EPOCHS` of, fine-tuning can therefore also learn the parent's own
stage on uncorrected epochs of the same recordings that the parent gives that
stage with high confidence (at most `PER_STAGE` of them, in stretches): what
the corrections say nothing about stays as the parent read it (as in
"learning without forgetting", Li and Hoiem 2016). Stages the corrections do
hold are left to them: where a lab's recordings are read wrongly and
confidently, the parent's reading of every uncorrected epoch would teach its
errors back. These epochs have their own label source (``"parent"``), weigh
as pseudo-labels do (`FineTuneOptions.pseudo_weight`), are never held out to
judge a model and never written to a scoring file.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from sleepscope.scoring.corrections import MIN_STAGE_EPOCHS, CorrectionSet, scarce_stages
from sleepscope.stages import NAMES
from sleepscope.tasks import CancelToken, Progress, check, report

#: the label source of these epochs in a CorrectionSet
SOURCE = "parent"
#: the lowest probability the parent must give its stage
THRESHOLD = 0.9
#: at most this many epochs of each scarce stage
PER_STAGE = 200
#: epochs per drawn stretch (a correction sequence's length)
STRETCH = 20
#: Off: on six fresh synthetic labs it lowered the mean of the lab's other nights, most where the parent reads
#: the lab worst (reports/site-learning-curve-new-parent-synthetic/protocol-uncorrected-epochs.md).
ON_BY_DEFAULT = False


def in_stretches(cs: CorrectionSet, n: int, stretch: int = STRETCH, seed: int = 0) -> CorrectionSet:
    """About `n` epochs of `cs` (at most n + stretch - 1) as stretches of `stretch` contiguous epochs drawn from all
    of it, so that every part of the nights has its chance; all of `cs` when it holds no more."""
    from sleepscope.model.correction_data import contiguous_runs

    pieces = [r[i : i + stretch] for r in contiguous_runs(cs) for i in range(0, r.size, stretch)]
    keep, total = [], 0
    for i in np.random.default_rng(seed).permutation(len(pieces)):
        if total >= n:
            break
        keep.append(pieces[i])
        total += pieces[i].size
    return cs.rows(np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64))


def of_night(x: np.ndarray, probs: np.ndarray, corrected: np.ndarray, fingerprint: str, name: str,
             threshold: float = THRESHOLD, exclude: np.ndarray | None = None) -> CorrectionSet:
    """The epochs of one recording (model input `x`, the parent's stage probabilities `probs`) outside the
    `corrected` indices and `exclude` (bool, e.g. artefact epochs) that the parent reads at `threshold` or above,
    labelled with its stage."""
    ok = np.asarray(probs).max(axis=1) >= threshold
    ok[np.asarray(corrected, np.int64)] = False
    if exclude is not None:
        ok &= ~np.asarray(exclude, bool)
    idx = np.flatnonzero(ok)
    return CorrectionSet(np.asarray(x)[idx].astype(np.float32, copy=False),
                         np.asarray(probs)[idx].argmax(axis=1).astype(np.int64),
                         np.full(idx.size, fingerprint).astype(str), idx.astype(np.int64),
                         np.full(idx.size, SOURCE).astype(str), {fingerprint: name} if idx.size else {})


def for_scarce_stages(confident: CorrectionSet, corrections: CorrectionSet, minimum: int = MIN_STAGE_EPOCHS,
                      per_stage: int = PER_STAGE, seed: int = 0) -> CorrectionSet:
    """Of the parent's `confident` epochs, those of the stages `corrections` hold fewer than `minimum` of, at most
    `per_stage` of each in stretches."""
    from sleepscope.model.pseudo_labels import merge

    few = [NAMES.index(n) for n in scarce_stages(corrections.counts_per_stage(), minimum)]
    return merge([in_stretches(confident.rows(confident.y == st), per_stage, seed=seed)
                  for st in few if np.any(confident.y == st)])


def from_scoring(scoring_paths: Iterable[Any], corrections: CorrectionSet, model, *, recordings: Iterable[Any] = (),
                 threshold: float = THRESHOLD, minimum: int = MIN_STAGE_EPOCHS, per_stage: int = PER_STAGE,
                 seed: int = 0, progress: Progress | None = None, cancel: CancelToken | None = None) -> CorrectionSet:
    """`for_scarce_stages` over the recordings `corrections` were gathered from (found as `build_correction_set`
    finds them), read by the parent `model`; its unreadable epochs are left out. Empty, reading nothing, when the
    corrections hold every stage; a recording not found again is listed in `skipped`."""
    from sleepscope.errors import SleepScopeError
    from sleepscope.model.backups import read_for_model
    from sleepscope.model.infer import predict
    from sleepscope.model.pseudo_labels import merge
    from sleepscope.scoring.corrections import DEFAULT_SOURCES, _find_recording, collect_labels

    if not scarce_stages(corrections.counts_per_stage(), minimum):
        return merge([])
    recordings = list(recordings)
    wanted = [lr for lr in collect_labels(scoring_paths, DEFAULT_SOURCES) if lr.fingerprint in corrections.recording_files]
    sets, skipped = [], []
    for i, lr in enumerate(wanted):
        check(cancel)
        report(progress, i, len(wanted), f"reading {lr.recording_file or lr.fingerprint[:19]}")
        rec, why = _find_recording(lr, recordings)
        if rec is None:
            skipped.append((lr.recording_file or lr.fingerprint, why))
            continue
        try:
            pred = predict(rec, model)
        except SleepScopeError as exc:
            skipped.append((lr.recording_file or lr.fingerprint, str(exc)))
            continue
        done = corrections.epoch[corrections.fingerprint == lr.fingerprint]
        sets.append(of_night(read_for_model(rec, model.config.normalisation).x, pred.probs, done, lr.fingerprint,
                             corrections.recording_files[lr.fingerprint], threshold, exclude=pred.artefact))
    report(progress, len(wanted), len(wanted), "done")
    out = for_scarce_stages(merge(sets), corrections, minimum, per_stage, seed)
    out.skipped = skipped
    return out


__all__ = ["SOURCE", "THRESHOLD", "PER_STAGE", "ON_BY_DEFAULT", "in_stretches", "of_night", "for_scarce_stages",
           "from_scoring"]
