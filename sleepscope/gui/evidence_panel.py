""""Why this stage": the model's probabilities, the epoch's band powers and YASA's events, beside the traces.

The evidence of an epoch (`sleepscope.analysis.evidence`) is computed on a
worker thread once the technician has stayed on an epoch for a moment
(flipping through pages never waits for the detectors) and kept per epoch.
`EventOverlay` marks the detected spindles, slow waves and eye movements on
the EEG and EOG lanes of the trace view.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QThread, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QSizePolicy, QVBoxLayout, QWidget

from sleepscope.analysis.evidence import KINDS, REM, SLOW_WAVE, SPINDLE, EpochEvidence, Leads, epoch_evidence, leads_of
from sleepscope.analysis.spectrogram import BANDS
from sleepscope.gui.jobs import CurrentJob, Job, JobWorker
from sleepscope.gui.lazy_panel import LazyPanel
from sleepscope.stages import COLORS, SCORED

#: Wait this long on an epoch before running the detectors (page flips stay free).
SETTLE_MS = 200
#: Epochs whose evidence is kept (a night's worth of going back and forth).
CACHE_EPOCHS = 256
EVENT_COLORS = {SPINDLE: "#2a9d8f", SLOW_WAVE: "#8e44ad", REM: "#e76f51"}
BAND_COLOR = "#5b6b7f"


class Bars(QWidget):
    """Labelled horizontal bars with values 0..1 (probabilities, shares of power)."""

    def __init__(self, names: list[str], colors: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names = names
        self.colors = [QColor(c) for c in colors]
        self.values = [0.0] * len(names)
        self.setMinimumHeight(16 * len(names) + 4)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_values(self, values: list[float] | None) -> None:
        self.values = [0.0] * len(self.names) if values is None else [float(v) for v in values]
        self.update()

    def paintEvent(self, ev) -> None:  # noqa: N802
        p = QPainter(self)
        fm = p.fontMetrics()
        label_w = max(fm.horizontalAdvance(n) for n in self.names) + 8
        value_w = fm.horizontalAdvance("100 %") + 6
        bar_w = max(10, self.width() - label_w - value_w)
        for i, (name, color, v) in enumerate(zip(self.names, self.colors, self.values)):
            y = 2 + 16 * i
            p.setPen(QColor("#2b2f36"))
            p.drawText(QRectF(0, y, label_w - 4, 14), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            p.fillRect(QRectF(label_w, y + 2, bar_w, 10), QColor("#eef0f3"))
            p.fillRect(QRectF(label_w, y + 2, bar_w * min(1.0, max(0.0, v)), 10), color)
            p.drawText(QRectF(label_w + bar_w + 4, y, value_w, 14), Qt.AlignmentFlag.AlignVCenter, f"{100 * v:.0f} %")
        p.end()


@dataclass
class EvidenceResult:
    job_id: int
    evidence: EpochEvidence


class EvidenceWorker(JobWorker):
    def __init__(self, eeg: np.ndarray, eog: np.ndarray, fs: float, epoch: int, detectors: bool,
                 leads: Leads | None = None) -> None:
        super().__init__()
        self._args = (eeg, eog, fs, epoch, detectors, 1, leads)

    def work(self) -> EvidenceResult:
        args, self._args = self._args, None
        return EvidenceResult(self.job_id, epoch_evidence(*args))

    def unexpected(self, exc: Exception, detail: str) -> str:
        return f"{type(exc).__name__}: {exc}"  # a detector's failure: one line in the panel, not a traceback


class EvidenceJob(Job):
    """The evidence of one epoch, computed at low priority."""

    def __init__(self, eeg: np.ndarray, eog: np.ndarray, fs: float, epoch: int, detectors: bool,
                 leads: Leads | None = None) -> None:
        super().__init__(EvidenceWorker(eeg, eog, fs, epoch, detectors, leads), "evidence",
                         QThread.Priority.LowPriority)
        self.epoch = epoch


class EvidenceJobs(CurrentJob):
    """The evidence job of the epoch in view; an answer for another recording is dropped."""

    done = Signal(object)  # EpochEvidence

    def _deliver(self, result: EvidenceResult) -> None:
        self.done.emit(result.evidence)


class EvidencePanel(LazyPanel):
    """The current epoch's evidence; `set_epoch` asks for it, `evidenceReady` says it arrived."""

    evidenceReady = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(lambda: self.set_epoch(self.epoch), parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        box = QGroupBox("The model and the EEG")
        bl = QVBoxLayout(box)
        bl.setContentsMargins(6, 6, 6, 6)
        self.title = QLabel()
        bl.addWidget(self.title)
        bl.addWidget(QLabel("Model probabilities"))
        self.probs = Bars([s.name for s in SCORED], [COLORS[s] for s in SCORED])
        bl.addWidget(self.probs)
        bl.addWidget(QLabel("EEG band power (share of 0.5–30 Hz)"))
        self.bands = Bars([f"{k} {lo:g}–{hi:g}" for k, (lo, hi) in BANDS.items()], [BAND_COLOR] * len(BANDS))
        bl.addWidget(self.bands)
        self.alpha_label = QLabel()  # the occipital lead's alpha, where the window shows one
        bl.addWidget(self.alpha_label)
        self.chin_label = QLabel()  # the chin EMG's tone against the night's, where the recording has one
        self.chin_label.setWordWrap(True)
        bl.addWidget(self.chin_label)
        self.events_label = QLabel()
        self.events_label.setTextFormat(Qt.TextFormat.RichText)
        self.events_label.setWordWrap(True)
        bl.addWidget(self.events_label)
        self.show_events = QCheckBox("Mark events on the traces")
        self.show_events.setChecked(True)
        bl.addWidget(self.show_events)
        layout.addWidget(box)
        layout.addStretch(1)
        for w in (self, box, self.show_events):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self._start_job)
        self._recording: Any = None
        self._model_at: Callable[[int], np.ndarray | None] = lambda epoch: None
        self._cache: OrderedDict[int, EpochEvidence] = OrderedDict()
        self._chin: Any = None  # sleepscope.model.chin_emg.NightTone
        self.jobs = EvidenceJobs(self)
        self.jobs.done.connect(self._on_done)
        self.jobs.failed.connect(self._on_failed)
        self.detectors = True
        self.epoch = 0
        self.evidence: EpochEvidence | None = None
        self.set_recording(None)

    # -- inputs -------------------------------------------------------------
    def set_recording(self, recording: Any, model_probs: Callable[[int], np.ndarray | None] | None = None) -> None:
        """Explain epochs of `recording` (a sleepscope.io.Recording); `model_probs(epoch)` gives (5,) or None."""
        self.cancel()
        self._recording = recording
        self._model_at = model_probs or (lambda epoch: None)
        self._cache.clear()
        self.evidence = None
        self.epoch = 0
        self.set_chin_tone(None)
        if recording is None:
            self.title.setText("No recording open.")
            self.probs.set_values(None)
            self.bands.set_values(None)
            self.alpha_label.setVisible(False)
            self.events_label.setText("")

    def set_epoch(self, epoch: int) -> None:
        """The technician is on `epoch`: show what is known now, compute the rest once they stay."""
        if self._recording is None:
            return
        self.epoch = int(epoch)
        if not self.shown():  # nothing to draw while the dock is hidden: catch up when shown
            self._stale = True
            return
        self._stale = False
        self.title.setText(f"<b>Epoch {self.epoch + 1}</b>")
        self.refresh_model()
        cached = self._cache.get(self.epoch)
        if cached is not None:
            self._timer.stop()  # a page left before its detectors ran needs none now
            self._show(cached)
            return
        self.evidence = None
        self.bands.set_values(None)
        self.alpha_label.setVisible(False)
        self.events_label.setText("<span style='color:#6b7480'>Looking…</span>")
        self._timer.start()

    def refresh_model(self) -> None:
        probs = self._model_at(self.epoch) if self._recording is not None else None
        self.probs.set_values(None if probs is None else list(np.asarray(probs, float)))
        self._show_chin()

    def set_chin_tone(self, tone: Any) -> None:
        """The night's chin-EMG tone per epoch (`chin_emg.NightTone`, as the window's row draws it), or None."""
        self._chin = tone if tone is not None and not tone.reason else None
        self._show_chin()

    def _show_chin(self) -> None:
        tone = self._chin
        usable = tone is not None and 0 <= self.epoch < len(tone.tone) and bool(tone.usable[self.epoch])
        self.chin_label.setVisible(usable)
        if not usable:
            return
        z = float(tone.tone[self.epoch])
        what = ("low: REM's atonia" if z <= -1 else "high: wake, a movement or an arousal" if z >= 1
                else "near the night's middle, as in NREM sleep")
        self.chin_label.setText(f"Chin EMG tone: {what} ({z:+.1f} interquartile ranges from the night's median)")

    # -- jobs ---------------------------------------------------------------
    def _start_job(self) -> None:
        rec = self._recording
        if rec is None or (self.jobs.job is not None and self.jobs.job.epoch == self.epoch):
            return
        self.cancel()
        if rec.eeg_name is None or rec.eog_name is None:  # band powers need the EEG, eye movements the EOG
            missing = "EEG" if rec.eeg_name is None else "EOG"
            self.events_label.setText(f"<span style='color:#6b7480'>This recording has no {missing}: the evidence "
                                      "is read from the EEG and the EOG together.</span>")
            return
        # both eyes and a central lead where the window shows them (the AASM montage)
        leads = leads_of(rec.channels, rec.eeg_name, rec.eog_name)
        self.jobs.launch(EvidenceJob(rec.eeg, rec.eog, float(rec.fs), self.epoch, self.detectors, leads))

    def cancel(self) -> None:
        self._timer.stop()
        self.jobs.drop()

    def wait(self, ms: int = 10000) -> bool:
        """Wait for the worker threads to end (closing the window); True when they did."""
        self._timer.stop()
        return self.jobs.wait_all(ms)

    def _on_done(self, ev: EpochEvidence) -> None:
        self._cache[ev.epoch] = ev
        while len(self._cache) > CACHE_EPOCHS:
            self._cache.popitem(last=False)
        if ev.epoch == self.epoch:
            self._show(ev)
        else:
            self._timer.start()

    def _on_failed(self, message: str) -> None:
        self.events_label.setText(f"<span style='color:#b03a2e'>The detectors failed: {message}</span>")

    def _show(self, ev: EpochEvidence) -> None:
        self.evidence = ev
        self.bands.set_values([ev.band_powers[k] for k in BANDS])
        if ev.occipital_alpha is not None:
            lead, share = ev.occipital_alpha
            self.alpha_label.setText(f"Alpha on {lead}: {100 * share:.0f} % of its power (wake's posterior rhythm)")
        self.alpha_label.setVisible(ev.occipital_alpha is not None)
        if ev.detector_note:
            text = f"<span style='color:#6b7480'>{ev.detector_note}</span>"
        else:
            parts = [f"<span style='color:{EVENT_COLORS[k]}'>■</span> {ev.count(k)} {k}"
                     f"{'s' if ev.count(k) != 1 else ''}" for k in KINDS]
            text = "In this epoch (YASA): " + ", ".join(parts)
        self.events_label.setText(text)
        self.evidenceReady.emit(ev)


class EventOverlay:
    """Shaded spans over the EEG and EOG lanes of a trace plot for detected events."""

    def __init__(self, plot: pg.PlotItem, lane_span: Callable[[str], tuple[float, float] | None]) -> None:
        self._plot = plot
        self._lane_span = lane_span  # "eeg"/"eog"/a lead's name -> (y_low, y_high) of its lane, or None when hidden
        self._items: list[Any] = []

    def show(self, evidence: EpochEvidence | None) -> None:
        self.clear()
        if evidence is None:
            return
        from PySide6.QtWidgets import QGraphicsRectItem

        for e in evidence.events:
            span = self._lane_span(e.channel)
            if span is None:
                continue
            lo, hi = span
            item = QGraphicsRectItem(QRectF(e.start_s, lo, e.end_s - e.start_s, hi - lo))
            color = QColor(EVENT_COLORS[e.kind])
            color.setAlpha(60)
            item.setBrush(color)
            item.setPen(pg.mkPen(None))
            item.setZValue(-5)
            item.setToolTip(e.kind)
            self._plot.addItem(item)
            self._items.append(item)

    def clear(self) -> None:
        for item in self._items:
            self._plot.removeItem(item)
        self._items = []

    @property
    def n_shown(self) -> int:
        return len(self._items)
