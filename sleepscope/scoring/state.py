"""A scoring's in-memory state and the edits that change it.

`ScoringState` is what a scoring file holds (identity, labels with
provenance, reviewed flags, notes, predictions, other scorers' labels, the
journal history); `apply_entry` applies one journal entry to it, for live
edits and for replay alike; `UndoHistory` turns the journal's edit, undo and
redo entries into the two stacks. Nothing here touches the disk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.scoring.events import MARK_OPS, Lights, MarkEdit, ScoringEvent, apply_mark
from sleepscope.stages import Stage, most_likely

EPOCH_SECONDS = 30.0

SOURCE_MODEL = "model"
SOURCE_TECHNICIAN = "technician"
IMPORT_PREFIX = "import:"


def check_source(source: str) -> str:
    if source in (SOURCE_MODEL, SOURCE_TECHNICIAN) or (source.startswith(IMPORT_PREFIX) and len(source) > 7):
        return source
    raise ValueError(f"label source must be 'model', 'technician' or 'import:<file>', not {source!r}")


@dataclass(frozen=True)
class RecordingIdentity:
    """What ties a scoring file to one recording."""

    fingerprint: str
    n_epochs: int
    duration_s: float
    start_time: datetime | None = None
    file_name: str = ""
    epoch_seconds: float = EPOCH_SECONDS

    @classmethod
    def of(cls, recording: Any) -> "RecordingIdentity":
        path = getattr(recording, "path", None)
        return cls(
            fingerprint=str(recording.fingerprint()),
            n_epochs=int(recording.n_epochs),
            duration_s=float(recording.duration_s),
            start_time=getattr(recording, "start_time", None),
            file_name=Path(path).name if path else "",
        )


@dataclass(frozen=True)
class Edit:
    """One undoable change of technician labels; `old_*` restore the epochs exactly."""

    seq: int
    epochs: tuple[int, ...]
    old: tuple[int, ...]
    new: tuple[int, ...]
    source: str
    scorer: str
    time: float
    old_sources: tuple[str, ...]
    old_scorers: tuple[str, ...]
    old_times: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "op": "edit", "seq": self.seq, "t": self.time, "source": self.source, "scorer": self.scorer,
            "epochs": list(self.epochs), "old": list(self.old), "new": list(self.new),
            "old_src": list(self.old_sources), "old_scr": list(self.old_scorers), "old_t": list(self.old_times),
        }

    @classmethod
    def from_json(cls, e: dict[str, Any]) -> "Edit":
        return cls(
            seq=int(e["seq"]), epochs=tuple(int(i) for i in e["epochs"]), old=tuple(int(i) for i in e["old"]),
            new=tuple(int(i) for i in e["new"]), source=str(e["source"]), scorer=str(e["scorer"]),
            time=float(e["t"]), old_sources=tuple(str(s) for s in e["old_src"]),
            old_scorers=tuple(str(s) for s in e["old_scr"]), old_times=tuple(float(t) for t in e["old_t"]),
        )


@dataclass
class PredictionRecord:
    model_version: str
    probs: np.ndarray  # (n_epochs, 5) float32
    time: float
    #: epochs [start, stop) whose encoder statistics the night was also scored with (``Prediction.night_statistics``)
    statistics_span: tuple[int, int] | None = None
    #: (EEG, EOG) the model read, None for a channel it went without; None: not kept (files written before)
    channels: tuple[str | None, str | None] | None = None
    #: how the model read each epoch (`sleepscope.model.epoch_reading` bits); None: not kept (files written before)
    reading: np.ndarray | None = None
    #: why the chin EMG was left out (`Prediction.chin_note`); None: it was not, or not kept
    chin_note: str | None = None
    #: the ECG lead whose beats were subtracted, ``"none"`` (`channels.NO_ECG`) where none was; None: not kept
    ecg: str | None = None

    @property
    def stages(self) -> np.ndarray:
        """-1 on the epochs the model gave no stage (artefact epochs)."""
        return most_likely(self.probs)

    @property
    def confidence(self) -> np.ndarray:
        return self.probs.max(axis=1)


@dataclass
class ScorerLabels:
    """Another scorer's complete label set (e.g. an imported hypnogram)."""

    name: str
    labels: np.ndarray  # int8 per epoch
    source_file: str
    time: float


@dataclass
class ScoringState:
    identity: RecordingIdentity
    labels: np.ndarray
    sources: np.ndarray
    scorers: np.ndarray
    times: np.ndarray
    reviewed: np.ndarray
    notes: str = ""
    seq: int = 0
    created: float = field(default_factory=time.time)
    predictions: dict[str, PredictionRecord] = field(default_factory=dict)
    scorer_sets: dict[str, ScorerLabels] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    #: events and notes by id (the seq of the entry that added them)
    events: dict[int, ScoringEvent] = field(default_factory=dict)
    #: 'off' and 'on': seconds from the recording's start, or None
    lights: dict[str, float | None] = field(default_factory=lambda: {"off": None, "on": None})

    @property
    def lights_marks(self) -> Lights:
        return Lights(self.lights.get("off"), self.lights.get("on"))

    @classmethod
    def empty(cls, identity: RecordingIdentity) -> "ScoringState":
        n = identity.n_epochs
        return cls(
            identity=identity,
            labels=np.full(n, int(Stage.UNSCORED), np.int8),
            sources=np.full(n, "", object),
            scorers=np.full(n, "", object),
            times=np.zeros(n, np.float64),
            reviewed=np.zeros(n, bool),
        )


def epoch_index(epochs: Any, n: int) -> np.ndarray:
    if isinstance(epochs, slice):
        idx = np.arange(n)[epochs]
    elif isinstance(epochs, (int, np.integer)):
        idx = np.array([int(epochs)])
    else:
        idx = np.asarray(list(epochs) if not isinstance(epochs, np.ndarray) else epochs, dtype=np.int64).ravel()
    if idx.size == 0:
        raise SleepScopeError("No epoch selected: select one or more epochs first.")
    idx = np.unique(idx.astype(np.int64))
    if idx[0] < 0 or idx[-1] >= n:
        bad = int(idx[0] if idx[0] < 0 else idx[-1])
        raise SleepScopeError(f"Epoch {bad} is outside this recording (epochs 0 to {n - 1}).")
    return idx


def apply_entry(state: ScoringState, e: dict[str, Any]) -> None:
    """Apply one journal entry to the in-memory state (shared by live edits and replay)."""
    op = e.get("op")
    if op == "edit":
        idx = np.asarray(e["epochs"], np.int64)
        state.labels[idx] = np.asarray(e["new"], np.int8)
        state.sources[idx] = e["source"]
        state.scorers[idx] = e["scorer"]
        state.times[idx] = float(e["t"])
    elif op in MARK_OPS:
        apply_mark(state.events, state.lights, e)
    elif op in ("undo", "redo") and find_entry(state, int(e["target"])).get("op") in MARK_OPS:
        apply_mark(state.events, state.lights, find_entry(state, int(e["target"])),
                   "old" if op == "undo" else "new")
    elif op in ("undo", "redo"):
        target = find_edit(state, int(e["target"]))
        idx = np.asarray(target.epochs, np.int64)
        if op == "undo":
            state.labels[idx] = np.asarray(target.old, np.int8)
            state.sources[idx] = np.array(target.old_sources, dtype=object)
            state.scorers[idx] = np.array(target.old_scorers, dtype=object)
            state.times[idx] = np.asarray(target.old_times, np.float64)
        else:
            state.labels[idx] = np.asarray(target.new, np.int8)
            state.sources[idx] = target.source
            state.scorers[idx] = target.scorer
            state.times[idx] = target.time
    elif op == "reviewed":
        state.reviewed[np.asarray(e["epochs"], np.int64)] = bool(e["value"])
    elif op == "notes":
        state.notes = str(e["text"])
    elif op in ("prediction", "scorer"):
        pass  # their data are in the snapshot written with them
    elif op == "signoff":
        pass  # read from the history (`sign_off_of`): the audit trail is the record
    else:
        raise ValueError(f"unknown journal entry {op!r}")


@dataclass(frozen=True)
class SignOff:
    """A night's sign-off: who, when, and how many label changes were made after it."""

    scorer: str
    time: float
    seq: int
    changes_since: int


def sign_off_of(history: list[dict[str, Any]]) -> SignOff | None:
    """The latest sign-off in a journal history, or None when the night was never signed off."""
    for i in range(len(history) - 1, -1, -1):
        e = history[i]
        if e.get("op") == "signoff":
            # label changes only: undoing or redoing an event or a lights marker is not one
            edits = {x.get("seq") for x in history if x.get("op") == "edit"}
            later = sum(1 for x in history[i + 1:]
                        if x.get("op") == "edit" or x.get("op") in ("undo", "redo") and x.get("target") in edits)
            return SignOff(str(e.get("scorer", "")), float(e["t"]), int(e["seq"]), later)
    return None


def find_entry(state: ScoringState, seq: int) -> dict[str, Any]:
    # History holds every entry from seq 1 on, so entry `seq` sits at index seq - 1.
    if 0 < seq <= len(state.history):
        entry = state.history[seq - 1]
        if entry.get("seq") == seq:
            return entry
    for entry in reversed(state.history):
        if entry.get("seq") == seq:
            return entry
    raise ValueError(f"journal refers to a missing entry {seq}")


def find_edit(state: ScoringState, seq: int) -> Edit:
    entry = find_entry(state, seq)
    if entry.get("op") != "edit":
        raise ValueError(f"journal refers to a missing edit {seq}")
    return Edit.from_json(entry)


#: Journal operations that undo and redo step through.
UNDOABLE_OPS = ("edit", *MARK_OPS)


def undoable(entries: list[dict[str, Any]], identity: RecordingIdentity) -> "Edit | MarkEdit":
    """The Edit (stages) or MarkEdit (events, lights) that one undo or redo step's journal entries made
    (one entry, or the events of one `group`)."""
    if entries[0].get("op") == "edit":
        return Edit.from_json(entries[0])
    return MarkEdit.of_group(sorted(entries, key=lambda e: int(e["seq"])), identity.epoch_seconds,
                             identity.n_epochs)


class UndoHistory:
    """The undo and redo stacks, as the journal entries of the edits (made into Edits when asked)."""

    def __init__(self) -> None:
        self.undo: list[dict[str, Any]] = []
        self.redo: list[dict[str, Any]] = []

    def replay(self, entry: dict[str, Any]) -> None:
        op = entry.get("op")
        if op in UNDOABLE_OPS:
            self.undo.append(entry)
            self.redo.clear()
        elif op == "undo":
            self.redo.append(self.undo.pop())
        elif op == "redo":
            self.undo.append(self.redo.pop())
