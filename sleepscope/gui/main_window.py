"""The scoring workstation's main window: menus, trace and hypnogram views, status bar.

The window owns one open recording and its scoring file at a time. Every
edit goes through the ScoringController to the scoring file, which is on disk
when the call returns, so closing the window (or a crash) loses nothing.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QEvent, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QIcon, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from sleepscope.errors import SleepScopeError
from sleepscope.gui.dialogs import ChannelDialog, ModelCardDialog, keyboard_help_html, show_error
from sleepscope.gui.finetune_dialog import install_model_actions
from sleepscope.gui.hypnogram_view import HypnogramView
from sleepscope.gui.scoring_controller import UNSURE_BELOW, ScoringController
from sleepscope.gui.settings import FilterSettings, Settings
from sleepscope.gui.trace_view import ChannelDisplay, DisplayFilter, TraceView, default_display
from sleepscope.gui.workers import PreScoreJob, PreScoreResult, start_prescore
from sleepscope.stages import COLORS, Stage
from sleepscope.tasks import CancelToken, Cancelled

APP_TITLE = "SleepScope"
RECORDING_FILTER = "Recordings (*.edf *.EDF *.bdf *.BDF *.rec);;All files (*)"
NOTCH_CHOICES = ((0.0, "Off"), (50.0, "50 Hz"), (60.0, "60 Hz"))


def resources_dir() -> Path:
    """`resources/` beside the package in a checkout or a frozen app."""
    return Path(__file__).resolve().parents[2] / "resources"


def app_icon() -> QIcon:
    for name in ("sleepscope.svg", "sleepscope.png"):
        p = resources_dir() / name
        if p.exists():
            return QIcon(str(p))
    return QIcon()


class ScoringSurface(QWidget):
    """The central widget; holds keyboard focus so that stage keys reach the controller."""

    def __init__(self, on_key: Callable[[QKeyEvent], bool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._on_key = on_key
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def event(self, ev: QEvent) -> bool:  # noqa: N802
        # Tab normally moves focus between widgets; here it jumps to the next doubtful epoch.
        if ev.type() == QEvent.Type.KeyPress and ev.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            if self._on_key(ev):
                return True
        return super().event(ev)

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802
        if not self._on_key(ev):
            super().keyPressEvent(ev)

    def mousePressEvent(self, ev) -> None:  # noqa: N802
        self.setFocus()
        super().mousePressEvent(ev)


class DisplayPanel(QWidget):
    """Gains, offsets, filters and context: the trace view's controls."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self._channels_box = QGroupBox("Channels (µV/div, offset div)")
        self._channels_form = QFormLayout(self._channels_box)
        self._channels_form.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self._channels_box)
        filters = QGroupBox("Display filters")
        form = QFormLayout(filters)
        form.setContentsMargins(6, 6, 6, 6)
        self.highpass = self._spin(0.0, 10.0, 0.1, " Hz", 2)
        self.lowpass = self._spin(0.0, 49.0, 1.0, " Hz", 1)
        self.highpass.setSpecialValueText("Off")
        self.lowpass.setSpecialValueText("Off")
        self.notch = QComboBox()
        for value, text in NOTCH_CHOICES:
            self.notch.addItem(text, value)
        form.addRow("High-pass", self.highpass)
        form.addRow("Low-pass", self.lowpass)
        form.addRow("Notch", self.notch)
        layout.addWidget(filters)
        self.context = QCheckBox("Show neighbouring epochs")
        layout.addWidget(self.context)
        zoom = QGroupBox("Hypnogram")
        zl = QHBoxLayout(zoom)
        zl.setContentsMargins(6, 6, 6, 6)
        self.zoom_hour = QPushButton("1 hour")
        self.zoom_night = QPushButton("Whole night")
        zl.addWidget(self.zoom_hour)
        zl.addWidget(self.zoom_night)
        layout.addWidget(zoom)
        legend = QLabel(
            "<span style='color:#c0392b'>- - -</span> ±37.5 µV (75 µV slow waves)<br>"
            "Shaded: neighbouring epochs<br>Keys: Help → Keyboard"
        )
        legend.setStyleSheet("color:#4a525c")
        layout.addWidget(legend)
        layout.addStretch(1)
        for w in (self.highpass, self.lowpass):
            w.valueChanged.connect(self.changed)
        self.notch.currentIndexChanged.connect(self.changed)
        self.context.toggled.connect(self.changed)
        self.gains: dict[str, QDoubleSpinBox] = {}
        self.offsets: dict[str, QDoubleSpinBox] = {}
        for w in (self, self._channels_box, filters, zoom):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.zoom_hour.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.zoom_night.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.context.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    @staticmethod
    def _spin(lo: float, hi: float, step: float, suffix: str, decimals: int) -> QDoubleSpinBox:
        s = QDoubleSpinBox()
        s.setRange(lo, hi)
        s.setSingleStep(step)
        s.setDecimals(decimals)
        s.setSuffix(suffix)
        s.setKeyboardTracking(False)
        return s

    def set_channels(self, displays: list[ChannelDisplay]) -> None:
        while self._channels_form.rowCount():
            self._channels_form.removeRow(0)
        self.gains.clear()
        self.offsets.clear()
        for d in displays:
            gain = self._spin(1.0, 2000.0, 5.0, " µV", 0)
            gain.setValue(d.gain)
            offset = self._spin(-8.0, 8.0, 0.5, "", 1)
            offset.setValue(d.offset)
            row = QWidget()
            rl = QHBoxLayout(row)
            rl.setContentsMargins(0, 0, 0, 0)
            rl.addWidget(gain, 3)
            rl.addWidget(offset, 2)
            self._channels_form.addRow(d.name, row)
            gain.valueChanged.connect(self.changed)
            offset.valueChanged.connect(self.changed)
            self.gains[d.name] = gain
            self.offsets[d.name] = offset

    def filter(self) -> DisplayFilter:
        return DisplayFilter(self.highpass.value(), self.lowpass.value(), float(self.notch.currentData()))

    def set_filter(self, f: FilterSettings) -> None:
        blockers = [QSignalBlocker(w) for w in (self.highpass, self.lowpass, self.notch)]
        self.highpass.setValue(f.highpass_hz)
        self.lowpass.setValue(f.lowpass_hz)
        idx = max(0, self.notch.findData(f.notch_hz))
        self.notch.setCurrentIndex(idx)
        del blockers


class MainWindow(QMainWindow):
    """One recording, its scoring file, its model prediction."""

    #: emitted when a pre-scoring job delivered its result into the window.
    prescoreDone = Signal()

    def __init__(self, settings: Settings | None = None, model_path: str | Path | None = None,
                 prescore_on_open: bool = True) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.prescore_on_open = prescore_on_open
        self.recording: Any = None
        self.scoring: Any = None
        self.reference: np.ndarray | None = None
        self.reference_name = ""
        self.model_path: Path | None = self._initial_model(model_path)
        self.model_card: Any = None
        self.job: PreScoreJob | None = None
        self._old_jobs: list[PreScoreJob] = []

        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.controller = ScoringController(self)
        self.trace = TraceView()
        self.hypnogram = HypnogramView()
        self.surface = ScoringSurface(self._on_key)
        # A one-line header over the traces: where am I and what is this epoch, at a glance.
        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setStyleSheet("QLabel { background: #ffffff; color: #2b2f36; padding: 4px 10px; "
                                  "border-bottom: 1px solid #dfe3e8; font-size: 10.5pt; }")
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(0)
        tl.addWidget(self.header)
        tl.addWidget(self.trace, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.hypnogram)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 3)
        split.setChildrenCollapsible(False)
        self._split = split
        sl = QVBoxLayout(self.surface)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(split)
        self.setCentralWidget(self.surface)

        self.panel = DisplayPanel()
        dock = QDockWidget("Display", self)
        dock.setObjectName("display_dock")
        dock.setWidget(self.panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.dock = dock

        self._build_status_bar()
        self._build_menus()
        self._connect()
        self.panel.set_filter(self.settings.filters())
        with QSignalBlocker(self.panel.context):
            self.panel.context.setChecked(self.settings.show_context)
        self.trace.set_filter(self.panel.filter())
        self.trace.set_context(self.settings.show_context)
        self._restore_layout()
        self._update_actions()
        self._update_status()
        if self.model_path is None:
            self.statusBar().showMessage(
                "No model available: choose one with Model → Choose model file… (scoring by hand works as usual).")

    # -- construction -------------------------------------------------------
    def _initial_model(self, explicit: str | Path | None) -> Path | None:
        if explicit:
            return Path(explicit)
        stored = self.settings.model_path
        if stored and Path(stored).exists():
            return Path(stored)
        # sleepscope.model.checkpoint imports torch: keep that off the start-up path.
        from sleepscope.paths import repo_models_dir

        shipped = repo_models_dir() / "sleepscope-default.safetensors"
        return shipped if shipped.exists() else None

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_epoch = QLabel()
        self.status_clock = QLabel()
        self.status_label = QLabel()
        self.status_model = QLabel()
        self.status_reviewed = QLabel()
        for w in (self.status_epoch, self.status_clock, self.status_label, self.status_model,
                  self.status_reviewed):
            w.setContentsMargins(8, 0, 8, 0)
            w.setStyleSheet("QLabel { border-left: 1px solid #c8ccd2; }")
            sb.addPermanentWidget(w)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)
        self.progress.hide()
        self.cancel_button.hide()

    def _action(self, menu, text: str, slot, shortcut: QKeySequence | str | None = None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self.act_open = self._action(f, "&Open recording…", lambda: self.open_file(), QKeySequence.StandardKey.Open)
        self.recent_menu = f.addMenu("Open &recent")
        self._fill_recent()
        self.act_save = self._action(f, "&Save", self.save, QKeySequence.StandardKey.Save)
        exp = f.addMenu("&Export")
        self.act_export_edf = self._action(exp, "Hypnogram as EDF+…", lambda: self.export("edf"))
        self.act_export_csv = self._action(exp, "Hypnogram as CSV…", lambda: self.export("csv"))
        self.act_export_stats = self._action(exp, "Sleep statistics…", lambda: self.export("stats"))
        self.export_menu = exp
        f.addSeparator()
        self.act_close = self._action(f, "&Close recording", self.close_recording, QKeySequence.StandardKey.Close)
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        e = mb.addMenu("&Edit")
        undo = self.controller.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.controller.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        e.addAction(undo)
        e.addAction(redo)
        self.act_undo, self.act_redo = undo, redo
        e.addSeparator()
        self._action(e, "Scorer &name…", self.ask_scorer)

        s = mb.addMenu("&Scoring")
        for text, stage in (("Wake\tW, 0", Stage.W), ("N1\t1", Stage.N1), ("N2\t2", Stage.N2),
                            ("N3\t3", Stage.N3), ("REM\tR, 5", Stage.REM), ("Unscored\tU", Stage.UNSCORED)):
            self._action(s, text, lambda _=False, st=stage: self.controller.set_stage(st))
        s.addSeparator()
        self._action(s, "Accept model's stage\tEnter", lambda: self.controller.accept_model())
        self._action(s, f"Next doubtful epoch (model < {UNSURE_BELOW:.0%} or disagrees)\tN, Tab",
                     lambda: self.controller.next_attention(1))
        self._action(s, "Previous doubtful epoch\tShift+N", lambda: self.controller.next_attention(-1))
        s.addSeparator()
        self.act_import_reference = self._action(s, "Copy reference scorer's labels", self.import_reference)

        v = mb.addMenu("&View")
        self.act_context = QAction("Neighbouring epochs", self, checkable=True)
        self.act_context.setChecked(self.settings.show_context)
        self.act_context.toggled.connect(self.panel.context.setChecked)
        v.addAction(self.act_context)
        self._action(v, "Hypnogram: one hour", self.hypnogram.zoom_hour, "Ctrl+H")
        self._action(v, "Hypnogram: whole night", self.hypnogram.whole_night, "Ctrl+Shift+H")
        self.channels_menu = v.addMenu("Channels")
        self.channels_menu.aboutToShow.connect(self._fill_channels_menu)
        v.addAction(self.dock.toggleViewAction())

        m = mb.addMenu("&Model")
        self.act_prescore = self._action(m, "&Pre-score recording", self.start_prescore, "Ctrl+P")
        self.act_cancel = self._action(m, "&Cancel pre-scoring", self.cancel_prescore)
        m.addSeparator()
        self.act_card = self._action(m, "Active model's &card…", self.show_model_card)
        self._action(m, "Choose &model file…", self.choose_model)
        # Fine-tuning on the technician's corrections and the model registry (their own module).
        self.model_actions = install_model_actions(self, m)

        h = mb.addMenu("&Help")
        self._action(h, "&Keyboard", self.show_keys, QKeySequence.StandardKey.HelpContents)
        self._action(h, "&About SleepScope", self.show_about)

    def _connect(self) -> None:
        c = self.controller
        c.epochChanged.connect(self._on_epoch)
        c.labelsChanged.connect(self._on_labels)
        c.predictionChanged.connect(self._on_prediction)
        c.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        c.failed.connect(lambda text: show_error(self, "The edit could not be saved", text))
        self.hypnogram.epochPicked.connect(c.go_to)
        self.panel.changed.connect(self._on_display_changed)
        self.panel.zoom_hour.clicked.connect(self.hypnogram.zoom_hour)
        self.panel.zoom_night.clicked.connect(self.hypnogram.whole_night)
        self.cancel_button.clicked.connect(self.cancel_prescore)

    def _restore_layout(self) -> None:
        geo = self.settings.geometry()
        state = self.settings.window_state()
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1440, 900)
        if state is not None:
            self.restoreState(state)

    # -- opening and closing -----------------------------------------------
    def open_file(self, path: str | Path | None = None, eeg: str | None = None, eog: str | None = None) -> bool:
        """Open a recording (asking for it when `path` is None); False when nothing was opened."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "Open recording", self.settings.last_folder,
                                                    RECORDING_FILTER)
            if not chosen:
                return False
            path = chosen
        path = Path(path)
        try:
            recording = self._read_recording(path, eeg, eog)
        except Cancelled:
            return False
        except SleepScopeError as exc:
            show_error(self, "Cannot open the recording", str(exc))
            return False
        except Exception as exc:  # a reader bug must not take the window (and unsaved work) down
            show_error(self, "Cannot open the recording",
                       f"Reading {path.name} failed unexpectedly ({type(exc).__name__}: {exc}). "
                       "Please report this together with the file's origin.")
            return False
        if recording is None:
            return False
        reference, reference_name = self._paired_hypnogram(path, recording.n_epochs)
        if not self.open_recording(recording, reference=reference, reference_name=reference_name):
            return False
        self.settings.last_folder = str(path.parent)
        self.settings.add_recent(str(path))
        self._fill_recent()
        return True

    def _read_recording(self, path: Path, eeg: str | None, eog: str | None) -> Any:
        from sleepscope.io import open_recording, read_info
        from sleepscope.io.channels import pick_channel

        if not path.exists():
            raise SleepScopeError(f"{path} does not exist: it was moved or deleted. Choose it again.")
        info = read_info(path)
        names = [c.name for c in info.channels]
        try:
            eeg = pick_channel(names, "eeg", eeg)
            eog = pick_channel(names, "eog", eog)
        except SleepScopeError as exc:
            dialog = ChannelDialog(names, eeg, eog, reason=str(exc), parent=self)
            if dialog.exec() != ChannelDialog.DialogCode.Accepted:
                return None
            eeg, eog = dialog.choice()
            if eeg == eog:
                raise SleepScopeError("The EEG and the EOG must be two different channels: open the file again.")
        cancel = CancelToken()
        dlg = QProgressDialog(f"Reading {path.name}…", "Cancel", 0, 1000, self)
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.setMinimumDuration(400)
        dlg.canceled.connect(cancel.cancel)

        def progress(done: int, total: int, message: str) -> None:
            dlg.setValue(int(1000 * done / max(1, total)))
            QApplication.processEvents()

        try:
            return open_recording(path, eeg=eeg, eog=eog, progress=progress, cancel=cancel)
        finally:
            dlg.reset()
            dlg.deleteLater()

    def _paired_hypnogram(self, path: Path, n_epochs: int) -> tuple[np.ndarray | None, str]:
        """Sleep-EDF's own hypnogram beside the PSG, offered as a reference scorer."""
        from sleepscope.io.hypnogram import find_hypnogram, read_hypnogram

        hyp = find_hypnogram(path)
        if hyp is None:
            return None, ""
        try:
            return read_hypnogram(hyp, n_epochs=n_epochs), hyp.name
        except SleepScopeError as exc:
            self.statusBar().showMessage(f"The paired hypnogram {hyp.name} could not be read: {exc}", 8000)
            return None, ""

    def open_recording(self, recording: Any, scoring_path: str | Path | None = None,
                       reference: np.ndarray | None = None, reference_name: str = "") -> bool:
        """Show `recording` (a sleepscope.io.Recording) and open its scoring file."""
        from sleepscope.scoring import ScoringFile

        if not self.close_recording():
            return False
        try:
            scoring = ScoringFile.open(recording, path=scoring_path, scorer=self.settings.scorer)
        except SleepScopeError as exc:
            show_error(self, "Cannot open the scoring file", str(exc))
            return False
        self.recording = recording
        self.scoring = scoring
        self.reference = reference
        self.reference_name = reference_name or "reference"
        if reference is not None and self.reference_name not in scoring.scorer_sets:
            try:
                scoring.add_scorer_labels(self.reference_name, reference, source_file=self.reference_name)
            except SleepScopeError as exc:
                self.statusBar().showMessage(str(exc), 8000)
        displays = self._displays_for(recording)
        shown = [recording.eeg_name, recording.eog_name]
        shown += [n for n in recording.channels if n not in shown]
        self.trace.set_recording(recording.channels, recording.fs, recording.start_time, shown, displays)
        self.panel.set_channels([self.trace.display(n) for n in self.trace.shown_channels])
        self.hypnogram.set_night(recording.n_epochs, recording.start_time)
        self.hypnogram.set_reference(reference)
        self.controller.attach(scoring)
        self.hypnogram.set_labels(scoring.labels)
        name = recording.path.name if recording.path is not None else "unsaved recording"
        self.setWindowTitle(f"{name} — {APP_TITLE}")
        self._update_actions()
        self._update_status()
        self.surface.setFocus()
        if reference is not None:
            self.statusBar().showMessage(
                f"Reference scorer: {self.reference_name} (Scoring → Copy reference scorer's labels to start from it).",
                8000)
        if self.prescore_on_open and self.model_path is not None:
            stored = scoring.latest_prediction()
            if stored is not None and stored.model_version == card_version(self.model_path):
                # Already scored by this very model: no need to spend minutes again.
                self.statusBar().showMessage(
                    f"Showing the stored prediction of model {stored.model_version} (Model → Pre-score to run it "
                    "again).", 8000)
            else:
                self.start_prescore()
        return True

    def _displays_for(self, recording: Any) -> dict[str, ChannelDisplay]:
        gains = self.settings.gains()
        offsets = self.settings.offsets()
        out = {}
        for name in recording.channels:
            kind = "eeg" if name == recording.eeg_name else "eog" if name == recording.eog_name else "other"
            d = default_display(name, kind)
            d.gain = gains.get(name, d.gain)
            d.offset = offsets.get(name, d.offset)
            out[name] = d
        return out

    def close_recording(self) -> bool:
        """Close the scoring file (snapshot, release lock); False if it must stay open."""
        self._drop_job()
        if self.scoring is None:
            return True
        try:
            self.scoring.close()
        except SleepScopeError as exc:
            show_error(self, "The scoring could not be saved", str(exc))
            return False
        self.scoring = None
        self.recording = None
        self.reference = None
        self.controller.detach()
        self.trace.clear()
        self.hypnogram.set_night(0, self.hypnogram._axis.start_time)
        self.setWindowTitle(APP_TITLE)
        self._update_actions()
        self._update_status()
        return True

    def save(self) -> None:
        if self.scoring is None:
            return
        try:
            self.scoring.save()
        except SleepScopeError as exc:
            show_error(self, "Save failed", str(exc))
            return
        self.statusBar().showMessage(f"Saved {self.scoring.path} (every edit is also journalled as you go).", 5000)

    def export(self, kind: str) -> Path | None:
        """Export the technician's labels; asks for a file name."""
        if self.scoring is None or self.recording is None:
            return None
        suffix = {"edf": ".edf", "csv": ".csv", "stats": ".txt *.json"}[kind]
        title = {"edf": "Export hypnogram (EDF+)", "csv": "Export hypnogram (CSV)",
                 "stats": "Export sleep statistics"}[kind]
        base = self.recording.path.with_suffix("") if self.recording.path is not None else Path(
            self.settings.last_folder) / "recording"
        default = str(base) + {"edf": "-scored-Hypnogram.edf", "csv": "-hypnogram.csv",
                               "stats": "-statistics.txt"}[kind]
        chosen, _ = QFileDialog.getSaveFileName(self, title, default, f"*{suffix}")
        if not chosen:
            return None
        try:
            path = export_scoring(self.scoring, kind, Path(chosen))
        except SleepScopeError as exc:
            show_error(self, "Export failed", str(exc))
            return None
        except OSError as exc:
            show_error(self, "Export failed", f"Could not write {chosen}: {exc.strerror}. Choose another folder.")
            return None
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return path

    def import_reference(self) -> None:
        if self.reference is None or self.scoring is None:
            self.statusBar().showMessage("This recording has no reference scorer (no paired hypnogram).", 5000)
            return
        self.controller.import_labels(self.reference, "import:" + self.reference_name)

    # -- model --------------------------------------------------------------
    def start_prescore(self) -> bool:
        """Score the whole night in the background with the active model."""
        if self.recording is None:
            return False
        if self.model_path is None:
            self.statusBar().showMessage("No model available: choose one with Model → Choose model file….", 8000)
            return False
        self._drop_job()
        job = start_prescore(self.recording, self.model_path)
        w = job.worker
        # Queued explicitly: these run on the GUI thread whatever PySide infers for the slot.
        queued = Qt.ConnectionType.QueuedConnection
        w.progress.connect(self._on_job_progress, queued)
        w.finished.connect(self._on_job_finished, queued)
        w.errored.connect(self._on_job_error, queued)
        w.aborted.connect(self._on_job_aborted, queued)
        self.job = job
        self.progress.setRange(0, 0)
        self.progress.setFormat("Pre-scoring %p%")
        self.progress.show()
        self.cancel_button.show()
        self._update_actions()
        return True

    def cancel_prescore(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.statusBar().showMessage("Cancelling pre-scoring…", 3000)

    def _drop_job(self) -> None:
        """Cancel the current job; its thread ends on its own and is forgotten when it has."""
        if self.job is not None:
            self.job.cancel()
            self._old_jobs.append(self.job)
            self.job = None
        self._old_jobs = [j for j in self._old_jobs if j.running()]
        self.progress.hide()
        self.cancel_button.hide()
        self._update_actions()

    def wait_for_jobs(self, ms: int = 15000) -> bool:
        """Cancel every job and wait until their threads ended (closing the window)."""
        self._drop_job()
        deadline = time.monotonic() + ms / 1000
        ok = True
        for j in self._old_jobs:
            left = max(1, int((deadline - time.monotonic()) * 1000))
            ok &= j.wait(left)
        self._old_jobs = [j for j in self._old_jobs if j.running()]
        return ok

    def _current_job(self, job_id: int) -> bool:
        return self.job is not None and self.job.job_id == job_id

    def _on_job_progress(self, job_id: int, done: int, total: int, message: str) -> None:
        if not self._current_job(job_id):
            return
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{message} %p%")

    def _job_ended(self) -> None:
        if self.job is not None:
            self._old_jobs.append(self.job)
            self.job = None
        self.progress.hide()
        self.cancel_button.hide()
        self._update_actions()

    def _on_job_finished(self, result: PreScoreResult) -> None:
        if not self._current_job(result.job_id):
            return
        self._job_ended()
        if self.recording is None or self.scoring is None or result.fingerprint != self.recording.fingerprint():
            return
        self.model_card = result.card
        try:
            self.scoring.add_prediction(result.model_version, result.probs)
        except SleepScopeError as exc:
            show_error(self, "The prediction could not be saved", str(exc))
        self.controller.set_prediction(result.probs)
        self.statusBar().showMessage(
            f"Pre-scored {len(result.probs)} epochs in {result.seconds:.1f} s with model {result.model_version}.",
            8000)
        self.prescoreDone.emit()

    def _on_job_error(self, job_id: int, message: str) -> None:
        if not self._current_job(job_id):
            return
        self._job_ended()
        show_error(self, "Pre-scoring failed", message)

    def _on_job_aborted(self, job_id: int) -> None:
        if not self._current_job(job_id):
            return
        self._job_ended()
        self.statusBar().showMessage("Pre-scoring cancelled.", 5000)

    def show_model_card(self) -> None:
        if self.model_path is None:
            show_error(self, "No model", "No model is active: choose one with Model → Choose model file….")
            return
        card = self.model_card
        if card is None:
            from sleepscope.model.checkpoint import read_card

            try:
                card = read_card(self.model_path)
            except SleepScopeError as exc:
                show_error(self, "Cannot read the model card", str(exc))
                return
        ModelCardDialog(card, str(self.model_path), self).exec()

    def choose_model(self) -> None:
        start = str(self.model_path.parent) if self.model_path else self.settings.last_folder
        chosen, _ = QFileDialog.getOpenFileName(self, "Choose model", start, "SleepScope models (*.safetensors)")
        if chosen:
            self.set_model(Path(chosen))

    def set_model(self, path: Path) -> bool:
        from sleepscope.model.checkpoint import read_card

        try:
            card = read_card(path)
        except SleepScopeError as exc:
            show_error(self, "Cannot use this model", str(exc))
            return False
        self.model_path = Path(path)
        self.model_card = card
        self.settings.model_path = str(path)
        self._update_actions()
        self.statusBar().showMessage(f"Active model: {Path(path).name} ({card.version or 'no version'})", 5000)
        if self.recording is not None:
            self.start_prescore()
        return True

    # -- reacting -----------------------------------------------------------
    def _on_key(self, ev: QKeyEvent) -> bool:
        if self.scoring is None:
            return False
        return self.controller.handle_key(ev.key(), ev.modifiers(), ev.text())

    def _on_epoch(self, epoch: int) -> None:
        self.trace.set_epoch(epoch)
        self.hypnogram.set_cursor(epoch)
        self._update_status()

    def _on_labels(self, epochs: list[int]) -> None:
        if self.scoring is not None:
            self.hypnogram.set_labels(self.scoring.labels)
            # The technician sees the label land before the next epoch is drawn.
            self.hypnogram.paint_labels_now()
        self._update_status()

    def _on_prediction(self) -> None:
        self.hypnogram.set_probabilities(self.controller.probs)
        self._update_status()

    def _on_display_changed(self) -> None:
        f = self.panel.filter()
        self.trace.set_filter(f)
        self.settings.set_filters(FilterSettings(f.highpass_hz, f.lowpass_hz, f.notch_hz))
        ctx = self.panel.context.isChecked()
        if ctx != self.trace.context:
            self.trace.set_context(ctx)
            self.settings.show_context = ctx
            with QSignalBlocker(self.act_context):
                self.act_context.setChecked(ctx)
        for name, spin in self.panel.gains.items():
            if name in self.trace.shown_channels:
                d = self.trace.display(name)
                if spin.value() != d.gain:
                    self.trace.set_gain(name, spin.value())
                    self.settings.set_gain(name, spin.value())
                off = self.panel.offsets[name].value()
                if off != d.offset:
                    self.trace.set_offset(name, off)
                    self.settings.set_offset(name, off)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        items = self.settings.recent_files()
        for p in items:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, path=p: self.open_file(path))
        self.recent_menu.setEnabled(bool(items))

    def _fill_channels_menu(self) -> None:
        menu = self.channels_menu
        menu.clear()
        rec = self.recording
        if rec is None:
            menu.addAction("No recording open").setEnabled(False)
            return
        names = list(rec.channels)
        if rec.path is not None:
            try:
                from sleepscope.io import read_info

                names = [c.name for c in read_info(rec.path).channels]
            except SleepScopeError:
                pass
        group = QActionGroup(menu)
        group.setExclusive(False)
        for name in names:
            act = menu.addAction(name)
            act.setCheckable(True)
            act.setChecked(name in self.trace.shown_channels)
            act.setEnabled(name not in (rec.eeg_name, rec.eog_name))
            act.toggled.connect(lambda on, n=name: self.toggle_channel(n, on))

    def toggle_channel(self, name: str, on: bool) -> None:
        """Show or hide a channel of the open file (reading it on first use)."""
        rec = self.recording
        if rec is None:
            return
        if not on:
            self.trace.remove_channel(name)
        else:
            if name not in rec.channels:
                from sleepscope.io import open_recording

                try:
                    extra = open_recording(rec.path, eeg=rec.eeg_name, eog=rec.eog_name, extra=[name])
                except SleepScopeError as exc:
                    show_error(self, "Cannot read the channel", str(exc))
                    return
                rec.channels[name] = extra.channels[name]
                self.trace.set_recording(rec.channels, rec.fs, rec.start_time,
                                         self.trace.shown_channels, {**self._displays_for(rec),
                                                                     **{n: self.trace.display(n) for n in
                                                                        self.trace.shown_channels}})
                self.trace.set_epoch(self.controller.current)
            self.trace.add_channel(name)
        self.panel.set_channels([self.trace.display(n) for n in self.trace.shown_channels])

    def ask_scorer(self) -> None:
        name, ok = QInputDialog.getText(self, "Scorer name", "Your name or initials (recorded with each label):",
                                        text=self.settings.scorer)
        if ok:
            self.settings.scorer = name.strip()
            if self.scoring is not None and name.strip():
                self.scoring.scorer = name.strip()

    def show_keys(self) -> None:
        QMessageBox.information(self, "Keyboard", keyboard_help_html())

    def show_about(self) -> None:
        from sleepscope import __version__

        QMessageBox.about(self, "About SleepScope",
                          f"<b>SleepScope {__version__}</b><br>A PSG sleep-scoring workstation: a two-branch "
                          "U2-Net pre-scores each 30-s epoch, you confirm or correct it.")

    def _update_actions(self) -> None:
        has = self.scoring is not None
        for act in (self.act_save, self.act_close, self.act_export_edf, self.act_export_csv,
                    self.act_export_stats):
            act.setEnabled(has)
        self.act_prescore.setEnabled(has and self.model_path is not None and self.job is None)
        self.act_cancel.setEnabled(self.job is not None)
        self.act_card.setEnabled(self.model_path is not None)
        self.act_import_reference.setEnabled(has and self.reference is not None)

    def _update_status(self) -> None:
        if self.scoring is None or self.recording is None:
            for w in (self.status_epoch, self.status_clock, self.status_label, self.status_model,
                      self.status_reviewed):
                w.setText("")
            self.status_epoch.setText("No recording: File → Open")
            self.header.setText("No recording open — File → Open, or run <code>sleepscope demo</code>.")
            return
        c = self.controller
        i = c.current
        n = c.n_epochs
        t = self.recording.start_time + timedelta(seconds=30 * i)
        label = int(self.scoring.labels[i])
        src = str(self.scoring.sources[i]) if label >= 0 else ""
        self.status_epoch.setText(f"Epoch {i + 1} / {n}")
        self.status_clock.setText(t.strftime("%H:%M:%S"))
        self.status_label.setText(f"Label: {Stage(label).label}" + (f" ({src})" if src else ""))
        m = c.model_at(i)
        if m is None:
            self.status_model.setText("Model: —" if self.job is None else "Model: pre-scoring…")
        else:
            flag = "  ⚑" if m[1] < UNSURE_BELOW else ""
            self.status_model.setText(f"Model: {Stage(m[0]).label} {m[1]:.0%}{flag}")
        self.status_reviewed.setText(f"Reviewed {c.reviewed_fraction():.1%}")
        end = t + timedelta(seconds=30)
        chip = stage_chip(label)
        model = "—" if m is None else f"{stage_chip(m[0])} {m[1]:.0%}" + (
            " <span style='color:#c0392b'>unsure</span>" if m[1] < UNSURE_BELOW else "")
        self.header.setText(
            f"<b>Epoch {i + 1}</b> <span style='color:#6b7480'>of {n}</span> &nbsp;·&nbsp; "
            f"{t:%H:%M:%S}–{end:%H:%M:%S} &nbsp;·&nbsp; Label {chip}"
            + (f" <span style='color:#6b7480'>{src}</span>" if src else "")
            + f" &nbsp;·&nbsp; Model {model}")

    # -- closing ------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.close_recording():
            event.ignore()
            return
        self.wait_for_jobs()
        self.settings.save_layout(self.saveGeometry(), self.saveState())
        self.settings.sync()
        event.accept()


def stage_chip(code: int) -> str:
    """A stage name on its hypnogram colour (rich text), white or dark text by contrast."""
    stage = Stage(int(code))
    bg = COLORS[stage]
    fg = "#ffffff" if stage in (Stage.N2, Stage.N3, Stage.REM, Stage.UNSCORED) else "#1b1f24"
    return f"<span style='background:{bg}; color:{fg}'>&nbsp;<b>{stage.label}</b>&nbsp;</span>"


def card_version(model_path: Path) -> str | None:
    """The version a model's card declares, read from its JSON (no torch import), or None."""
    import json

    try:
        data = json.loads(Path(model_path).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return str(version) if version else None


def export_scoring(scoring: Any, kind: str, path: Path) -> Path:
    """Write the technician's labels (EDF+ or CSV) or the sleep statistics, via sleepscope.scoring."""
    from sleepscope.scoring.export import export_csv, export_edf, export_stats

    if kind == "edf":
        return export_edf(scoring, path)
    if kind == "csv":
        return export_csv(scoring, path)
    if kind == "stats":
        export_stats(scoring, path)
        return path
    raise ValueError(f"unknown export kind {kind!r}")
