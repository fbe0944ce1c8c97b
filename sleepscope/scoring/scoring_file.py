"""The scoring file: a recording's labels with provenance, predictions and edit journal.

On disk, for a recording `night.edf`:

- `night.sleepscope.h5` — an HDF5 snapshot: identity, predictions per model
  version, the technician's labels with provenance (source, scorer, time),
  reviewed flags, notes, other scorers' label sets, and the full journal
  history up to its sequence number `seq`. It is only ever replaced whole
  (write a temporary file, fsync, os.replace), so it is never half-written.
- `night.sleepscope.h5.journal` — the edits made since that snapshot, one
  CRC-checked line each, fsync'd before the call that made them returns.
- `night.sleepscope.h5.lock` — present while a process has it open for writing.

State on open = snapshot + journal entries numbered after the snapshot.
Checkpoints (new snapshot, empty journal) happen on close, on
`add_prediction`/`add_scorer_labels`/`save_as` and every
`CHECKPOINT_EVERY` journal entries.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from sleepscope.atomic import remove_temps, replacing
from sleepscope.errors import SleepScopeError
from sleepscope.paths import user_data_dir
from sleepscope.scoring.journal import (
    JournalCorrupt,
    JournalWriter,
    describe_os_error,
    journal_error,
    read_journal,
    write_new_journal,
)
from sleepscope.scoring.lock import ScoringLock
from sleepscope.stages import N_CLASSES, Stage, parse_stage

FORMAT = "sleepscope-scoring"
FORMAT_VERSION = 1
SUFFIX = ".sleepscope.h5"
EPOCH_SECONDS = 30.0
#: Journal entries between automatic snapshots: bounds the replay on open
#: while keeping the HDF5 rewrite (a few ms) off nearly every edit.
CHECKPOINT_EVERY = 500

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

    @property
    def stages(self) -> np.ndarray:
        return np.argmax(self.probs, axis=1).astype(np.int8)

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
class _State:
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

    @classmethod
    def empty(cls, identity: RecordingIdentity) -> "_State":
        n = identity.n_epochs
        return cls(
            identity=identity,
            labels=np.full(n, int(Stage.UNSCORED), np.int8),
            sources=np.full(n, "", object),
            scorers=np.full(n, "", object),
            times=np.zeros(n, np.float64),
            reviewed=np.zeros(n, bool),
        )


class _Inconsistent(Exception):
    """Snapshot and journal do not fit together (a reader raced a checkpoint, or damage)."""


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _folder_writable(folder: Path) -> bool:
    # os.access is wrong for root and some network disks: try it.
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".sleepscope-probe-{os.getpid()}"
        fd = os.open(str(probe), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)
        os.unlink(probe)
        return True
    except OSError:
        return False


def fallback_path(fingerprint: str) -> Path:
    # "sha256:..." -> "sha256-...": a colon is not allowed in Windows file names
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in fingerprint)
    return user_data_dir() / "scoring" / f"{safe}{SUFFIX}"


def default_path(identity: RecordingIdentity, recording_path: Path | None) -> Path:
    """Beside the recording when its folder is writable, else in the user's data folder."""
    fallback = fallback_path(identity.fingerprint)
    if recording_path is None:
        return fallback
    recording_path = Path(recording_path)
    beside = recording_path.with_name(recording_path.stem + SUFFIX)
    if _folder_writable(recording_path.parent):
        return beside
    return fallback


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


# ---------------------------------------------------------------------------
# Snapshot (HDF5) reading and writing

def _write_snapshot(state: _State, path: Path) -> None:
    """Write the state to `path` atomically (temp file, fsync, rename, fsync folder)."""
    import h5py

    ident = state.identity
    str_dt = h5py.string_dtype("utf-8")
    with replacing(path) as tmp:
        with h5py.File(tmp, "w", locking=False) as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["seq"] = state.seq
            f.attrs["created"] = state.created
            f.attrs["saved"] = time.time()
            g = f.create_group("identity")
            g.attrs["fingerprint"] = ident.fingerprint
            g.attrs["n_epochs"] = ident.n_epochs
            g.attrs["duration_s"] = ident.duration_s
            g.attrs["epoch_seconds"] = ident.epoch_seconds
            g.attrs["start_time"] = ident.start_time.isoformat() if ident.start_time else ""
            g.attrs["recording_file"] = ident.file_name
            lab = f.create_group("labels")
            lab.create_dataset("stage", data=state.labels.astype(np.int8))
            lab.create_dataset("source", data=list(state.sources), dtype=str_dt)
            lab.create_dataset("scorer", data=list(state.scorers), dtype=str_dt)
            lab.create_dataset("time", data=state.times.astype(np.float64))
            f.create_dataset("reviewed", data=state.reviewed.astype(np.uint8))
            f.create_dataset("notes", data=state.notes, dtype=str_dt)
            preds = f.create_group("predictions")
            for i, rec in enumerate(sorted(state.predictions.values(), key=lambda r: r.time)):
                d = preds.create_dataset(f"p{i:04d}", data=rec.probs.astype(np.float32))
                d.attrs["model_version"] = rec.model_version
                d.attrs["time"] = rec.time
            sc = f.create_group("scorers")
            for i, s in enumerate(state.scorer_sets.values()):
                d = sc.create_dataset(f"s{i:04d}", data=s.labels.astype(np.int8))
                d.attrs["name"] = s.name
                d.attrs["source_file"] = s.source_file
                d.attrs["time"] = s.time
            lines = [json.dumps(e, separators=(",", ":")) for e in state.history]
            f.create_dataset("journal", data=lines, dtype=str_dt, shape=(len(lines),))


def _str(x: Any) -> str:
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


def _read_snapshot(path: Path) -> _State:
    """Load a snapshot; any failure to parse raises (the caller reports it as damage)."""
    import h5py

    with h5py.File(path, "r", locking=False) as f:
        if _str(f.attrs.get("format", "")) != FORMAT:
            raise ValueError("not a SleepScope scoring file")
        if int(f.attrs["format_version"]) > FORMAT_VERSION:
            raise SleepScopeError(
                f"{path} was written by a newer SleepScope (format {int(f.attrs['format_version'])}). "
                "Update SleepScope to open it."
            )
        g = f["identity"]
        start = _str(g.attrs["start_time"])
        ident = RecordingIdentity(
            fingerprint=_str(g.attrs["fingerprint"]),
            n_epochs=int(g.attrs["n_epochs"]),
            duration_s=float(g.attrs["duration_s"]),
            start_time=datetime.fromisoformat(start) if start else None,
            file_name=_str(g.attrs["recording_file"]),
            epoch_seconds=float(g.attrs["epoch_seconds"]),
        )
        n = ident.n_epochs
        lab = f["labels"]
        state = _State(
            identity=ident,
            labels=lab["stage"][()].astype(np.int8),
            sources=np.array([_str(s) for s in lab["source"][()]] or [], dtype=object),
            scorers=np.array([_str(s) for s in lab["scorer"][()]] or [], dtype=object),
            times=lab["time"][()].astype(np.float64),
            reviewed=f["reviewed"][()].astype(bool),
            notes=_str(f["notes"][()]),
            seq=int(f.attrs["seq"]),
            created=float(f.attrs["created"]),
        )
        for arr in (state.labels, state.sources, state.scorers, state.times, state.reviewed):
            if arr.shape != (n,):
                raise ValueError("label arrays do not match the number of epochs")
        for d in f["predictions"].values():
            rec = PredictionRecord(_str(d.attrs["model_version"]), d[()].astype(np.float32), float(d.attrs["time"]))
            state.predictions[rec.model_version] = rec
        for d in f["scorers"].values():
            s = ScorerLabels(_str(d.attrs["name"]), d[()].astype(np.int8), _str(d.attrs["source_file"]),
                             float(d.attrs["time"]))
            state.scorer_sets[s.name] = s
        state.history = [json.loads(_str(x)) for x in f["journal"][()]]
    return state


# ---------------------------------------------------------------------------

def _epoch_index(epochs: Any, n: int) -> np.ndarray:
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


def _locked(method):
    # The GUI edits on its thread while workers add predictions: one change at a time.
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._mutex:
            return method(self, *args, **kwargs)

    return wrapper


class ScoringFile:
    """A recording's scoring: open with `ScoringFile.open(recording)`, close when done."""

    def __init__(self, state: _State, path: Path, scorer: str, readonly: bool,
                 lock: ScoringLock | None, writer: JournalWriter | None, journal_since_snapshot: int) -> None:
        self._mutex = threading.RLock()
        self._s = state
        self.path = Path(path)
        self.scorer = scorer
        self.readonly = readonly
        self._lock = lock
        self._writer = writer
        self._since_snapshot = journal_since_snapshot
        self._pending: list[dict[str, Any]] = []
        self._snapshot_dirty = False
        # journal entries of the edits, turned into Edit records when asked for
        # (opening a file with a long history stays fast)
        self._undo: list[dict[str, Any]] = []
        self._redo: list[dict[str, Any]] = []
        self._closed = False
        for entry in state.history:
            self._replay_stack(entry)

    # -- opening ----------------------------------------------------------

    @classmethod
    def open(cls, recording: Any, path: str | Path | None = None, scorer: str = "",
             readonly: bool = False) -> "ScoringFile":
        """Open (or create) the scoring file of `recording`.

        `path` defaults to `<recording stem>.sleepscope.h5` beside the recording, or
        `user_data_dir()/scoring/<fingerprint>.sleepscope.h5` when that folder
        cannot be written. A file from another recording is refused.
        """
        identity = RecordingIdentity.of(recording)
        rec_path = getattr(recording, "path", None)
        if path is None:
            path = cls._find_default(identity, Path(rec_path) if rec_path else None, readonly)
        return cls.open_identity(identity, path, scorer=scorer, readonly=readonly)

    @staticmethod
    def _find_default(identity: RecordingIdentity, rec_path: Path | None, readonly: bool) -> Path:
        """Beside the recording, or in the user's folder; when both exist, the one edited last."""
        fallback = fallback_path(identity.fingerprint)
        if rec_path is None:
            return fallback
        beside = rec_path.with_name(rec_path.stem + SUFFIX)
        existing = [p for p in (beside, fallback) if p.exists()]
        if len(existing) == 2:
            return max(existing, key=_last_modified)
        if existing == [fallback]:
            return fallback  # moved there when the recording's folder was read-only: stay
        if readonly:
            return beside
        chosen = default_path(identity, rec_path)
        if chosen == fallback and existing == [beside]:
            # The recording's folder became read-only after it was scored: carry
            # the scoring over to the user's folder rather than starting afresh.
            ScoringFile.open_identity(identity, beside, readonly=True).save_copy(fallback)
        return chosen

    @classmethod
    def open_identity(cls, identity: RecordingIdentity, path: str | Path, scorer: str = "",
                      readonly: bool = False) -> "ScoringFile":
        """Open the scoring file at `path` for the recording described by `identity`."""
        path = Path(path)
        scorer = scorer or _current_user()
        if readonly:
            if not path.exists():
                raise SleepScopeError(f"There is no scoring file {path}: open it for writing to create one.")
            state, since, _ = cls._load(path, readonly=True)
            cls._check_identity(state, identity, path)
            return cls(state, path, scorer, True, None, None, since)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SleepScopeError(f"Cannot create the folder {path.parent}: {exc.strerror}.") from exc
        lock = ScoringLock.acquire(lock_path(path))
        try:
            _remove_leftovers(path)
            if path.exists() or journal_path(path).exists():
                state, since, good = cls._load(path, readonly=False)
                cls._check_identity(state, identity, path)
                if not journal_path(path).exists():
                    write_new_journal(journal_path(path), {"fingerprint": identity.fingerprint,
                                                           "base_seq": state.seq})
                    good = _journal_size(path)
                writer = JournalWriter(journal_path(path), good)
            else:
                state = _State.empty(identity)
                _write_snapshot(state, path)
                write_new_journal(journal_path(path), {"fingerprint": identity.fingerprint, "base_seq": 0})
                writer = JournalWriter(journal_path(path), _journal_size(path))
                since = 0
        except OSError as exc:
            lock.release()
            raise SleepScopeError(f"Cannot open the scoring file: {describe_os_error(exc, path)}.") from exc
        except BaseException:
            lock.release()
            raise
        return cls(state, path, scorer, False, lock, writer, since)

    @classmethod
    def open_existing(cls, path: str | Path, scorer: str = "") -> "ScoringFile":
        """Open an existing scoring file for writing without its recording (CLI import)."""
        identity = cls.read(path).identity
        return cls.open_identity(identity, path, scorer=scorer)

    @classmethod
    def read(cls, path: str | Path) -> "ScoringFile":
        """Open a scoring file read-only without its recording (export, corrections library)."""
        path = Path(path)
        if not path.exists():
            raise SleepScopeError(f"There is no scoring file {path}.")
        state, since, _ = cls._load(path, readonly=True)
        return cls(state, path, "", True, None, None, since)

    @staticmethod
    def _check_identity(state: _State, identity: RecordingIdentity, path: Path) -> None:
        have = state.identity
        if have.fingerprint != identity.fingerprint or have.n_epochs != identity.n_epochs:
            name = f" ({have.file_name})" if have.file_name else ""
            raise SleepScopeError(
                f"{path} belongs to another recording{name}: its fingerprint is {have.fingerprint[:12]}… "
                f"with {have.n_epochs} epochs, this recording's is {identity.fingerprint[:12]}… with "
                f"{identity.n_epochs} epochs. Open the recording it was made for, or choose another scoring file."
            )

    @classmethod
    def _load(cls, path: Path, readonly: bool) -> tuple[_State, int, int]:
        """(state, journal entries after the snapshot, intact journal size)."""
        attempts = 3 if readonly else 1
        for attempt in range(attempts):
            try:
                return cls._load_once(path)
            except _Inconsistent:
                # A reader can race the writer's checkpoint (snapshot replaced, journal
                # not yet reset): read again.
                if attempt + 1 < attempts:
                    time.sleep(0.05)
                    continue
                raise SleepScopeError(cls._corrupt_message(path, "its journal does not match its snapshot"))
        raise AssertionError("unreachable")

    @classmethod
    def _load_once(cls, path: Path) -> tuple[_State, int, int]:
        jpath = journal_path(path)
        if path.exists():
            try:
                state = _read_snapshot(path)
            except SleepScopeError:
                raise
            except Exception as exc:
                raise SleepScopeError(cls._corrupt_message(path, f"it cannot be read ({exc})")) from exc
        else:
            state = None
        if not jpath.exists():
            if state is None:
                raise SleepScopeError(f"There is no scoring file {path}.")
            return state, 0, 0
        try:
            contents = read_journal(jpath)
        except JournalCorrupt as exc:
            raise SleepScopeError(cls._corrupt_message(jpath, str(exc))) from exc
        if state is None:
            raise SleepScopeError(cls._corrupt_message(jpath, f"its snapshot {path.name} is missing"))
        header = contents.header
        if header and header.get("fingerprint") != state.identity.fingerprint:
            raise SleepScopeError(cls._corrupt_message(jpath, "it belongs to another recording than its snapshot"))
        if header and int(header.get("base_seq", 0)) > state.seq:
            raise _Inconsistent()
        since = 0
        for entry in contents.entries:
            seq = int(entry["seq"])
            if seq <= state.seq:
                continue  # already in the snapshot (killed between snapshot and journal reset)
            if seq != state.seq + 1:
                raise _Inconsistent()
            _apply_entry(state, entry)
            state.history.append(entry)
            state.seq = seq
            since += 1
        return state, since, contents.good_size

    @staticmethod
    def _corrupt_message(path: Path, why: str) -> str:
        backup = path.with_name(path.name + time.strftime(".corrupt-%Y%m%d-%H%M%S"))
        try:
            shutil.copy2(path, backup)
            kept = f"A copy was saved as {backup}. "
        except OSError:
            kept = ""
        return (
            f"The scoring file {path} is damaged: {why}. It was left as it is and not overwritten. {kept}"
            "Restore it from a backup, or move it away to start a new scoring of this recording."
        )

    # -- read access ------------------------------------------------------

    @property
    def identity(self) -> RecordingIdentity:
        return self._s.identity

    @property
    def n_epochs(self) -> int:
        return self._s.identity.n_epochs

    @property
    def labels(self) -> np.ndarray:
        """Technician labels, int8 per epoch, -1 unscored (a read-only view)."""
        v = self._s.labels.view()
        v.flags.writeable = False
        return v

    @property
    def sources(self) -> np.ndarray:
        """Per-epoch provenance: 'model', 'technician', 'import:<file>' or '' (never set)."""
        return self._s.sources.copy()

    @property
    def label_scorers(self) -> np.ndarray:
        return self._s.scorers.copy()

    @property
    def label_times(self) -> np.ndarray:
        return self._s.times.copy()

    @property
    def reviewed(self) -> np.ndarray:
        v = self._s.reviewed.view()
        v.flags.writeable = False
        return v

    @property
    def notes(self) -> str:
        return self._s.notes

    @notes.setter
    def notes(self, text: str) -> None:
        self.set_notes(text)

    @property
    def seq(self) -> int:
        return self._s.seq

    @property
    def predictions(self) -> dict[str, PredictionRecord]:
        return dict(self._s.predictions)

    def latest_prediction(self) -> PredictionRecord | None:
        if not self._s.predictions:
            return None
        return max(self._s.predictions.values(), key=lambda r: r.time)

    @property
    def scorer_sets(self) -> dict[str, ScorerLabels]:
        return dict(self._s.scorer_sets)

    def history(self) -> list[dict[str, Any]]:
        """The audit trail: every journal entry since the file was created."""
        return [dict(e) for e in self._s.history]

    @_locked
    def undo_stack(self) -> list[Edit]:
        """Edits that `undo()` would revert, oldest first."""
        return [Edit.from_json(e) for e in self._undo]

    @_locked
    def redo_stack(self) -> list[Edit]:
        """Edits that `redo()` would reapply, the next one last."""
        return [Edit.from_json(e) for e in self._redo]

    @property
    def unsaved(self) -> bool:
        """True when edits are in memory only (the last save failed)."""
        return bool(self._pending) or self._snapshot_dirty

    # -- edits ------------------------------------------------------------

    def set_stage(self, epochs: Any, stage: Stage | int | str, source: str = SOURCE_TECHNICIAN) -> Edit:
        """Label `epochs` (an index, slice or sequence) with `stage`; on disk when it returns."""
        st = int(parse_stage(stage))
        idx = _epoch_index(epochs, self.n_epochs)
        return self._edit(idx, np.full(idx.size, st, np.int8), check_source(source))

    def set_stages(self, epochs: Sequence[int] | np.ndarray, stages: Sequence[int] | np.ndarray,
                   source: str = SOURCE_TECHNICIAN) -> Edit:
        """Label each epoch with its own stage, as one undoable edit (imports, accepting predictions)."""
        epochs = np.asarray(epochs, np.int64).ravel()
        stages = np.asarray(stages).ravel()
        if epochs.shape != stages.shape:
            raise ValueError("epochs and stages differ in length")
        order = np.argsort(epochs, kind="stable")
        idx = _epoch_index(epochs, self.n_epochs)
        if idx.size != epochs.size:
            raise ValueError("an epoch is given twice")
        new = np.array([int(parse_stage(int(s))) for s in stages[order]], np.int8)
        return self._edit(idx, new, check_source(source))

    def accept_prediction(self, epochs: Any, model_version: str | None = None) -> Edit:
        """Take the model's stage for `epochs` (source 'model')."""
        rec = self._s.predictions.get(model_version) if model_version else self.latest_prediction()
        if rec is None:
            raise SleepScopeError("There is no prediction to accept: pre-score the recording first.")
        idx = _epoch_index(epochs, self.n_epochs)
        return self._edit(idx, rec.stages[idx], SOURCE_MODEL)

    @_locked
    def _edit(self, idx: np.ndarray, new: np.ndarray, source: str) -> Edit:
        self._check_writable()
        s = self._s
        edit = Edit(
            seq=s.seq + 1, epochs=tuple(int(i) for i in idx), old=tuple(int(v) for v in s.labels[idx]),
            new=tuple(int(v) for v in new), source=source, scorer=self.scorer, time=time.time(),
            old_sources=tuple(s.sources[idx]), old_scorers=tuple(s.scorers[idx]),
            old_times=tuple(float(t) for t in s.times[idx]),
        )
        self._commit(edit.to_json())
        return edit

    @_locked
    def undo(self) -> Edit | None:
        """Revert the last edit; returns it (None when there is nothing to undo)."""
        self._check_writable()
        if not self._undo:
            return None
        edit = Edit.from_json(self._undo[-1])
        self._commit({"op": "undo", "seq": self._s.seq + 1, "t": time.time(), "target": edit.seq})
        return edit

    @_locked
    def redo(self) -> Edit | None:
        """Reapply the last undone edit; returns it (None when there is nothing to redo)."""
        self._check_writable()
        if not self._redo:
            return None
        edit = Edit.from_json(self._redo[-1])
        self._commit({"op": "redo", "seq": self._s.seq + 1, "t": time.time(), "target": edit.seq})
        return edit

    @_locked
    def set_reviewed(self, epochs: Any, value: bool = True) -> None:
        self._check_writable()
        idx = _epoch_index(epochs, self.n_epochs)
        self._commit({"op": "reviewed", "seq": self._s.seq + 1, "t": time.time(), "scorer": self.scorer,
                      "epochs": [int(i) for i in idx], "value": bool(value)})

    @_locked
    def set_notes(self, text: str) -> None:
        self._check_writable()
        self._commit({"op": "notes", "seq": self._s.seq + 1, "t": time.time(), "scorer": self.scorer,
                      "text": str(text)})

    def _commit(self, entry: dict[str, Any]) -> None:
        """Apply an entry in memory and append it to the journal (fsync'd)."""
        _apply_entry(self._s, entry)
        self._s.history.append(entry)
        self._s.seq = int(entry["seq"])
        self._replay_stack(entry)
        self._pending.append(entry)
        self._flush_journal()
        self._since_snapshot += 1
        if self._since_snapshot >= CHECKPOINT_EVERY:
            try:
                self._checkpoint()
            except OSError:
                pass  # the journal already holds every edit; try again at the next checkpoint

    def _flush_journal(self) -> None:
        try:
            self._writer_append(self._pending)
        except OSError as exc:
            raise journal_error(exc, journal_path(self.path)) from exc
        self._pending.clear()

    def _replay_stack(self, entry: dict[str, Any]) -> None:
        op = entry.get("op")
        if op == "edit":
            self._undo.append(entry)
            self._redo.clear()
        elif op == "undo":
            self._redo.append(self._undo.pop())
        elif op == "redo":
            self._undo.append(self._redo.pop())

    # -- predictions and other scorers -----------------------------------

    @_locked
    def add_prediction(self, model_version: str, probs: np.ndarray) -> None:
        """Store a model's per-epoch probabilities (n_epochs, 5); replaces that version's earlier run."""
        self._check_writable()
        probs = np.asarray(probs, np.float32)
        if probs.shape != (self.n_epochs, N_CLASSES):
            raise SleepScopeError(
                f"The prediction has shape {probs.shape}, this recording needs ({self.n_epochs}, {N_CLASSES})."
            )
        now = time.time()
        self._s.predictions[str(model_version)] = PredictionRecord(str(model_version), probs.copy(), now)
        self._commit_and_checkpoint({"op": "prediction", "seq": self._s.seq + 1, "t": now,
                                     "model_version": str(model_version)})

    @_locked
    def add_scorer_labels(self, name: str, labels: np.ndarray, source_file: str = "",
                          apply: bool = False) -> Edit | None:
        """Keep another scorer's labels (e.g. an imported hypnogram) as the set `name`.

        With `apply`, they also become the technician's labels wherever they are
        scored, as one undoable edit with source `import:<file name>`.
        """
        self._check_writable()
        labels = np.asarray(labels).astype(np.int8)
        if labels.shape != (self.n_epochs,):
            raise SleepScopeError(
                f"The labels of {name!r} cover {labels.size} epochs, this recording has {self.n_epochs}."
            )
        if not name or "/" in name:
            raise SleepScopeError(f"A scorer needs a name without '/', not {name!r}.")
        now = time.time()
        self._s.scorer_sets[name] = ScorerLabels(name, labels.copy(), str(source_file), now)
        self._commit_and_checkpoint({"op": "scorer", "seq": self._s.seq + 1, "t": now, "name": name,
                                     "source_file": str(source_file)})
        if not apply:
            return None
        scored = np.flatnonzero(labels >= 0)
        if scored.size == 0:
            return None
        file_name = Path(source_file).name if source_file else name
        return self.set_stages(scored, labels[scored], source=IMPORT_PREFIX + file_name)

    def _commit_and_checkpoint(self, entry: dict[str, Any]) -> None:
        # Large arrays live only in the snapshot, so these changes are durable
        # once the snapshot is replaced; the entry records them in the audit trail.
        # If the snapshot cannot be written the entry still goes to the journal
        # (keeping sequence numbers contiguous) and the data stay in memory.
        self._s.history.append(entry)
        self._s.seq = int(entry["seq"])
        self._pending.append(entry)
        self._snapshot_dirty = True
        try:
            self._checkpoint()
        except OSError as exc:
            raise journal_error(exc, self.path) from exc

    # -- saving -----------------------------------------------------------

    def _checkpoint(self) -> None:
        if self._pending:
            # Journal entries must stay contiguous: write what is waiting first.
            self._writer_append(self._pending)
            self._pending.clear()
        _write_snapshot(self._s, self.path)
        self._snapshot_dirty = False
        # Until the new journal replaces the old one, the old one stays valid (its
        # entries are all in the snapshot now and are skipped on open).
        write_new_journal(journal_path(self.path), {"fingerprint": self._s.identity.fingerprint,
                                                    "base_seq": self._s.seq})
        if self._writer is not None:
            self._writer.close()
            self._writer = None  # reopened on the next append: the old fd names the replaced file
        self._since_snapshot = 0

    def _writer_append(self, entries: list[dict[str, Any]]) -> None:
        if self._writer is None:
            jpath = journal_path(self.path)
            try:
                good = read_journal(jpath).good_size
            except JournalCorrupt as exc:
                raise OSError(f"journal damaged while open: {exc}") from exc
            self._writer = JournalWriter(jpath, good)
        self._writer.append(entries)

    @_locked
    def save(self) -> None:
        """Write a snapshot now (edits are already safe in the journal)."""
        self._check_writable()
        try:
            self._checkpoint()
        except OSError as exc:
            raise journal_error(exc, self.path) from exc

    @_locked
    def save_copy(self, path: str | Path) -> Path:
        """Write the current state as a new scoring file at `path` (no journal, not opened)."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_snapshot(self._s, path)
            if journal_path(path).exists():
                write_new_journal(journal_path(path),
                                  {"fingerprint": self._s.identity.fingerprint, "base_seq": self._s.seq})
        except OSError as exc:
            raise SleepScopeError(f"Could not save a copy: {describe_os_error(exc, path)}. "
                                  "Choose another folder.") from exc
        return path

    @_locked
    def save_as(self, path: str | Path) -> Path:
        """Continue in a new scoring file at `path`, carrying every edit, including unsaved ones."""
        self._check_open()
        path = Path(path)
        if path.resolve() == self.path.resolve():
            self.save()
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SleepScopeError(f"Cannot create the folder {path.parent}: {exc.strerror}. "
                                  "Choose another folder.") from exc
        new_lock = None if self.readonly else ScoringLock.acquire(lock_path(path))
        try:
            self.save_copy(path)
            if not self.readonly:
                write_new_journal(journal_path(path),
                                  {"fingerprint": self._s.identity.fingerprint, "base_seq": self._s.seq})
                new_writer = JournalWriter(journal_path(path), _journal_size(path))
        except OSError as exc:
            if new_lock:
                new_lock.release()
            raise SleepScopeError(f"Could not save: {describe_os_error(exc, path)}. Choose another folder.") from exc
        except BaseException:
            if new_lock:
                new_lock.release()
            raise
        if not self.readonly:
            assert self._lock is not None
            if self._writer is not None:
                self._writer.close()
            self._lock.release()
            self._writer, self._lock = new_writer, new_lock
        self._pending.clear()
        self._snapshot_dirty = False
        self._since_snapshot = 0
        self.path = path
        return path

    @_locked
    def close(self) -> None:
        """Snapshot and release the lock. Raises (and stays open) if edits could not be saved."""
        if self._closed:
            return
        if not self.readonly:
            if self._pending or self._snapshot_dirty or self._since_snapshot:
                try:
                    self._checkpoint()
                except OSError:
                    if self._pending or self._snapshot_dirty:
                        raise SleepScopeError(
                            f"Some changes could not be written to {self.path}. "
                            "Use Save As to save the scoring elsewhere before closing."
                        ) from None
                    # Otherwise the journal holds every edit: the next open replays it.
            if self._writer is not None:
                self._writer.close()
            assert self._lock is not None
            self._lock.release()
        self._closed = True

    def __enter__(self) -> "ScoringFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise SleepScopeError("This scoring file is closed: open it again.")

    def _check_writable(self) -> None:
        self._check_open()
        if self.readonly:
            raise SleepScopeError(f"{self.path} is open read-only: open it for writing to change it.")


def _last_modified(path: Path) -> float:
    times = [p.stat().st_mtime for p in (path, journal_path(path)) if p.exists()]
    return max(times, default=0.0)


def _remove_leftovers(path: Path) -> None:
    """Temporary files of a writer killed mid-checkpoint (we hold the lock: no live writer owns them)."""
    remove_temps(path)
    remove_temps(journal_path(path))


def _journal_size(path: Path) -> int:
    return journal_path(path).stat().st_size


def _apply_entry(state: _State, e: dict[str, Any]) -> None:
    """Apply one journal entry to the in-memory state (shared by live edits and replay)."""
    op = e.get("op")
    if op == "edit":
        idx = np.asarray(e["epochs"], np.int64)
        state.labels[idx] = np.asarray(e["new"], np.int8)
        state.sources[idx] = e["source"]
        state.scorers[idx] = e["scorer"]
        state.times[idx] = float(e["t"])
    elif op in ("undo", "redo"):
        target = _find_edit(state, int(e["target"]))
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
    else:
        raise ValueError(f"unknown journal entry {op!r}")


def _find_edit(state: _State, seq: int) -> Edit:
    # History holds every entry from seq 1 on, so entry `seq` sits at index seq - 1.
    if 0 < seq <= len(state.history):
        entry = state.history[seq - 1]
        if entry.get("seq") == seq and entry.get("op") == "edit":
            return Edit.from_json(entry)
    for entry in reversed(state.history):
        if entry.get("seq") == seq and entry.get("op") == "edit":
            return Edit.from_json(entry)
    raise ValueError(f"journal refers to a missing edit {seq}")


def find_scoring_files(folders: Iterable[str | Path]) -> list[Path]:
    """Every `*.sleepscope.h5` under `folders` (recursively)."""
    out: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file() and folder.name.endswith(SUFFIX):
            out.append(folder)
        elif folder.is_dir():
            out.extend(sorted(p for p in folder.rglob(f"*{SUFFIX}") if p.is_file()))
    return out
