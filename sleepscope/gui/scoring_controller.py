"""Keyboard scoring: the current epoch, stage keys, model acceptance, undo/redo.

The QUndoStack mirrors the scoring file's own undo/redo stacks one to one:
each command's first redo() makes the edit (`ScoringFile.set_stage`), later
undo()/redo() call `ScoringFile.undo()`/`redo()`, which journal the step. On
open the stack is rebuilt from `undo_stack()`/`redo_stack()` without touching
the file, so history survives a restart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from sleepscope.errors import SleepScopeError
from sleepscope.scoring import SOURCE_MODEL, SOURCE_TECHNICIAN
from sleepscope.stages import KEYS, Stage

#: An epoch needs a second look when the model's top probability is below this.
UNSURE_BELOW = 0.6
#: Up/Down jump this many epochs (5 minutes); Left/Right/PgUp/PgDn one.
BIG_STEP = 10


def _stage_text(stage: int) -> str:
    return Stage(int(stage)).label


class _EditCommand(QUndoCommand):
    """One scoring-file edit, already made when the command is pushed.

    The edit is made before the push so that a failing write (full disk)
    raises to the caller instead of leaving a command on the stack whose
    undo would revert somebody else's edit.
    """

    def __init__(self, ctl: "ScoringController", edit: Any) -> None:
        epochs = list(edit.epochs)
        n = len(epochs)
        where = f"epoch {epochs[0] + 1}" if n == 1 else f"{n} epochs"
        verb = "Accept model" if edit.source == SOURCE_MODEL else "Set"
        stage = edit.new[0] if len(set(edit.new)) == 1 else None
        what = f" to {_stage_text(stage)}" if stage is not None else ""
        super().__init__(f"{verb} {where}{what}")
        self._ctl = ctl
        self.edit = edit
        self.epochs = epochs
        self._made = True

    def redo(self) -> None:
        ctl = self._ctl
        if self._made or ctl.syncing:
            # push() calls redo() at once: the edit is already in the file.
            self._made = False
            return
        ctl.journal_step("redo", self.epochs)

    def undo(self) -> None:
        ctl = self._ctl
        if ctl.syncing:
            return
        ctl.journal_step("undo", self.epochs)


class ScoringController(QObject):
    """Owns the current epoch and turns keys into scoring-file edits."""

    epochChanged = Signal(int)
    #: emitted with the list of epochs whose technician label changed.
    labelsChanged = Signal(object)
    predictionChanged = Signal()
    #: a message for the status bar (e.g. "No model prediction yet").
    message = Signal(str)
    #: an edit could not be written (the message says why and what to do).
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.scoring: Any = None
        self.syncing = False
        self._probs: np.ndarray | None = None
        self._model_stages: np.ndarray | None = None
        self._current = 0
        self._n = 0

    # -- attaching ----------------------------------------------------------
    def attach(self, scoring: Any) -> None:
        """Score into `scoring` (a ScoringFile); rebuilds undo history from its journal."""
        self.detach()
        self.scoring = scoring
        self._n = int(scoring.n_epochs)
        self._current = 0
        undo = scoring.undo_stack()
        redo = scoring.redo_stack()
        self.syncing = True
        try:
            # Oldest first, then the undone edits with the next redo first.
            for e in list(undo) + list(reversed(redo)):
                self.undo_stack.push(_EditCommand(self, e))
            self.undo_stack.setIndex(len(undo))
        finally:
            self.syncing = False
        self.undo_stack.setClean()
        rec = scoring.latest_prediction()
        self.set_prediction(None if rec is None else rec.probs)
        self.epochChanged.emit(self._current)
        self.labelsChanged.emit([])

    def detach(self) -> None:
        self.undo_stack.clear()
        self.scoring = None
        self._probs = None
        self._model_stages = None
        self._n = 0
        self._current = 0

    @property
    def attached(self) -> bool:
        return self.scoring is not None

    def set_prediction(self, probs: np.ndarray | None) -> None:
        if probs is None:
            self._probs = None
            self._model_stages = None
        else:
            self._probs = np.asarray(probs, dtype=np.float32)
            self._model_stages = self._probs.argmax(axis=1).astype(np.int8)
        self.predictionChanged.emit()

    # -- state --------------------------------------------------------------
    @property
    def current(self) -> int:
        return self._current

    @property
    def n_epochs(self) -> int:
        return self._n

    @property
    def probs(self) -> np.ndarray | None:
        return self._probs

    @property
    def model_stages(self) -> np.ndarray | None:
        return self._model_stages

    def labels(self) -> np.ndarray:
        if self.scoring is None:
            return np.zeros(0, np.int8)
        return self.scoring.labels

    def model_at(self, epoch: int) -> tuple[int, float] | None:
        """(stage, confidence) the model gives `epoch`, or None without a prediction."""
        if self._probs is None or not 0 <= epoch < len(self._probs):
            return None
        return int(self._model_stages[epoch]), float(self._probs[epoch].max())

    def reviewed_fraction(self) -> float:
        """Share of epochs a person has labelled or accepted (imports do not count)."""
        if self.scoring is None or self._n == 0:
            return 0.0
        labels = self.scoring.labels
        sources = self.scoring.sources
        done = (labels >= 0) & ((sources == SOURCE_TECHNICIAN) | (sources == SOURCE_MODEL))
        done |= np.asarray(self.scoring.reviewed, bool)
        return float(done.mean())

    def journal_step(self, op: str, epochs: list[int]) -> None:
        """Undo or redo in the scoring file (called by the undo stack's commands)."""
        try:
            (self.scoring.undo if op == "undo" else self.scoring.redo)()
        except SleepScopeError as exc:
            # Qt swallows exceptions raised inside QUndoCommand: report instead.
            self.failed.emit(str(exc))
            return
        self.go_to(epochs[0])
        self.labelsChanged.emit(list(epochs))

    def _push_edit(self, epoch: int, stage: int, source: str) -> bool:
        try:
            edit = self.scoring.set_stage([epoch], stage, source=source)
        except SleepScopeError as exc:
            self.failed.emit(str(exc))
            return False
        self.undo_stack.push(_EditCommand(self, edit))
        self.labelsChanged.emit([epoch])
        return True

    # -- moving -------------------------------------------------------------
    def go_to(self, epoch: int) -> None:
        if self._n == 0:
            return
        epoch = int(np.clip(epoch, 0, self._n - 1))
        if epoch != self._current:
            self._current = epoch
            self.epochChanged.emit(epoch)

    def move(self, delta: int) -> None:
        self.go_to(self._current + delta)

    def attention_mask(self) -> np.ndarray | None:
        """Epochs worth a second look: the model is unsure, or disagrees with the technician."""
        if self._probs is None:
            return None
        unsure = self._probs.max(axis=1) < UNSURE_BELOW
        labels = self.scoring.labels if self.scoring is not None else np.full(self._n, -1)
        disagree = (labels >= 0) & (labels != self._model_stages)
        return unsure | disagree

    def next_attention(self, direction: int = 1) -> int | None:
        """Jump to the next (direction 1) or previous (-1) epoch needing attention; None if none."""
        mask = self.attention_mask()
        if mask is None:
            self.message.emit("No model prediction yet: pre-score the recording first (Model → Pre-score).")
            return None
        if direction > 0:
            hits = np.flatnonzero(mask[self._current + 1:])
            target = None if hits.size == 0 else self._current + 1 + int(hits[0])
        else:
            hits = np.flatnonzero(mask[: self._current])
            target = None if hits.size == 0 else int(hits[-1])
        if target is None:
            self.message.emit("No further epoch where the model is unsure or disagrees.")
            return None
        self.go_to(target)
        return target

    # -- scoring ------------------------------------------------------------
    def set_stage(self, stage: Stage | int, advance: bool = True) -> bool:
        if self.scoring is None or self._n == 0:
            return False
        if not self._push_edit(self._current, int(stage), SOURCE_TECHNICIAN):
            return False
        if advance:
            self.move(1)
        return True

    def accept_model(self, advance: bool = True) -> bool:
        """Take the model's stage for the current epoch (source 'model')."""
        if self.scoring is None:
            return False
        m = self.model_at(self._current)
        if m is None:
            self.message.emit("No model prediction yet: pre-score the recording first (Model → Pre-score).")
            return False
        if not self._push_edit(self._current, m[0], SOURCE_MODEL):
            return False
        if advance:
            self.move(1)
        return True

    def import_labels(self, labels: np.ndarray, source: str) -> bool:
        """Take another scorer's labels wherever they are scored, as one undoable edit."""
        if self.scoring is None:
            return False
        labels = np.asarray(labels)
        scored = np.flatnonzero(labels >= 0)
        if scored.size == 0:
            self.message.emit("The reference scorer has no scored epoch.")
            return False
        try:
            edit = self.scoring.set_stages(scored, labels[scored], source=source)
        except SleepScopeError as exc:
            self.failed.emit(str(exc))
            return False
        self.undo_stack.push(_EditCommand(self, edit))
        self.labelsChanged.emit([int(i) for i in scored])
        return True

    def undo(self) -> None:
        if self.scoring is not None and self.undo_stack.canUndo():
            self.undo_stack.undo()

    def redo(self) -> None:
        if self.scoring is not None and self.undo_stack.canRedo():
            self.undo_stack.redo()

    # -- keys ---------------------------------------------------------------
    def handle_key(self, key: int, modifiers: Qt.KeyboardModifier, text: str = "") -> bool:
        """Act on a key press; True when the key was a scoring key."""
        mods = Qt.KeyboardModifier(modifiers) & ~Qt.KeyboardModifier.KeypadModifier
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if ctrl:
            if key == Qt.Key.Key_Z:
                self.redo() if shift else self.undo()
                return True
            if key == Qt.Key.Key_Y:
                self.redo()
                return True
            return False
        if mods & (Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier):
            return False
        nav = {
            Qt.Key.Key_Right: 1, Qt.Key.Key_PageDown: 1, Qt.Key.Key_Left: -1, Qt.Key.Key_PageUp: -1,
            Qt.Key.Key_Down: BIG_STEP, Qt.Key.Key_Up: -BIG_STEP,
        }
        if key in nav:
            self.move(nav[key])
            return True
        if key == Qt.Key.Key_Home:
            self.go_to(0)
            return True
        if key == Qt.Key.Key_End:
            self.go_to(self._n - 1)
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept_model()
            return True
        if key in (Qt.Key.Key_N, Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            self.next_attention(-1 if (shift or key == Qt.Key.Key_Backtab) else 1)
            return True
        ch = (text or "").lower()
        if not ch and Qt.Key.Key_A <= key <= Qt.Key.Key_Z:
            ch = chr(key).lower()
        elif not ch and Qt.Key.Key_0 <= key <= Qt.Key.Key_9:
            ch = chr(key)
        if ch in KEYS:
            self.set_stage(KEYS[ch])
            return True
        return False
