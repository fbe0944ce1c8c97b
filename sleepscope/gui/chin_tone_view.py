"""The night's chin-EMG tone, a row between the spectrogram and the hypnogram; a click jumps to that epoch.

The AASM scores REM on the chin's atonia: over a whole night the tone's dips
show the REM periods at a glance, its peaks wake and movements. Each epoch's
tone is the one pre-scoring reads (`sleepscope.model.chin_emg.night_tone`:
the quietest quarter of the epoch, relative to the night), whether or not the
model weighed it in, computed on a worker thread; an answer for a recording
no longer shown is dropped. The row is hidden for a recording without a chin
EMG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import QGraphicsItem, QWidget

from sleepscope.gui.jobs import CurrentJob, Job, JobWorker
from sleepscope.gui.night_row import NightRow
from sleepscope.model.chin_emg import CLIP, NightTone, chin_channel, night_tone
from sleepscope.stages import COLORS, Stage

TONE_PEN = pg.mkPen("#3d4650", width=1)
#: under the night's median the fill takes REM's colour: atonia is what the row is for
LOW_BRUSH = pg.mkBrush(COLORS[Stage.REM])
HIGH_BRUSH = pg.mkBrush("#c9ced4")
NAME = "Chin EMG"


@dataclass
class ToneResult:
    job_id: int
    tone: NightTone | None


class ToneWorker(JobWorker):
    """Reads the recording's chin EMG (from its file when not loaded) and its tone per epoch."""

    def __init__(self, recording: Any) -> None:
        super().__init__()
        self._recording = recording

    def work(self) -> ToneResult:
        rec, self._recording = self._recording, None
        return ToneResult(self.job_id, night_tone(rec, self.cancel_token))

    def unexpected(self, exc: Exception, detail: str) -> str:
        return f"{type(exc).__name__}: {exc}"  # the row is a convenience: one line in its tooltip


class ToneJobs(CurrentJob):
    done = Signal(object)  # NightTone or None

    def _deliver(self, result: ToneResult) -> None:
        self.done.emit(result.tone)


class ChinToneView(NightRow):
    """The chin EMG's tone per epoch over the night; emits `epochPicked` on a click or drag."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(NAME, ToneJobs, "The chin EMG's tone could not be read", parent)
        self.plot.setYRange(-CLIP, CLIP, padding=0.15)
        self.plot.getAxis("left").setTicks([[(-CLIP, "low"), (CLIP, "high")]])
        # stepped: one level per epoch (given at set_tone: pyqtgraph refuses an empty stepped curve)
        self._low = pg.PlotCurveItem(pen=None, fillLevel=0.0, brush=LOW_BRUSH)
        self._high = pg.PlotCurveItem(pen=None, fillLevel=0.0, brush=HIGH_BRUSH)
        self._line = pg.PlotCurveItem(pen=TONE_PEN)
        for item in (self._high, self._low, self._line):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            self.plot.addItem(item)
        self.plot.addItem(pg.InfiniteLine(pos=0.0, angle=0, pen=pg.mkPen("#9aa3ad", width=1)))
        self.setFixedHeight(52)
        self.jobs.done.connect(self.set_tone)
        self.tone: NightTone | None = None
        #: whether the shown recording has a chin EMG (the row is shown only then, and when View asks for it)
        self.available = False
        self.wanted = True
        self.setVisible(False)

    # -- content ------------------------------------------------------------
    def show_recording(self, recording: Any, wait: bool = False) -> None:
        """Start reading `recording`'s chin-EMG tone in the background; hide the row if it has no chin EMG. `wait`:
        the window is reading more of its channels; one not loaded yet is waited for ("waiting": call again)."""
        self.clear()
        self.start_night(recording.n_epochs)
        channel = chin_channel(recording)
        self.available = channel is not None
        self._update_visible()
        if channel is None:
            self.status = "none"
            self.ready.emit()
            return
        if wait and channel not in recording.channels:
            self.status = "waiting"
            return
        self.status = "computing"
        self.jobs.launch(Job(ToneWorker(recording), "chin-tone", QThread.Priority.LowPriority))

    def set_tone(self, tone: NightTone | None) -> None:
        self.tone = tone
        if tone is None:
            self.available = False
            self._update_visible()
            self.status = "none"
            self.ready.emit()
            return
        if tone.reason:
            self.set_name("no tone", f"The chin EMG {tone.channel!r} shows no tone: {tone.reason}.", failed=True)
            self.status = "no tone"
            self.ready.emit()
            return
        # an epoch without evidence (flat, clipped, no signal) is drawn as nothing, not as the night's median
        y = np.where(tone.usable, tone.tone, np.nan)
        edges = np.arange(len(y) + 1, dtype=np.float64)
        self._line.setData(edges, y, connect="finite", stepMode="center")
        self._low.setData(edges, np.minimum(np.nan_to_num(y), 0.0), stepMode="center")
        self._high.setData(edges, np.maximum(np.nan_to_num(y), 0.0), stepMode="center")
        self.set_name(tooltip=(
            f"Muscle tone of the chin EMG {tone.channel!r}, epoch by epoch, against the night's own: its quietest "
            "quarter, in interquartile ranges from the night's median (clipped at 2). REM's atonia dips (the fill "
            "in REM's colour), wake and movements rise. Shown whether or not the model weighed it in; the banner "
            "says when it did not."))
        self.status = "ready"
        self.ready.emit()

    def clear(self) -> None:
        self.cancel()
        self.tone = None
        for item in (self._line, self._low, self._high):
            item.clear()
        self.set_name()
        self._n = 0
        self.status = ""

    def forget(self) -> None:
        """No recording shown: the row goes."""
        self.clear()
        self.available = False
        self._update_visible()

    def set_wanted(self, wanted: bool) -> None:
        """View → Chin EMG tone."""
        self.wanted = bool(wanted)
        self._update_visible()

    def _update_visible(self) -> None:
        self.setVisible(self.available and self.wanted)
