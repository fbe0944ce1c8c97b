"""A banner above the traces: what the model reads, and when its suggestions should not be trusted.

Shown when the recording lacks the EEG or the EOG (the model reads the other
alone), when the channels differ from what the model learned, when epochs
are artefact, and, most visibly, when the familiarity check finds the
recording unlike what the model learned, which a second opinion that
disagrees with the model too often also decides once it arrives, and when the
model agrees with the night's own scoring (its reference scorer) less than
expert scorers agree with each other. The text
comes from the core (``Prediction.notes``, ``ChannelChoice``,
``familiarity.with_second_opinion``): the banner only shows it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel

_INFO = "background:#fff4ce; color:#3d3000; border-bottom:1px solid #e0c060; padding:4px 8px;"
_WARN = "background:#fde7e9; color:#5c0010; border-bottom:2px solid #c42b1c; padding:4px 8px; font-weight:600;"


class ModelNotice(QFrame):
    """The banner; hidden when there is nothing to say."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("model_notice")
        self.label = QLabel()
        self.label.setWordWrap(True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        self._channels: list[str] = []
        self._prediction: Any = None
        self._lab: str | None = None
        self._kept: str | None = None
        self.unfamiliar = False
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def clear(self) -> None:
        self._channels = []
        self._prediction = None
        self._lab = None
        self._kept = None
        self.unfamiliar = False
        self.label.clear()
        self.hide()

    def show_recording(self, recording: Any) -> None:
        """Before pre-scoring: which channels the model will read, and a note when one is missing."""
        self.clear()
        choice = getattr(recording, "channel_choice", None)
        if choice is None:
            return
        self._channels = choice.lines()
        self.label.setToolTip("The model reads:\n" + "\n".join(self._channels))
        notes = [f"No {kind} channel: the model pre-scores from the {other} alone."
                 for kind, other, name in (("EOG", "EEG", choice.eog), ("EEG", "EOG", choice.eeg)) if name is None]
        if notes or not choice.learned:
            self._show(notes + ["Channels in use — " + "; ".join(self._channels)], warn=False)

    def show_prediction(self, prediction: Any, kept: str | None = None) -> None:
        """After pre-scoring: the prediction's notes (unfamiliar recording first, in red). `kept`: for a
        prediction kept in the scoring file, what its epochs' reading says (`epoch_reading.reading_summary`)."""
        if prediction is None:
            return
        self._prediction = prediction
        self._kept = kept
        self._render(prediction)

    def show_lab_agreement(self, note: str | None) -> None:
        """`scoring.lab_scoring.below_experts` for the prediction against the night's own scoring (None: nothing
        to say)."""
        self._lab = note
        if self._prediction is not None:
            self._render(self._prediction)
        elif note:
            self._show([note] + (["Channels in use — " + "; ".join(self._channels)] if self._channels else []),
                       warn=True)

    def show_second_opinion(self, stages: Any, stats: dict | None) -> None:
        """The second opinion's `stages` arrived: a recording on which it disagrees with the model more than the
        card's `stats` allow is unfamiliar too."""
        pred = self._prediction
        if pred is None:
            return
        if stages is None:
            self._render(pred)
            return
        from sleepscope.model.familiarity import with_second_opinion

        familiarity = with_second_opinion(pred.familiarity, stats, pred.stages, stages)
        self._render(pred if familiarity is pred.familiarity else replace(pred, familiarity=familiarity))

    def _render(self, prediction: Any) -> None:
        notes = prediction.notes() + [n for n in (self._kept, self._lab) if n]
        fam = getattr(prediction, "familiarity", None)
        self.unfamiliar = fam is not None and not fam.familiar
        if not notes and not self._channels:
            self.hide()
            return
        lines = [n[0].upper() + n[1:] for n in notes]
        # a narrow EEG band leaves confident W and REM suggestions wrong: as much a warning as an unfamiliar night,
        # and so is a model that agrees with the night's own scoring less than experts agree
        warn = (self.unfamiliar or getattr(prediction, "eeg_band", None) is not None or bool(self._lab)
                or getattr(prediction, "implausible", None) is not None)
        if self._channels and (warn or any("channel" in n for n in notes)):
            lines.append("Channels in use — " + "; ".join(self._channels))
        if lines:
            self._show(lines, warn=warn)

    def _show(self, lines: list[str], warn: bool) -> None:
        self.label.setText("\n".join(lines))
        self.setStyleSheet(_WARN if warn else _INFO)
        self.show()
