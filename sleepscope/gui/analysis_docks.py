"""The analysis parts of the window: spectrogram and chin-EMG tone above the hypnogram, statistics, review queue,
"why this stage", report, and the page length for browsing (View → Page length).

`AnalysisDocks(window)` adds them to a MainWindow through its public parts
(controller, trace and hypnogram views, menus) and follows the controller's
signals; the window tells it when a recording is shown or closed. Docks
hidden by the technician cost nothing: the statistics recompute and the
detectors run only while their dock is visible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMenu, QScrollArea, QSplitter, QVBoxLayout, QWidget

from sleepscope.errors import SleepScopeError
from sleepscope.gui.chin_tone_view import ChinToneView
from sleepscope.gui.evidence_panel import EventOverlay, EvidencePanel
from sleepscope.gui.review_panel import ReviewPanel
from sleepscope.gui.spectrogram_view import SpectrogramView
from sleepscope.gui.stats_panel import StatsPanel
from sleepscope.gui.trace_view import LANE_DIVS, PAGE_LENGTHS

REPORT_FILTER = "PDF report (*.pdf);;HTML report (*.html)"


def _menu(window: QMainWindow, title: str) -> QMenu | None:
    for act in window.menuBar().actions():
        if act.menu() is not None and act.text().replace("&", "") == title:
            return act.menu()
    return None


def _dock(window: QMainWindow, title: str, name: str, widget: QWidget) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    # Panels wrap their text to the dock's width instead of scrolling sideways.
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(widget)
    scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    dock.setWidget(scroll)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    return dock


class AnalysisDocks(QObject):
    """Spectrogram, statistics and agreement, review queue, evidence of the epoch, and File → Report."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        c = window.controller
        self.spectrogram = SpectrogramView()
        self.chin_tone = ChinToneView()
        split = window.hypnogram.parentWidget()
        if isinstance(split, QSplitter):
            # one pane of the splitter: the tone's thin row sits under the spectrum whatever the pane's height
            pane = QWidget()
            pl = QVBoxLayout(pane)
            pl.setContentsMargins(0, 0, 0, 0)
            pl.setSpacing(0)
            pl.addWidget(self.spectrogram, 1)
            pl.addWidget(self.chin_tone)
            at = split.indexOf(window.hypnogram)
            split.insertWidget(at, pane)
            split.setStretchFactor(at, 1)
        self.spectrogram.link_x(window.hypnogram.time_view())
        self.chin_tone.link_x(window.hypnogram.time_view())

        self.stats = StatsPanel()
        self.review = ReviewPanel(c)
        both = QWidget()
        bl = QVBoxLayout(both)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.review)
        bl.addWidget(self.stats, 1)
        self.evidence = EvidencePanel()
        self.stats_dock = _dock(window, "Review and statistics", "review_stats_dock", both)
        self.evidence_dock = _dock(window, "Why this stage", "evidence_dock", self.evidence)
        display = getattr(window, "dock", None)
        if display is not None:
            window.tabifyDockWidget(display, self.stats_dock)
            window.tabifyDockWidget(self.stats_dock, self.evidence_dock)
            display.raise_()
        plot = window.trace.findChild(pg.PlotWidget)
        self.overlay = EventOverlay(plot.getPlotItem(), self._lane_span) if plot is not None else None

        self.act_report = QAction("&Report (PDF or HTML)…", window)
        self.act_report.triggered.connect(lambda: self.write_report())
        file_menu = _menu(window, "File")
        if file_menu is not None:
            export = getattr(window, "export_menu", None)
            before = next((a for a in file_menu.actions() if export is not None and a.menu() is export), None)
            actions = file_menu.actions()
            after = actions[actions.index(before) + 1] if before in actions[:-1] else None
            file_menu.insertAction(after, self.act_report) if after is not None else file_menu.addAction(self.act_report)
        view_menu = _menu(window, "View")
        self.page_actions: dict[float, QAction] = {}
        if view_menu is not None:
            view_menu.addSeparator()
            pages = view_menu.addMenu("Page length")
            group = QActionGroup(pages)
            stored = window.settings.page_seconds
            window.trace.set_page_seconds(stored if stored in PAGE_LENGTHS else PAGE_LENGTHS[0])
            for seconds in PAGE_LENGTHS:
                act = QAction(f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min", pages, checkable=True)
                act.setChecked(seconds == window.trace.page_seconds)
                act.triggered.connect(lambda _=False, s=seconds: self.set_page_seconds(s))
                group.addAction(act)
                pages.addAction(act)
                self.page_actions[seconds] = act
            self.act_spectrogram = QAction("EEG spectrogram", window, checkable=True)
            self.act_spectrogram.setChecked(True)
            self.act_spectrogram.toggled.connect(self.spectrogram.setVisible)
            view_menu.addAction(self.act_spectrogram)
            self.act_chin_tone = QAction("Chin EMG tone", window, checkable=True)
            self.act_chin_tone.setChecked(True)
            self.act_chin_tone.setToolTip("The chin EMG's tone over the night, under the spectrogram (a recording "
                                          "with a chin EMG)")
            self.act_chin_tone.toggled.connect(self.chin_tone.set_wanted)
            view_menu.addAction(self.act_chin_tone)
            view_menu.addAction(self.stats_dock.toggleViewAction())
            view_menu.addAction(self.evidence_dock.toggleViewAction())

        self.stats_dock.visibilityChanged.connect(self.stats.set_active)
        self.evidence_dock.visibilityChanged.connect(self.evidence.set_active)
        c.epochChanged.connect(self._on_epoch)
        c.labelsChanged.connect(self.stats.schedule_refresh)
        c.predictionChanged.connect(self._on_prediction)
        self.spectrogram.epochPicked.connect(c.go_to)
        self.chin_tone.epochPicked.connect(c.go_to)
        self.chin_tone.ready.connect(lambda: self.evidence.set_chin_tone(self.chin_tone.tone))
        self.evidence.evidenceReady.connect(self._on_evidence)
        self.evidence.show_events.toggled.connect(lambda on: self._on_evidence(self.evidence.evidence))
        self.act_report.setEnabled(False)

    def set_page_seconds(self, seconds: float) -> None:
        """View → Page length: browse in pages of `seconds` (kept for the next session)."""
        self.window.trace.set_page_seconds(seconds)
        self.window.settings.page_seconds = seconds
        if seconds in self.page_actions:
            self.page_actions[seconds].setChecked(True)

    # -- the window's recording ---------------------------------------------
    def show_recording(self, recording: Any, scoring: Any) -> None:
        self._recording = recording
        self.spectrogram.show_recording(recording)
        # a chin EMG that is one of the lanes still being read is taken from them, not read a second time
        self.chin_tone.show_recording(recording, wait=getattr(self.window, "lanes_pending", False))
        self.stats.set_scoring(scoring, no_signal=getattr(recording, "gap", None))
        self.review.refresh()
        self.evidence.set_recording(recording, self._model_probs)
        self.evidence.set_epoch(self.window.controller.current)
        self.spectrogram.set_cursor(self.window.controller.current)
        self.chin_tone.set_cursor(self.window.controller.current)
        self.act_report.setEnabled(True)

    def channels_added(self) -> None:
        """Channels were read into the open recording (View → Channels): what the panel found with fewer is
        found again (the other eye tells conjugate eye movements from in-phase deflections)."""
        if self._recording is not None:
            if self.chin_tone.status == "waiting":
                self.chin_tone.show_recording(self._recording)
            self.evidence.set_recording(self._recording, self._model_probs)
            self.evidence.set_chin_tone(self.chin_tone.tone)
            self.evidence.set_epoch(self.window.controller.current)

    def clear(self) -> None:
        self._recording = None
        self.spectrogram.clear()
        self.chin_tone.forget()
        self.stats.set_scoring(None)
        self.review.refresh()
        self.evidence.set_recording(None)
        if self.overlay is not None:
            self.overlay.clear()
        self.act_report.setEnabled(False)

    def wait(self, ms: int = 10000) -> bool:
        """Stop the background work (closing the window); True when every thread ended."""
        return self.spectrogram.wait(ms) & self.chin_tone.wait(ms) & self.evidence.wait(ms)

    # -- following the controller --------------------------------------------
    def _model_probs(self, epoch: int) -> np.ndarray | None:
        probs = self.window.controller.probs
        return None if probs is None or not 0 <= epoch < len(probs) else probs[epoch]

    def _on_epoch(self, epoch: int) -> None:
        self.spectrogram.set_cursor(epoch)
        self.chin_tone.set_cursor(epoch)
        if self.overlay is not None:
            self.overlay.clear()
        self.evidence.set_epoch(epoch)

    def _on_prediction(self) -> None:
        self.stats.schedule_refresh()
        self.evidence.refresh_model()

    def _on_evidence(self, ev: Any) -> None:
        if self.overlay is None:
            return
        show = ev is not None and self.evidence.show_events.isChecked() and ev.epoch == self.window.controller.current
        self.overlay.show(ev if show else None)

    def _lane_span(self, kind: str) -> tuple[float, float] | None:
        rec = getattr(self, "_recording", None)
        if rec is None:
            return None
        name = rec.eeg_name if kind == "eeg" else rec.eog_name if kind == "eog" else kind
        shown = self.window.trace.shown_channels
        if name not in shown:
            return None
        mid = self.window.trace.baseline(shown.index(name))
        return mid - LANE_DIVS / 2, mid + LANE_DIVS / 2

    # -- report ---------------------------------------------------------------
    def write_report(self, path: str | Path | None = None) -> Path | None:
        """File → Report: the night's report as PDF or HTML (asks for the file when `path` is None)."""
        from sleepscope.gui.dialogs import show_error
        from sleepscope.scoring.report import build_report, write_report

        w = self.window
        if w.scoring is None:
            return None
        if path is None:
            from sleepscope.scoring.report_commands import default_report_path

            chosen, _ = QFileDialog.getSaveFileName(w, "Write the night's report",
                                                    str(default_report_path(Path(w.scoring.path))), REPORT_FILTER)
            if not chosen:
                return None
            path = chosen
        try:
            out = write_report(build_report(w.scoring, no_signal=getattr(w.recording, "gap", None)), path)
        except SleepScopeError as exc:
            show_error(w, "The report could not be written", str(exc))
            return None
        w.statusBar().showMessage(f"Wrote the report {out}", 5000)
        return out
