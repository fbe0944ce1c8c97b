"""Where am I and what is this epoch: the line over the traces and the status bar's fields.

One `StatusHeader` draws both from the same state (the open recording, its
scoring file, the controller), so the header and the status bar never tell
different stories. Epochs are shown counted from 1; exported CSV files count
them from 0, which the epoch field's tooltip says.
"""

from __future__ import annotations

import weakref
from datetime import timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from sleepscope.model.epoch_reading import reading_words
from sleepscope.stages import COLORS, Stage

EPOCH_TOOLTIP = ("Epochs are counted from 1 here; the `epoch` column of exported CSV files counts from 0 "
                 "(epoch 1 here is row 0 there).")


_PROBLEMS: tuple[Any, Any] = (None, None)  # (weak reference to a recording, its EpochQuality as recorded)


def recorded_problems(recording: Any, epoch: int) -> list[str]:
    """What is wrong with the model's channels as recorded in `epoch` ("EEG: flat"): why the model read it
    otherwise, or not at all. Found once per recording, when first asked."""
    global _PROBLEMS
    ref, quality = _PROBLEMS
    if ref is None or ref() is not recording:
        from sleepscope.model.quality import epoch_quality

        quality = epoch_quality(recording)
        _PROBLEMS = (weakref.ref(recording), quality)
    return quality.reasons(epoch) if 0 <= epoch < quality.n_epochs else []


def stage_chip(code: int) -> str:
    """A stage name on its hypnogram colour (rich text), white or dark text by contrast."""
    stage = Stage(int(code))
    bg = COLORS[stage]
    fg = "#ffffff" if stage in (Stage.N2, Stage.N3, Stage.REM, Stage.UNSCORED) else "#1b1f24"
    return f"<span style='background:{bg}; color:{fg}'>&nbsp;<b>{stage.label}</b>&nbsp;</span>"


def scoring_location(scoring: Any, recording: Any) -> tuple[str, str]:
    """(short text, full explanation) of where the scoring file is kept."""
    path = Path(scoring.path)
    rec_path = getattr(recording, "path", None)
    mode = " (read-only)" if getattr(scoring, "readonly", False) else ""
    if rec_path is not None and path.parent == Path(rec_path).parent:
        return (f"Scoring beside the recording{mode}", f"Scoring file: {path}{mode}")
    return (f"Scoring in your user folder{mode}",
            f"The recording's folder cannot be written, so the scoring file is kept at {path}{mode}. "
            "File → Properties shows this again; copy it beside the recording when you can write there.")


class StatusHeader:
    """The header label over the traces and the permanent fields of the status bar."""

    def __init__(self, status_bar: QStatusBar) -> None:
        self.bar = status_bar
        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setStyleSheet("QLabel { background: #ffffff; color: #2b2f36; padding: 4px 10px; "
                                  "border-bottom: 1px solid #dfe3e8; font-size: 10.5pt; }")
        self.epoch = QLabel()
        self.epoch.setToolTip(EPOCH_TOOLTIP)
        self.clock = QLabel()
        self.label = QLabel()
        self.model = QLabel()
        self.reviewed = QLabel()
        self.location = QLabel()
        self.fields = (self.epoch, self.clock, self.label, self.model, self.reviewed, self.location)
        for w in self.fields:
            w.setContentsMargins(8, 0, 8, 0)
            w.setStyleSheet("QLabel { border-left: 1px solid #c8ccd2; }")
            status_bar.addPermanentWidget(w)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        status_bar.addPermanentWidget(self.progress)
        status_bar.addPermanentWidget(self.cancel_button)
        self.show_progress(None)

    def show_progress(self, text: str | None, done: int = 0, total: int = 0) -> None:
        """A busy bar with `text` (None hides it); total 0 = unknown length."""
        if text is None:
            self.progress.hide()
            self.cancel_button.hide()
            return
        self.progress.setRange(0, max(0, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{text} %p%" if total else text)
        self.progress.show()
        self.cancel_button.show()

    def update(self, recording: Any, scoring: Any, controller: Any, model_busy: bool) -> None:
        if scoring is None or recording is None:
            for w in self.fields:
                w.setText("")
            self.location.setToolTip("")
            self.epoch.setText("No recording: File → Open")
            self.header.setText("No recording open — File → Open, or run <code>sleepscope demo</code>.")
            return
        c = controller
        i = c.current
        n = c.n_epochs
        t = recording.epoch_time(i)
        label = int(scoring.labels[i])
        src = str(scoring.sources[i]) if label >= 0 else ""
        gap = bool(recording.gap[i])
        self.epoch.setText(f"Epoch {i + 1} / {n}")
        self.clock.setText(t.strftime("%H:%M:%S"))
        self.label.setText("Label: no signal (gap)" if gap else
                           f"Label: {Stage(label).label}" + (f" ({src})" if src else ""))
        m = c.model_at(i)
        if m is None:
            self.model.setText("Model: pre-scoring…" if model_busy else "Model: —")
        else:
            flag = "  ⚑" if c.unsure_at(i) else ""
            self.model.setText("Model: no stage ⚑" if m[0] < 0 else f"Model: {Stage(m[0]).label} {m[1]:.0%}{flag}")
        self.reviewed.setText(f"Reviewed {c.reviewed_fraction():.1%}")
        short, full = scoring_location(scoring, recording)
        self.location.setText(short)
        self.location.setToolTip(full)
        end = t + timedelta(seconds=30)
        model = "—" if m is None else "" if m[0] < 0 else f"{stage_chip(m[0])} {m[1]:.0%}" + (
            " <span style='color:#c0392b'>unsure</span>" if c.unsure_at(i) else "")
        # How the model read this epoch, where not as recorded: the bars over its row in the hypnogram.
        bits = c.reading_at(i) if hasattr(c, "reading_at") else 0
        read = reading_words(bits, recorded_problems(recording, i) if bits else ())
        if m is not None and m[0] < 0:
            model = f"<b>{read or 'no stage'}</b>"
        elif read:
            model += f", <span style='color:#7b4fb8'>{read}</span>"
        ro = " &nbsp;·&nbsp; <b style='color:#c0392b'>READ-ONLY</b>" if getattr(scoring, "readonly", False) else ""
        second = c.second_at(i) if hasattr(c, "second_at") else None
        if second is not None:
            # Both opinions side by side; a disagreement puts the epoch in the review queue.
            differs = m is not None and 0 <= m[0] != second
            ro = (f" &nbsp;·&nbsp; YASA {stage_chip(second)}"
                  + (" <span style='color:#c0392b'>disagrees</span>" if differs else "")) + ro
        self.header.setText(
            f"<b>Epoch {i + 1}</b> <span style='color:#6b7480'>of {n}</span> &nbsp;·&nbsp; "
            f"{t:%H:%M:%S}–{end:%H:%M:%S} &nbsp;·&nbsp; "
            + ("<b>no signal recorded</b> <span style='color:#6b7480'>(gap in the recording: not scored)</span>"
               if gap else f"Label {stage_chip(label)}")
            + (f" <span style='color:#6b7480'>{src}</span>" if src else "")
            + f" &nbsp;·&nbsp; Model {model}{ro}")
