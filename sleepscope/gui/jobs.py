"""Background jobs of the window: a worker on its own QThread, and the one current job of a kind.

A worker (`JobWorker`) carries a job id, a cancel token, throttled progress
and the end signals (finished / errored / aborted, napari's names); its
`work()` does the job. `Job` pairs it with a QThread that quits when it
ends. `CurrentJob` lives on the GUI thread: a new job drops
(cancels) the current one, and only the current job's signals are passed on,
so a dropped job's answer is never delivered. The recording loader,
pre-scoring, second opinion, spectrogram and evidence panel are built on these.
"""

from __future__ import annotations

import itertools
import time
import traceback
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from sleepscope.errors import SleepScopeError
from sleepscope.tasks import CancelToken, Cancelled

_ids = itertools.count(1)


class JobWorker(QObject):
    """One job's work and signals; lives on the QThread made by `Job`.

    A kind of job defines `work()`: run on the worker's thread, it returns the
    result (with this worker's `job_id`) or raises Cancelled / SleepScopeError.
    """

    progress = Signal(int, int, int, str)  # job id, done, total, message
    finished = Signal(object)  # the job's result; it has a `job_id`
    errored = Signal(int, str)
    aborted = Signal(int)

    #: traceback lines kept in the message of an unexpected error
    traceback_limit = 4

    def __init__(self) -> None:
        super().__init__()
        self.job_id = next(_ids)
        self.cancel_token = CancelToken()
        self.started_at = 0.0
        self._last_emit = 0.0

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started_at

    def _progress(self, done: int, total: int, message: str) -> None:
        # Throttled: a signal per block or batch would flood the GUI's event queue.
        now = time.monotonic()
        if done >= total or now - self._last_emit > 0.05:
            self._last_emit = now
            self.progress.emit(self.job_id, int(done), int(total), message)

    def unexpected(self, exc: Exception, detail: str) -> str:
        """The message for an exception that is not a SleepScopeError (a bug)."""
        return f"{type(exc).__name__}: {exc}\n\n{detail}"

    def end_signals(self) -> tuple:
        """The signals one of which ends a run."""
        return (self.finished, self.errored, self.aborted)

    @Slot()
    def run(self) -> None:
        self.started_at = time.perf_counter()
        try:
            result = self.work()
        except Cancelled:
            self.aborted.emit(self.job_id)
            return
        except SleepScopeError as exc:
            self.errored.emit(self.job_id, str(exc))
            return
        except Exception as exc:  # a bug must reach the user as a dialog, not a silent hang or a lost window
            self.errored.emit(self.job_id, self.unexpected(exc, traceback.format_exc(limit=self.traceback_limit)))
            return
        self.finished.emit(result)


class Job:
    """A worker and its thread; the thread quits when the worker ends.

    Both are deleted by Python on the GUI thread once the thread has ended
    (`ended()`), never by `deleteLater` on the worker's thread: that would
    race Python's own deletion of the worker when the GUI thread lets go of it
    while the thread is still finishing (a use-after-free in a native thread).
    """

    def __init__(self, worker: JobWorker, name: str,
                 priority: QThread.Priority = QThread.Priority.InheritPriority) -> None:
        self.worker = worker
        self.priority = priority
        self.thread = QThread()
        self.thread.setObjectName(f"sleepscope-{name}-{worker.job_id}")
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        for sig in worker.end_signals():
            # Direct: quit from the worker thread itself, even when the GUI loop is not running.
            sig.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)

    @property
    def job_id(self) -> int:
        return self.worker.job_id

    def start(self) -> None:
        self.thread.start(self.priority)

    def cancel(self) -> None:
        self.worker.cancel()

    def running(self) -> bool:
        return self.thread.isRunning()

    def ended(self) -> bool:
        """The thread has run to its very end (or never started): worker and thread may be let go.

        Not `not isRunning()`: that turns true as soon as the thread begins to finish.
        """
        return self.thread.wait(0)

    def wait(self, ms: int = 10000) -> bool:
        """Block until the thread ended (after cancel()); True when it did."""
        return self.thread.wait(ms)


#: Jobs still running when their owner went away (a window closed while a job ran): kept until they
#: end, since Qt aborts when a running QThread is destroyed. Let go by `forget_ended`.
_ORPHANS: list[Job] = []


def forget_ended(jobs: list[Job]) -> list[Job]:
    """The jobs of `jobs` that have not ended; orphans that have ended are let go too."""
    _ORPHANS[:] = [j for j in _ORPHANS if not j.ended()]
    return [j for j in jobs if not j.ended()]


def adopt(jobs: list[Job]) -> None:
    """Keep these jobs (cancelled, maybe still running) alive after their owner is gone."""
    _ORPHANS.extend(j for j in jobs if not j.ended())


def wait_for_orphans(ms: int) -> bool:
    """Wait up to `ms` for the jobs whose windows closed (leaving the application); True when all ended."""
    deadline = time.monotonic() + ms / 1000
    for j in list(_ORPHANS):
        j.wait(max(1, int((deadline - time.monotonic()) * 1000)))
    _ORPHANS[:] = [j for j in _ORPHANS if not j.ended()]
    return not _ORPHANS


class CurrentJob(QObject):
    """At most one current job; a new one drops the older, which ends on its own and is then forgotten.

    A kind of job defines `_deliver(result)` (emit its own result signal) and may define `_busy` and
    `_progressed`.
    """

    progress = Signal(int, int, str)  # done, total, message
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self.old_jobs: list[Job] = []
        #: ids of dropped jobs whose work has not ended yet (their end signal has not arrived)
        self.dropped_working: set[int] = set()

    @property
    def busy(self) -> bool:
        return self.job is not None

    def launch(self, job: Job) -> Job:
        """Drop the current job and start `job` in its place."""
        self.drop()
        w = job.worker
        # Connected before the thread starts: a job that fails at once still reports. Queued explicitly:
        # these run on the GUI thread whatever PySide infers for the slot.
        queued = Qt.ConnectionType.QueuedConnection
        w.progress.connect(self._on_progress, queued)
        w.finished.connect(self._on_finished, queued)
        w.errored.connect(self._on_error, queued)
        w.aborted.connect(self._on_aborted, queued)
        self.job = job
        job.start()
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def drop(self) -> None:
        """Cancel the current job; its thread ends on its own and is forgotten when it has."""
        if self.job is not None:
            self.job.cancel()
            self.dropped_working.add(self.job.job_id)
            self.old_jobs.append(self.job)
            self.job = None
            self._busy(False)
        self.old_jobs = forget_ended(self.old_jobs)

    def wait_all(self, ms: int = 15000) -> bool:
        """Cancel every job and wait until their threads ended (closing the window)."""
        self.drop()
        deadline = time.monotonic() + ms / 1000
        ok = True
        for j in self.old_jobs:
            ok &= j.wait(max(1, int((deadline - time.monotonic()) * 1000)))
        adopt(self.old_jobs)  # the window may go away; a job that did not end in time must outlive it
        self.old_jobs = []
        return ok

    # -- what a kind of job adds ----------------------------------------------
    def _busy(self, busy: bool) -> None:
        """The current job ended (any way) or was dropped (False)."""

    def _progressed(self, message: str) -> None:
        """The current job reported progress."""

    def _dropped_ended(self) -> None:
        """A dropped job's work ended (its answer is not delivered)."""

    # -- the current job's signals ----------------------------------------------
    def _current(self, job_id: int) -> bool:
        return self.job is not None and self.job.job_id == job_id

    def _end(self) -> None:
        if self.job is not None:
            self.old_jobs.append(self.job)
            self.job = None
        self._busy(False)

    def _on_progress(self, job_id: int, done: int, total: int, message: str) -> None:
        if self._current(job_id):
            self._progressed(message)
            self.progress.emit(done, total, message)

    def _dropped(self, job_id: int) -> None:
        if job_id in self.dropped_working:
            self.dropped_working.discard(job_id)
            self._dropped_ended()

    def _on_finished(self, result: Any) -> None:
        if self._current(result.job_id):
            self._end()
            self._deliver(result)
        else:
            self._dropped(result.job_id)

    def _on_error(self, job_id: int, message: str) -> None:
        if self._current(job_id):
            self._end()
            self.failed.emit(message)
        else:
            self._dropped(job_id)

    def _on_aborted(self, job_id: int) -> None:
        if self._current(job_id):
            self._end()
            self.cancelled.emit()
        else:
            self._dropped(job_id)
