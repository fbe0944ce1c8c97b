"""The whole night's EEG spectrogram, drawn above the hypnogram; a click jumps to that epoch.

The spectrum is computed on a worker thread (`sleepscope.analysis.spectrogram`,
cached on disk per recording), so opening a night never waits for it; an
answer for a recording no longer shown is dropped. The x axis is in epochs,
as the hypnogram's, and can be linked to it so both zoom and pan together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QThread, Signal
from PySide6.QtWidgets import QGraphicsItem, QWidget

from sleepscope.analysis.spectrogram import Spectrogram, cached_spectrogram
from sleepscope.gui.hypnogram_view import CURSOR_PEN, LABEL_PX, EpochStrip
from sleepscope.gui.jobs import CurrentJob, Job, JobWorker

COLORMAP = "viridis"


@dataclass
class SpectrogramResult:
    job_id: int
    spectrogram: Spectrogram


class SpectrogramWorker(JobWorker):
    """Computes (or reads from the cache) one channel's spectrogram."""

    def __init__(self, signal: np.ndarray, fs: float, fingerprint: str, channel: str) -> None:
        super().__init__()
        self._args = (signal, fs, fingerprint, channel)

    def work(self) -> SpectrogramResult:
        signal, fs, fingerprint, channel = self._args
        self._args = None
        return SpectrogramResult(self.job_id, cached_spectrogram(signal, fs, fingerprint, channel,
                                                                 cancel=self.cancel_token))

    def unexpected(self, exc: Exception, detail: str) -> str:
        return f"{type(exc).__name__}: {exc}"  # the display is a convenience: one line under its label


class SpectrogramJobs(CurrentJob):
    """The spectrogram job of the shown recording; an answer for one no longer shown is dropped."""

    done = Signal(object)  # Spectrogram

    def _deliver(self, result: SpectrogramResult) -> None:
        self.done.emit(result.spectrogram)


class SpectrogramView(EpochStrip):
    """EEG power per epoch and frequency; emits `epochPicked` on a click or drag."""

    #: emitted once the spectrogram of the shown recording is drawn.
    ready = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, bottom_margin=0)
        self._label = self._glw.addLabel("EEG spectrum", row=0, col=0, size="8pt", color="#2b2f36",
                                         justify="right")
        self.plot = self._add_plot(0)
        self.plot.showAxis("bottom", False)
        self.plot.getAxis("left").setTicks([[(0.0, "0"), (10.0, "10"), (20.0, "20"), (30.0, "Hz")]])
        self._glw.ci.layout.setColumnFixedWidth(0, LABEL_PX)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(pg.colormap.get(COLORMAP).getLookupTable(nPts=256))
        # Cached as a pixmap: moving the cursor (every page flip) only blits it.
        self.image.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.plot.addItem(self.image)
        self.cursor_line = pg.InfiniteLine(pos=0.5, angle=90, movable=False, pen=CURSOR_PEN)
        self.cursor_line.setZValue(10)
        self.plot.addItem(self.cursor_line)
        self.setMinimumHeight(60)
        self.jobs = SpectrogramJobs(self)
        self.jobs.done.connect(self.set_spectrogram)
        self.jobs.failed.connect(self._on_failed)
        self.spectrogram: Spectrogram | None = None
        self.status = ""

    # -- content ------------------------------------------------------------
    def show_recording(self, recording: Any) -> None:
        """Start computing the EEG spectrogram of `recording` (a sleepscope.io.Recording) in the background."""
        self.clear()
        self._n = int(recording.n_epochs)
        self.plot.getViewBox().setLimits(xMin=0, xMax=max(1, self._n))
        self.plot.setXRange(0, max(1, self._n), padding=0)
        self.status = "computing"
        worker = SpectrogramWorker(recording.eeg, float(recording.fs), recording.fingerprint(), recording.eeg_name)
        self.jobs.launch(Job(worker, "spectrogram", QThread.Priority.LowPriority))

    def set_spectrogram(self, spec: Spectrogram) -> None:
        self.spectrogram = spec
        self._n = spec.n_epochs
        fmax = float(spec.freqs[-1]) if len(spec.freqs) else 1.0
        # rows are frequencies (bottom to top), columns epochs
        self.image.setImage(spec.power_db.T, autoLevels=False, levels=spec.display_levels())
        self.image.setRect(QRectF(0, 0, spec.n_epochs, fmax))
        self.plot.setYRange(0, fmax, padding=0)
        self.status = "ready"
        self.ready.emit()

    def clear(self) -> None:
        self.cancel()
        self._label.setText("EEG spectrum", size="8pt", color="#2b2f36")
        self._label.setToolTip("")
        self.spectrogram = None
        self.image.clear()
        self._n = 0
        self.status = ""

    def set_cursor(self, epoch: int) -> None:
        self.cursor_line.setValue(int(epoch) + 0.5)

    def link_x(self, view: pg.ViewBox) -> None:
        """Share the time axis with another view (the hypnogram): zoom and pan together."""
        self.plot.setXLink(view)

    # -- jobs ---------------------------------------------------------------
    def cancel(self) -> None:
        self.jobs.drop()

    def wait(self, ms: int = 10000) -> bool:
        """Cancel and wait for the worker threads (closing the window); True when they ended."""
        return self.jobs.wait_all(ms)

    def _on_failed(self, message: str) -> None:
        self.status = f"failed: {message}"
        self._label.setText("EEG spectrum<br>(failed)", size="8pt", color="#b03a2e")
        self._label.setToolTip(f"The spectrogram could not be computed: {message}")
