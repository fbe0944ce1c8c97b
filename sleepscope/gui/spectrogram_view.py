"""The whole night's EEG spectrogram, drawn above the hypnogram; a click jumps to that epoch.

The spectrum is computed on a worker thread (`sleepscope.analysis.spectrogram`,
cached on disk per recording), so opening a night never waits for it; an
answer for a recording no longer shown is dropped. The x axis is in epochs,
as the hypnogram's, and can be linked to it so both zoom and pan together.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QThread, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from sleepscope.analysis.spectrogram import Spectrogram, cached_spectrogram
from sleepscope.gui.hypnogram_view import AXIS_PX, CURSOR_PEN, LABEL_PX, EpochViewBox, _Picker
from sleepscope.tasks import CancelToken, Cancelled

_ids = itertools.count(1)
COLORMAP = "viridis"


class SpectrogramJob(QThread):
    """Computes (or reads from the cache) one channel's spectrogram; `done` carries the job id and result."""

    done = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, signal: np.ndarray, fs: float, fingerprint: str, channel: str) -> None:
        super().__init__()
        self.job_id = next(_ids)
        self.cancel_token = CancelToken()
        self._args = (signal, fs, fingerprint, channel)
        self.setObjectName(f"sleepscope-spectrogram-{self.job_id}")

    def run(self) -> None:  # noqa: D401  (QThread entry point)
        signal, fs, fingerprint, channel = self._args
        self._args = None
        try:
            spec = cached_spectrogram(signal, fs, fingerprint, channel, cancel=self.cancel_token)
        except Cancelled:
            return
        except Exception as exc:  # the display is a convenience: report, never take the window down
            self.failed.emit(self.job_id, f"{type(exc).__name__}: {exc}")
            return
        self.done.emit(self.job_id, spec)


class SpectrogramView(QWidget):
    """EEG power per epoch and frequency; emits `epochPicked` on a click or drag."""

    epochPicked = Signal(int)
    #: emitted once the spectrogram of the shown recording is drawn.
    ready = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._picker = _Picker()
        self._picker.picked.connect(self._on_pick)
        self._glw = pg.GraphicsLayoutWidget()
        self._glw.setBackground("#ffffff")
        self._glw.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._glw.ci.setContentsMargins(0, 4, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._glw)
        self._label = self._glw.addLabel("EEG spectrum", row=0, col=0, size="8pt", color="#2b2f36",
                                         justify="right")
        self.plot = self._glw.addPlot(row=0, col=1, viewBox=EpochViewBox(self._picker))
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.disableAutoRange()
        self.plot.showAxis("bottom", False)
        font = QFont()
        font.setPointSize(8)
        left = self.plot.getAxis("left")
        left.setWidth(AXIS_PX)
        left.setStyle(tickFont=font, tickLength=0)
        left.setTextPen(pg.mkPen("#2b2f36"))
        left.setPen(pg.mkPen("#9aa3ad"))
        left.setTicks([[(0.0, "0"), (10.0, "10"), (20.0, "20"), (30.0, "Hz")]])
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
        self._n = 0
        self._job: SpectrogramJob | None = None
        self._old_jobs: list[SpectrogramJob] = []
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
        job = SpectrogramJob(recording.eeg, float(recording.fs), recording.fingerprint(), recording.eeg_name)
        queued = Qt.ConnectionType.QueuedConnection
        job.done.connect(self._on_done, queued)
        job.failed.connect(self._on_failed, queued)
        self._job = job
        job.start(QThread.Priority.LowPriority)

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
        if self._job is not None:
            self._job.cancel_token.cancel()
            self._old_jobs.append(self._job)
            self._job = None
        self._old_jobs = [j for j in self._old_jobs if not j.wait(0)]  # let go only once ended

    def wait(self, ms: int = 10000) -> bool:
        """Cancel and wait for the worker threads (closing the window); True when they ended."""
        self.cancel()
        ok = all(j.wait(ms) for j in self._old_jobs)
        self._old_jobs = [j for j in self._old_jobs if not j.wait(0)]  # let go only once ended
        return ok

    def _on_done(self, job_id: int, spec: Spectrogram) -> None:
        if self._job is None or job_id != self._job.job_id:
            return  # a recording no longer shown
        self._old_jobs.append(self._job)
        self._job = None
        self.set_spectrogram(spec)

    def _on_failed(self, job_id: int, message: str) -> None:
        if self._job is None or job_id != self._job.job_id:
            return
        # Kept until its thread has ended: a QThread collected while running aborts the process.
        self._old_jobs.append(self._job)
        self._job = None
        self.status = f"failed: {message}"
        self._label.setText("EEG spectrum<br>(failed)", size="8pt", color="#b03a2e")
        self._label.setToolTip(f"The spectrogram could not be computed: {message}")

    def _on_pick(self, epoch: int) -> None:
        if self._n:
            self.epochPicked.emit(int(np.clip(epoch, 0, self._n - 1)))
