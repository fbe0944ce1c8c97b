"""Scoring: the current epoch, stage edits, model acceptance, undo/redo.

Undo and redo are the scoring file's own (`ScoringFile.undo()`/`redo()`
return the edit they reverted or reapplied): there is no second history in
the GUI that could drift from the file's, so after a failed write Ctrl+Z
reverts the epoch the file reverts, and history survives a restart.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from sleepscope.errors import SleepScopeError
from sleepscope.gui.keymap import BIG_STEP, UNSURE_BELOW
from sleepscope.scoring import SOURCE_MODEL, SOURCE_TECHNICIAN
from sleepscope.stages import Stage, most_likely

__all__ = ["BIG_STEP", "UNSURE_BELOW", "ScoringController", "reviewed_mask"]

NO_PREDICTION = "No model prediction yet: pre-score the recording first (Model → Pre-score)."


def reviewed_mask(scoring: Any) -> np.ndarray:
    """Epochs a person has looked at, by the scoring package's one definition."""
    from sleepscope.scoring.stats import reviewed_epochs

    return reviewed_epochs(scoring.labels, scoring.sources, scoring.reviewed)


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
    #: events, notes or lights changed (an undo or redo of one of them)
    marksChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scoring: Any = None
        #: why there is no prediction yet (e.g. "the model is still loading"), shown when Enter or N need one
        self.waiting_for_model: Callable[[], str | None] = lambda: None
        self._probs: np.ndarray | None = None
        self._model_stages: np.ndarray | None = None
        #: the second opinion's stages (YASA), when it has scored the night
        self._second: np.ndarray | None = None
        self._current = 0
        self._n = 0
        #: per epoch, True in a gap of the recording (EDF+D: no signal there), never scored
        self._gap = np.zeros(0, dtype=bool)

    # -- attaching ----------------------------------------------------------
    def attach(self, scoring: Any, start_at: int = 0, gap: np.ndarray | None = None) -> None:
        """Score into `scoring` (a ScoringFile), starting at epoch `start_at`; `gap`: the recording's
        per-epoch gap mask (`Recording.gap`), epochs that are shown but never scored."""
        self.detach()
        self.scoring = scoring
        self._n = int(scoring.n_epochs)
        self._gap = np.zeros(self._n, dtype=bool)
        if gap is not None:
            g = np.asarray(gap, dtype=bool)[: self._n]
            self._gap[: len(g)] = g
        self._current = int(np.clip(start_at, 0, max(0, self._n - 1)))
        rec = scoring.latest_prediction()
        self.set_prediction(None if rec is None else rec.probs, reading=None if rec is None else rec.reading)
        self.epochChanged.emit(self._current)
        self.labelsChanged.emit([])

    def detach(self) -> None:
        self.scoring = None
        self._probs = None
        self._model_stages = None
        self._unsure = None
        self._reading = None
        self._second = None
        self._n = 0
        self._current = 0

    @property
    def attached(self) -> bool:
        return self.scoring is not None

    def set_prediction(self, probs: np.ndarray | None, unsure: np.ndarray | None = None,
                       reading: np.ndarray | None = None) -> None:
        """The model's probabilities and which suggestions it marked unsure (``eeg_band.unsure_epochs``: the card's
        threshold, a narrow EEG band); without `unsure`, those under :data:`UNSURE_BELOW`. `reading`: how it read
        each epoch (`sleepscope.model.epoch_reading` bits), when known."""
        self._reading = None if probs is None or reading is None else np.asarray(reading, np.uint8)
        if probs is None:
            self._probs = None
            self._model_stages = None
            self._unsure = None
        else:
            self._probs = np.asarray(probs, dtype=np.float32)
            self._model_stages = most_likely(self._probs)
            self._unsure = (self._probs.max(axis=1) < UNSURE_BELOW) if unsure is None else \
                np.asarray(unsure, dtype=bool)[: len(self._probs)]
        self.predictionChanged.emit()

    @property
    def reading(self) -> np.ndarray | None:
        return self._reading

    def reading_at(self, epoch: int) -> int:
        """How the model read `epoch` (`sleepscope.model.epoch_reading` bits; 0: as recorded, or not known)."""
        r = self._reading
        return int(r[epoch]) if r is not None and 0 <= epoch < len(r) else 0

    def unsure_at(self, epoch: int) -> bool:
        """Did the model mark its suggestion for `epoch` unsure?"""
        u = self._unsure
        return u is not None and 0 <= epoch < len(u) and bool(u[epoch])

    def set_second_opinion(self, stages: np.ndarray | None) -> None:
        """Another scorer's stages: epochs where it and the model disagree join the doubtful ones."""
        self._second = None if stages is None else np.asarray(stages, dtype=np.int8)
        self.predictionChanged.emit()

    @property
    def second_opinion(self) -> np.ndarray | None:
        return self._second

    def second_at(self, epoch: int) -> int | None:
        """The second opinion's stage for `epoch`, or None."""
        s = self._second
        return None if s is None or not 0 <= epoch < len(s) or s[epoch] < 0 else int(s[epoch])

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
        """(stage, confidence) the model gives `epoch` (stage -1: it gave none, an artefact epoch), or None
        without a prediction."""
        if self._probs is None or not 0 <= epoch < len(self._probs):
            return None
        return int(self._model_stages[epoch]), float(self._probs[epoch].max())

    def reviewed_fraction(self) -> float:
        """Share of the epochs with signal that a person has labelled, accepted or marked reviewed (imports
        do not count; gap epochs can never be reviewed)."""
        recorded = ~self._gap
        if self.scoring is None or not recorded.any():
            return 0.0
        return float(reviewed_mask(self.scoring)[recorded].mean())

    @property
    def gap(self) -> np.ndarray:
        """Per epoch: True in a gap of the recording (no signal recorded), never scored."""
        return self._gap

    def in_gap(self) -> bool:
        """True (and the status bar says why) when the current epoch lies in a gap of the recording."""
        if self._current < len(self._gap) and self._gap[self._current]:
            self.message.emit(f"Epoch {self._current + 1} lies in a gap of the recording: no signal was recorded "
                              "there, so it is not scored. Move on with → or N.")
            return True
        return False

    def _no_prediction(self) -> None:
        self.message.emit(self.waiting_for_model() or NO_PREDICTION)

    def writable(self) -> bool:
        """False (and the status bar says why) when the scoring file is open read-only."""
        if self.scoring is not None and getattr(self.scoring, "readonly", False):
            self.message.emit("Read-only: another SleepScope is scoring this night. Browse and export here; "
                              "close it there and reopen here to edit.")
            return False
        return self.scoring is not None

    def _push_edit(self, epoch: int, stage: int, source: str) -> bool:
        if not self.writable():
            return False
        try:
            self.scoring.set_stage([epoch], stage, source=source)
        except SleepScopeError as exc:
            # The labels shown may have changed if the file kept part of the edit: redraw from the file.
            self.labelsChanged.emit([epoch])
            self.failed.emit(str(exc))
            return False
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

    def attention_reasons(self) -> dict[str, np.ndarray] | None:
        """Why epochs are worth a second look, one mask per reason (an epoch may have several): the model
        marked it "unsure", it gave "no stage" (its channels fail there: the technician's to score), the
        "technician"'s label differs from the model's stage, or the "second opinion" (when there is one) names
        another stage."""
        if self._probs is None:
            return None
        unsure = self._unsure
        # A gap has nothing to review: the queue and N skip it.
        keep = ~self._gap[: len(unsure)]
        labels = self.scoring.labels if self.scoring is not None else np.full(self._n, -1)
        differs = (labels >= 0) & (self._model_stages >= 0) & (labels != self._model_stages)
        none = self._model_stages < 0
        reasons = {"unsure": unsure & ~none & keep, "no stage": none & keep, "technician": differs & keep}
        if self._second is not None:
            from sleepscope.scorers.compare import disagreement

            reasons["second opinion"] = disagreement(self._model_stages, self._second) & keep
        return reasons

    def attention_mask(self) -> np.ndarray | None:
        """Epochs worth a second look: any of :meth:`attention_reasons`."""
        reasons = self.attention_reasons()
        return None if reasons is None else np.logical_or.reduce(list(reasons.values()))

    def next_attention(self, direction: int = 1) -> int | None:
        """Jump to the next (direction 1) or previous (-1) epoch needing attention; None if none."""
        mask = self.attention_mask()
        if mask is None:
            self._no_prediction()
            return None
        target = self._nearest(mask, direction)
        if target is None:
            self.message.emit("No further epoch where the model is unsure or disagrees"
                              + (" (with you or the second opinion)." if self._second is not None else "."))
            return None
        self.go_to(target)
        return target

    def _nearest(self, mask: np.ndarray, direction: int) -> int | None:
        """The first epoch of `mask` after the current one (direction 1), or the last before it (-1)."""
        if direction > 0:
            hits = np.flatnonzero(mask[self._current + 1:])
            return None if hits.size == 0 else self._current + 1 + int(hits[0])
        hits = np.flatnonzero(mask[: self._current])
        return None if hits.size == 0 else int(hits[-1])

    def next_unscored(self, direction: int = 1) -> int | None:
        """Jump to the next (1) or previous (-1) epoch with signal and no label; None (and a message) if none."""
        if self.scoring is None or self._n == 0:
            return None
        todo = (self.scoring.labels < 0) & ~self._gap
        target = self._nearest(todo, direction)
        if target is None:
            left = int(todo.sum())
            self.message.emit("Every epoch with signal is scored." if not left else
                              f"No unscored epoch {'after' if direction > 0 else 'before'} this one "
                              f"({left} elsewhere).")
            return None
        self.go_to(target)
        return target

    # -- scoring ------------------------------------------------------------
    def set_stage(self, stage: Stage | int, advance: bool = True) -> bool:
        if self.scoring is None or self._n == 0 or self.in_gap():
            return False
        if not self._push_edit(self._current, int(stage), SOURCE_TECHNICIAN):
            return False
        if advance:
            self.move(1)
        return True

    def accept_model(self, advance: bool = True) -> bool:
        """Take the model's stage for the current epoch (source 'model')."""
        if self.scoring is None or self.in_gap():
            return False
        m = self.model_at(self._current)
        if m is None:
            self._no_prediction()
            return False
        if m[0] < 0:
            self.message.emit(f"The model gives epoch {self._current + 1} no stage: its signal is an artefact "
                              "there. Score it with a stage key if it can be read.")
            return False
        if not self._push_edit(self._current, m[0], SOURCE_MODEL):
            return False
        if advance:
            self.move(1)
        return True

    def import_labels(self, labels: np.ndarray, source: str) -> bool:
        """Take another scorer's labels wherever they are scored, as one undoable edit."""
        if not self.writable():
            return False
        labels = np.asarray(labels)
        scored = np.flatnonzero(labels >= 0)
        if scored.size == 0:
            self.message.emit("The reference scorer has no scored epoch.")
            return False
        try:
            edit = self.scoring.set_stages(scored, labels[scored], source=source)
        except SleepScopeError as exc:
            self.labelsChanged.emit([])
            self.failed.emit(str(exc))
            return False
        self.labelsChanged.emit([int(i) for i in edit.epochs])
        return True

    def undo(self) -> bool:
        """Revert the scoring file's last edit and show its epoch; False when there was none."""
        return self._step("undo")

    def redo(self) -> bool:
        return self._step("redo")

    def _step(self, op: str) -> bool:
        if not self.writable():
            return False
        try:
            edit = (self.scoring.undo if op == "undo" else self.scoring.redo)()
        except SleepScopeError as exc:
            self.labelsChanged.emit([])
            self.failed.emit(str(exc))
            return False
        if edit is None:
            self.message.emit("Nothing to undo." if op == "undo" else "Nothing to redo.")
            return False
        epochs = [int(i) for i in edit.epochs]
        self.go_to(epochs[0])
        what = getattr(edit, "what", None)  # a MarkEdit: events or lights, not labels
        if what is not None:
            self.marksChanged.emit()
            self.message.emit(f"{'Undone' if op == 'undo' else 'Redone'}: {what}.")
        else:
            self.labelsChanged.emit(epochs)
        return True
