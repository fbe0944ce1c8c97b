"""Self-supervised pre-training of the stager's two encoders (CLIP, SimCLR, TS-TCC).

Only the encoders (the down-sampling paths of the EEG and EOG branches) learn;
the decoders, fusion and classifier keep their initial weights, as in the
paper, where the pre-trained encoder weights are transferred and the rest is
learnt during fine-tuning. The result is saved as a full SleepStager
checkpoint, so that `sleepscope train --init MODEL` starts from it.

- clip: EEG and EOG embeddings of the same epoch are a positive pair
  (equation 2, τ = 0.06); cross-modal, no augmentation.
- simclr: two views of each epoch, one augmentation each (section 4.1):
  segments shuffled, and a random crop stretched back; the two views of an
  epoch are the positive pair. NT-Xent per modality (EEG with EEG, EOG with
  EOG) through a small projection head that is discarded afterwards.
- tstcc: a weak and a strong view, temporal contrasting over a sequence of
  encoder time steps plus contextual contrasting, per modality. The sequence
  is the encoder stage with `TSTCC_STEPS` steps (every configuration we ship
  has one), with every deeper stage repeated onto its time grid so that the
  whole encoder learns from the task: at least `TSTCC_MIN_CONTEXT` steps of
  context and a horizon of `TSTCC_HORIZON` steps (the bottleneck alone has 5
  to 10 steps, which would leave one step of past).

CLIP may be anchored (``PretrainConfig.feature_anchor``): every encoder stage's output
is also pulled towards what the encoders gave at the start, so that site
pre-training on a lab's nights adapts features the stager already reads
instead of replacing them (``feature_drift``).

Randomness of a step (views, TS-TCC's context end) comes from a generator
seeded by (run seed, step, rank), so an interrupted run resumed from its
state file makes exactly the steps it would have made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sleepscope.errors import SleepScopeError
from sleepscope.model import augment
from sleepscope.model.distributed import DistInfo, all_gather_with_grad, broadcast_float, data_parallel, sampler
from sleepscope.model.loop import Schedule, StepHook, run_loop
from sleepscope.model.network import SleepStager
from sleepscope.model.objectives import TemporalContrastHead, clip_loss, nt_xent
from sleepscope.model.train_state import save_state, start_or_resume
from sleepscope.tasks import CancelToken, Progress

METHODS = ("clip", "simclr", "tstcc")
#: TS-TCC's sequence: steps per epoch, fewest steps of context, steps predicted (40 % of the
#: sequence, as the published 50 of 127)
TSTCC_STEPS = 30
TSTCC_MIN_CONTEXT = 10
TSTCC_HORIZON = 12


def tstcc_stage(stage_lengths: tuple[int, ...]) -> int:
    """Index of the encoder stage whose time steps TS-TCC contrasts: the one of TSTCC_STEPS steps."""
    for i, n in enumerate(stage_lengths):
        if n == TSTCC_STEPS:
            return i
    raise SleepScopeError(
        f"TS-TCC needs an encoder stage of {TSTCC_STEPS} time steps; this configuration's stages have "
        f"{', '.join(map(str, stage_lengths))}; choose pools that give one, or another pre-training method")


def tstcc_steps(outs: list[torch.Tensor], stage: int) -> torch.Tensor:
    """(N, C, TSTCC_STEPS): stage `stage`'s output with every deeper stage repeated onto its time grid."""
    n = outs[stage].shape[-1]
    parts = [outs[stage]] + [o.repeat_interleave(n // o.shape[-1], dim=-1) for o in outs[stage + 1 :]]
    return torch.cat(parts, dim=1)


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


class PretrainObjective(nn.Module):
    """The stager's two encoders plus the method's pre-training-only heads; forward gives the loss.

    Holds the encoders themselves (not copies): training this module trains
    the stager's encoders. The stager's other parts are not submodules, so
    DDP and the optimiser see only what the objective uses.
    """

    def __init__(self, stager: SleepStager, method: str, feature_anchor: float = 0.0) -> None:
        super().__init__()
        if method not in METHODS:
            raise SleepScopeError(f"unknown pre-training method {method!r}; choose one of {', '.join(METHODS)}")
        if feature_anchor < 0 or (feature_anchor > 0 and method != "clip"):
            raise SleepScopeError(f"the feature anchor is a weight (0 or more) for CLIP, not {feature_anchor} for "
                                  f"{method}")
        self.method = method
        self.eeg_encoder = stager.eeg_branch.encoder
        self.eog_encoder = stager.eog_branch.encoder
        self.feature_anchor = feature_anchor
        # Kept outside the module tree: not trained, not saved, not wrapped by DDP.
        self._start = (frozen_copy(self.eeg_encoder), frozen_copy(self.eog_encoder)) if feature_anchor > 0 else None
        cfg = stager.config
        if method == "simclr":
            d = cfg.embedding_dim
            # The encoder's linear projection plus ReLU + linear: SimCLR's two-layer head.
            self.eeg_head = nn.Sequential(nn.ReLU(), nn.Linear(d, d))
            self.eog_head = nn.Sequential(nn.ReLU(), nn.Linear(d, d))
        elif method == "tstcc":
            self.stage = tstcc_stage(cfg.stage_lengths())
            c = sum(cfg.widths[self.stage :])
            hidden = min(128, max(16, c))
            self.eeg_head = TemporalContrastHead(c, hidden=hidden, horizon=TSTCC_HORIZON, projection=max(8, hidden // 2),
                                                 min_context=TSTCC_MIN_CONTEXT)
            self.eog_head = TemporalContrastHead(c, hidden=hidden, horizon=TSTCC_HORIZON, projection=max(8, hidden // 2),
                                                 min_context=TSTCC_MIN_CONTEXT)
            # TS-TCC works on the encoder's time steps: the embedding
            # projection is not part of its graph.
            for enc in (self.eeg_encoder, self.eog_encoder):
                enc.projection.requires_grad_(False)

    def forward(self, x: torch.Tensor, step_seed: int) -> torch.Tensor:
        """Loss on the global batch (all ranks' epochs) for epochs x (N, 2, 3000)."""
        if self.method == "clip":
            if self._start is None:
                eeg = self.eeg_encoder.embed(x[:, 0:1])
                eog = self.eog_encoder.embed(x[:, 1:2])
                return clip_loss(all_gather_with_grad(eeg), all_gather_with_grad(eog))
            drift, embeddings = [], []
            for ch, enc, start in ((0, self.eeg_encoder, self._start[0]), (1, self.eog_encoder, self._start[1])):
                outs = enc(x[:, ch : ch + 1])
                with torch.no_grad():
                    ref = start.to(x.device)(x[:, ch : ch + 1])
                drift.append(feature_drift(outs, ref))
                embeddings.append(all_gather_with_grad(enc.projection(outs[-1].mean(dim=-1))))
            return clip_loss(*embeddings) + self.feature_anchor * 0.5 * (drift[0] + drift[1])

        # Views differ per rank (different epochs anyway); shared choices
        # (TS-TCC's context end) come from a generator equal on all ranks.
        local = torch.Generator().manual_seed(step_seed * 1009 + _rank())
        shared = torch.Generator().manual_seed(step_seed)
        x_cpu = x.detach().cpu()
        if self.method == "simclr":
            v1, v2 = (v.to(x.device) for v in augment.simclr_views(x_cpu, local))
            losses = []
            for ch, enc, head in ((0, self.eeg_encoder, self.eeg_head), (1, self.eog_encoder, self.eog_head)):
                z1 = all_gather_with_grad(head(enc.embed(v1[:, ch : ch + 1])))
                z2 = all_gather_with_grad(head(enc.embed(v2[:, ch : ch + 1])))
                losses.append(nt_xent(z1, z2))
            return 0.5 * (losses[0] + losses[1])

        weak = augment.tstcc_weak(x_cpu, local).to(x.device)
        strong = augment.tstcc_strong(x_cpu, local).to(x.device)
        losses = []
        for ch, enc, head in ((0, self.eeg_encoder, self.eeg_head), (1, self.eog_encoder, self.eog_head)):
            s_weak = all_gather_with_grad(tstcc_steps(enc(weak[:, ch : ch + 1]), self.stage))
            s_strong = all_gather_with_grad(tstcc_steps(enc(strong[:, ch : ch + 1]), self.stage))
            ends = head.context_ends(s_weak.shape[2])
            t = ends[int(torch.randint(0, len(ends), (1,), generator=shared))]
            losses.append(head(s_weak, s_strong, t))
        return 0.5 * (losses[0] + losses[1])


def frozen_copy(encoder: nn.Module) -> nn.Module:
    """A copy of `encoder` that does not learn; kept in training mode, so that its batch norms normalise by the
    batch as the learning encoder's do and the two are compared on the same footing."""
    import copy

    out = copy.deepcopy(encoder).train()
    out.requires_grad_(False)
    return out


def feature_drift(outs: list[torch.Tensor], ref: list[torch.Tensor]) -> torch.Tensor:
    """Mean over encoder stages of the squared distance of `outs` from `ref`, each relative to `ref`'s variance:
    0 where the encoder still gives what it started with, about 2 where its features are unrelated to those."""
    terms = [((o - r) ** 2).mean() / (r.var() + 1e-6) for o, r in zip(outs, ref)]
    return torch.stack(terms).mean()


@dataclass
class PretrainConfig:
    method: str = "clip"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    max_steps: int | None = None
    seed: int = 0
    #: write the resumable state every this many steps (and at each pass's end)
    checkpoint_every: int = 50
    #: CLIP only: weight of the encoders' drift from where they started (``feature_drift``); 0 for none
    feature_anchor: float = 0.0


@dataclass
class PretrainResult:
    steps: int
    epochs: int
    losses: list[float] = field(default_factory=list)
    finished: bool = True

    def summary(self) -> dict:
        """First and last tenth of the loss curve, for the model card."""
        n = max(1, len(self.losses) // 10)
        head, tail = self.losses[:n], self.losses[-n:]
        return {
            "pretrain_steps": self.steps,
            "pretrain_epochs": self.epochs,
            "pretrain_loss_start": sum(head) / len(head) if head else None,
            "pretrain_loss_end": sum(tail) / len(tail) if tail else None,
        }


def epochs_of(batch) -> torch.Tensor:
    """The signals of a batch of dataset items: (N, 2, 3000) whether items were epochs or sequences."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return x.reshape(-1, *x.shape[-2:]).float()


def pretrain(
    stager: SleepStager,
    dataset: Dataset,
    cfg: PretrainConfig,
    *,
    state_path: str | os.PathLike | None = None,
    resume: bool = False,
    info: DistInfo = DistInfo(),
    on_step: StepHook | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> PretrainResult:
    """Pre-train the stager's encoders in place. Items of `dataset` are (x, ...) or x.

    With `state_path` the run writes its resumable state there every
    `cfg.checkpoint_every` steps (rank 0 only); `resume=True` continues from
    it. On cancellation the state is written first, then `Cancelled` raised.
    The loop is :func:`sleepscope.model.loop.run_loop` (no validation here);
    `on_step` follows each step's loss and may end the run by returning True.
    """
    torch.manual_seed(cfg.seed)
    device = info.device
    stager.to(device).train()
    objective = PretrainObjective(stager, cfg.method, cfg.feature_anchor).to(device)
    params = [p for p in objective.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas)
    settings = {"method": cfg.method, "seed": cfg.seed, "batch_size": cfg.batch_size, "processes": info.world_size,
                "feature_anchor": cfg.feature_anchor}
    # The optimizer and RNG state are saved for the objective (encoders +
    # heads); the stager's other tensors do not change during pre-training.
    # States saved before the anchor existed were unanchored runs.
    state, _ = start_or_resume(state_path, resume, "pretrain", settings, objective, optimizer,
                               added={"feature_anchor": 0.0})
    model = data_parallel(objective, info)

    samp = sampler(dataset, info, cfg.seed)
    per_rank = len(samp)
    steps_per_epoch = per_rank // cfg.batch_size  # drop the ragged end: ranks must step together
    if steps_per_epoch == 0:
        raise SleepScopeError(
            f"the pre-training data has {len(dataset)} epochs, fewer than one batch of {cfg.batch_size} "
            f"per process ({info.world_size} processes); use a smaller --batch-size or more nights")
    total = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)

    def checkpoint() -> None:
        if state_path is not None and info.is_main:
            save_state(state_path, objective, optimizer, state)

    def batches(epoch: int, skip: int):
        samp.set_epoch(epoch)
        order = list(samp)
        chunks = [order[i * cfg.batch_size : (i + 1) * cfg.batch_size] for i in range(steps_per_epoch)]
        return DataLoader(dataset, batch_sampler=chunks[skip:])

    def step(batch, index: int) -> float:
        x = epochs_of(batch).to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        loss = model(x, step_seed=cfg.seed * 1_000_003 + index)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def agree(stop: bool) -> bool:
        return broadcast_float(1.0 if stop else 0.0, info) > 0.5

    schedule = Schedule(steps_per_epoch=steps_per_epoch, epochs=cfg.epochs, total=total,
                        checkpoint_every=cfg.checkpoint_every)
    run_loop(state, schedule, batches, step, checkpoint=checkpoint, agree=agree, on_step=on_step,
             progress=progress, label=f"{cfg.method} ", cancel=cancel)
    stager.eval()
    return PretrainResult(steps=state.step, epochs=state.epoch, losses=list(state.losses))
