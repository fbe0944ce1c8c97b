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
from sleepscope.gui.jobs import CurrentJob, Job, JobWorker
from sleepscope.gui.night_row import NightRow

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


class SpectrogramView(NightRow):
    """EEG power per epoch and frequency; emits `epochPicked` on a click or drag."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("EEG spectrum", SpectrogramJobs, "The spectrogram could not be computed", parent)
        self.plot.getAxis("left").setTicks([[(0.0, "0"), (10.0, "10"), (20.0, "20"), (30.0, "Hz")]])
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(pg.colormap.get(COLORMAP).getLookupTable(nPts=256))
        # Cached as a pixmap: moving the cursor (every page flip) only blits it.
        self.image.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.plot.addItem(self.image)
        self.setMinimumHeight(60)
        self.jobs.done.connect(self.set_spectrogram)
        self.spectrogram: Spectrogram | None = None

    # -- content ------------------------------------------------------------
    def show_recording(self, recording: Any) -> None:
        """Start computing the EEG spectrogram of `recording` (a sleepscope.io.Recording) in the background; of its
        EOG, and the row says so, where it has no EEG (an EOG-only recording opens too)."""
        self.clear()
        self.start_night(recording.n_epochs)
        self.status = "computing"
        name = recording.eeg_name or recording.eog_name
        if recording.eeg_name is None:
            self.set_name("of the EOG: no EEG", f"This recording has no EEG: the spectrogram shows {name}.")
        worker = SpectrogramWorker(recording.channels[name], float(recording.fs), recording.fingerprint(), name)
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
        self.set_name()
        self.spectrogram = None
        self.image.clear()
        self._n = 0
        self.status = ""
