"""The second opinion in the window: YASA's stages, scored in the background after our model.

When the optional `yasa` package is installed, each night our model has
pre-scored is also scored by YASA's classifier (trained on real NSRR nights,
`sleepscope.scorers.YasaScorer`) on a worker thread. Its stages are kept in
the scoring file as the label set `YASA` (`SECOND_OPINION_SET`, as
`sleepscope prescore DIR --second-opinion` writes them), shown as a row of
the hypnogram and beside the model in the epoch header, and the epochs where
the two disagree join the review queue (`N`/`Tab`). Without `yasa` nothing
of this appears and the window works as before.
"""

from __future__ import annotations

import itertools
import traceback
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from sleepscope.errors import SleepScopeError
from sleepscope.tasks import CancelToken, Cancelled

_ids = itertools.count(1)
#: Threads still scoring when their window closed: kept alive until they end (YASA checks for
#: Cancel only between its steps), since Qt aborts when a running QThread is destroyed.
_ORPHANS: set[QThread] = set()
#: The scoring file's label set of the second opinion (`scorers.SECOND_OPINION_SET`, not imported
#: here: `sleepscope.scorers` imports torch, which the window loads only on its worker threads).
SET_NAME = "YASA"


class _Worker(QObject):
    finished = Signal(int, object, str)  # job id, Prediction, recording fingerprint
    errored = Signal(int, str)
    aborted = Signal(int)
    #: yasa is not installed: no second opinion, nothing to say
    unavailable = Signal(int)

    def __init__(self, recording: Any, fingerprint: str) -> None:
        super().__init__()
        self.job_id = next(_ids)
        self.cancel_token = CancelToken()
        self._recording = recording
        self._fingerprint = fingerprint

    @Slot()
    def run(self) -> None:
        from sleepscope.gui.workers import import_inference_runtime, lower_thread_priority

        lower_thread_priority()
        try:
            # sleepscope.scorers imports torch: here, off the GUI thread, the way pre-scoring does
            import_inference_runtime()
            from sleepscope.scorers.yasa_scorer import YasaScorer, yasa_available

            if not yasa_available():
                self.unavailable.emit(self.job_id)
                return
            pred = YasaScorer().score(self._recording, cancel=self.cancel_token)
        except Cancelled:
            self.aborted.emit(self.job_id)
            return
        except SleepScopeError as exc:
            self.errored.emit(self.job_id, str(exc))
            return
        except Exception as exc:  # YASA's own failures: said in the status bar, the window goes on
            self.errored.emit(self.job_id, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}")
            return
        finally:
            self._recording = None
        self.finished.emit(self.job_id, pred, self._fingerprint)


class SecondOpinion(QObject):
    """Runs YASA after each pre-scoring, stores and shows its stages; one job at a time."""

    #: the second opinion's stages arrived and are shown (tests and the benchmark wait on it)
    ready = Signal()

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._old: list[QThread] = []
        self.last_error = ""
        #: set when a job found no yasa installed (the window then works without a second opinion)
        self.unavailable = False
        window.prescoreDone.connect(self.start)

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def show_scoring(self, scoring: Any) -> None:
        """A recording is shown (its stored second opinion with it) or closed (None)."""
        self.drop()
        stored = None if scoring is None else scoring.scorer_sets.get(SET_NAME)
        self._show(None if stored is None else stored.labels)
        if stored is None and scoring is not None and scoring.latest_prediction() is not None:
            self.start()  # pre-scored before YASA was installed, or closed before it finished

    def _show(self, stages: np.ndarray | None) -> None:
        w = self.window
        w.controller.set_second_opinion(stages)
        w.hypnogram.set_second_opinion(stages)
        w._update_status()

    def start(self) -> bool:
        """Score the open night with YASA in the background (after our model's prediction arrived)."""
        w = self.window
        if w.recording is None or w.scoring is None or w.scoring.readonly:
            return False
        if getattr(w.recording, "eeg_name", None) is None:
            return False
        self.drop()
        worker = _Worker(w.recording, w.recording.fingerprint())
        thread = QThread()
        thread.setObjectName(f"sleepscope-second-opinion-{worker.job_id}")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        queued = Qt.ConnectionType.QueuedConnection
        worker.finished.connect(self._on_finished, queued)
        worker.errored.connect(self._on_error, queued)
        worker.unavailable.connect(self._on_unavailable, queued)
        for sig in (worker.finished, worker.errored, worker.aborted, worker.unavailable):
            sig.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(worker.deleteLater)
        self._worker, self._thread = worker, thread
        thread.start(QThread.Priority.LowestPriority)
        return True

    def drop(self) -> None:
        """Cancel the current job; its thread ends on its own and its answer is dropped."""
        if self._worker is not None:
            self._worker.cancel_token.cancel()
            self._old.append(self._thread)
        self._worker = self._thread = None
        self._old = [t for t in self._old if t.isRunning()]

    def wait(self, ms: int = 20000) -> bool:
        """Cancel and wait for every job's thread (closing the window); True when all ended."""
        self.drop()
        ok = all(t.wait(ms) for t in self._old)
        for t in self._old:
            if t.isRunning():
                _ORPHANS.add(t)
                t.finished.connect(lambda t=t: _ORPHANS.discard(t))
        self._old = []
        return ok

    def _current(self, job_id: int) -> bool:
        return self._worker is not None and self._worker.job_id == job_id

    def _on_finished(self, job_id: int, pred: Any, fingerprint: str) -> None:
        if not self._current(job_id):
            return
        self._old.append(self._thread)
        self._worker = self._thread = None
        w = self.window
        if w.recording is None or w.scoring is None or w.recording.fingerprint() != fingerprint:
            return
        stages = np.asarray(pred.stages, dtype=np.int8)
        if not w.scoring.readonly:
            try:
                w.scoring.add_scorer_labels(SET_NAME, stages, source_file=str(pred.model_version))
            except SleepScopeError as exc:
                w.statusBar().showMessage(f"The second opinion could not be saved: {exc}", 8000)
        self._show(stages)
        analysis = getattr(w, "analysis", None)
        if analysis is not None:
            analysis.stats.schedule_refresh()
            analysis.review.refresh()
        model = w.controller.model_stages
        if model is not None:
            from sleepscope.scorers.compare import disagreement

            n = int(disagreement(model, stages).sum())
            w.statusBar().showMessage(
                f"Second opinion ({pred.model_version}): it disagrees with the model on {n} epochs; "
                "N visits them with the unsure ones.", 8000)
        self.ready.emit()

    def _on_unavailable(self, job_id: int) -> None:
        if self._current(job_id):
            self._old.append(self._thread)
            self._worker = self._thread = None
            self.unavailable = True

    def _on_error(self, job_id: int, message: str) -> None:
        if not self._current(job_id):
            return
        self._old.append(self._thread)
        self._worker = self._thread = None
        self.last_error = message
        self.window.statusBar().showMessage(f"No second opinion for this night: {message.splitlines()[0]}", 10000)
