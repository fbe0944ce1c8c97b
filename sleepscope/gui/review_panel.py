"""The review queue at a glance ("312 doubtful epochs, 40 reviewed"), bulk acceptance of confident runs, sign-off.

The doubtful epochs are the controller's (`attention_mask`: the model is
unsure or disagrees), reviewed is the scoring package's one definition, and
a bulk accept is one scoring-file edit, so Ctrl+Z takes it back whole.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGroupBox, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from sleepscope.errors import SleepScopeError
from sleepscope.gui.scoring_controller import reviewed_mask
from sleepscope.scoring.review import MIN_RUN, ReviewCoverage, confident_runs, review_coverage

REFRESH_DELAY_MS = 120


class ReviewPanel(QWidget):
    """Coverage of the review queue and the 'Accept confident runs' command of one ScoringController."""

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        box = QGroupBox("Review queue")
        bl = QVBoxLayout(box)
        bl.setContentsMargins(6, 6, 6, 6)
        self.coverage_label = QLabel()
        # With a second opinion the queue grows; saying why lets the technician see what fills it.
        self.reasons_label = QLabel()
        self.reasons_label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.accept_button = QPushButton("Accept confident runs")
        self.accept_button.setToolTip(
            f"Take the model's stage for every unscored epoch in runs of {MIN_RUN} or more consecutive epochs "
            "where it is confident and agrees with itself; doubtful epochs stay for you. One edit: Ctrl+Z undoes it.")
        self.accept_button.clicked.connect(self.accept_confident_runs)
        self.sign_off_label = QLabel()
        self.sign_off_label.setWordWrap(True)
        self.sign_off_label.setTextFormat(Qt.TextFormat.RichText)
        self.sign_off_button = QPushButton("Sign off this night…")
        self.sign_off_button.setToolTip("Record that you have finished and checked this night's scoring "
                                        "(your name and the time go into the scoring file and the report).")
        self.sign_off_button.clicked.connect(lambda: self.sign_off())
        for w in (self.coverage_label, self.reasons_label, self.bar, self.accept_button, self.sign_off_label,
                  self.sign_off_button):
            bl.addWidget(w)
        layout.addWidget(box)
        # Stage keys must keep scoring after a click here.
        for w in (self, box, self.accept_button, self.sign_off_button):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        self.coverage: ReviewCoverage | None = None
        controller.labelsChanged.connect(self.schedule_refresh)
        controller.predictionChanged.connect(self.schedule_refresh)
        self.refresh()

    def schedule_refresh(self, *_: Any) -> None:
        self._timer.start()

    def candidates(self) -> np.ndarray:
        """The epochs 'Accept confident runs' would take now."""
        c = self.controller
        mask = c.attention_mask() if c.scoring is not None else None
        if mask is None:
            return np.zeros(0, np.int64)
        # Gap epochs count as doubtful here so that no run reaches into a gap: they are never scored.
        return confident_runs(c.model_stages, mask | c.gap[: len(mask)], c.scoring.labels)

    def refresh(self) -> None:
        self._timer.stop()
        c = self.controller
        self._show_sign_off()
        mask = c.attention_mask() if c.scoring is not None else None
        self.reasons_label.setText("" if mask is None else reasons_text(c.attention_reasons()))
        if mask is None:
            self.coverage = None
            self.coverage_label.setText("No recording open." if c.scoring is None
                                        else "No model prediction yet: pre-score the recording.")
            self.bar.setRange(0, 1)
            self.bar.setValue(0)
            self.bar.setFormat("")
            self.accept_button.setEnabled(False)
            return
        self.coverage = review_coverage(mask, reviewed_mask(c.scoring))
        self.coverage_label.setText(self.coverage.text())
        self.bar.setRange(0, max(1, self.coverage.doubtful))
        self.bar.setValue(self.coverage.reviewed)
        self.bar.setFormat("%p % of the doubtful epochs reviewed" if self.coverage.doubtful else "")
        n = len(self.candidates())
        self.accept_button.setText(f"Accept confident runs ({n} epochs)")
        self.accept_button.setEnabled(n > 0 and not getattr(c.scoring, "readonly", False))

    def _show_sign_off(self) -> None:
        sf = self.controller.scoring
        rec = None if sf is None else sf.signed_off
        self.sign_off_button.setEnabled(sf is not None and not getattr(sf, "readonly", False))
        if rec is None:
            self.sign_off_label.setText("" if sf is None else "Not signed off.")
            return
        when = datetime.fromtimestamp(rec.time)
        text = f"Signed off by {html.escape(rec.scorer)}, {when:%Y-%m-%d %H:%M}."
        if rec.changes_since:
            text += f" <span style='color:#b03a2e'>{rec.changes_since} label change(s) since.</span>"
        self.sign_off_label.setText(text)

    def sign_off(self, confirm: bool = True) -> bool:
        """Sign the night off as the current scorer (asks first); True when recorded."""
        from sleepscope.gui.dialogs import ask_yes_no

        c = self.controller
        sf = c.scoring
        if sf is None or not c.writable():
            return False
        if not sf.scorer.strip():
            c.message.emit("A sign-off needs your name: set it first (Edit → Scorer name…).")
            return False
        scored = int(np.count_nonzero(sf.labels >= 0))
        question = (f"Sign off this night as {sf.scorer}?\n\n{scored} of {sf.n_epochs} epochs are scored"
                    + ("" if self.coverage is None else f"; {self.coverage.text()}") + ".")
        if confirm and not ask_yes_no(self, "Sign off", question):
            return False
        try:
            sf.sign_off()
        except SleepScopeError as exc:
            c.failed.emit(str(exc))
            return False
        self._show_sign_off()
        c.message.emit(f"Signed off by {sf.scorer}.")
        return True

    def accept_confident_runs(self) -> int:
        """Accept the model's stage on every confident run at once; returns the number of epochs taken."""
        c = self.controller
        epochs = self.candidates()
        if epochs.size == 0:
            c.message.emit("No confident run of unscored epochs left to accept.")
            return 0
        if not c.writable():
            return 0
        try:
            edit = c.scoring.accept_prediction(epochs)
        except SleepScopeError as exc:
            c.labelsChanged.emit([])
            c.failed.emit(str(exc))
            return 0
        c.labelsChanged.emit([int(i) for i in edit.epochs])
        c.message.emit(f"Accepted the model's stage for {len(edit.epochs)} epochs in confident runs "
                       "(Ctrl+Z undoes it).")
        self.refresh()
        return len(edit.epochs)


#: How each reason reads in the panel, in the order shown.
REASON_TEXT = {"unsure": "the model is unsure", "no stage": "the model gives no stage (its signal fails)",
               "technician": "your label differs",
               "second opinion": "the second opinion differs"}


def reasons_text(reasons: dict[str, np.ndarray]) -> str:
    """'Why: 120 the model is unsure · 210 the second opinion differs' (reasons with no epoch left out)."""
    parts = [f"{int(np.count_nonzero(reasons[k]))} {text}" for k, text in REASON_TEXT.items()
             if k in reasons and reasons[k].any()]
    return "Why: " + " · ".join(parts) if parts else ""
