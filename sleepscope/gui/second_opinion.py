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

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QThread, Signal

from sleepscope.errors import SleepScopeError
from sleepscope.gui.jobs import CurrentJob, Job, JobWorker

#: The scoring file's label set of the second opinion (`scorers.SECOND_OPINION_SET`, not imported
#: here: `sleepscope.scorers` imports torch, which the window loads only on its worker threads).
SET_NAME = "YASA"


@dataclass
class _Opinion:
    job_id: int
    pred: Any  # a Prediction; None: yasa is not installed
    fingerprint: str  # of the recording it was scored on


class _Worker(JobWorker):
    def __init__(self, recording: Any, fingerprint: str) -> None:
        super().__init__()
        self._recording = recording
        self._fingerprint = fingerprint

    def work(self) -> _Opinion:
        """YASA's opinion; its `pred` is None when yasa is not installed (nothing to say then)."""
        from sleepscope.gui.workers import import_inference_runtime, lower_thread_priority

        lower_thread_priority()
        try:
            # sleepscope.scorers imports torch: here, off the GUI thread, the way pre-scoring does
            import_inference_runtime()
            from sleepscope.scorers.yasa_scorer import YasaScorer, yasa_available

            if not yasa_available():
                return _Opinion(self.job_id, None, self._fingerprint)
            pred = YasaScorer().score(self._recording, cancel=self.cancel_token)
        finally:
            self._recording = None
        return _Opinion(self.job_id, pred, self._fingerprint)


class SecondOpinion(CurrentJob):
    """Runs YASA after each pre-scoring, stores and shows its stages; one job at a time."""

    ready = Signal()

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.last_error = ""
        #: set when a job found no yasa installed (the window then works without a second opinion)
        self.unavailable = False
        #: the open night's opinion waits for a dropped job to end (`start`)
        self.waiting = False
        self.failed.connect(self._on_failed)
        window.prescoreDone.connect(self.start)

    @property
    def busy(self) -> bool:
        return self.job is not None or self.waiting

    def drop(self) -> None:
        self.waiting = False
        super().drop()

    def _dropped_ended(self) -> None:
        if self.waiting and not self.dropped_working:
            self.start()

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
        w.model_notice.show_second_opinion(stages, getattr(w.model_card, "familiarity", None))
        w._update_status()

    def start(self) -> bool:
        """Score the open night with YASA in the background (after our model's prediction arrived)."""
        w = self.window
        if w.recording is None or w.scoring is None or w.scoring.readonly:
            return False
        if getattr(w.recording, "eeg_name", None) is None:
            return False
        self.drop()
        if self.dropped_working:
            # YASA cannot be stopped inside a night, so a dropped job runs to its end: the open night waits
            # for it rather than running beside it, and nights opened in quick succession never pile up
            # YASA threads, each holding its night in memory and taking the CPU from our model's pre-scoring.
            self.waiting = True
            return True
        self.launch(Job(_Worker(w.recording, w.recording.fingerprint()), "second-opinion",
                        QThread.Priority.LowestPriority))
        return True

    def wait(self, ms: int = 20000) -> bool:
        """Cancel and wait for every job's thread (closing the window); True when all ended."""
        return self.wait_all(ms)

    def _deliver(self, result: _Opinion) -> None:
        if result.pred is None:
            self.unavailable = True
            return
        w = self.window
        if w.recording is None or w.scoring is None or w.recording.fingerprint() != result.fingerprint:
            return
        pred = result.pred
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

    def _on_failed(self, message: str) -> None:
        self.last_error = message
        self.window.statusBar().showMessage(f"No second opinion for this night: {message.splitlines()[0]}", 10000)
