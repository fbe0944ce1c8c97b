"""The self-supervised objectives: CLIP (the paper's), SimCLR and TS-TCC (its baselines).

Each loss is a plain function of embeddings so that it can be checked against
an independent computation. Under DDP the caller gathers every rank's
embeddings (with gradient, `sleepscope.model.distributed.all_gather_with_grad`)
before calling them, so negatives span the global batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: Equation 2 of the paper.
CLIP_TEMPERATURE = 0.06
#: NT-Xent temperatures: SimCLR's and TS-TCC's usual values for time series.
SIMCLR_TEMPERATURE = 0.2
CONTEXT_TEMPERATURE = 0.2
TEMPORAL_TEMPERATURE = 0.2


def clip_loss(eeg: torch.Tensor, eog: torch.Tensor, temperature: float = CLIP_TEMPERATURE) -> torch.Tensor:
    """Symmetric InfoNCE between the EEG and EOG embeddings of the same epochs (equation 2).

    Row i of `eeg` and row i of `eog` come from one epoch (positive pair);
    every other row of the batch is a negative. The vectors are L2-normalised
    here, so s(I, T) is the cosine similarity.
    """
    if eeg.shape != eog.shape or eeg.ndim != 2:
        raise ValueError(f"clip_loss needs two (N, D) tensors of one shape, got {tuple(eeg.shape)} and {tuple(eog.shape)}")
    i = F.normalize(eeg, dim=1)
    t = F.normalize(eog, dim=1)
    logits = i @ t.T / temperature
    target = torch.arange(len(i), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = SIMCLR_TEMPERATURE) -> torch.Tensor:
    """NT-Xent (SimCLR): each of the 2N views must pick its partner among the other 2N-1 views.

    Cosine similarity; averaged over all 2N anchors.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"nt_xent needs two (N, D) tensors of one shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    # A view is not its own negative.
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, partner)


def temporal_contrast_loss(
    predicted: torch.Tensor, actual: torch.Tensor, temperature: float = TEMPORAL_TEMPERATURE
) -> torch.Tensor:
    """InfoNCE of predicted future time steps against the actual ones, over the batch.

    `predicted` and `actual` are (K, N, C): for each horizon k and sample i,
    the prediction must match sample i's actual step rather than another
    sample's step at the same horizon. Cosine similarity with a temperature
    (raw dot products of unnormalised encoder features blow up early in
    training). Averaged over the K horizons and N samples.
    """
    if predicted.shape != actual.shape or predicted.ndim != 3:
        raise ValueError("temporal_contrast_loss needs two (K, N, C) tensors of one shape")
    k, n, _ = predicted.shape
    p = F.normalize(predicted, dim=2)
    a = F.normalize(actual, dim=2)
    logits = torch.bmm(p, a.transpose(1, 2)) / temperature  # (K, N, N)
    target = torch.arange(n, device=logits.device).repeat(k)
    return F.cross_entropy(logits.reshape(k * n, n), target)


@dataclass(frozen=True)
class TSTCCWeights:
    """TS-TCC's loss weights: λ1 for the two temporal terms, λ2 for the contextual one."""

    temporal: float = 1.0
    contextual: float = 0.7


class TemporalContrastHead(nn.Module):
    """TS-TCC's temporal and contextual contrasting over an encoder's time steps.

    An autoregressive GRU summarises the steps of one view up to a time t into
    a context vector c_t; K linear maps predict the next K steps of the other
    view from c_t. A small MLP projects the context vectors for the
    contextual NT-Xent. Used only during pre-training, then discarded.

    The context always holds at least `min_context` steps and the horizon is
    `horizon` steps: a sequence shorter than both together is refused, so the
    task can never shrink to predicting from one step of past.
    """

    def __init__(self, n_channels: int, hidden: int = 64, horizon: int = 12, projection: int = 32,
                 min_context: int = 10) -> None:
        super().__init__()
        if horizon < 1 or min_context < 1:
            raise ValueError("horizon and min_context must be >= 1")
        self.horizon = horizon
        self.min_context = min_context
        self.context = nn.GRU(n_channels, hidden, batch_first=True)
        self.predictors = nn.ModuleList(nn.Linear(hidden, n_channels) for _ in range(horizon))
        self.projection = nn.Sequential(
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, projection)
        )

    def context_ends(self, n_steps: int) -> range:
        """The allowed last context steps t for a sequence of n_steps: ≥ min_context steps of past, horizon of future."""
        if n_steps < self.min_context + self.horizon:
            raise ValueError(f"TS-TCC needs at least {self.min_context + self.horizon} time steps "
                             f"({self.min_context} of context, {self.horizon} to predict), got {n_steps}")
        return range(self.min_context - 1, n_steps - self.horizon)

    def contexts(self, steps: torch.Tensor, t: int) -> torch.Tensor:
        """Context vector c_t (N, hidden) from steps (N, C, T) up to and including index t."""
        seq = steps[:, :, : t + 1].transpose(1, 2)  # (N, t+1, C)
        _, h = self.context(seq)
        return h[-1]

    def predict(self, context: torch.Tensor, k: int) -> torch.Tensor:
        """Predictions (k, N, C) of the next k steps from a context (N, hidden)."""
        return torch.stack([self.predictors[j](context) for j in range(k)])

    def forward(
        self,
        weak: torch.Tensor,
        strong: torch.Tensor,
        t: int,
        weights: TSTCCWeights = TSTCCWeights(),
    ) -> torch.Tensor:
        """TS-TCC loss for the encoder steps (N, C, T) of the weak and strong views.

        t is the last step the context sees (drawn by the caller from
        `context_ends`, the same on every rank). The weak context predicts the
        strong view's future and vice versa (the cross-view prediction is what
        makes the task hard).
        """
        ends = self.context_ends(weak.shape[2])
        if t not in ends:
            raise ValueError(f"context end t={t} is outside {ends.start}..{ends.stop - 1} "
                             f"(at least {self.min_context} steps of context and {self.horizon} of future)")
        k = self.horizon
        c_weak = self.contexts(weak, t)
        c_strong = self.contexts(strong, t)
        future_weak = weak[:, :, t + 1 : t + 1 + k].permute(2, 0, 1)  # (k, N, C)
        future_strong = strong[:, :, t + 1 : t + 1 + k].permute(2, 0, 1)
        temporal = temporal_contrast_loss(self.predict(c_weak, k), future_strong) + temporal_contrast_loss(
            self.predict(c_strong, k), future_weak
        )
        contextual = nt_xent(self.projection(c_weak), self.projection(c_strong), CONTEXT_TEMPERATURE)
        return weights.temporal * temporal + weights.contextual * contextual
