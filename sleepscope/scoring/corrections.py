"""The corrections library: every epoch a technician labelled, gathered for fine-tuning.

Labels come from scoring files; signals from their recordings
(`Recording.model_input()`: z-scored EEG/EOG, the model's input). A label's
provenance is kept: `technician` (set by hand), `model` (the technician
accepted the model's stage), `import:<file>` (taken from a hypnogram).

A recording scored twice (two scoring files with the same fingerprint) is
counted once: per epoch, the label with the most recent edit time wins, so a
later re-scoring overrides an earlier one epoch by epoch, and an epoch
labelled in only one file keeps that label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from sleepscope.atomic import replacing
from sleepscope.errors import SleepScopeError
from sleepscope.scoring.scoring_file import IMPORT_PREFIX, ScoringFile
from sleepscope.stages import NAMES, SCORED
from sleepscope.tasks import CancelToken, Progress, check, report

#: Label sources a training set takes by default ("import" stands for every import:<file>).
DEFAULT_SOURCES = ("technician", "model", "import")
#: Fewer corrected epochs of a stage than this (one correction stretch) and a model fine-tuned on them learns the
#: stage mix they hold: it suggests that stage less on the lab's other nights than its parent did.
MIN_STAGE_EPOCHS = 20
#: Fewer corrected epochs than this and a fine-tuned model usually read a synthetic lab's other nights worse than
#: its parent (reports/site-learning-curve-new-parent-synthetic/, 100 epochs against 300).
FEW_EPOCHS = 300


def scarce_stages(per_stage: dict[str, int], minimum: int = MIN_STAGE_EPOCHS) -> list[str]:
    """The stages of `per_stage` (name -> corrected epochs) with fewer than `minimum`; none while nothing is
    corrected."""
    if not any(per_stage.get(n, 0) for n in NAMES):
        return []
    return [n for n in NAMES if per_stage.get(n, 0) < minimum]


def few_note(total: int, minimum: int = FEW_EPOCHS) -> str | None:
    """What to tell the technician before fine-tuning on fewer than `minimum` corrected epochs, or None."""
    if total <= 0 or total >= minimum:
        return None
    return (f"only {total} corrected epochs: fine-tuned on so few, a model usually reads the lab's other nights worse "
            f"than the current one. Correct at least {minimum}, from more than one recording, and compare the new "
            "model's figures with the current one's before activating it.")


def scarce_note(per_stage: dict[str, int], minimum: int = MIN_STAGE_EPOCHS, reading: bool = False) -> str | None:
    """What to tell the technician before fine-tuning on corrections that hardly hold some stage, or None
    (`reading`: fine-tuning will also learn the current model's reading of those stages,
    :mod:`sleepscope.model.parent_reading`)."""
    few = scarce_stages(per_stage, minimum)
    if not few:
        return None
    listed = ", ".join(f"{n} ({per_stage.get(n, 0)})" for n in few)
    them = " and ".join(few) if len(few) <= 2 else ", ".join(few[:-1]) + " and " + few[-1]
    parts = [f"few corrected epochs of {listed}: fine-tuned on these corrections alone, a model learns the stage mix "
             f"they hold and suggests {them} less often."]
    if reading:
        parts.append(f"Fine-tuning therefore also learns the current model's confident reading of {them} on the "
                     f"uncorrected epochs of these recordings, which keeps what it reads but cannot teach it this "
                     f"lab's {them}.")
    parts.append(f"Correct at least {minimum} epochs of each stage the nights hold (a stage the subjects truly lack "
                 "can be left).")
    return " ".join(parts)


@dataclass
class LabelledRecording:
    """The labelled epochs of one recording, merged over its scoring files."""

    fingerprint: str
    recording_file: str
    scoring_paths: list[Path]
    epochs: np.ndarray  # int64, ascending
    labels: np.ndarray  # int8, 0..4
    sources: np.ndarray  # object (str)
    times: np.ndarray  # float64, the time each label was set


@dataclass
class CorrectionSet:
    """A training set of labelled epochs: x (n, 2, 3000) float32 [EEG, EOG], y (n,) int64."""

    x: np.ndarray
    y: np.ndarray
    fingerprint: np.ndarray  # (n,) str: the recording of each epoch
    epoch: np.ndarray  # (n,) int64: its index in that recording
    source: np.ndarray  # (n,) str: provenance of its label
    recording_files: dict[str, str] = field(default_factory=dict)  # fingerprint -> file name
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (recording, why)
    #: fingerprint -> the top frequency (Hz) its EEG holds by its header (sleepscope.model.eeg_band.eeg_top_hz)
    eeg_top_hz: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.y.size)

    def counts_per_stage(self) -> dict[str, int]:
        return {name: int(np.count_nonzero(self.y == int(st))) for name, st in zip(NAMES, SCORED)}

    def rows(self, which: np.ndarray) -> CorrectionSet:
        """The corrections selected by `which` (a boolean mask or indices), as a set of their own (the
        recordings' names of those it keeps; what was skipped building the whole set)."""
        idx = np.flatnonzero(which) if np.asarray(which).dtype == bool else np.asarray(which, dtype=np.int64)
        fps = self.fingerprint[idx]
        kept = set(fps.tolist())
        return CorrectionSet(self.x[idx], self.y[idx], fps, self.epoch[idx], self.source[idx],
                             {fp: name for fp, name in self.recording_files.items() if fp in kept},
                             list(self.skipped), {fp: hz for fp, hz in self.eeg_top_hz.items() if fp in kept})

    def counts_per_recording(self) -> dict[str, dict[str, int]]:
        """fingerprint -> {stage name: epochs, "total": epochs}."""
        out: dict[str, dict[str, int]] = {}
        for fp in dict.fromkeys(self.fingerprint.tolist()):
            y = self.y[self.fingerprint == fp]
            counts = {name: int(np.count_nonzero(y == int(st))) for name, st in zip(NAMES, SCORED)}
            counts["total"] = int(y.size)
            out[fp] = counts
        return out

    def save(self, path: str | Path) -> Path:
        """HDF5 file for the fine-tuning process (no pickles)."""
        import h5py

        path = Path(path)
        str_dt = h5py.string_dtype("utf-8")
        with replacing(path) as tmp, h5py.File(tmp, "w") as f:
            f.create_dataset("x", data=self.x, chunks=(min(max(len(self), 1), 64), 2, self.x.shape[-1])
                             if len(self) else None)
            f.create_dataset("y", data=self.y)
            f.create_dataset("fingerprint", data=self.fingerprint.astype(object), dtype=str_dt)
            f.create_dataset("epoch", data=self.epoch)
            f.create_dataset("source", data=self.source.astype(object), dtype=str_dt)
            g = f.create_group("recording_files")
            for fp, name in self.recording_files.items():
                g.attrs[fp] = name
            g = f.create_group("eeg_top_hz")
            for fp, hz in self.eeg_top_hz.items():
                g.attrs[fp] = float(hz)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "CorrectionSet":
        import h5py

        def strs(d: Any) -> np.ndarray:
            return np.array([s.decode() if isinstance(s, bytes) else str(s) for s in d[()]], dtype=object)

        with h5py.File(path, "r") as f:
            return cls(
                x=f["x"][()].astype(np.float32), y=f["y"][()].astype(np.int64), fingerprint=strs(f["fingerprint"]),
                epoch=f["epoch"][()].astype(np.int64), source=strs(f["source"]),
                recording_files={k: str(v) for k, v in f["recording_files"].attrs.items()},
                eeg_top_hz={k: float(v) for k, v in f["eeg_top_hz"].attrs.items()} if "eeg_top_hz" in f else {},
            )


def _source_taken(source: str, sources: Iterable[str]) -> bool:
    for s in sources:
        if source == s or (s == "import" and source.startswith(IMPORT_PREFIX)):
            return True
    return False


def collect_labels(scoring_paths: Iterable[str | Path],
                   sources: Iterable[str] = DEFAULT_SOURCES) -> list[LabelledRecording]:
    """The labelled epochs of every recording, merging scoring files of the same recording."""
    sources = tuple(sources)
    merged: dict[str, dict[str, Any]] = {}
    for path in scoring_paths:
        sf = ScoringFile.read(path)
        fp = sf.identity.fingerprint
        labels, srcs, times = sf.labels, sf.sources, sf.label_times
        m = merged.setdefault(fp, {
            "file": sf.identity.file_name, "paths": [],
            "labels": np.full(sf.n_epochs, -1, np.int8), "sources": np.full(sf.n_epochs, "", object),
            "times": np.full(sf.n_epochs, -np.inf),
        })
        m["paths"].append(Path(path))
        m["file"] = m["file"] or sf.identity.file_name
        # An epoch this file touched more recently than the others decides, even when it
        # was un-scored here (a later "unscored" withdraws an earlier label).
        touched = (sf.label_scorers != "") | (labels >= 0)
        newer = touched & (times > m["times"])
        m["labels"][newer] = labels[newer]
        m["sources"][newer] = srcs[newer]
        m["times"][newer] = times[newer]
    out = []
    for fp, m in merged.items():
        keep = (m["labels"] >= 0) & np.array([_source_taken(s, sources) for s in m["sources"]], bool)
        idx = np.flatnonzero(keep)
        out.append(LabelledRecording(fp, m["file"], m["paths"], idx.astype(np.int64), m["labels"][idx],
                                     m["sources"][idx], m["times"][idx]))
    return out


def _find_recording(lr: LabelledRecording, recordings: list[Any]) -> tuple[Any | None, str]:
    """The Recording of `lr`: among those given, else beside its scoring files."""
    from sleepscope.io import open_recording

    for rec in recordings:
        if not isinstance(rec, (str, Path)) and rec.fingerprint() == lr.fingerprint:
            return rec, ""
    candidates = [Path(r) for r in recordings if isinstance(r, (str, Path))]
    if lr.recording_file:
        candidates += [p.parent / lr.recording_file for p in lr.scoring_paths]
    why = f"its recording {lr.recording_file or lr.fingerprint[:19]} was not found"
    for cand in dict.fromkeys(candidates):
        if not cand.is_file():
            continue
        try:
            rec = open_recording(cand)
        except SleepScopeError as exc:
            why = str(exc)
            continue
        if rec.fingerprint() == lr.fingerprint:
            return rec, ""
        why = f"{cand} has changed since it was scored (fingerprint differs)"
    return None, why


def build_correction_set(scoring_paths: Iterable[str | Path], recordings: Iterable[Any] = (),
                         sources: Iterable[str] = DEFAULT_SOURCES, progress: Progress | None = None,
                         cancel: CancelToken | None = None, normalisation: str = "epoch") -> CorrectionSet:
    """Gather labelled epochs and their signals from scoring files into a CorrectionSet.

    `recordings`: Recording objects or recording paths to look in (matched by
    fingerprint); a recording is otherwise looked for beside its scoring file.
    Recordings that cannot be found are listed in `skipped`, not fatal.
    `normalisation`: the model's (``ModelConfig.normalisation``), so that the
    epochs are the input the model to be fine-tuned reads when it pre-scores.
    """
    from sleepscope.model.eeg_band import eeg_top_hz
    from sleepscope.model.backups import read_for_model

    labelled = collect_labels(scoring_paths, sources)
    recordings = list(recordings)
    xs, ys, fps, eps, srcs = [], [], [], [], []
    files: dict[str, str] = {}
    tops: dict[str, float] = {}
    skipped: list[tuple[str, str]] = []
    for i, lr in enumerate(labelled):
        check(cancel)
        report(progress, i, len(labelled), f"reading {lr.recording_file or lr.fingerprint[:19]}")
        if lr.epochs.size == 0:
            continue
        rec, why = _find_recording(lr, recordings)
        if rec is None:
            skipped.append((lr.recording_file or lr.fingerprint, why))
            continue
        x = read_for_model(rec, normalisation, cancel).x  # as pre-scoring read the epochs corrected
        xs.append(np.ascontiguousarray(x[lr.epochs], dtype=np.float32))
        ys.append(lr.labels.astype(np.int64))
        fps.append(np.full(lr.epochs.size, lr.fingerprint, object))
        eps.append(lr.epochs)
        srcs.append(lr.sources)
        files[lr.fingerprint] = lr.recording_file
        if (top := eeg_top_hz(rec)) is not None:
            tops[lr.fingerprint] = top
    report(progress, len(labelled), len(labelled), "done")
    if not xs:
        return CorrectionSet(np.zeros((0, 2, 3000), np.float32), np.zeros(0, np.int64), np.zeros(0, object),
                             np.zeros(0, np.int64), np.zeros(0, object), files, skipped)
    return CorrectionSet(np.concatenate(xs), np.concatenate(ys), np.concatenate(fps), np.concatenate(eps),
                         np.concatenate(srcs), files, skipped, tops)


def label_counts(scoring_paths: Iterable[str | Path],
                 sources: Iterable[str] = DEFAULT_SOURCES) -> dict[str, dict[str, int]]:
    """Labelled epochs per recording (fingerprint) and stage, without reading any signal."""
    out: dict[str, dict[str, int]] = {}
    for lr in collect_labels(scoring_paths, sources):
        counts = {name: int(np.count_nonzero(lr.labels == int(st))) for name, st in zip(NAMES, SCORED)}
        counts["total"] = int(lr.labels.size)
        out[lr.fingerprint] = counts
    return out
