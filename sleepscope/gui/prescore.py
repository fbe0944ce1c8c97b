"""The window's pre-scoring jobs: at most one current job, older ones cancelled and left to end.

A new recording (or a new model) drops the current job rather than queueing
behind it; a dropped job's answer is never delivered. The worker runs on its
own thread (workers.py); this class lives on the GUI thread and re-emits only
the current job's signals (jobs.CurrentJob).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from sleepscope.gui.jobs import CurrentJob
from sleepscope.gui.workers import PreScoreJob, PreScoreResult, PreScoreWorker


class PreScoring(CurrentJob):
    """Starts, cancels and forgets pre-scoring jobs; signals concern the current job only."""

    finished = Signal(object)  # PreScoreResult
    #: True when a job starts, False when the current one ended (any way) or was dropped
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.last_message = ""

    def start(self, recording: Any, model_path: Path) -> PreScoreJob:
        job = self.launch(PreScoreJob(PreScoreWorker(recording, model_path, recording.fingerprint())))
        self.last_message = "Loading the model"
        self.busyChanged.emit(True)
        return job

    def _busy(self, busy: bool) -> None:
        self.busyChanged.emit(busy)

    def _progressed(self, message: str) -> None:
        self.last_message = message

    def _deliver(self, result: PreScoreResult) -> None:
        self.finished.emit(result)
