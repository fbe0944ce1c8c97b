"""The scoring file: a recording's labels with provenance, predictions and edit journal.

On disk, for a recording `night.edf` (see `locations`):

- `night.sleepscope.h5` — the HDF5 snapshot (`snapshot`): identity,
  predictions per model version, the technician's labels with provenance,
  reviewed flags, notes, other scorers' label sets and the full journal
  history up to its sequence number `seq`, checksummed and only ever
  replaced whole.
- `night.sleepscope.h5.journal` — the edits made since that snapshot, one
  CRC-checked line each, fsync'd before the call that made them returns
  (`journal`).
- `night.sleepscope.h5.lock` — held while a process has it open for writing (`lock`).

State on open = snapshot + journal entries numbered after the snapshot
(`state.apply_entry`). An edit is applied in memory only once it is on disk:
one that cannot be written changes nothing, not even the undo stack.
Checkpoints (new snapshot, empty journal) happen on close, on
`add_prediction`/`add_scorer_labels`/`save_as` and every `CHECKPOINT_EVERY`
journal entries.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.paths import user_data_dir
from sleepscope.scoring.journal import (
    JournalContents,
    JournalCorrupt,
    JournalWriter,
    describe_os_error,
    journal_error,
    read_journal,
    save_error,
    write_new_journal,
)
from sleepscope.scoring.locations import (
    SUFFIX,
    beside_path,
    default_path,
    fallback_path,
    find_scoring_files,
    folder_writable,
    journal_path,
    last_modified,
    lock_path,
    remove_leftovers,
)
from sleepscope.scoring.lock import ScoringLock
from sleepscope.scoring.snapshot import FORMAT, FORMAT_VERSION, SnapshotDamaged, read_snapshot, write_snapshot
from sleepscope.scoring.state import (
    EPOCH_SECONDS,
    IMPORT_PREFIX,
    SOURCE_MODEL,
    SOURCE_TECHNICIAN,
    Edit,
    PredictionRecord,
    RecordingIdentity,
    ScorerLabels,
    ScoringState,
    SignOff,
    UndoHistory,
    apply_entry,
    check_source,
    epoch_index,
    sign_off_of,
    undoable,
)
from sleepscope.scoring.events import Lights, MarkEdit, ScoringEvent, check_event, check_lights, group_runs
from sleepscope.stages import N_CLASSES, Stage, parse_stage

__all__ = [
    "CHECKPOINT_EVERY", "EPOCH_SECONDS", "FORMAT", "FORMAT_VERSION", "IMPORT_PREFIX", "SOURCE_MODEL",
    "SOURCE_TECHNICIAN", "SUFFIX", "Edit", "PredictionRecord", "RecordingIdentity", "ScorerLabels", "SignOff",
    "ScoringFile", "check_source", "default_path", "fallback_path", "find_scoring_files", "folder_writable",
    "journal_path", "lock_path", "user_data_dir",
]

#: Journal entries between automatic snapshots: bounds the replay on open
#: while keeping the HDF5 rewrite (a few ms) off nearly every edit.
CHECKPOINT_EVERY = 500
#: How long a reader keeps retrying while a writer replaces the files under it.
READ_RETRY_SECONDS = 10.0


class _Damaged(Exception):
    """The files do not make a valid scoring (or a reader raced a writer: see `_load`)."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(why)
        self.path = path
        self.why = why


def _is_hdf5(path: Path) -> bool:
    """Whether the file carries HDF5's signature where HDF5 looks for it (0, 512, 1024, ... bytes in): read from
    the bytes, since HDF5's own check opens the file, and a damaged one can crash it."""
    try:
        with open(path, "rb") as f:
            offset = 0
            while True:
                f.seek(offset)
                head = f.read(8)
                if len(head) < 8:
                    return False
                if head == b"\x89HDF\r\n\x1a\n":
                    return True
                offset = 512 if offset == 0 else 2 * offset
    except OSError:
        return False


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


def _file_id(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _locked(method):
    # The GUI edits on its thread while workers add predictions: one change at a time.
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._mutex:
            return method(self, *args, **kwargs)

    return wrapper


class ScoringFile:
    """A recording's scoring: open with `ScoringFile.open(recording)`, close when done."""

    def __init__(self, state: ScoringState, path: Path, scorer: str, readonly: bool,
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
        self._stacks = UndoHistory()
        self._closed = False
        for entry in state.history:
            self._stacks.replay(entry)

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
        beside = beside_path(identity, rec_path)
        existing = [p for p in (beside, fallback) if p.exists()]
        if len(existing) == 2:
            return max(existing, key=last_modified)
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
        lock = ScoringLock.acquire(lock_path(path), recording=identity.file_name or path.name)
        creating = False
        try:
            remove_leftovers(path)
            jpath = journal_path(path)
            if path.exists() or jpath.exists():
                state, since, contents = cls._load(path, readonly=False)
                cls._check_identity(state, identity, path)
                if contents is None or int(contents.header.get("version", 1)) < 2:
                    # no journal, or one in the old format: start a new one at a snapshot
                    write_snapshot(state, path)
                    write_new_journal(jpath, {"fingerprint": identity.fingerprint, "base_seq": state.seq})
                    contents, since = read_journal(jpath), 0
            else:
                creating = True
                state = ScoringState.empty(identity)
                write_snapshot(state, path)
                write_new_journal(jpath, {"fingerprint": identity.fingerprint, "base_seq": 0})
                contents, since = read_journal(jpath), 0
            writer = JournalWriter(jpath, contents)
        except BaseException as exc:
            if creating:  # nothing half-made stays: no snapshot without its journal
                for p in (jpath, path):
                    with contextlib.suppress(OSError):
                        p.unlink()
            lock.release()
            if isinstance(exc, OSError):
                raise SleepScopeError(f"Cannot open the scoring file: {describe_os_error(exc, path)}. "
                                      "Free some space or choose a folder you can write to.") from exc
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
    def _check_identity(state: ScoringState, identity: RecordingIdentity, path: Path) -> None:
        have = state.identity
        if have.fingerprint != identity.fingerprint or have.n_epochs != identity.n_epochs:
            name = f" ({have.file_name})" if have.file_name else ""
            raise SleepScopeError(
                f"{path} belongs to another recording{name}: its fingerprint is {have.fingerprint[:12]}… "
                f"with {have.n_epochs} epochs, this recording's is {identity.fingerprint[:12]}… with "
                f"{identity.n_epochs} epochs. Open the recording it was made for, or choose another scoring file."
            )

    @classmethod
    def _load(cls, path: Path, readonly: bool) -> tuple[ScoringState, int, JournalContents | None]:
        """(state, journal entries after the snapshot, the journal as read).

        A reader can race a writer's checkpoint (the snapshot replaced, the
        journal not yet reset) or append: when what it read does not fit
        together and either file changed while it read, it reads again. Only
        files that stayed put while they were found wanting are called damaged.
        """
        jpath = journal_path(path)
        deadline = time.monotonic() + READ_RETRY_SECONDS
        while True:
            before = (_file_id(path), _file_id(jpath))
            try:
                return cls._load_once(path)
            except _Damaged as exc:
                changed = (_file_id(path), _file_id(jpath)) != before
                if readonly and changed and time.monotonic() < deadline:
                    time.sleep(0.005)
                    continue
                if exc.path == path and not path.name.endswith(SUFFIX) and not _is_hdf5(path):
                    # a recording or hypnogram named by mistake: say so, and copy nothing aside
                    raise SleepScopeError(f"{path} is not a scoring file (a scoring file is an HDF5 file named "
                                          f"NAME{SUFFIX}).") from None
                raise SleepScopeError(cls._corrupt_message(exc.path, exc.why)) from None

    @classmethod
    def _load_once(cls, path: Path) -> tuple[ScoringState, int, JournalContents | None]:
        jpath = journal_path(path)
        try:
            state = read_snapshot(path)
            contents = read_journal(jpath) if jpath.exists() else None
        except PermissionError as exc:
            raise SleepScopeError(f"{exc.filename or path} cannot be read: you have no permission to read it. "
                                  "Ask its owner, or copy it to a folder of yours.") from None
        except FileNotFoundError:
            if jpath.exists():
                raise _Damaged(jpath, f"its snapshot {path.name} is missing") from None
            raise SleepScopeError(f"There is no scoring file {path}.") from None
        except SnapshotDamaged as exc:
            if not path.exists():
                raise _Damaged(jpath, f"its snapshot {path.name} is missing") from None
            raise _Damaged(path, str(exc)) from None
        except JournalCorrupt as exc:
            raise _Damaged(jpath, str(exc)) from None
        if contents is None:
            return state, 0, None
        header = contents.header
        if header.get("fingerprint") != state.identity.fingerprint:
            raise _Damaged(jpath, "it belongs to another recording than its snapshot")
        if int(header.get("base_seq", 0)) > state.seq:
            raise _Damaged(jpath, "its journal does not match its snapshot")
        since = 0
        for entry in contents.entries:
            seq = int(entry["seq"])
            if seq <= state.seq:
                continue  # already in the snapshot (killed between snapshot and journal reset)
            if seq != state.seq + 1:
                raise _Damaged(jpath, f"its journal skips from entry {state.seq} to {seq}")
            try:
                apply_entry(state, entry)
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise _Damaged(jpath, f"its entry {seq} cannot be applied ({exc!r})") from None
            state.history.append(entry)
            state.seq = seq
            since += 1
        return state, since, contents

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

    @property
    def events(self) -> list[ScoringEvent]:
        """Events and notes, in time order."""
        with self._mutex:
            return sorted(self._s.events.values(), key=lambda e: (e.start, e.id))

    @property
    def lights(self) -> Lights:
        """Lights off and on (seconds from the start; None where not marked)."""
        return self._s.lights_marks

    def lights_epochs(self) -> tuple[int | None, int | None]:
        """The analysis period as `sleep_statistics` takes it: (lights-off epoch, epoch after lights on)."""
        return self.lights.epochs(self.identity.epoch_seconds, self.n_epochs)

    @property
    def signed_off(self) -> SignOff | None:
        """The night's latest sign-off (who, when, label changes since), or None."""
        with self._mutex:
            return sign_off_of(self._s.history)

    @_locked
    def undo_stack(self) -> list[Edit | MarkEdit]:
        """Edits that `undo()` would revert, oldest first."""
        return [undoable(run, self.identity) for run in group_runs(self._stacks.undo)]

    @_locked
    def redo_stack(self) -> list[Edit | MarkEdit]:
        """Edits that `redo()` would reapply, the next one last."""
        return [undoable(run, self.identity) for run in group_runs(self._stacks.redo)]

    @property
    def unsaved(self) -> bool:
        """True when a prediction or scorer set is in memory only (its snapshot could not be written).

        Never because of an edit: an edit that cannot be written is not made."""
        return bool(self._pending) or self._snapshot_dirty

    # -- edits ------------------------------------------------------------

    def set_stage(self, epochs: Any, stage: Stage | int | str, source: str = SOURCE_TECHNICIAN) -> Edit:
        """Label `epochs` (an index, slice or sequence) with `stage`; on disk when it returns."""
        st = int(parse_stage(stage))
        idx = epoch_index(epochs, self.n_epochs)
        return self._edit(idx, np.full(idx.size, st, np.int8), check_source(source))

    def set_stages(self, epochs: Sequence[int] | np.ndarray, stages: Sequence[int] | np.ndarray,
                   source: str = SOURCE_TECHNICIAN) -> Edit:
        """Label each epoch with its own stage, as one undoable edit (imports, accepting predictions)."""
        epochs = np.asarray(epochs, np.int64).ravel()
        stages = np.asarray(stages).ravel()
        if epochs.shape != stages.shape:
            raise ValueError("epochs and stages differ in length")
        order = np.argsort(epochs, kind="stable")
        idx = epoch_index(epochs, self.n_epochs)
        if idx.size != epochs.size:
            raise ValueError("an epoch is given twice")
        new = np.array([int(parse_stage(int(s))) for s in stages[order]], np.int8)
        return self._edit(idx, new, check_source(source))

    def accept_prediction(self, epochs: Any, model_version: str | None = None) -> Edit:
        """Take the model's stage for `epochs` (source 'model'), except where it gave none (artefact epochs)."""
        rec = self._s.predictions.get(model_version) if model_version else self.latest_prediction()
        if rec is None:
            raise SleepScopeError("There is no prediction to accept: pre-score the recording first.")
        idx = epoch_index(epochs, self.n_epochs)
        stages = rec.stages[idx]
        if not (stages >= 0).any():
            raise SleepScopeError("The model gives none of these epochs a stage: their signal is an artefact.")
        return self._edit(idx[stages >= 0], stages[stages >= 0], SOURCE_MODEL)

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
    def undo(self) -> Edit | MarkEdit | None:
        """Revert the last edit; returns it (None when there is nothing to undo).

        On return `labels[edit.epochs]` are `edit.old` again (for a MarkEdit: the
        events or lights are as before it), on disk. When the
        undo cannot be written it raises SleepScopeError and changes nothing:
        the edit stays applied and stays next on the undo stack. Events added
        together (`add_events`) are undone together.
        """
        return self._step("undo", self._stacks.undo)

    @_locked
    def redo(self) -> Edit | MarkEdit | None:
        """Reapply the last undone edit; returns it (None when there is nothing to redo).

        On return `labels[edit.epochs]` are `edit.new`, on disk; when it cannot be
        written nothing changes (as for `undo`).
        """
        return self._step("redo", self._stacks.redo)

    def _step(self, op: str, stack: list[dict[str, Any]]) -> Edit | MarkEdit | None:
        self._check_writable()
        if not stack:
            return None
        run = group_runs(stack)[-1]
        now = time.time()
        # the top of the stack first: the group's last event is undone first, its first redone first
        self._commit(*({"op": op, "seq": self._s.seq + 1 + i, "t": now, "target": int(e["seq"])}
                       for i, e in enumerate(reversed(run))))
        return undoable(run, self.identity)

    @_locked
    def set_reviewed(self, epochs: Any, value: bool = True) -> None:
        self._check_writable()
        idx = epoch_index(epochs, self.n_epochs)
        self._commit({"op": "reviewed", "seq": self._s.seq + 1, "t": time.time(), "scorer": self.scorer,
                      "epochs": [int(i) for i in idx], "value": bool(value)})

    @_locked
    def sign_off(self) -> SignOff:
        """Record that `scorer` has finished and checked this night's scoring (in the journal: on disk on return)."""
        self._check_writable()
        if not self.scorer.strip():
            raise SleepScopeError("A sign-off needs the scorer's name: set it first (Edit → Scorer name…).")
        self._commit({"op": "signoff", "seq": self._s.seq + 1, "t": time.time(), "scorer": self.scorer})
        return sign_off_of(self._s.history)

    # -- events, notes and lights (undoable like stage edits) --------------

    @_locked
    def add_event(self, kind: str, start: float, end: float, text: str = "", channel: str = "") -> ScoringEvent:
        """Mark `kind` (artefact, arousal, note) from `start` to `end` s; on disk when it returns."""
        self._check_writable()
        start, end = check_event(kind, start, end, self.identity.duration_s)
        seq = self._s.seq + 1
        now = time.time()
        new = ScoringEvent(seq, kind, start, end, str(text), str(channel), self.scorer, now)
        self._commit({"op": "event", "seq": seq, "t": now, "scorer": self.scorer, "id": seq, "old": None,
                      "new": new.to_json()})
        return self._s.events[seq]

    @_locked
    def add_events(self, events: list[tuple[str, float, float, str]], source: str = "") -> list[ScoringEvent]:
        """Mark several (kind, start, end, text) at once: one write, undone and redone as one edit (a
        `group`); `source` says where they came from (`FROM_RECORDING`). Nothing is marked when one
        cannot be."""
        self._check_writable()
        checked = [(kind, *check_event(kind, start, end, self.identity.duration_s), str(text))
                   for kind, start, end, text in events]
        if not checked:
            return []
        first, now = self._s.seq + 1, time.time()
        entries = [{"op": "event", "seq": first + i, "t": now, "scorer": self.scorer, "id": first + i, "old": None,
                    "new": ScoringEvent(first + i, kind, s, e, text, "", self.scorer, now, source).to_json()}
                   | ({"group": first} if len(checked) > 1 else {})
                   for i, (kind, s, e, text) in enumerate(checked)]
        self._commit(*entries)
        return [self._s.events[e["id"]] for e in entries]

    @_locked
    def change_event(self, event_id: int, *, start: float | None = None, end: float | None = None,
                     text: str | None = None, kind: str | None = None) -> ScoringEvent:
        """Move, resize, retype or re-word an event (who and when become this change's)."""
        self._check_writable()
        old = self._event(event_id)
        kind = old.kind if kind is None else kind
        s, e = check_event(kind, old.start if start is None else start, old.end if end is None else end,
                           self.identity.duration_s)
        now = time.time()
        new = ScoringEvent(old.id, kind, s, e, old.text if text is None else str(text), old.channel,
                           self.scorer, now, old.source)
        self._commit({"op": "event", "seq": self._s.seq + 1, "t": now, "scorer": self.scorer, "id": old.id,
                      "old": old.to_json(), "new": new.to_json()})
        return self._s.events[old.id]

    @_locked
    def remove_event(self, event_id: int) -> None:
        self.remove_events([event_id])

    @_locked
    def remove_events(self, event_ids: Sequence[int]) -> None:
        """Remove events, in one write and one undoable edit (a `group` when there are several)."""
        self._check_writable()
        olds = [self._event(i) for i in dict.fromkeys(int(i) for i in event_ids)]
        if not olds:
            return
        first, now = self._s.seq + 1, time.time()
        self._commit(*({"op": "event", "seq": first + i, "t": now, "scorer": self.scorer, "id": old.id,
                        "old": old.to_json(), "new": None} | ({"group": first} if len(olds) > 1 else {})
                       for i, old in enumerate(olds)))

    def _event(self, event_id: int) -> ScoringEvent:
        try:
            return self._s.events[int(event_id)]
        except KeyError:
            raise SleepScopeError(f"There is no event {event_id} in this scoring (it was removed).") from None

    @_locked
    def set_lights(self, which: str, seconds: float | None) -> Lights:
        """Mark lights `which` ('off' or 'on') at `seconds` from the start, or clear it (None)."""
        self._check_writable()
        other = self._s.lights.get("on" if which == "off" else "off")
        value = check_lights(which, seconds, other, self.identity.duration_s)
        old = self._s.lights.get(which)
        if old == value:
            return self.lights
        self._commit({"op": "lights", "seq": self._s.seq + 1, "t": time.time(), "scorer": self.scorer,
                      "which": which, "old": old, "new": value})
        return self.lights

    @_locked
    def set_notes(self, text: str) -> None:
        self._check_writable()
        self._commit({"op": "notes", "seq": self._s.seq + 1, "t": time.time(), "scorer": self.scorer,
                      "text": str(text)})

    def _commit(self, *entries: dict[str, Any]) -> None:
        """Append the entries to the journal in one write (fsync'd), then apply them in memory.

        Written first so that entries that cannot be written change nothing:
        labels, history and undo stacks stay as they were (and as the GUI shows them).
        """
        try:
            self._writer_append(self._pending + list(entries))
        except OSError as exc:
            raise journal_error(exc, journal_path(self.path)) from exc
        self._pending.clear()
        for entry in entries:
            apply_entry(self._s, entry)
            self._s.history.append(entry)
            self._s.seq = int(entry["seq"])
            self._stacks.replay(entry)
        self._since_snapshot += len(entries)
        if self._since_snapshot >= CHECKPOINT_EVERY:
            try:
                self._checkpoint()
            except OSError:
                pass  # the journal already holds every edit; try again at the next checkpoint

    # -- predictions and other scorers -----------------------------------

    @_locked
    def add_prediction(self, model_version: str, probs: np.ndarray,
                       statistics_span: tuple[int, int] | None = None,
                       channels: tuple[str | None, str | None] | None = None,
                       reading: np.ndarray | None = None, chin_note: str | None = None,
                       ecg: str | None = None) -> None:
        """Store a model's per-epoch probabilities (n_epochs, 5), the epochs the night's own statistics were
        taken over when it used them, the (EEG, EOG) channels it read, how it read each epoch
        (`sleepscope.model.epoch_reading`), why it left the chin EMG out (`Prediction.chin_note`) and the ECG
        lead whose beats it subtracted (`channels.ecg_in_use`); replaces that version's earlier run."""
        self._check_writable()
        probs = np.asarray(probs, np.float32)
        if probs.shape != (self.n_epochs, N_CLASSES):
            raise SleepScopeError(
                f"The prediction has shape {probs.shape}, this recording needs ({self.n_epochs}, {N_CLASSES})."
            )
        now = time.time()
        span = None if statistics_span is None else (int(statistics_span[0]), int(statistics_span[1]))
        chans = None if channels is None else tuple(None if c is None else str(c) for c in channels)
        if reading is not None:
            reading = np.asarray(reading, np.uint8)
            if reading.shape != (self.n_epochs,):
                raise SleepScopeError(f"The prediction's reading covers {reading.size} epochs, this recording has "
                                      f"{self.n_epochs}.")
        self._s.predictions[str(model_version)] = PredictionRecord(str(model_version), probs.copy(), now, span, chans,
                                                                   None if reading is None else reading.copy(),
                                                                   chin_note or None, None if ecg is None else str(ecg))
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
            raise save_error(exc, self.path) from exc

    # -- saving -----------------------------------------------------------

    def _checkpoint(self) -> None:
        if self._pending:
            # Journal entries must stay contiguous: write what is waiting first.
            self._writer_append(self._pending)
            self._pending.clear()
        write_snapshot(self._s, self.path)
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
                contents = read_journal(jpath)
            except JournalCorrupt as exc:
                raise OSError(f"journal damaged while open: {exc}") from exc
            self._writer = JournalWriter(jpath, contents)
        self._writer.append(entries)

    @_locked
    def save(self) -> None:
        """Write a snapshot now (edits are already safe in the journal)."""
        self._check_writable()
        try:
            self._checkpoint()
        except OSError as exc:
            raise save_error(exc, self.path) from exc

    @_locked
    def save_copy(self, path: str | Path) -> Path:
        """Write the current state as a new scoring file at `path` (no journal, not opened)."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_snapshot(self._s, path)
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
        new_lock = None if self.readonly else ScoringLock.acquire(lock_path(path), recording=self._recording_name())
        try:
            self.save_copy(path)
            if not self.readonly:
                write_new_journal(journal_path(path),
                                  {"fingerprint": self._s.identity.fingerprint, "base_seq": self._s.seq})
                new_writer = JournalWriter(journal_path(path), read_journal(journal_path(path)))
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

    def _recording_name(self) -> str:
        return self._s.identity.file_name or self.path.name

    def _check_open(self) -> None:
        if self._closed:
            raise SleepScopeError("This scoring file is closed: open it again.")

    def _check_writable(self) -> None:
        self._check_open()
        if self.readonly:
            raise SleepScopeError(f"{self.path} is open read-only: open it for writing to change it.")
