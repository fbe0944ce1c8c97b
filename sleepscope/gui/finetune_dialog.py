"""Model → Fine-tune on corrections…: train a new model version on the technician's labels, in another process.

Training never runs on a thread of the GUI: the dialog starts
``python -m sleepscope finetune --progress jsonl --register ...`` with
QProcess and reads one JSON event per line (step losses, per-pass held-out
macro-F1, done/error), plotting them as they come. Cancel terminates the
process (killed after 2 s if it lingers); the process writes nothing when
stopped, and the active model is never touched by fine-tuning: the new
version goes into the registry and is activated only when the technician
says so. A crash of the process is reported in the dialog.

`install_model_actions(window, menu)` adds the two Model-menu entries to the
main window and connects activation to ``window.set_model`` (which re-scores
the open recording).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pyqtgraph as pg
from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sleepscope.errors import SleepScopeError
from sleepscope.gui.model_versions_dialog import ModelVersionsDialog, activate_version
from sleepscope.model.registry import ModelRegistry
from sleepscope.paths import user_data_dir
from sleepscope.stages import NAMES

#: Cancel: terminate, then kill if the process is still there after this long.
KILL_AFTER_MS = 2000
SUFFIX = ".sleepscope.h5"
#: the training process yields the CPU to the workstation (it shares the technician's cores)
NICE = 10


@dataclass
class CorrectionCounts:
    per_stage: dict[str, int]
    recordings: int
    total: int
    unreadable: list[str]  # "file: why"
    #: recording file name -> the scoring files pooled for it (a night scored twice is listed once)
    pooled: dict[str, list[str]] = field(default_factory=dict)


def count_corrections(scoring_paths: Iterable[str | Path], include_imports: bool = True) -> CorrectionCounts:
    """Labelled epochs per stage over the scoring files (a recording scored twice counts once)."""
    from sleepscope.scoring.corrections import label_counts
    from sleepscope.scoring.scoring_file import ScoringFile

    good, bad = [], []
    pooled: dict[str, list[str]] = {}
    for p in dict.fromkeys(Path(p) for p in scoring_paths):
        try:
            ident = ScoringFile.read(p).identity
            good.append(p)
            pooled.setdefault(ident.file_name or ident.fingerprint[:12], []).append(str(p))
        except (SleepScopeError, OSError) as exc:
            bad.append(f"{p.name}: {exc}")
    sources = ("technician", "model", "import") if include_imports else ("technician", "model")
    per_rec = label_counts(good, sources) if good else {}
    per_stage = {n: sum(c[n] for c in per_rec.values()) for n in NAMES}
    return CorrectionCounts(per_stage, sum(1 for c in per_rec.values() if c["total"]), sum(per_stage.values()), bad,
                            pooled)


class FineTuneDialog(QDialog):
    """Options, live loss / held-out macro-F1 curves, result beside the parent, Activate."""

    #: version registered by a finished run
    model_finished = Signal(str)
    #: .safetensors path of a model the technician activated from here
    model_activated = Signal(str)

    def __init__(self, scoring_paths: Iterable[str | Path], model_path: str | Path | None,
                 recordings: Iterable[str | Path] = (), registry: ModelRegistry | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune on corrections")
        self.resize(920, 720)
        self.scoring_paths = [Path(p) for p in dict.fromkeys(map(str, scoring_paths))]
        self.recordings = [Path(p) for p in dict.fromkeys(map(str, recordings))]
        self.model_path = Path(model_path) if model_path else None
        self.registry = registry or ModelRegistry()
        self.process: QProcess | None = None
        self.result: dict | None = None
        self.error: str | None = None
        self.cancelled = False
        self.exit_code: int | None = None
        self._buffer = b""
        self._stderr: list[str] = []
        self.loss_x: list[float] = []
        self.loss_y: list[float] = []
        self.f1_x: list[float] = []
        self.f1_y: list[float] = []
        self.out_base: Path | None = None
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)
        self._build()
        self.refresh_counts()

    # -- layout ---------------------------------------------------------------
    def _build(self) -> None:
        counts = QGroupBox("Technician-labelled epochs available")
        grid = QGridLayout(counts)
        self.count_labels: dict[str, QLabel] = {}
        for col, name in enumerate([*NAMES, "Total"]):
            grid.addWidget(QLabel(f"<b>{name}</b>"), 0, col, Qt.AlignmentFlag.AlignCenter)
            lab = QLabel("0")
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(lab, 1, col)
            self.count_labels[name] = lab
        self.recordings_label = QLabel()
        self.recordings_label.setWordWrap(True)
        grid.addWidget(self.recordings_label, 2, 0, 1, len(NAMES) + 1)

        opts = QGroupBox("Options")
        form = QFormLayout(opts)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 200)
        self.epochs.setValue(10)
        self.epochs.setToolTip("Most passes over the training corrections (training stops earlier when the "
                               "held-out macro-F1 stops improving)")
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.00001, 0.01)
        self.lr.setSingleStep(0.00005)
        self.lr.setValue(0.0001)
        self.freeze = QCheckBox("Freeze the encoders (faster; adapts only the decoders and classifier)")
        self.holdout = QDoubleSpinBox()
        self.holdout.setRange(0.1, 0.5)
        self.holdout.setSingleStep(0.05)
        self.holdout.setValue(0.2)
        self.holdout.setToolTip("Fraction of the corrections kept aside (whole blocks of consecutive epochs) to "
                                "compare the new model with the current one")
        self.imports = QCheckBox("Also learn from imported hypnograms")
        self.imports.setChecked(True)
        self.imports.toggled.connect(lambda _=False: self.refresh_counts())
        form.addRow("Training epochs", self.epochs)
        form.addRow("Learning rate", self.lr)
        form.addRow("Held-out fraction", self.holdout)
        form.addRow(self.freeze)
        form.addRow(self.imports)
        self.model_label = QLabel(f"Starting from: {self.model_path or 'no model (choose one first)'}")
        self.model_label.setWordWrap(True)
        form.addRow(self.model_label)

        pg.setConfigOptions(antialias=False)
        self.loss_plot = pg.PlotWidget(title="Training loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=1))
        self.f1_plot = pg.PlotWidget(title="Held-out macro-F1")
        self.f1_plot.setLabel("bottom", "pass")
        self.f1_plot.setYRange(0, 1)
        self.f1_curve = self.f1_plot.plot([], [], pen=pg.mkPen("#2ca02c", width=2), symbol="o", symbolSize=6)
        self.parent_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine),
                                           label="current model", labelOpts={"position": 0.1})
        self.parent_line.hide()
        self.f1_plot.addItem(self.parent_line)
        for plot in (self.loss_plot, self.f1_plot):
            plot.setMinimumHeight(200)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.f1_plot)

        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(500)
        self.log.setMaximumHeight(90)

        self.start_button = QPushButton("&Start fine-tuning")
        self.cancel_button = QPushButton("&Cancel")
        self.activate_button = QPushButton("&Activate the new model")
        self.versions_button = QPushButton("Model &versions…")
        self.close_button = QPushButton("Close")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.activate_button.clicked.connect(self.activate_result)
        self.versions_button.clicked.connect(self.show_versions)
        self.close_button.clicked.connect(self.close)
        self.cancel_button.setEnabled(False)
        self.activate_button.setEnabled(False)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button, self.activate_button, self.versions_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)

        top = QHBoxLayout()
        top.addWidget(counts, 3)
        top.addWidget(opts, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(plots, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.log)
        layout.addLayout(buttons)

    def refresh_counts(self) -> CorrectionCounts:
        try:
            c = count_corrections(self.scoring_paths, self.imports.isChecked())
        except SleepScopeError as exc:
            c = CorrectionCounts({n: 0 for n in NAMES}, 0, 0, [str(exc)])
        self.counts = c
        for n in NAMES:
            self.count_labels[n].setText(str(c.per_stage[n]))
        self.count_labels["Total"].setText(str(c.total))
        text = f"from {c.recordings} recording(s) in {len(self.scoring_paths)} scoring file(s):"
        import html

        items = "".join(
            f"<li>{html.escape(name)}" + (f" ({len(files)} scoring files, the latest label of each epoch wins)"
                                          if len(files) > 1 else "") + "</li>"
            for name, files in sorted(c.pooled.items()))
        text = html.escape(text) + (f"<ul style='margin:0'>{items}</ul>" if items else " none")
        if c.unreadable:
            text += "Unreadable: " + html.escape("; ".join(c.unreadable))
        self.recordings_label.setText(text)
        self.recordings_label.setToolTip("\n".join(f"{n}: {', '.join(f)}" for n, f in sorted(c.pooled.items())))
        self._update_buttons()
        return c

    def _update_buttons(self) -> None:
        running = self.running()
        self.start_button.setEnabled(not running and self.model_path is not None and self.counts.total > 0)
        self.cancel_button.setEnabled(running)
        for w in (self.epochs, self.lr, self.freeze, self.holdout, self.imports):
            w.setEnabled(not running)
        self.activate_button.setEnabled(not running and self.result is not None
                                        and self.result.get("version") != self.registry.active_version())

    # -- the process ----------------------------------------------------------
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def command(self) -> list[str]:
        """The arguments after the executable (see `launch_prefix`)."""
        runs = user_data_dir() / "finetune"
        runs.mkdir(parents=True, exist_ok=True)
        self.out_base = runs / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{int(time.time() * 1000) % 1000}"
        args = [*launch_prefix()[1:], "finetune", "--progress", "jsonl", "--register", "--nice", str(NICE),
                "--from", str(self.model_path), "--out", str(self.out_base),
                "--epochs", str(self.epochs.value()), "--lr", f"{self.lr.value():g}",
                "--holdout", f"{self.holdout.value():g}",
                "--sources", "technician,model,import" if self.imports.isChecked() else "technician,model",
                "--scoring", *map(str, self.scoring_paths)]
        if self.recordings:
            args += ["--recording", *map(str, self.recordings)]
        if self.freeze.isChecked():
            args.append("--freeze-encoders")
        return args

    def start(self) -> bool:
        if self.running() or self.model_path is None:
            return False
        self.result, self.error, self.cancelled, self.exit_code = None, None, False, None
        self._buffer, self._stderr = b"", []
        self.loss_x, self.loss_y, self.f1_x, self.f1_y = [], [], [], []
        self.loss_curve.setData([], [])
        self.f1_curve.setData([], [])
        self.parent_line.hide()
        self.log.clear()
        p = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        p.setProcessEnvironment(env)
        p.readyReadStandardOutput.connect(self._read_stdout)
        p.readyReadStandardError.connect(self._read_stderr)
        p.finished.connect(self._finished)
        p.errorOccurred.connect(self._process_error)
        self.process = p
        self.status.setText("Starting the fine-tuning process…")
        p.start(launch_prefix()[0], self.command())
        self._update_buttons()
        return True

    def cancel(self) -> None:
        """Stop the process (SIGTERM, then kill after 2 s); nothing is written, the active model stays."""
        if not self.running():
            return
        self.cancelled = True
        self.status.setText("Cancelling…")
        self.process.terminate()
        # The timer belongs to the dialog: it dies with it, never firing on a deleted process.
        self._kill_timer.start(KILL_AFTER_MS)

    def _kill(self) -> None:
        if self.running():
            self.process.kill()

    def _read_stdout(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                self.log.appendPlainText(line)
                continue
            if isinstance(event, dict):
                self.handle_event(event)
        self._redraw()

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        for line in text.replace("\r", "\n").splitlines():
            if line.strip():
                self._stderr.append(line)
        self._stderr = self._stderr[-40:]

    def handle_event(self, e: dict) -> None:
        kind = e.get("event")
        if kind == "status":
            self.status.setText(str(e.get("message", "")))
        elif kind == "corrections":
            self.log.appendPlainText(f"{e.get('n')} labelled epochs: {e.get('per_stage')}")
            for s in e.get("skipped", []):
                self.log.appendPlainText(f"skipped {s}")
        elif kind == "parent":
            f1 = _num(e.get("val_macro_f1"))
            if not math.isnan(f1):
                self.parent_line.setValue(f1)
                self.parent_line.show()
            self.log.appendPlainText(f"training on {e.get('n_train')} epochs, {e.get('n_heldout')} held out; "
                                     f"current model held-out macro-F1 {f1:.3f}")
        elif kind == "step":
            self.loss_x.append(float(e.get("step", len(self.loss_x) + 1)))
            self.loss_y.append(_num(e.get("loss")))
            self.status.setText(f"Fine-tuning: step {e.get('step')} of {e.get('total')}, loss {_num(e.get('loss')):.4f}")
        elif kind == "epoch":
            self.f1_x.append(float(e.get("epoch", len(self.f1_x) + 1)))
            self.f1_y.append(_num(e.get("val_macro_f1")))
            self.log.appendPlainText(f"pass {e.get('epoch')}: held-out macro-F1 {_num(e.get('val_macro_f1')):.3f}")
        elif kind == "done":
            self.result = e
        elif kind == "error":
            self.error = str(e.get("message", "unknown error"))
        elif kind == "cancelled":
            self.cancelled = True

    def _redraw(self) -> None:
        self.loss_curve.setData(self.loss_x, self.loss_y)
        self.f1_curve.setData(self.f1_x, self.f1_y)

    def _process_error(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self.error = f"the fine-tuning process could not start ({self.process.errorString()})"
            self._finished(-1, QProcess.ExitStatus.CrashExit)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self.exit_code is not None:
            return
        if self.process is not None:
            self._read_stdout()
            self._read_stderr()
        self.exit_code = code
        self._kill_timer.stop()
        if self.cancelled and self.result is None:
            self.status.setText("Cancelled. No model was written; the active model is unchanged.")
        elif self.result is not None and code == 0:
            self._show_result(self.result)
            self._forget_run_files()
            self.model_finished.emit(str(self.result.get("version")))
        else:
            why = self.error or ("the process crashed" if status == QProcess.ExitStatus.CrashExit
                                 else f"the process ended with exit code {code} without a result")
            tail = "\n".join(self._stderr[-6:])
            self.error = why
            self.status.setText(f"<b>Fine-tuning failed:</b> {_html(why)}<br>The active model is unchanged.")
            if tail:
                self.log.appendPlainText(tail)
        self._update_buttons()

    def _show_result(self, r: dict) -> None:
        h = (r.get("metrics") or {}).get("heldout", {})
        c, p = h.get("child", {}), h.get("parent", {})
        head = "".join(f"<th>{n} F1</th>" for n in NAMES)

        support = c.get("support") or p.get("support") or {}

        def row(name: str, m: dict) -> str:
            # A stage absent from the held-out epochs has no F1 (it would print as 0.000 beside a macro-F1
            # computed without it).
            f1 = [m.get("f1", {}).get(n) if support.get(n, 1) else None for n in NAMES]
            cells = [m.get("macro_f1"), m.get("accuracy"), *f1]
            return f"<tr><td>{name}</td>" + "".join(f"<td align=right>{_fmt(v)}</td>" for v in cells) + "</tr>"

        absent = [n for n in NAMES if support and not support.get(n, 0)]
        ft = (r.get("metrics") or {}).get("finetune", {})
        passes = ft.get("epochs")
        best = ft.get("best_epoch")
        asked = self.epochs.value()
        kept = ""
        if passes is not None:
            kept = f"Ran {passes} of at most {asked} passes" + (" (stopped early: the held-out macro-F1 stopped "
                                                               "improving)" if ft.get("stopped_early") else "")
            if isinstance(best, int) and best >= 0:
                kept += f"; kept the weights of pass {best + 1}, the best on the epochs held out to choose it."
            else:
                kept += "; kept the weights of the last pass."
        note = (f" — : no held-out epoch of {', '.join(absent)}, so no F1 (macro-F1 averages the stages present)."
                if absent else "")

        worse = _num(c.get("macro_f1")) < _num(p.get("macro_f1"))
        verdict = ("<b style='color:#c00'>The new model is worse than the current one on these epochs.</b>"
                   if worse else "The new model is at least as good as the current one on these epochs.")
        self.status.setText(
            f"New model version {r.get('version')} (from {r.get('parent')}), registered but not active. "
            f"{verdict} Held-out epochs: {h.get('n_epochs')}."
            f"<table cellspacing=4><tr><th></th><th>macro-F1</th><th>accuracy</th>{head}</tr>"
            f"{row('new', c)}{row('current', p)}</table>{_html(kept)}{_html(note)}")

    def _forget_run_files(self) -> None:
        # The registry holds its own copy; the process's output file is scratch.
        if self.result and self.result.get("registered") and self.out_base is not None:
            for suffix in (".safetensors", ".json"):
                self.out_base.with_name(self.out_base.name + suffix).unlink(missing_ok=True)

    # -- after the run ---------------------------------------------------------
    def activate_result(self) -> bool:
        if self.result is None:
            return False
        path = activate_version(self, self.registry, str(self.result["version"]))
        if path is None:
            return False
        self.status.setText(self.status.text() + f"<br><b>Activated {self.result['version']}.</b>")
        self._update_buttons()
        self.model_activated.emit(str(path))
        return True

    def show_versions(self) -> None:
        d = ModelVersionsDialog(self.registry, parent=self)
        d.model_activated.connect(self.model_activated)
        d.exec()
        self._update_buttons()

    def stop_and_wait(self, ms: int = KILL_AFTER_MS + 1000) -> None:
        """Cancel a running process and wait for it to end (closing the dialog or the window)."""
        if self.running():
            self.cancel()
            if not self.process.waitForFinished(KILL_AFTER_MS):
                self.process.kill()
                self.process.waitForFinished(ms - KILL_AFTER_MS)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.stop_and_wait()
        super().closeEvent(event)

    def reject(self) -> None:  # Esc closes through here
        self.stop_and_wait()
        super().reject()


def launch_prefix() -> list[str]:
    """How to run the `sleepscope` command as a child process: the frozen app is that command itself."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "sleepscope"]


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _fmt(x: Any) -> str:
    v = _num(x)
    return "—" if math.isnan(v) else f"{v:.3f}"


def _html(text: str) -> str:
    import html

    return html.escape(text).replace("\n", "<br>")


# -- the main window's Model menu ---------------------------------------------------

def scoring_files_of(window: Any) -> tuple[list[Path], list[Path]]:
    """(scoring files, recordings) the window knows: the open one and those of recent recordings.

    A recording's scoring file is beside it, or, for a read-only folder, in
    the user data folder under its fingerprint; those are matched to recent
    recordings by file name so the process can find their signals.
    """
    from sleepscope.scoring.scoring_file import ScoringFile

    scorings: list[Path] = []
    recordings: list[Path] = []
    scoring = getattr(window, "scoring", None)
    if scoring is not None and getattr(scoring, "path", None):
        scorings.append(Path(scoring.path))
        rec_path = getattr(getattr(window, "recording", None), "path", None)
        if rec_path and Path(rec_path).with_name(Path(rec_path).stem + SUFFIX) != Path(scoring.path):
            recordings.append(Path(rec_path))
    settings = getattr(window, "settings", None)
    recent = [Path(p) for p in (settings.recent_files() if settings is not None else [])]
    by_name = {p.name: p for p in recent}
    for rec in recent:
        beside = rec.with_name(rec.stem + SUFFIX)
        if beside.is_file():
            scorings.append(beside)
    fallback = user_data_dir() / "scoring"
    if fallback.is_dir():
        for f in sorted(fallback.glob(f"*{SUFFIX}")):
            try:
                name = ScoringFile.read(f).identity.file_name
            except (SleepScopeError, OSError):
                continue
            if name in by_name:
                scorings.append(f)
                recordings.append(by_name[name])
    return list(dict.fromkeys(scorings)), list(dict.fromkeys(recordings))


class ModelActions(QObject):
    """The Model-menu entries for fine-tuning and versions, bound to one main window."""

    #: .safetensors path of the model the technician just activated
    model_activated = Signal(str)

    def __init__(self, window: Any, menu: Any) -> None:
        super().__init__(window)
        self.window = window
        menu.addSeparator()
        self.finetune_action = menu.addAction("&Fine-tune on corrections…")
        self.versions_action = menu.addAction("Model &versions / roll back…")
        self.finetune_action.triggered.connect(self.open_finetune)
        self.versions_action.triggered.connect(self.open_versions)
        self.dialog: FineTuneDialog | None = None

    def _in_use(self) -> str | None:
        """The version the window scores with, read from its model's card (no torch import)."""
        path = getattr(self.window, "model_path", None)
        if path is None:
            return None
        from sleepscope.gui.main_window import card_version

        return card_version(Path(path))

    def open_finetune(self) -> FineTuneDialog:
        scorings, recordings = scoring_files_of(self.window)
        model = getattr(self.window, "model_path", None)
        d = FineTuneDialog(scorings, model, recordings, parent=self.window)
        d.model_activated.connect(self.model_activated)
        d.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = d
        d.show()
        return d

    def open_versions(self) -> ModelVersionsDialog:
        d = ModelVersionsDialog(in_use=self._in_use(), parent=self.window)
        d.model_activated.connect(self.model_activated)
        d.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        d.show()
        return d


def install_model_actions(window: Any, menu: Any) -> ModelActions:
    """Add "Fine-tune on corrections…" and "Model versions / roll back…" to `menu`.

    Activation calls ``window.set_model(path)``, which makes the model active
    and re-scores the open recording (predictions are kept apart from the
    technician's labels).
    """
    actions = ModelActions(window, menu)
    if hasattr(window, "set_model"):
        actions.model_activated.connect(lambda path: window.set_model(Path(path)))
    return actions
