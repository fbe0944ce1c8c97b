"""The one optimisation loop that pre-training and supervised training share.

It runs optimiser steps over passes of a dataset, validates every K steps,
keeps the best validation, stops early, writes the resumable state and reports
progress. What a step computes (a contrastive loss, a cross-entropy) and how a
model is validated are the caller's; what happens around them is here, once.

Callers watch the run through two hooks instead of parsing progress text:

- ``on_step(StepEvent)`` after every optimiser step (loss, step, pass);
- ``on_validation(ValidationEvent)`` after every validation (its figures,
  whether it improved on the best one, validations since the best).

Either hook returns True to end training there (the run is then finished, its
state says so, and the best weights are kept as on any other stop); anything
else lets it go on. Early stopping on patience is the same mechanism, built in.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sleepscope.model.train_state import LoopState
from sleepscope.tasks import CancelToken, Cancelled, Progress, check, report


@dataclass(frozen=True)
class StepEvent:
    step: int  # optimiser steps done, this one included
    total: int  # steps the run will make at most
    epoch: int  # pass over the data this step belonged to (0-based)
    loss: float


@dataclass(frozen=True)
class ValidationEvent:
    step: int
    epoch: int
    metrics: dict[str, Any]  # the validator's figures (accuracy, macro_f1, ...)
    score: float  # the figure early stopping follows
    improved: bool
    best_score: float
    best_step: int
    bad: int  # validations since the best one


#: Return True to end training after this step / validation.
StepHook = Callable[[StepEvent], "bool | None"]
ValidationHook = Callable[[ValidationEvent], "bool | None"]


@dataclass(frozen=True)
class Schedule:
    steps_per_epoch: int
    epochs: int
    total: int  # most steps (epochs × steps_per_epoch, or fewer with max_steps)
    #: validate every this many steps (and at the last step); None = at the end of every pass
    val_every: int | None = None
    #: validations without improvement before stopping; None = never stop early
    patience: int | None = None
    #: write the resumable state every this many steps (also after every validation and pass)
    checkpoint_every: int = 50

    def validation_due(self, step: int) -> bool:
        every = self.val_every or self.steps_per_epoch
        return step > 0 and (step % every == 0 or step == self.total)


def run_loop(
    state: LoopState,
    schedule: Schedule,
    batches: Callable[[int, int], Iterable],
    step: Callable[[Any, int], float],
    *,
    checkpoint: Callable[[], None],
    validate: Callable[[], dict] | None = None,
    score_key: str = "macro_f1",
    keep_best: Callable[[], None] | None = None,
    before_pass: Callable[[], None] | None = None,
    agree: Callable[[bool], bool] = lambda stop: stop,
    on_step: StepHook | None = None,
    on_validation: ValidationHook | None = None,
    progress: Progress | None = None,
    label: str = "",
    cancel: CancelToken | None = None,
) -> None:
    """Advance `state` until the schedule ends, a hook or patience stops it, or `cancel` fires.

    `batches(epoch, skip)` yields the batches of pass `epoch` after the first
    `skip` (a resumed run starts mid-pass); `step(batch, step_index)` makes one
    optimiser step and returns its loss. `validate()` returns a dict of
    figures holding `score_key`; `keep_best()` is called when it improves.
    `agree(stop)` makes a hook's decision the same on every process (DDP).
    On cancellation the state is checkpointed, then `Cancelled` raised; a
    validation interrupted that way is redone first when the run resumes.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    base_wall, base_cpu = state.seconds, state.cpu_seconds

    def save() -> None:
        state.seconds = base_wall + time.perf_counter() - started
        state.cpu_seconds = base_cpu + time.process_time() - cpu_started
        checkpoint()

    def run_validation() -> bool:
        metrics = validate()
        score = float(metrics[score_key])
        improved = state.best_metric is None or (not math.isnan(score) and score > state.best_metric)
        if improved:
            state.best_metric, state.best_epoch, state.best_step, state.bad_epochs = score, state.epoch, state.step, 0
            if keep_best is not None:
                keep_best()
        else:
            state.bad_epochs += 1
        state.history.append({"epoch": state.epoch, "step": state.step,
                              **{f"val_{k}": v for k, v in metrics.items() if not isinstance(v, dict)}})
        stop = schedule.patience is not None and state.bad_epochs >= schedule.patience
        if stop:
            state.stopped_early = True
        if on_validation is not None:
            event = ValidationEvent(step=state.step, epoch=state.epoch, metrics=metrics, score=score,
                                    improved=improved, best_score=float(state.best_metric),
                                    best_step=state.best_step, bad=state.bad_epochs)
            stop = bool(agree(bool(on_validation(event)))) or stop
        return stop

    stop = False
    try:
        last_validated = state.history[-1]["step"] if state.history else 0
        if (validate is not None and not state.finished and schedule.validation_due(state.step)
                and last_validated < state.step):
            # The run was interrupted during this step's validation: finish it first.
            stop = run_validation()
            save()
        while not stop and not state.finished and state.step < schedule.total and state.epoch < schedule.epochs:
            if before_pass is not None:
                before_pass()
            for batch in batches(state.epoch, state.batch_in_epoch):
                check(cancel)
                loss = float(step(batch, state.step))
                epoch = state.epoch
                state.step += 1
                state.batch_in_epoch += 1
                state.losses.append(loss)
                report(progress, state.step, schedule.total, f"{label}epoch {epoch + 1} loss {loss:.4f}")
                if on_step is not None:
                    stop = bool(agree(bool(on_step(StepEvent(state.step, schedule.total, epoch, loss)))))
                validated = False
                if validate is not None and schedule.validation_due(state.step):
                    stop = run_validation() or stop
                    validated = True
                pass_ended = state.batch_in_epoch >= schedule.steps_per_epoch
                if pass_ended:
                    state.epoch += 1
                    state.batch_in_epoch = 0
                if stop:
                    state.finished = True
                if validated or pass_ended or stop or state.step % schedule.checkpoint_every == 0:
                    save()
                if stop or state.step >= schedule.total or pass_ended:
                    break
    except Cancelled:
        save()
        raise
    state.finished = True
    save()
