"""A dialog that runs one `sleepscope` command in another process and follows its JSON events.

Training never runs on a thread of the GUI: fine-tuning and site pre-training
start ``python -m sleepscope ... --progress jsonl`` with QProcess and read
one JSON event per line (status, step losses, done/error), plotting them as
they come. Cancel terminates the process (killed after 2 s if it lingers);
the process writes nothing when stopped. A crash, or a process that cannot
start, is reported in the dialog with the end of its stderr.

`ProcessDialog` holds that machinery; a dialog built on it lays out its
widgets (`_build`, with `status`, `log`, `loss_curve`, `f1_curve` and
`parent_line`), says what to run (`command`) and shows the result
(`_show_result`).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, QTimer
from PySide6.QtWidgets import (QDialog, QHBoxLayout, QLabel, QLayout, QPlainTextEdit, QPushButton, QSizePolicy,
                               QVBoxLayout, QWidget)

from sleepscope.model.registry import ModelRegistry

#: Cancel: terminate, then kill if the process is still there after this long.
KILL_AFTER_MS = 2000
#: the training process yields the CPU to the workstation (it shares the technician's cores)
NICE = 10


class ProcessDialog(QDialog):
    """Start, follow, cancel and end one child process; the run's events, result and error."""

    #: in messages: "Starting the {process_name} process…"
    process_name = "training"
    #: the heading of a failed run's message
    failed_title = "Training failed"

    def __init__(self, model_path: str | Path | None, registry: ModelRegistry | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
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

    # -- shared widgets ---------------------------------------------------------
    def _status_and_log(self, log_height: int) -> None:
        """`status` (the run's one-line state, selectable) and `log` (its event log)."""
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        # never squeezed below its text (a run's result is several lines and tables)
        self.status.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(500)
        self.log.setMaximumHeight(log_height)

    def _buttons(self, start_text: str, *more: tuple[str, Any]) -> QHBoxLayout:
        """Start, Cancel, `more` (text, slot; disabled until a run allows them), then Close on the right."""
        self.start_button = QPushButton(start_text)
        self.cancel_button = QPushButton("&Cancel")
        self.close_button = QPushButton("Close")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.cancel_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        self.extra_buttons = []
        for text, slot in more:
            b = QPushButton(text)
            b.clicked.connect(slot)
            row.addWidget(b)
            self.extra_buttons.append(b)
        row.addStretch(1)
        row.addWidget(self.close_button)
        return row

    def _lay_out(self, inputs: QWidget, options: QWidget, plots: QWidget | QLayout, buttons: QHBoxLayout) -> None:
        """What to learn from beside the options, the plots below, then the run's status, log and buttons."""
        top = QHBoxLayout()
        top.addWidget(inputs, 3)
        top.addWidget(options, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        if isinstance(plots, QLayout):
            layout.addLayout(plots, 1)
        else:
            layout.addWidget(plots, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.log)
        layout.addLayout(buttons)

    # -- the process ----------------------------------------------------------
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

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
        self.status.setText(f"Starting the {self.process_name} process…")
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
        """The events every run sends; a dialog handles its own first and passes the rest here."""
        kind = e.get("event")
        if kind == "status":
            self.status.setText(str(e.get("message", "")))
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
            self.error = f"the {self.process_name} process could not start ({self.process.errorString()})"
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
            self._succeeded(self.result)
        else:
            why = self.error or ("the process crashed" if status == QProcess.ExitStatus.CrashExit
                                 else f"the process ended with exit code {code} without a result")
            tail = "\n".join(self._stderr[-6:])
            self.error = why
            self.status.setText(f"<b>{self.failed_title}:</b> {as_html(why)}<br>The active model is unchanged.")
            if tail:
                self.log.appendPlainText(tail)
        self._update_buttons()

    def _succeeded(self, result: dict) -> None:
        """A run ended with a result (shown already)."""

    def _forget_run_files(self) -> None:
        # The registry holds its own copy; the process's output file is scratch.
        if self.result and self.result.get("registered") and self.out_base is not None:
            for suffix in (".safetensors", ".json"):
                self.out_base.with_name(self.out_base.name + suffix).unlink(missing_ok=True)

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


def run_base(kind: str) -> Path:
    """A new run's output name (without suffix) under the user data folder's `kind` folder."""
    import os
    import time

    from sleepscope.paths import user_data_dir

    runs = user_data_dir() / kind
    runs.mkdir(parents=True, exist_ok=True)
    return runs / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{int(time.time() * 1000) % 1000}"


def as_float(x: Any) -> float:
    """A number from an event's field; NaN when it is missing or not a number."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def as_html(text: str) -> str:
    """Plain text (a message, a traceback) for a rich-text label."""
    import html

    return html.escape(text).replace("\n", "<br>")
