"""The scoring workstation's main window: menus, trace and hypnogram views, status bar.

The window owns one open recording and its scoring file at a time. Every
edit goes through the ScoringController to the scoring file, which is on disk
when the call returns, so closing the window (or a crash) loses nothing.
The parts live in their own modules: the key table (keymap), the Display
dock (display_panel), the header and status fields (status_header), the
loader thread (loader) and the pre-scoring jobs (prescore).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PySide6.QtCore import QEvent, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from sleepscope.errors import SleepScopeError
from sleepscope.gui.dialogs import (
    ChannelDialog,
    ModelCardDialog,
    ask_stage_codes,
    ask_yes_no,
    properties_html,
    show_error,
    show_warning,
)
from sleepscope.gui.analysis_docks import AnalysisDocks
from sleepscope.gui.display_panel import DisplayPanel
from sleepscope.gui.events_panel import EventsDock
from sleepscope.gui.finetune_dialog import install_model_actions
from sleepscope.gui.hypnogram_view import HypnogramView
from sleepscope.gui.keymap import KeyDispatcher, keyboard_help_html, make_action
from sleepscope.gui.loader import (LaneLoader, LaneResult, LoadResult, PairedHypnogram, RecordingLoader,
                                   read_paired_hypnogram)
from sleepscope.gui.model_notice import ModelNotice
from sleepscope.gui.prescore import PreScoring
from sleepscope.gui.scoring_controller import ScoringController
from sleepscope.gui.second_opinion import SecondOpinion
from sleepscope.gui.settings import Settings
from sleepscope.gui.status_header import StatusHeader, stage_chip
from sleepscope.gui.trace_view import KINDS, ChannelDisplay, TraceView, channel_kind, default_display
from sleepscope.gui.workers import PreScoreResult
from sleepscope.io.channels import ecg_in_use
from sleepscope.io.pairing import HYPNOGRAM_PATTERNS
from sleepscope.stages import SCORED, Stage, mix_text, most_likely, stage_counts

__all__ = ["MainWindow", "app_icon", "card_version", "export_scoring", "stage_chip"]

APP_TITLE = "SleepScope"
RECORDING_FILTER = "Recordings (*.edf *.EDF *.bdf *.BDF *.rec);;All files (*)"
HYPNOGRAM_FILTER = f"Hypnograms ({HYPNOGRAM_PATTERNS});;All files (*)"


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


class MainWindow(QMainWindow):
    """One recording, its scoring file, its model prediction."""

    #: emitted when a pre-scoring job delivered its result into the window.
    prescoreDone = Signal()
    #: emitted when an open request ended: True when the recording is shown, False otherwise.
    openFinished = Signal(bool)

    def __init__(self, settings: Settings | None = None, model_path: str | Path | None = None,
                 prescore_on_open: bool = True) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.prescore_on_open = prescore_on_open
        self.recording: Any = None
        self.scoring: Any = None
        self.reference: np.ndarray | None = None
        self.reference_name = ""
        #: how the reference scorer's file was read (`Hypnogram.notes`): beside any comparison with it
        self.reference_notes: tuple[str, ...] = ()
        self.model_path: Path | None = self._initial_model(model_path)
        self.model_card: Any = None
        self.prescoring = PreScoring(self)
        self.loader = RecordingLoader(self)
        # the lanes beside the model's two, read once the night is shown (a 48-h PSG shows in half the time)
        self.channel_loader = LaneLoader(self)
        self._lanes_pending: list[str] = []  # asked for and not read yet
        self._lanes_message = ""
        self._prescore_after_lanes = False
        self._open_request: dict[str, Any] | None = None

        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.controller = ScoringController(self)
        self.controller.waiting_for_model = self._waiting_for_model
        self.trace = TraceView()
        self.hypnogram = HypnogramView()
        self.surface = ScoringSurface(self._on_key)
        self.status = StatusHeader(self.statusBar())
        # Short names the tests and the benchmark use.
        self.header = self.status.header
        self.progress = self.status.progress
        self.cancel_button = self.status.cancel_button
        self.status_epoch = self.status.epoch
        self.status_reviewed = self.status.reviewed
        self.status_location = self.status.location
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(0)
        tl.addWidget(self.header)
        self.model_notice = ModelNotice()  # channels in use, missing EOG, unfamiliar recording
        tl.addWidget(self.model_notice)
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

        self.keys = KeyDispatcher(self, self._key_handlers(), active=lambda: self.scoring is not None)
        self._build_menus()
        self._connect()
        # Spectrogram, statistics, review queue, "why this stage" and File → Report (their own module).
        self.analysis = AnalysisDocks(self)
        # Events, notes and lights: the drag on the traces and their dock (their own module).
        self.events = EventsDock(self)
        # YASA's stages after our model's, when yasa is installed (their own module).
        self.second_opinion = SecondOpinion(self)
        self.panel.load(self.settings)
        self._apply_display(save=False)
        self.trace.set_context(self.settings.show_context)
        self._restore_layout()
        self._update_actions()
        self._update_status()
        if self.model_path is None:
            self.statusBar().showMessage(
                "No model available: choose one with Model → Choose model file… (scoring by hand works as usual).")

    # Compatibility names: the current pre-scoring job and those still ending.
    @property
    def job(self) -> Any:
        return self.prescoring.job

    @property
    def _old_jobs(self) -> list:
        loads = [j for ld in (self.loader, self.channel_loader) for j in ([ld.job] if ld.job else []) + ld.old_jobs]
        return self.prescoring.old_jobs + loads

    # -- construction -------------------------------------------------------
    def _initial_model(self, explicit: str | Path | None) -> Path | None:
        """The model named on the command line, else the registry's active version, else the shipped one."""
        if explicit:
            return resolve_model_argument(explicit)
        from sleepscope.model.registry import ModelRegistry
        from sleepscope.paths import repo_models_dir

        try:
            active = ModelRegistry().active()
        except (SleepScopeError, OSError):
            active = None
        if active is not None:
            return Path(active.path)
        # sleepscope.model.checkpoint imports torch: keep that off the start-up path.
        shipped = repo_models_dir() / "sleepscope-default.safetensors"
        return shipped if shipped.exists() else None

    def _key_handlers(self) -> dict[str, Callable[[], object]]:
        c = self.controller
        h: dict[str, Callable[[], object]] = {
            "undo": c.undo, "redo": c.redo,
            "accept": c.accept_model,
            "next_doubtful": lambda: c.next_attention(1), "prev_doubtful": lambda: c.next_attention(-1),
            "next": lambda: c.move(1), "previous": lambda: c.move(-1),
            "forward": lambda: c.move(10), "back": lambda: c.move(-10),
            "first": lambda: c.go_to(0), "last": lambda: c.go_to(c.n_epochs - 1),
            "next_unscored": lambda: c.next_unscored(1), "prev_unscored": lambda: c.next_unscored(-1),
            "lights_off": lambda: self.events.lights_here("off"), "lights_on": lambda: self.events.lights_here("on"),
            "mark_artefact": lambda: self.events.mark_epoch(),
            "next_event": lambda: self.events.go_to_event(1), "prev_event": lambda: self.events.go_to_event(-1),
            "remove_event": lambda: self.events.remove_selected(),
        }
        for s in Stage:
            h[f"stage_{s.name.lower()}"] = lambda st=s: c.set_stage(st)
        return h

    def _action(self, menu, text: str, slot) -> QAction:
        act = QAction(text, self)
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    def _table_action(self, menu, name: str, slot) -> QAction:
        """A menu entry of the key table (keymap.ACTIONS): its text and keys come from the table."""
        act = make_action(self, name, slot)
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        mb = self.menuBar()
        t = self._table_action
        f = mb.addMenu("&File")
        self.act_open = t(f, "open", lambda: self.open_file())
        self.recent_menu = f.addMenu("Open &recent")
        self._fill_recent()
        self.act_attach = self._action(f, "&Attach hypnogram…", lambda: self.attach_hypnogram())
        self.act_save = t(f, "save", self.save)
        exp = f.addMenu("&Export")
        self.act_export_edf = self._action(exp, "Hypnogram as EDF+…", lambda: self.export("edf"))
        self.act_export_csv = self._action(exp, "Hypnogram as CSV (epochs counted from 0)…",
                                           lambda: self.export("csv"))
        self.act_export_events = self._action(exp, "Events, notes and lights as CSV…", lambda: self.export("events"))
        self.act_export_stats = self._action(exp, "Sleep statistics…", lambda: self.export("stats"))
        self.export_menu = exp
        self.act_properties = self._action(f, "P&roperties…", self.show_properties)
        f.addSeparator()
        self.act_close = t(f, "close", self.close_recording)
        t(f, "quit", self.close)

        e = mb.addMenu("&Edit")
        self.act_undo = t(e, "undo", self.controller.undo)
        self.act_redo = t(e, "redo", self.controller.redo)
        e.aboutToShow.connect(self._describe_undo)
        e.addSeparator()
        self._action(e, "Scorer &name…", self.ask_scorer)

        s = mb.addMenu("&Scoring")
        for stage in (*SCORED, Stage.UNSCORED):
            name = f"stage_{stage.name.lower()}"
            t(s, name, lambda st=stage: self.controller.set_stage(st))
        s.addSeparator()
        t(s, "accept", self.controller.accept_model)
        t(s, "next_doubtful", lambda: self.controller.next_attention(1))
        t(s, "prev_doubtful", lambda: self.controller.next_attention(-1))
        s.addSeparator()
        for name in ("lights_off", "lights_on", "mark_artefact", "remove_event"):
            t(s, name, self._key_handlers()[name])
        s.addSeparator()
        self.act_import_reference = self._action(s, "Copy reference scorer's labels…", self.import_reference)

        g = mb.addMenu("&Go")
        for name, fn in self._key_handlers().items():
            if name in ("next", "previous", "forward", "back", "first", "last", "next_event", "prev_event",
                        "next_unscored", "prev_unscored"):
                t(g, name, fn)
        g.addSeparator()
        self.act_go_to = t(g, "go_to", lambda: self.ask_go_to())

        v = mb.addMenu("&View")
        self.act_context = QAction("Neighbouring epochs", self, checkable=True)
        self.act_context.setChecked(self.settings.show_context)
        self.act_context.toggled.connect(self.panel.context.setChecked)
        v.addAction(self.act_context)
        t(v, "zoom_hour", self.hypnogram.zoom_hour)
        t(v, "zoom_night", self.hypnogram.whole_night)
        self.channels_menu = v.addMenu("Channels")
        self.channels_menu.aboutToShow.connect(self._fill_channels_menu)
        v.addAction(self.dock.toggleViewAction())

        m = mb.addMenu("&Model")
        self.model_menu = m
        self.act_prescore = t(m, "prescore", self.start_prescore)
        self.act_cancel = self._action(m, "&Cancel pre-scoring", self.cancel_prescore)
        self.act_model_channels = self._action(m, "C&hannels the model reads…", self.choose_model_channels)
        m.addSeparator()
        self.act_card = self._action(m, "Active model's &card…", self.show_model_card)
        self._action(m, "Choose &model file…", self.choose_model)
        # Fine-tuning on the technician's corrections and the model registry (their own module).
        self.model_actions = install_model_actions(self, m)
        self.act_site_pretrain = self._action(m, "&Learn from unlabeled recordings…", self.learn_from_unlabeled)

        h = mb.addMenu("&Help")
        t(h, "keyboard", self.show_keys)
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
        self.cancel_button.clicked.connect(self._cancel_busy)
        p = self.prescoring
        p.progress.connect(lambda done, total, msg: self.status.show_progress(msg, done, total))
        p.finished.connect(self._on_job_finished)
        p.failed.connect(self._on_job_error)
        p.cancelled.connect(lambda: self.statusBar().showMessage("Pre-scoring cancelled.", 5000))
        p.busyChanged.connect(self._on_prescore_busy)
        ld = self.loader
        ld.progress.connect(lambda done, total, msg: self.status.show_progress("Reading", done, total))
        ld.loaded.connect(self._on_loaded)
        ld.failed.connect(self._on_load_failed)
        ld.cancelled.connect(self._on_load_cancelled)
        self.channel_loader.loaded.connect(self._on_channel_loaded)
        self.channel_loader.failed.connect(self._on_lanes_failed)

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
    def open_file(self, path: str | Path | None = None, eeg: str | None = None, eog: str | None = None,
                  ecg: str | None = None) -> bool:
        """Start opening a recording (asking for it when `path` is None).

        The header is read here and the channels chosen (asking when the
        names cannot be guessed); the signals are read on the loader thread,
        with progress and Cancel in the status bar. Returns False when nothing
        is being opened; `openFinished(ok)` tells when the night is shown. `ecg` as ``prescore --ecg``: a lead
        whose beats are subtracted from the EEG and EOG, or "none"; None: found by name.
        """
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "Open recording", self.settings.last_folder,
                                                    RECORDING_FILTER)
            if not chosen:
                return False
            path = chosen
        path = Path(path)
        if (eeg is None and eog is None) or ecg is None:  # the channels a technician chose for this night before
            from sleepscope.scoring.channels_kept import channels_read_before

            kept = channels_read_before(path)
            eeg, eog = (eeg, eog) if eeg is not None or eog is not None else kept[:2]
            ecg = kept[2] if ecg is None else ecg
        try:
            choice = self._choose_channels(path, eeg, eog, ecg)
        except SleepScopeError as exc:
            show_error(self, "Cannot open the recording", str(exc))
            return False
        except Exception as exc:  # a reader bug must not take the window (and unsaved work) down
            show_error(self, "Cannot open the recording",
                       f"Reading {path.name} failed unexpectedly ({type(exc).__name__}: {exc}). "
                       "Please report this together with the file's origin.")
            return False
        if choice is None:
            return False
        eeg, eog, ecg, extra = choice
        self._open_request = {"path": path, "lanes": extra}
        self.loader.start(path, eeg, eog, [], ecg=ecg)
        self.status.show_progress(f"Reading {path.name}", 0, 0)
        self.statusBar().showMessage(f"Reading {path.name}… (Cancel stops it)")
        self._update_actions()
        return True

    def choose_model_channels(self) -> None:
        """Model → Channels the model reads…: another EEG or EOG of the file (a lead that failed, a derivation the
        lab trusts) or another ECG lead (one no name table knows, or none); the night is read again with them and
        pre-scored, and they are kept for its next openings."""
        from sleepscope.io.channels import derived_channels

        rec = self.recording
        if rec is None or rec.path is None:
            return
        names = self._file_channels()
        ecg = ecg_in_use(rec)
        dialog = ChannelDialog([*names, *derived_channels(names)], rec.eeg_name, rec.eog_name,
                               reason="The model reads one EEG and one EOG channel of this recording.",
                               parent=self, allow_none=False, ecg_leads=names, ecg=ecg)
        if dialog.exec() != ChannelDialog.DialogCode.Accepted:
            return
        eeg, eog = dialog.choice()
        new_ecg = dialog.ecg_choice()
        if eeg == eog:
            show_error(self, "Choose two channels", f"{eeg} was chosen as both the EEG and the EOG.")
            return
        if new_ecg in (eeg, eog):
            show_error(self, "Choose another ECG lead", f"{new_ecg} is read as the {'EEG' if new_ecg == eeg else 'EOG'}"
                       ": the heart's beats are subtracted from it, so it cannot be the ECG lead too.")
            return
        if (eeg, eog, new_ecg) == (rec.eeg_name, rec.eog_name, ecg):
            return
        choice = rec.channel_choice
        if (eeg, eog) == (rec.eeg_name, rec.eog_name) and choice is not None \
                and not any(why.startswith("chosen by the user") for why in (choice.eeg_reason, choice.eog_reason)):
            eeg = eog = None  # only the ECG changed: the EEG and EOG stay as found by name, and the banner says so
        self.open_file(rec.path, eeg, eog, new_ecg)

    def _choose_channels(self, path: Path, eeg: str | None, eog: str | None, ecg: str | None = None) -> tuple | None:
        """(eeg, eog, ecg, extra channels to show) from the file's header; None when the technician cancelled."""
        from sleepscope.io import read_info
        from sleepscope.io.channels import NO_ECG, choose_channels, derived_channels, find_ecg

        if not path.exists():
            raise SleepScopeError(f"{path} does not exist: it was moved or deleted. Choose it again.")
        info = read_info(path)
        names = [c.name for c in info.channels]
        try:
            # A recording without an EOG (or an EEG) opens as it is: the model reads the other channel alone
            # and the banner says which is missing; only a file with neither, or a named channel it lacks, asks.
            chosen = choose_channels(names, eeg, eog, ecg)
            model_eeg, model_eog = chosen.eeg, chosen.eog
        except SleepScopeError as exc:
            # names no table knows: the heart's lead may be one of them (`Heart`), so it is asked for with the rest
            dialog = ChannelDialog([*names, *derived_channels(names)], eeg, eog, reason=str(exc), parent=self,
                                   ecg_leads=names, ecg=find_ecg(names) if ecg is None else ecg)
            if dialog.exec() != ChannelDialog.DialogCode.Accepted:
                return None
            eeg, eog = dialog.choice()
            ecg = dialog.ecg_choice()
            if eeg is None and eog is None:
                raise SleepScopeError("neither an EEG nor an EOG channel was chosen: the model needs one of them. "
                                      "Open the file again and choose at least one.")
            if eeg == eog:
                raise SleepScopeError(f"{eeg} was chosen as both the EEG and the EOG: they must be two different "
                                      "channels. Open the file again and choose two.")
            if ecg != NO_ECG and ecg in (eeg, eog):
                raise SleepScopeError(f"{ecg} was chosen as the {'EEG' if ecg == eeg else 'EOG'} and as the ECG lead "
                                      "whose beats are subtracted from it. Open the file again and choose another "
                                      "lead, or none.")
            model_eeg, model_eog = eeg, eog
        # Beside the model's two, what an AASM montage shows: central and occipital EEG, the other eye, and the
        # chin EMG (REM and arousals); then what the technician added on earlier nights, less what they hid.
        hidden = set(self.settings.hidden_channels)
        offered = set(names) | set(derived_channels(names))
        extra = [n for n in _standard_montage(names, model_eeg, model_eog) if n not in hidden]
        extra += [n for n in self.settings.added_channels
                  if n in offered and n not in extra and n not in (model_eeg, model_eog)]
        return eeg, eog, ecg, extra

    def _cancel_busy(self) -> None:
        """The status bar's Cancel: stops the reading first, else the pre-scoring."""
        if self.loader.busy:
            self.loader.cancel()
        else:
            self.cancel_prescore()

    def _on_loaded(self, result: LoadResult) -> None:
        try:
            self._show_loaded(result)
        except Exception as exc:  # whatever went wrong, the technician hears of it and may try again
            self._open_request = None
            self._update_actions()
            show_error(self, "Cannot open the recording", f"{type(exc).__name__}: {exc}")
            self.openFinished.emit(False)

    def _show_loaded(self, result: LoadResult) -> None:
        request, self._open_request = self._open_request, None
        self.status.show_progress(None)
        self.statusBar().clearMessage()
        paired = result.paired
        reference = paired.labels if paired is not None else None
        name = paired.scorer_name if paired is not None else ""
        ok = self.open_recording(result.recording, reference=reference, reference_name=name,
                                 annotations=result.annotations,
                                 reference_notes=paired.notes if paired is not None else (),
                                 lanes=request.get("lanes", ()) if request is not None else ())
        if ok and result.annotations_problem:
            self.statusBar().showMessage(f"The recording's own annotations are not shown: "
                                         f"{result.annotations_problem}", 10000)
        if ok and paired is not None and paired.problem:
            show_warning(self, "The paired hypnogram was not used",
                         f"{result.recording.path.name} is open, but {paired.where} "
                         f"could not be used: {paired.problem}\n\n" + (
                             "Attach it with File → Attach hypnogram…, which asks how its system numbers its "
                             "stages." if paired.doubt else "Score the night as usual, or attach another "
                             "hypnogram with File → Attach hypnogram…."))
        if ok and paired is not None and paired.notes:
            self.statusBar().showMessage(f"{paired.scorer_name}: " + " ".join(paired.notes), 10000)
        if ok and request is not None:
            path = request["path"]
            self.settings.last_folder = str(path.parent)
            self.settings.add_recent(str(path))
            self._fill_recent()
        self._update_actions()
        self.openFinished.emit(ok)

    def _on_load_failed(self, message: str) -> None:
        self._open_request = None
        self.status.show_progress(None)
        self.statusBar().clearMessage()
        self._update_actions()
        show_error(self, "Cannot open the recording", message)
        self.openFinished.emit(False)

    def _on_load_cancelled(self) -> None:
        self._open_request = None
        self.status.show_progress(None)
        self._update_actions()
        self.statusBar().showMessage("Opening cancelled.", 5000)
        self.openFinished.emit(False)

    def open_recording(self, recording: Any, scoring_path: str | Path | None = None,
                       reference: np.ndarray | None = None, reference_name: str = "",
                       annotations: list | None = None, reference_notes: Sequence[str] = (),
                       lanes: Sequence[str] = ()) -> bool:
        """Show `recording` (a sleepscope.io.Recording) and open its scoring file; `annotations`: the recording's
        own (sleepscope.io.annotations), listed beside the events; `reference_notes`: how the reference's file was
        read; `lanes`: channels of its file to read and show once the night is shown."""
        if not self.close_recording():
            return False
        scoring = self._open_scoring(recording, scoring_path)
        if scoring is None:
            return False
        self.recording = recording
        lanes = list(lanes) if getattr(recording, "path", None) is not None else []  # a file's, or none
        self._lanes_pending = lanes  # read once the night is shown (below)
        self.model_notice.show_recording(recording)
        self.scoring = scoring
        self.reference = reference
        self.reference_name = reference_name or "reference"
        self.reference_notes = tuple(reference_notes)
        if reference is not None and self.reference_name not in scoring.scorer_sets and not scoring.readonly:
            try:
                scoring.add_scorer_labels(self.reference_name, reference, source_file=self.reference_name)
            except SleepScopeError as exc:
                self.statusBar().showMessage(str(exc), 8000)
        displays = self._displays_for(recording)
        model = [n for n in (recording.eeg_name, recording.eog_name) if n]
        shown = sorted([*model, *(n for n in recording.channels if n not in model)],
                       key=lambda n: (_lane_group(n, recording), n not in model))  # the model's on top of its kind
        self.trace.set_recording(recording.channels, recording.fs, recording.start_time, shown, displays)
        self._apply_display(save=False)
        self.hypnogram.set_night(recording.n_epochs, recording.start_time)
        self.hypnogram.set_gaps(recording.gap)
        self.trace.set_gaps(recording.gap)
        self.hypnogram.set_reference(reference)
        self.controller.attach(scoring, start_at=resume_epoch(scoring), gap=recording.gap)
        stored = scoring.latest_prediction()
        card = card_json(self.model_path) if self.model_path is not None else {}
        own = stored is not None and bool(card.get("version")) and stored.model_version == str(card["version"])
        # a run of the same model on other channels (prescore --eeg C4-M1) is not what the banner says it reads
        other_channels = own and (stored.channels not in (None, (recording.eeg_name, recording.eog_name))
                                  or stored.ecg not in (None, ecg_in_use(recording)))
        own = own and not other_channels
        if own:
            # The active model's own stored run: its card says which suggestions to doubt.
            from sleepscope.model.eeg_band import unsure_epochs

            unsure, band = unsure_epochs(stored.probs, card.get("calibration") or {}, recording)
            self.controller.set_prediction(stored.probs, unsure, stored.reading)
            from sleepscope.model.infer import Prediction

            again = Prediction(probs=stored.probs, model_version=stored.model_version,
                               stages=stored.stages, unsure=unsure,
                               channels=getattr(recording, "channel_choice", None), eeg_band=band)
            # why half the night is in the review queue, or why its suggestions are in doubt, as when pre-scored
            from sleepscope.model.epoch_reading import reading_summary

            kept = "\n".join(n[0].upper() + n[1:] for n in (reading_summary(stored.reading), stored.chin_note) if n)
            if band is not None or again.implausible is not None or kept:
                self.model_notice.show_prediction(again, kept)
        if own:
            self._show_lab_agreement(stored.stages)
        self.hypnogram.set_adapted_span(None if stored is None else stored.statistics_span)
        self.hypnogram.set_labels(scoring.labels)
        self.analysis.show_recording(recording, scoring)
        self.events.show_scoring(scoring, annotations)
        self.second_opinion.show_scoring(scoring)
        name = recording.path.name if recording.path is not None else "unsaved recording"
        self.setWindowTitle(f"{name}{' (read-only)' if scoring.readonly else ''} — {APP_TITLE}")
        self._update_actions()
        self._update_status()
        self.surface.setFocus()
        notes = []
        if reference is not None:
            notes.append(f"Reference scorer: {self.reference_name} (Scoring → Copy reference scorer's labels "
                         "to start from it).")
        if self.controller.current > 0:
            notes.append(f"Back at epoch {self.controller.current + 1}, after your last edit.")
        short = self.status.location.text()
        if "user folder" in short:
            notes.append(f"The recording's folder is read-only: the scoring is kept at {scoring.path}.")
        if notes:
            self.statusBar().showMessage(" ".join(notes), 10000)
        if self.prescore_on_open and self.model_path is not None and not scoring.readonly:
            if own:
                # Already scored by this very model: no need to spend minutes again.
                self.statusBar().showMessage(
                    f"Showing the stored prediction of model {stored.model_version} (Model → Pre-score to run it "
                    "again).", 8000)
            elif lanes:
                self._prescore_after_lanes = True  # it reads the backups and the chin from them, not twice
            else:
                self.start_prescore()
        if lanes:
            self._read_lanes([], say=False)  # the opening's own notes stay in the status bar
        return True

    def _open_scoring(self, recording: Any, scoring_path: str | Path | None) -> Any:
        """The recording's scoring file; offers read-only when another process holds it. None if not opened."""
        from sleepscope.scoring import ScoringFile

        name = recording.path.name if getattr(recording, "path", None) is not None else "this recording"
        try:
            return ScoringFile.open(recording, path=scoring_path, scorer=self.settings.scorer)
        except SleepScopeError as exc:
            if not is_lock_error(exc):
                show_error(self, "Cannot open the scoring file", str(exc))
                return None
            question = (f"The scoring of {name} is open for writing elsewhere:\n\n{exc}\n\n"
                        "Open it read-only? You can browse, compare and export; edits are refused until "
                        "the other copy is closed.")
            if not ask_yes_no(self, f"{name} is being scored elsewhere", question):
                return None
        try:
            return ScoringFile.open(recording, path=scoring_path, scorer=self.settings.scorer, readonly=True)
        except SleepScopeError as exc:
            show_error(self, "Cannot open the scoring file", str(exc))
            return None

    def _displays_for(self, recording: Any) -> dict[str, ChannelDisplay]:
        rates = getattr(recording, "source_rates", None) or {}
        out = {}
        for name in recording.channels:
            kind = channel_kind(name, recording.eeg_name, recording.eog_name)
            out[name] = default_display(name, kind, rates.get(name))
        return out

    def _apply_display(self, save: bool = True) -> None:
        """Gain and filters per channel kind from the Display dock to the traces (and the settings)."""
        for kind in KINDS:
            d = self.panel.kind_display(kind)
            self.trace.set_kind_filter(kind, self.panel.filter_for(kind), render=False)
            self.trace.set_kind_gain(kind, d.gain, render=False)
            if save:
                self.settings.set_kind_display(kind, d)
        if save:
            self.settings.notch_hz = float(self.panel.notch.currentData())
        by_kind = {k: [n for n in self.trace.shown_channels if self.trace.display(n).kind == k] for k in KINDS}
        self.panel.show_kinds(by_kind)
        self.trace.render()

    def close_recording(self) -> bool:
        """Close the scoring file (snapshot, release lock); False if it must stay open."""
        self._drop_job()
        self.channel_loader.drop()
        self._lanes_pending, self._prescore_after_lanes = [], False
        if self.scoring is None:
            return True
        try:
            self.scoring.close()
        except SleepScopeError as exc:
            show_error(self, "The scoring could not be saved", str(exc))
            return False
        self.scoring = None
        self.recording = None
        self.model_notice.clear()
        self.reference = None
        self.reference_notes = ()
        self.controller.detach()
        self.trace.clear()
        self.hypnogram.set_night(0, self.hypnogram._axis.start_time)
        self.analysis.clear()
        self.events.show_scoring(None)
        self.second_opinion.show_scoring(None)
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
        suffix = {"edf": ".edf", "csv": ".csv", "events": ".csv", "stats": ".txt *.json"}[kind]
        title = {"edf": "Export hypnogram (EDF+)", "csv": "Export hypnogram (CSV)",
                 "events": "Export events, notes and lights (CSV)", "stats": "Export sleep statistics"}[kind]
        from sleepscope.scoring.export import default_export_path

        default = str(default_export_path(Path(self.scoring.path), kind))
        chosen, _ = QFileDialog.getSaveFileName(self, title, default, f"*{suffix}")
        if not chosen:
            return None
        try:
            path = export_scoring(self.scoring, kind, Path(chosen), no_signal=getattr(self.recording, "gap", None))
        except SleepScopeError as exc:
            show_error(self, "Export failed", str(exc))
            return None
        except OSError as exc:
            show_error(self, "Export failed", f"Could not write {chosen}: {exc.strerror}. Choose another folder.")
            return None
        note = " (its epoch column counts from 0: epoch 1 here is epoch 0 there)" if kind == "csv" else ""
        self.statusBar().showMessage(f"Exported {path}{note}", 8000)
        return path

    def import_reference(self) -> bool:
        """Copy the reference scorer's labels, asking first when they would replace a person's labels."""
        if self.reference is None or self.scoring is None:
            self.statusBar().showMessage("This recording has no reference scorer: File → Attach hypnogram….", 5000)
            return False
        ref = np.asarray(self.reference)
        from sleepscope.gui.scoring_controller import reviewed_mask

        mine = reviewed_mask(self.scoring) & (self.scoring.labels >= 0)
        clash = mine & (ref >= 0) & (ref != self.scoring.labels)
        labels = ref
        if clash.any():
            box = QMessageBox(QMessageBox.Icon.Question, "Replace your labels?",
                              f"{int(clash.sum())} epochs you scored have another stage in {self.reference_name}.\n\n"
                              "Replace them too, or copy the reference only where you have not scored?", parent=self)
            replace_all = box.addButton("Replace them", QMessageBox.ButtonRole.DestructiveRole)
            fill = box.addButton("Only where I have not scored", QMessageBox.ButtonRole.AcceptRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            box.setDefaultButton(fill)
            box.exec()
            if box.clickedButton() is fill:
                labels = np.where(mine, -1, ref)
            elif box.clickedButton() is not replace_all:
                return False
        return self.controller.import_labels(labels, "import:" + self.reference_name)

    def attach_hypnogram(self, path: str | Path | None = None) -> bool:
        """File → Attach hypnogram…: another scorer's hypnogram for this night, any format the io package reads."""
        if self.recording is None or self.scoring is None:
            return False
        if path is None:
            start = str(self.recording.path.parent) if self.recording.path is not None else self.settings.last_folder
            chosen, _ = QFileDialog.getOpenFileName(self, "Attach hypnogram", start, HYPNOGRAM_FILTER)
            if not chosen:
                return False
            path = chosen
        own = self.recording.path is not None and Path(path).resolve() == Path(self.recording.path).resolve()
        paired: PairedHypnogram | None = read_paired_hypnogram(Path(path), self.recording.n_epochs,
                                                               self.recording.start_time, own=own)
        if paired.doubt:
            paired = self._declare_codes(paired)
            if paired is None:
                return False
        if paired.problem or paired.labels is None:
            show_error(self, "Cannot attach the hypnogram", f"{paired.path}: {paired.problem}")
            return False
        self.reference = paired.labels
        self.reference_name = paired.scorer_name
        self.reference_notes = tuple(paired.notes)
        if not self.scoring.readonly and self.reference_name not in self.scoring.scorer_sets:
            try:
                self.scoring.add_scorer_labels(self.reference_name, paired.labels, source_file=str(paired.path))
            except SleepScopeError as exc:
                show_error(self, "Cannot attach the hypnogram", str(exc))
                return False
        self.hypnogram.set_reference(paired.labels)
        if self.controller.probs is not None:  # the model is now measured against the lab's scoring too
            self._show_lab_agreement(most_likely(self.controller.probs))
        if not own:
            from sleepscope.io.annotations import hypnogram_file_events

            self.events.add_annotations(hypnogram_file_events(paired.path, self.recording.start_time)[0])
        self._update_actions()
        notes = (" " + " ".join(paired.notes)) if paired.notes else ""
        self.statusBar().showMessage(
            f"Attached {paired.path.name} as the reference scorer ({mix_text(stage_counts(paired.labels))}; "
            f"Scoring → Copy reference scorer's labels).{notes}", 10000)
        return True

    def _declare_codes(self, paired: PairedHypnogram) -> PairedHypnogram | None:
        """A code file whose stages read as no real night's: the technician says how its system numbers them,
        from how they were read; the file read so, or None when cancelled or declared wrong."""
        from sleepscope.io.hypnogram_tables import codes_text, parse_codes

        text = ask_stage_codes(self, f"{paired.path.name}: {paired.doubt}.", codes_text(paired.read_as))
        if text is None:
            return None
        try:
            codes = parse_codes(text)
        except SleepScopeError as exc:
            show_error(self, "Cannot attach the hypnogram", str(exc))
            return None
        return read_paired_hypnogram(paired.path, self.recording.n_epochs, self.recording.start_time,
                                     own=paired.own, codes=codes)

    def show_properties(self) -> None:
        """File → Properties: the recording, its channels and where its scoring file is."""
        if self.scoring is None or self.recording is None:
            return
        QMessageBox.information(self, "Properties", properties_html(self.recording, self.scoring,
                                                                    self.status.location.toolTip()))

    # -- model --------------------------------------------------------------
    def start_prescore(self) -> bool:
        """Score the whole night in the background with the active model."""
        self._prescore_after_lanes = False  # asked for now: the lanes' end does not start it a second time
        if self.recording is None:
            return False
        if self.model_path is None:
            self.statusBar().showMessage("No model available: choose one with Model → Choose model file….", 8000)
            return False
        if self.scoring is not None and self.scoring.readonly:
            self.statusBar().showMessage("Read-only: the prediction could not be stored; close the other copy "
                                         "first.", 8000)
            return False
        self.prescoring.start(self.recording, self.model_path)
        self.status.show_progress("Pre-scoring", 0, 0)
        self._update_actions()
        return True

    def cancel_prescore(self) -> None:
        if self.prescoring.busy:
            self.prescoring.cancel()
            self.statusBar().showMessage("Cancelling pre-scoring…", 3000)

    def _drop_job(self) -> None:
        """Cancel the current job; its thread ends on its own and is forgotten when it has."""
        self.prescoring.drop()

    def wait_for_jobs(self, ms: int = 15000) -> bool:
        """Cancel every job (reading, pre-scoring) and wait until their threads ended (closing the window)."""
        ok = self.loader.wait_all(ms) & self.channel_loader.wait_all(ms)
        return self.prescoring.wait_all(ms) and ok

    def _waiting_for_model(self) -> str | None:
        """Why Enter and N have nothing to act on yet, while the model works."""
        if not self.prescoring.busy:
            return None
        return (f"The model is still working ({self.prescoring.last_message.lower() or 'pre-scoring'}): Enter and N "
                "act once its prediction arrives; stage keys work now.")

    def _on_prescore_busy(self, busy: bool) -> None:
        if not busy and not self.loader.busy:
            self.status.show_progress(None)
        self._update_actions()
        self._update_status()

    def _on_job_finished(self, result: PreScoreResult) -> None:
        if self.recording is None or self.scoring is None or result.fingerprint != self.recording.fingerprint():
            return
        self.model_card = result.card
        span = getattr(result.prediction, "night_statistics", None)
        from sleepscope.model.epoch_reading import epoch_reading

        reading = epoch_reading(result.prediction) if hasattr(result.prediction, "backups") else None
        try:
            self.scoring.add_prediction(result.model_version, result.probs, span,
                                        (self.recording.eeg_name, self.recording.eog_name), reading,
                                        getattr(result.prediction, "chin_note", None), ecg_in_use(self.recording))
        except SleepScopeError as exc:
            show_error(self, "The prediction could not be saved", str(exc))
        self.controller.set_prediction(result.probs, getattr(result.prediction, "unsure", None), reading)
        self.model_notice.show_prediction(result.prediction)
        stages = getattr(result.prediction, "stages", None)
        self._show_lab_agreement(most_likely(result.probs) if stages is None else stages)
        self.hypnogram.set_adapted_span(span)
        adapted = ("" if span is None else f"; own statistics from its sleep period, epochs {span[0] + 1}-{span[1]} "
                   "(teal line)")
        self.statusBar().showMessage(
            f"Pre-scored {len(result.probs)} epochs in {result.seconds:.1f} s with {result.model_version}{adapted}.",
            12000)
        self.prescoreDone.emit()

    def _show_lab_agreement(self, stages: np.ndarray) -> None:
        """Warn in the banner when the model agrees with the night's own scoring (the reference scorer) less than
        expert scorers agree with each other."""
        from sleepscope.scoring.agreement import agreement
        from sleepscope.scoring.lab_scoring import below_experts

        note = None
        if self.reference is not None:
            ref, model = np.asarray(self.reference), np.asarray(stages)
            if len(ref) == len(model) and ((ref >= 0) & (model >= 0)).any():
                note = below_experts(agreement(ref, model), self.reference_name)
        if note and self.reference_notes:  # part of the disagreement may be how the scoring was read
            note += f" How {self.reference_name} was read: " + "; ".join(self.reference_notes) + "."
        self.model_notice.show_lab_agreement(note)

    def _on_job_error(self, message: str) -> None:
        show_error(self, "Pre-scoring failed", message)

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

    def learn_from_unlabeled(self):
        """Model → Learn from unlabeled recordings…: site pre-training in its own process (its own module)."""
        from sleepscope.gui.site_pretrain_dialog import open_site_pretrain

        return open_site_pretrain(self)

    def set_model(self, path: Path) -> bool:
        """Score with the model at `path` in this window.

        The registry alone says which model is active when the workstation
        starts: a registered version is activated there (Model → Model
        versions activates and rolls back); an unregistered file is used for
        this session only, and the status bar says so.
        """
        from sleepscope.model.checkpoint import read_card
        from sleepscope.model.registry import ModelRegistry

        try:
            card = read_card(path)
        except SleepScopeError as exc:
            show_error(self, "Cannot use this model", str(exc))
            return False
        self.model_path = Path(path)
        self.model_card = card
        note = "used in this window only (not in the model registry)"
        try:
            registry = ModelRegistry()
            if card.version and card.version in registry:
                if registry.active_version() != card.version:
                    registry.activate(card.version)
                note = "the active model"
        except (SleepScopeError, OSError) as exc:
            note += f"; the registry could not be updated: {exc}"
        self._update_actions()
        self.statusBar().showMessage(f"Model {Path(path).name} ({card.version or 'no version'}): {note}.", 8000)
        if self.recording is not None:
            self.start_prescore()
        return True

    # -- reacting -----------------------------------------------------------
    def _on_key(self, ev: QKeyEvent) -> bool:
        """A key sent straight to the scoring surface: the key table decides."""
        name = self.keys.wants(self.surface, ev)
        return name is not None and self.keys.trigger(name)

    def _describe_undo(self) -> None:
        """Edit menu: name what Undo and Redo would do, from the scoring file's own stacks."""
        sf = self.scoring
        undo = sf.undo_stack() if sf is not None else []
        redo = sf.redo_stack() if sf is not None else []
        self.act_undo.setEnabled(bool(undo) and not sf.readonly)
        self.act_redo.setEnabled(bool(redo) and not sf.readonly)
        for act, edits, verb in ((self.act_undo, undo, "Undo"), (self.act_redo, redo, "Redo")):
            what = describe_edit(edits[-1]) if edits else ""
            keys = act.text().split("\t", 1)[1] if "\t" in act.text() else ""
            act.setText(f"&{verb} {what}".rstrip() + (f"\t{keys}" if keys else ""))

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
        self.hypnogram.set_probabilities(self.controller.probs, self.controller.reading)
        self._update_status()

    def _on_display_changed(self) -> None:
        ctx = self.panel.context.isChecked()
        if ctx != self.trace.context:
            self.trace.set_context(ctx)
            self.settings.show_context = ctx
            with QSignalBlocker(self.act_context):
                self.act_context.setChecked(ctx)
        self._apply_display()

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
        from sleepscope.io.channels import derived_channels

        names = self._file_channels()
        computed = list(derived_channels(names))  # a referential file's AASM derivations (C4-M1, E2-M1)
        group = QActionGroup(menu)
        group.setExclusive(False)
        for i, name in enumerate([*names, *computed]):
            if i == len(names):
                menu.addSection("Computed from the file's electrodes")
            act = menu.addAction(name)
            act.setCheckable(True)
            act.setChecked(name in self.trace.shown_channels)
            act.setEnabled(name not in (rec.eeg_name, rec.eog_name))
            act.toggled.connect(lambda on, n=name: self.toggle_channel(n, on))
        menu.addSeparator()
        menu.addAction("Standard montage", self.standard_montage)

    def _file_channels(self) -> list[str]:
        """The open recording's channels as its file names them (those read so far where it cannot be read)."""
        rec = self.recording
        if rec.path is not None:
            from sleepscope.io import read_info

            try:
                return [c.name for c in read_info(rec.path).channels]
            except SleepScopeError:
                pass
        return list(rec.channels)

    def standard_montage(self) -> None:
        """View → Channels → Standard montage: the lanes a night opens with before any choice (the model's two, the
        AASM montage's others, the chin), and the choices remembered for the next recordings forgotten."""
        rec = self.recording
        self.settings.forget_channels()
        if rec is None:
            return
        standard = _standard_montage(self._file_channels(), rec.eeg_name, rec.eog_name)
        for name in [n for n in self.trace.shown_channels if n not in {rec.eeg_name, rec.eog_name, *standard}]:
            self.trace.remove_channel(name)
        for name in [n for n in standard if n in rec.channels and n not in self.trace.shown_channels]:
            self._add_lane(name)
        missing = [n for n in standard if n not in rec.channels]
        if missing:
            self._read_lanes(missing)
        self._apply_display(save=False)

    def toggle_channel(self, name: str, on: bool) -> None:
        """Show or hide a channel of the open file (View → Channels), remembered for the next recordings."""
        if self.recording is None:
            return
        self.settings.show_channel(name, on)
        self._show_channel(name, on)

    def _show_channel(self, name: str, on: bool) -> None:
        """Show or hide a channel of the open file; one not read yet is read on a loader thread."""
        rec = self.recording
        if rec is None:
            return
        if not on:
            self.trace.remove_channel(name)
        elif name in rec.channels:
            self._add_lane(name)
        else:
            self._read_lanes([name])
            return
        self._apply_display(save=False)

    def _read_lanes(self, names: list[str], say: bool = True) -> None:
        """Read channels of the open file on the lane loader, with those asked for before and not read yet (one
        reading at a time: a newer one replaces the older); `say`: in the status bar, until they are read."""
        rec = self.recording
        self._lanes_pending = list(dict.fromkeys([*self._lanes_pending, *names]))
        self.channel_loader.start(rec.path, self._lanes_pending)
        if say:
            self._lanes_message = f"Reading {', '.join(self._lanes_pending)}…"
            self.statusBar().showMessage(self._lanes_message)

    @property
    def lanes_pending(self) -> bool:
        """Channels of the open night are still being read to be shown as lanes."""
        return bool(self._lanes_pending)

    def _lanes_done(self) -> None:
        """The lanes asked for are read, or could not be: pre-scoring that waited for them starts."""
        self._lanes_pending = []
        if self._prescore_after_lanes:
            self._prescore_after_lanes = False
            self.start_prescore()

    def _add_lane(self, name: str) -> None:
        """Show a channel below the last lane of its kind (EEG, EOG, EMG, other), as montages go."""
        group = _lane_group(name, self.recording)
        self.trace.add_channel(name, at=sum(_lane_group(n, self.recording) <= group
                                            for n in self.trace.shown_channels))

    def _on_channel_loaded(self, result: LaneResult) -> None:
        rec = self.recording
        if rec is None or result.path != rec.path:
            return  # another night was opened meanwhile
        new = [n for n in result.channels if n not in rec.channels]
        n = rec.n_samples
        for name in new:
            # on the open recording's samples: from its first, as long (odd rates round a sample either way)
            x = result.channels[name][rec.first_sample: rec.first_sample + n]
            rec.channels[name] = np.pad(x, (0, n - len(x)), mode="edge") if 0 < len(x) < n else x
            if getattr(rec, "source_rates", None) is not None:
                rec.source_rates[name] = result.source_rates.get(name, rec.fs)
        self.trace.set_recording(rec.channels, rec.fs, rec.start_time, self.trace.shown_channels,
                                 {**self._displays_for(rec), **{n: self.trace.display(n)
                                                                for n in self.trace.shown_channels}})
        self.trace.set_epoch(self.controller.current)
        for name in new:
            self._add_lane(name)
        self._apply_display(save=False)
        self.analysis.channels_added()
        if self.statusBar().currentMessage() == self._lanes_message:  # not a message said since
            self.statusBar().clearMessage()
        self._lanes_done()

    def _on_lanes_failed(self, text: str) -> None:
        self._lanes_done()
        if self.recording is not None and self.analysis.chin_tone.status == "waiting":
            self.analysis.chin_tone.show_recording(self.recording)  # its own reading, then
        show_error(self, "Cannot read the channel", text)

    def ask_scorer(self) -> None:
        name, ok = QInputDialog.getText(
            self, "Scorer name", "Your name or initials, recorded with each label (your login name until you "
            "set one):", text=self.settings.scorer)
        if ok:
            self.settings.scorer = name.strip()
            if self.scoring is not None and name.strip():
                self.scoring.scorer = name.strip()

    def ask_go_to(self) -> None:
        """Go → Go to epoch or time…: asks until the answer names an epoch of the night (why not, above the
        question), or is cancelled."""
        from sleepscope.scoring.go_to import epoch_of

        rec = self.recording
        if rec is None or self.scoring is None:
            return
        n = self.controller.n_epochs
        end = rec.epoch_time(n) if rec.start_time is not None else None
        prompt = f"Epoch number (1-{n})" + (f" or clock time ({rec.start_time:%H:%M}-{end:%H:%M}, such as "
                                            f"{rec.epoch_time(n // 2):%H:%M}):" if end else ":")
        text, why = "", ""
        while True:
            text, ok = QInputDialog.getText(self, "Go to", why + prompt, text=text)
            if not ok:
                return
            try:
                epoch = epoch_of(text, n, rec.start_time)
            except SleepScopeError as exc:
                why = str(exc)[0].upper() + str(exc)[1:] + "\n\n"
                continue
            self.controller.go_to(epoch)
            return

    def show_keys(self) -> None:
        """Help → Keyboard: the key table, in a window that can stay open beside the traces."""
        from PySide6.QtWidgets import QDialog, QTextBrowser

        d = QDialog(self)
        d.setWindowTitle("Keyboard")
        d.resize(640, 720)
        view = QTextBrowser(d)
        view.setHtml(keyboard_help_html())
        QVBoxLayout(d).addWidget(view)
        d.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        d.show()
        self.keys_dialog = d

    def show_about(self) -> None:
        from sleepscope import __version__

        QMessageBox.about(self, "About SleepScope",
                          f"<b>SleepScope {__version__}</b><br>A PSG sleep-scoring workstation: a two-branch "
                          "U2-Net pre-scores each 30-s epoch, you confirm or correct it.")

    def _update_actions(self) -> None:
        has = self.scoring is not None
        writable = has and not self.scoring.readonly
        for act in (self.act_close, self.act_export_edf, self.act_export_csv, self.act_export_events,
                    self.act_export_stats,
                    self.act_properties, self.act_attach, self.act_go_to):
            act.setEnabled(has)
        for act in (self.act_save, self.act_undo, self.act_redo):
            act.setEnabled(writable)
        self.act_prescore.setEnabled(writable and self.model_path is not None and not self.prescoring.busy)
        self.act_cancel.setEnabled(self.prescoring.busy)
        self.act_card.setEnabled(self.model_path is not None)
        self.act_import_reference.setEnabled(writable and self.reference is not None)
        self.act_model_channels.setEnabled(writable and self.recording is not None
                                           and self.recording.path is not None and not self.loader.busy)
        self.act_open.setEnabled(not self.loader.busy)

    def _update_status(self) -> None:
        self.status.update(self.recording, self.scoring, self.controller, self.prescoring.busy)

    # -- closing ------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.close_recording():
            event.ignore()
            return
        self.wait_for_jobs()
        self.analysis.wait()
        self.second_opinion.wait()
        self.keys.detach()
        self.settings.save_layout(self.saveGeometry(), self.saveState())
        self.settings.sync()
        event.accept()


def resolve_model_argument(value: str | Path) -> Path:
    """A model named on the command line: a path, or `default` for the model shipped with SleepScope."""
    from sleepscope.paths import model_argument

    return model_argument(value)


def is_lock_error(exc: SleepScopeError) -> bool:
    """True when opening failed because another process holds the scoring file's lock."""
    from sleepscope.scoring.lock import ScoringFileLocked

    return isinstance(exc, ScoringFileLocked)


def resume_epoch(scoring: Any) -> int:
    """Where the technician stopped: the epoch after the last one a person labelled (0 on a fresh night)."""
    from sleepscope.gui.scoring_controller import reviewed_mask

    times = np.asarray(scoring.label_times, dtype=np.float64)
    mine = reviewed_mask(scoring) & (times > 0)
    if not mine.any():
        return 0
    last = int(np.flatnonzero(mine)[np.argmax(times[mine])])
    return min(last + 1, int(scoring.n_epochs) - 1)


def describe_edit(edit: Any) -> str:
    """"epoch 5 (N2)" or "12 epochs" for an Edit of the scoring file; what a MarkEdit did."""
    if getattr(edit, "what", None):
        return edit.what
    epochs = list(edit.epochs)
    if len(epochs) == 1:
        new = edit.new[0] if getattr(edit, "new", None) else None
        return f"epoch {epochs[0] + 1}" + (f" ({Stage(int(new)).label})" if new is not None else "")
    return f"{len(epochs)} epochs"


def card_json(model_path: Path) -> dict:
    """A model's card as JSON (no torch import); empty when it cannot be read."""
    import json

    try:
        data = json.loads(Path(model_path).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def card_version(model_path: Path) -> str | None:
    """The version a model's card declares, or None."""
    version = card_json(model_path).get("version")
    return str(version) if version else None


def export_scoring(scoring: Any, kind: str, path: Path, no_signal: Any = None) -> Path:
    """Write the technician's labels (EDF+ or CSV) or the sleep statistics, via sleepscope.scoring;
    `no_signal`: the recording's gap mask (`Recording.gap`) for the statistics."""
    from sleepscope.scoring.export import export_csv, export_edf, export_events_csv, export_stats

    if kind == "edf":
        return export_edf(scoring, path)
    if kind == "csv":
        return export_csv(scoring, path)
    if kind == "events":
        return export_events_csv(scoring, path)
    if kind == "stats":
        export_stats(scoring, path, no_signal=no_signal)
        return path
    raise ValueError(f"unknown export kind {kind!r}")


def _lane_group(name: str, recording: Any) -> int:
    """EEG lanes first, then EOG, EMG, ECG and the other channels, as PSG montages are laid out."""
    return {"eeg": 0, "eog": 1, "emg": 2, "ecg": 3}.get(channel_kind(name, recording.eeg_name, recording.eog_name), 4)


def _standard_montage(names: list[str], eeg: str | None, eog: str | None) -> list[str]:
    """What a night shows beside the model's two channels before any choice: the AASM montage's central and
    occipital EEG and other eye (`scoring_montage`), the chin EMG (REM and arousals are scored with it), the
    one the model reads: a leg EMG listed first is not it; and the ECG, whose beats the model reads the EEG and
    EOG without (`sleepscope.model.heartbeats`)."""
    from sleepscope.io.channels import find_ecg, find_emg, scoring_montage

    chin, ecg = find_emg(names), find_ecg(names)
    return [*scoring_montage(names, eeg, eog), *([chin] if chin else []), *([ecg] if ecg else [])]
