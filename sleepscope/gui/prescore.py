"""The window's pre-scoring jobs: at most one current job, older ones cancelled and left to end.

A new recording (or a new model) drops the current job rather than queueing
behind it; a dropped job's answer is never delivered. The worker runs on its
own thread (workers.py); this class lives on the GUI thread and re-emits only
the current job's signals.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from sleepscope.gui.workers import PreScoreJob, PreScoreResult, PreScoreWorker


class PreScoring(QObject):
    """Starts, cancels and forgets pre-scoring jobs; signals concern the current job only."""

    progress = Signal(int, int, str)  # done, total, message
    finished = Signal(object)  # PreScoreResult
    failed = Signal(str)
    cancelled = Signal()
    #: True when a job starts, False when the current one ended (any way) or was dropped
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job: PreScoreJob | None = None
        self.old_jobs: list[PreScoreJob] = []
        self.last_message = ""

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start(self, recording: Any, model_path: Path) -> PreScoreJob:
        self.drop()
        # Connected before the thread starts: a job that fails at once (a broken model) still reports.
        job = PreScoreJob(PreScoreWorker(recording, model_path, recording.fingerprint()))
        w = job.worker
        # Queued explicitly: these run on the GUI thread whatever PySide infers for the slot.
        queued = Qt.ConnectionType.QueuedConnection
        w.progress.connect(self._on_progress, queued)
        w.finished.connect(self._on_finished, queued)
        w.errored.connect(self._on_error, queued)
        w.aborted.connect(self._on_aborted, queued)
        self.job = job
        job.start()
        self.last_message = "Loading the model"
        self.busyChanged.emit(True)
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def drop(self) -> None:
        """Cancel the current job; its thread ends on its own and is forgotten when it has."""
        if self.job is not None:
            self.job.cancel()
            self.old_jobs.append(self.job)
            self.job = None
            self.busyChanged.emit(False)
        self.old_jobs = [j for j in self.old_jobs if j.running()]

    def wait_all(self, ms: int = 15000) -> bool:
        """Cancel every job and wait until their threads ended (closing the window)."""
        self.drop()
        deadline = time.monotonic() + ms / 1000
        ok = True
        for j in self.old_jobs:
            left = max(1, int((deadline - time.monotonic()) * 1000))
            ok &= j.wait(left)
        self.old_jobs = [j for j in self.old_jobs if j.running()]
        return ok

    def _current(self, job_id: int) -> bool:
        return self.job is not None and self.job.job_id == job_id

    def _end(self) -> None:
        if self.job is not None:
            self.old_jobs.append(self.job)
            self.job = None
        self.busyChanged.emit(False)

    def _on_progress(self, job_id: int, done: int, total: int, message: str) -> None:
        if self._current(job_id):
            self.last_message = message
            self.progress.emit(done, total, message)

    def _on_finished(self, result: PreScoreResult) -> None:
        if self._current(result.job_id):
            self._end()
            self.finished.emit(result)

    def _on_error(self, job_id: int, message: str) -> None:
        if self._current(job_id):
            self._end()
            self.failed.emit(message)

    def _on_aborted(self, job_id: int) -> None:
        if self._current(job_id):
            self._end()
            self.cancelled.emit()
