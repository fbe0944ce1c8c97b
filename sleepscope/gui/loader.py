"""Reading a recording on a loader thread, with progress and cancel (mne-qt-browser's LoadThread).

The GUI thread only asks (file, channels) and shows; the signals are read
here in chunks by `sleepscope.io.open_recording`, which reports progress and
stops when the token is cancelled. The hypnogram paired with the recording
by name is read here too; a paired file that cannot be read does not stop
the night from opening: its problem travels with the result for the window
to show.
"""

from __future__ import annotations

import itertools
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from sleepscope.errors import SleepScopeError
from sleepscope.tasks import CancelToken, Cancelled

_ids = itertools.count(1)


@dataclass
class PairedHypnogram:
    """A hypnogram file and what came of reading it: labels, notes, or the reason it is unusable."""

    path: Path
    labels: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    problem: str | None = None


@dataclass
class LoadResult:
    job_id: int
    recording: Any
    paired: PairedHypnogram | None
    seconds: float


def read_paired_hypnogram(path: Path, n_epochs: int, start_time: Any = None) -> PairedHypnogram:
    """Read a hypnogram for a recording of `n_epochs`; never raises for a bad file (says why instead)."""
    from sleepscope.io.hypnogram import read_hypnogram

    out = PairedHypnogram(Path(path))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out.labels = np.asarray(read_hypnogram(path, n_epochs=n_epochs))
        out.notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    except SleepScopeError as exc:
        out.problem = str(exc)
    except Exception as exc:  # a reader's bug must not cost the technician the night
        out.problem = f"{type(exc).__name__}: {exc}"
    if out.labels is not None and not (out.labels >= 0).any():
        out.labels, out.problem = None, "it has no scored epoch"
    return out


class LoadWorker(QObject):
    """Reads one recording; lives on the QThread made by `LoadJob`."""

    progress = Signal(int, int, int, str)  # job id, done, total, message
    finished = Signal(object)  # LoadResult
    errored = Signal(int, str)
    aborted = Signal(int)

    def __init__(self, path: Path, eeg: str | None, eog: str | None, extra: list[str],
                 pair_hypnogram: bool = True) -> None:
        super().__init__()
        self.job_id = next(_ids)
        self.cancel_token = CancelToken()
        self._path = Path(path)
        self._eeg, self._eog, self._extra = eeg, eog, list(extra)
        self._pair = pair_hypnogram
        self._last_emit = 0.0

    def _progress(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if done >= total or now - self._last_emit > 0.05:
            self._last_emit = now
            self.progress.emit(self.job_id, int(done), int(total), message)

    @Slot()
    def run(self) -> None:
        import sleepscope.io as sio

        tic = time.perf_counter()
        try:
            rec = sio.open_recording(self._path, eeg=self._eeg, eog=self._eog, extra=self._extra,
                                     progress=self._progress, cancel=self.cancel_token)
            self.cancel_token.raise_if_cancelled()
            # The scoring file is keyed by the file's hash: read every byte here, not on the GUI thread.
            rec.fingerprint()
            paired = None
            if self._pair:
                from sleepscope.io.hypnogram import find_hypnogram

                hyp = find_hypnogram(self._path)
                if hyp is not None:
                    paired = read_paired_hypnogram(hyp, rec.n_epochs, rec.start_time)
        except Cancelled:
            self.aborted.emit(self.job_id)
            return
        except SleepScopeError as exc:
            self.errored.emit(self.job_id, str(exc))
            return
        except Exception as exc:  # a reader bug must not take the window (and unsaved work) down
            detail = traceback.format_exc(limit=4)
            self.errored.emit(self.job_id, f"Reading {self._path.name} failed unexpectedly ({type(exc).__name__}: "
                                           f"{exc}). Please report this together with the file's origin.\n\n{detail}")
            return
        self.finished.emit(LoadResult(self.job_id, rec, paired, time.perf_counter() - tic))


class LoadJob:
    """A load worker and its thread; the thread quits and both are deleted when the worker ends."""

    def __init__(self, worker: LoadWorker) -> None:
        self.worker = worker
        self.path = worker._path
        self.thread = QThread()
        self.thread.setObjectName(f"sleepscope-load-{worker.job_id}")
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        for sig in (worker.finished, worker.errored, worker.aborted):
            sig.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(worker.deleteLater)

    @property
    def job_id(self) -> int:
        return self.worker.job_id

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self.worker.cancel_token.cancel()

    def running(self) -> bool:
        return self.thread.isRunning()

    def wait(self, ms: int = 10000) -> bool:
        return self.thread.wait(ms)


class RecordingLoader(QObject):
    """The window's loads: one current load; a newer request cancels the older one."""

    progress = Signal(int, int, str)
    loaded = Signal(object)  # LoadResult
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job: LoadJob | None = None
        self.old_jobs: list[LoadJob] = []

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start(self, path: Path, eeg: str | None, eog: str | None, extra: list[str],
              pair_hypnogram: bool = True) -> LoadJob:
        self.drop()
        job = LoadJob(LoadWorker(path, eeg, eog, extra, pair_hypnogram))
        w = job.worker
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
        if self.job is not None:
            self.job.cancel()
            self.old_jobs.append(self.job)
            self.job = None
        self.old_jobs = [j for j in self.old_jobs if j.running()]

    def wait_all(self, ms: int = 15000) -> bool:
        self.drop()
        ok = all(j.wait(ms) for j in self.old_jobs)
        self.old_jobs = [j for j in self.old_jobs if j.running()]
        return ok

    def _current(self, job_id: int) -> bool:
        return self.job is not None and self.job.job_id == job_id

    def _end(self) -> None:
        if self.job is not None:
            self.old_jobs.append(self.job)
            self.job = None

    def _on_progress(self, job_id: int, done: int, total: int, message: str) -> None:
        if self._current(job_id):
            self.progress.emit(done, total, message)

    def _on_finished(self, result: LoadResult) -> None:
        if self._current(result.job_id):
            self._end()
            self.loaded.emit(result)

    def _on_error(self, job_id: int, message: str) -> None:
        if self._current(job_id):
            self._end()
            self.failed.emit(message)

    def _on_aborted(self, job_id: int) -> None:
        if self._current(job_id):
            self._end()
            self.cancelled.emit()
