"""Supervised training of the stager: from scratch, or fine-tuning a (pre-)trained model.

Mini-batches of sequences of consecutive epochs (items `(x (L, 2, 3000),
y (L,))`, label -1 ignored), Adam as the paper (lr 1e-3, betas 0.9/0.999),
cross-entropy optionally weighted by inverse class frequency. After every
pass (or every `val_every` steps) the model is scored on the validation
nights; the weights with the best validation macro-F1 are kept, and training
stops after `patience` validations without improvement. The loop itself is
:func:`sleepscope.model.loop.run_loop`, shared with pre-training; callers
follow a run through its `on_step` / `on_validation` hooks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sleepscope.errors import SleepScopeError
from sleepscope.model.distributed import DistInfo, broadcast_float, data_parallel, sampler
from sleepscope.model.band_gains import (FAST_NOISE_UV, random_band_gains, random_drift, random_fast_noise,
                                         random_gain, random_heartbeats, random_highpass, random_lowpass)
from sleepscope.model.polarity import random_polarity
from sleepscope.model.inputs import drop_channels
from sleepscope.model.loop import Schedule, StepHook, ValidationHook, run_loop
from sleepscope.model.network import SleepStager
from sleepscope.model.train_state import save_state, start_or_resume
from sleepscope.scoring.agreement import Agreement, agreement
from sleepscope.stages import N_CLASSES
from sleepscope.tasks import CancelToken, Progress, check


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 4  # the paper's mini-batch (of sequences here)
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    #: validations without a better validation macro-F1 before stopping
    patience: int = 5
    #: validate every this many steps (and at the last one); None = after every pass
    val_every: int | None = None
    max_steps: int | None = None
    seed: int = 0
    freeze_encoders: bool = False
    #: the encoders' learning rate as a share of ``lr`` (1: as the rest; below 1 they move towards the
    #: new data without leaving what pre-training taught them)
    encoder_lr_scale: float = 1.0
    #: share of sequences that lose their EEG or their EOG (zeros) in a step, so that the model
    #: stages either channel alone (sleepscope.model.inputs.drop_channels); 0 = off
    channel_dropout: float = 0.0
    #: share of sequences whose channels are reshaped by random band gains in a step
    #: (sleepscope.model.band_gains), so that no one spectral cue of one simulator carries a stage; 0 = off
    #: share of sequences whose channels are scaled by one broadband gain each (sleepscope.model.band_gains
    #: .random_gain), so that no stage is read from a derivation's size alone; 0 = off
    gain: float = 0.0
    band_gain: float = 0.0
    #: share of sequences whose channels are low-passed at random (sleepscope.model.band_gains.random_lowpass),
    #: so that no stage is read from a band a 50-Hz or 30-Hz-filtered recording lacks; 0 = off
    lowpass: float = 0.0
    #: share of sequences whose channels are high-passed at random (sleepscope.model.band_gains.random_highpass),
    #: so that no stage is read from the slowest band, which a lab's 0.5-Hz high-pass removes; 0 = off
    highpass: float = 0.0
    #: the high-pass's cut-off and order drawn once per sequence for both channels (one amplifier setting), not per
    #: channel
    highpass_shared: bool = False
    #: share of sequences given a random slow drift per channel (sleepscope.model.band_gains.random_drift), so that
    #: a wandering baseline (sweat) is not read as a stage; 0 = off
    drift: float = 0.0
    #: share of sequences given broadband fast noise per channel (sleepscope.model.band_gains.random_fast_noise), so
    #: that a tense muscle or a noisy electrode is not read as wake; 0 = off
    fast_noise: float = 0.0
    #: RMS range (µV) of that noise, drawn log-uniformly
    fast_noise_uv: tuple[float, float] = FAST_NOISE_UV
    #: share of sequences given one heart's beats on each channel (sleepscope.model.band_gains.random_heartbeats), so
    #: that a mastoid reference picking up the heart is not read as a stage where no ECG lead removes it; 0 = off
    heartbeats: float = 0.0
    #: share of channels reversed in polarity per sequence and step (sleepscope.model.polarity), so that no stage
    #: is read from which way up a lab stores a derivation; 0 = off
    polarity: float = 0.0
    #: weight of the teacher's stage probabilities in the loss (KL divergence, per epoch; `train(teacher=...)`):
    #: a fine-tune keeps reading what it does not see corrected as its parent did; 0 = off
    distill: float = 0.0
    #: distil only the epochs whose label the teacher's most likely stage agrees with: its uncertainty is kept
    #: where it is right, and the labels alone teach where it is wrong
    distill_agreed: bool = False
    #: write the resumable state every this many steps (and after each pass)
    checkpoint_every: int = 50


@dataclass
class TrainResult:
    steps: int
    epochs: int
    best_epoch: int  # pass of the kept weights' validation
    stopped_early: bool
    validation: dict | None  # metrics of the kept weights on the validation data
    losses: list[float] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)  # one entry per validation
    best_step: int = -1
    seconds: float = 0.0  # in the loop, over every resumption of the run
    cpu_seconds: float = 0.0


def inverse_frequency_weights(labels: np.ndarray) -> torch.Tensor:
    """Class weights ∝ 1 / count, mean 1 over the classes present; absent classes weigh 0."""
    y = np.asarray(labels).ravel()
    counts = np.bincount(y[y >= 0], minlength=N_CLASSES).astype(np.float64)[:N_CLASSES]
    if counts.sum() == 0:
        raise SleepScopeError("the training data has no scored epochs; check the hypnograms")
    present = counts > 0
    w = np.zeros(N_CLASSES)
    w[present] = 1.0 / counts[present]
    w *= present.sum() / w.sum()
    return torch.tensor(w, dtype=torch.float32)


def encoder_modules(model: SleepStager) -> list[nn.Module]:
    """The parts pre-training trains: the down-sampling path of each branch."""
    return [model.eeg_branch.encoder, model.eog_branch.encoder]


def set_trainable(model: SleepStager, freeze_encoders: bool) -> None:
    """Everything learns except (optionally) the encoders; the embedding projections never do.

    The projections serve only pre-training: they are not in the staging
    graph, so they have no gradient here (and DDP must not wait for one).
    """
    model.requires_grad_(True)
    for enc in encoder_modules(model):
        if freeze_encoders:
            enc.requires_grad_(False)
        enc.projection.requires_grad_(False)


def parameter_groups(model: SleepStager, cfg: TrainConfig) -> list[dict]:
    """The trainable parameters for the optimiser, the encoders' at ``cfg.encoder_lr_scale`` of the rate."""
    scale = cfg.encoder_lr_scale
    if not 0.0 < scale <= 1.0:
        raise SleepScopeError(f"the encoders' learning-rate scale {scale} must be above 0 and at most 1")
    trainable = [p for p in model.parameters() if p.requires_grad]
    if scale == 1.0:  # one group, as training states saved before the option hold
        return [{"params": trainable}]
    in_encoders = {id(p) for enc in encoder_modules(model) for p in enc.parameters()}
    slow = [p for p in trainable if id(p) in in_encoders]
    groups = [{"params": [p for p in trainable if id(p) not in in_encoders]}]
    if slow:
        groups.append({"params": slow, "lr": cfg.lr * scale})
    return groups


def train_mode(model: SleepStager, freeze_encoders: bool) -> None:
    """model.train(), but frozen encoders keep their batch-norm statistics (eval mode)."""
    model.train()
    if freeze_encoders:
        for enc in encoder_modules(model):
            enc.eval()


@torch.no_grad()
def dataset_scores(model: SleepStager, dataset: Dataset, batch_size: int, device: torch.device,
                   cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, stage scores (n, n_classes) as ``SleepStager.stage_scores``) over every item of a
    sequence dataset, -1 labels dropped."""
    was_training = model.training
    model.eval()
    ys, ss = [], []
    try:
        for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            check(cancel)
            scores = model.stage_scores(x.to(device))
            ys.append(y.reshape(-1).numpy())
            ss.append(scores.reshape(-1, scores.shape[-1]).float().cpu().numpy())
    finally:
        model.train(was_training)
    if not ys:
        raise SleepScopeError("the evaluation data is empty: no night has a full sequence of scored epochs")
    y_all, s_all = np.concatenate(ys), np.concatenate(ss)
    keep = y_all >= 0
    return y_all[keep], s_all[keep]


def predict_dataset(model: SleepStager, dataset: Dataset, batch_size: int, device: torch.device,
                    cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, predicted stages) over every item of a sequence dataset, -1 labels dropped."""
    y, scores = dataset_scores(model, dataset, batch_size, device, cancel)
    return y, scores.argmax(axis=1)


def evaluate(model: SleepStager, dataset: Dataset, batch_size: int = 8, device: torch.device | None = None,
             cancel: CancelToken | None = None) -> Agreement:
    """Accuracy, macro-F1, Cohen's kappa, per-stage F1 of the model on a labelled sequence dataset."""
    device = device or next(model.parameters()).device
    y, p = predict_dataset(model, dataset, batch_size, device, cancel)
    return agreement(y, p)


def metrics_dict(a: Agreement) -> dict:
    """The figures a model card and results file carry."""
    return {"accuracy": a.accuracy, "macro_f1": a.macro_f1, "kappa": a.kappa, "f1": dict(a.f1), "n_epochs": a.n_epochs}


def train(
    model: SleepStager,
    train_data: Dataset,
    val_data: Dataset | None,
    cfg: TrainConfig,
    *,
    class_weights: torch.Tensor | None = None,
    validate: Callable[[SleepStager], dict] | None = None,
    on_step: StepHook | None = None,
    on_validation: ValidationHook | None = None,
    state_path: str | os.PathLike | None = None,
    resume: bool = False,
    info: DistInfo = DistInfo(),
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    teacher: SleepStager | None = None,
) -> TrainResult:
    """Train `model` in place; on return it holds the best validation weights (or the last ones without validation).

    Validation scores `val_data` with :func:`evaluate`, or calls `validate(model)`
    (a dict with at least "macro_f1") when given; on the main process only, the
    score is broadcast. `on_step` and `on_validation` (see
    :mod:`sleepscope.model.loop`) follow the run and end it by returning True.
    With `state_path` the run writes its resumable state there every
    `cfg.checkpoint_every` steps, after every validation and every pass (rank 0
    only); with `resume=True` it continues from it. On cancellation the state is
    written first, then `Cancelled` is raised. With `teacher` and `cfg.distill` > 0, each epoch's
    loss also holds the KL divergence from the teacher's stage probabilities on the same input.
    """
    if cfg.distill < 0:
        raise SleepScopeError(f"the distillation weight {cfg.distill} must not be negative")
    if cfg.distill > 0 and teacher is None:
        raise SleepScopeError("distillation needs a teacher model")
    torch.manual_seed(cfg.seed)
    device = info.device
    model.to(device)
    set_trainable(model, cfg.freeze_encoders)
    optimizer = torch.optim.Adam(parameter_groups(model, cfg), lr=cfg.lr, betas=cfg.betas)
    settings = {"seed": cfg.seed, "batch_size": cfg.batch_size, "freeze_encoders": cfg.freeze_encoders,
                "processes": info.world_size}
    if cfg.encoder_lr_scale != 1.0:
        settings["encoder_lr_scale"] = cfg.encoder_lr_scale
    state, best = start_or_resume(state_path, resume, "train", settings, model, optimizer)

    weight = class_weights.to(device) if class_weights is not None else None
    net = data_parallel(model, info)
    if cfg.distill > 0:
        teacher = teacher.to(device).eval()

    samp = sampler(train_data, info, cfg.seed)
    steps_per_epoch = (len(samp) + cfg.batch_size - 1) // cfg.batch_size
    if steps_per_epoch == 0:
        raise SleepScopeError("the training data is empty: no night has a full sequence of scored epochs")
    total = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    if cfg.val_every is not None and cfg.val_every < 1:
        raise SleepScopeError(f"validation every {cfg.val_every} steps: it must be at least 1")

    def batches(epoch: int, skip: int):
        samp.set_epoch(epoch)
        order = list(samp)
        chunks = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        return DataLoader(train_data, batch_sampler=chunks[skip:])

    def step(batch, _index: int) -> float:
        x, y = batch[0], batch[1]
        # an optional third item weighs each epoch's loss: a label source trusted less (pseudo-labels)
        w = batch[2] if len(batch) > 2 else None
        if cfg.channel_dropout > 0:  # drawn from (seed, step): a resumed run drops what the first would have
            x = drop_channels(x, cfg.channel_dropout, torch.Generator().manual_seed(cfg.seed * 1_000_003 + state.step))
        if cfg.gain > 0:  # before the noise added in µV: an electrode's floor does not scale with the head
            x = random_gain(x, cfg.gain, torch.Generator().manual_seed(cfg.seed * 1_000_123 + state.step),
                            model.config.normalisation)
        if cfg.band_gain > 0:
            x = random_band_gains(x, cfg.band_gain, torch.Generator().manual_seed(cfg.seed * 1_000_033 + state.step),
                                  model.config.normalisation)
        if cfg.lowpass > 0:
            x = random_lowpass(x, cfg.lowpass, torch.Generator().manual_seed(cfg.seed * 1_000_037 + state.step),
                               model.config.normalisation)
        if cfg.highpass > 0:
            x = random_highpass(x, cfg.highpass, torch.Generator().manual_seed(cfg.seed * 1_000_121 + state.step),
                                model.config.normalisation, shared=cfg.highpass_shared)
        if cfg.drift > 0:
            x = random_drift(x, cfg.drift, torch.Generator().manual_seed(cfg.seed * 1_000_039 + state.step),
                             model.config.normalisation)
        if cfg.fast_noise > 0:
            x = random_fast_noise(x, cfg.fast_noise,
                                  torch.Generator().manual_seed(cfg.seed * 1_000_099 + state.step),
                                  model.config.normalisation, uv_range=cfg.fast_noise_uv)
        if cfg.heartbeats > 0:
            x = random_heartbeats(x, cfg.heartbeats,
                                  torch.Generator().manual_seed(cfg.seed * 1_000_117 + state.step),
                                  model.config.normalisation)
        if cfg.polarity > 0:
            x = random_polarity(x, cfg.polarity, torch.Generator().manual_seed(cfg.seed * 1_000_081 + state.step),
                                model.config.normalisation)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        logits = net(x)
        if w is None:
            loss = F.cross_entropy(logits.reshape(-1, N_CLASSES), y.reshape(-1), weight=weight, ignore_index=-1)
        else:
            flat = y.reshape(-1)
            each = F.cross_entropy(logits.reshape(-1, N_CLASSES), flat, weight=weight, ignore_index=-1,
                                   reduction="none")
            w = w.to(device).reshape(-1) * (flat >= 0)
            if weight is not None:  # the mean cross-entropy divides by the class weights too
                w = w * weight[flat.clamp(min=0)]
            loss = (each * w).sum() / w.sum()
        if not torch.isfinite(loss):
            # A batch whose epochs are all unscored gives nan: nothing to learn from it.
            loss = logits.sum() * 0.0
        if cfg.distill > 0:
            with torch.no_grad():
                target = F.softmax(teacher(x).reshape(-1, N_CLASSES).float(), dim=-1)
            own = F.log_softmax(logits.reshape(-1, N_CLASSES).float(), dim=-1)
            each_kl = F.kl_div(own, target, reduction="none").sum(-1)
            if cfg.distill_agreed:
                each_kl = each_kl * (target.argmax(-1) == y.reshape(-1))
            loss = loss + cfg.distill * each_kl.mean()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    validator = None
    if validate is not None or val_data is not None:
        def validator() -> dict:
            metrics: dict = {"macro_f1": float("nan")}
            if info.is_main:
                if validate is not None:
                    metrics = dict(validate(model))
                else:
                    metrics = metrics_dict(evaluate(model, val_data, device=device, cancel=cancel))
            train_mode(model, cfg.freeze_encoders)  # validation left the model in eval mode
            metrics["macro_f1"] = broadcast_float(float(metrics["macro_f1"]), info)
            return metrics

    def keep_best() -> None:
        nonlocal best
        best = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def checkpoint() -> None:
        if state_path is not None and info.is_main:
            save_state(state_path, model, optimizer, state, best)

    def agree(stop: bool) -> bool:
        return broadcast_float(1.0 if stop else 0.0, info) > 0.5

    schedule = Schedule(steps_per_epoch=steps_per_epoch, epochs=cfg.epochs, total=total, val_every=cfg.val_every,
                        patience=cfg.patience if validator is not None else None,
                        checkpoint_every=cfg.checkpoint_every)
    run_loop(state, schedule, batches, step, checkpoint=checkpoint, validate=validator, keep_best=keep_best,
             before_pass=lambda: train_mode(model, cfg.freeze_encoders), agree=agree, on_step=on_step,
             on_validation=on_validation, progress=progress, cancel=cancel)
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    best_entry = next((h for h in state.history if h["step"] == state.best_step), None)
    return TrainResult(
        steps=state.step,
        epochs=state.epoch,
        best_epoch=state.best_epoch,
        stopped_early=state.stopped_early,
        validation={k[4:]: v for k, v in best_entry.items() if k.startswith("val_")} if best_entry else None,
        losses=list(state.losses),
        history=list(state.history),
        best_step=state.best_step,
        seconds=state.seconds,
        cpu_seconds=state.cpu_seconds,
    )
