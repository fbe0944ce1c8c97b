"""Augmentations of 30-s epochs for the single-modal self-supervised baselines.

Every function takes a batch `x` of shape (N, C, T) (C channels of T samples,
z-scored) and an explicit `torch.Generator`, so that a step's views can be
recreated from its seed: a resumed run makes the same views as an
uninterrupted one, and no RNG state has to be pickled.

The channels of one epoch get independent draws: the SimCLR and TS-TCC
baselines are single-modal (EEG views are contrasted with EEG views, EOG with
EOG), so tying the channels together would teach nothing.
"""

from __future__ import annotations

import torch


def segment_shuffle(
    x: torch.Tensor, generator: torch.Generator, max_segments: int = 5, min_segments: int = 2
) -> torch.Tensor:
    """Cut each signal into k equal segments (k drawn in [min, max]) and permute them.

    The permutation is never the identity, so the view always differs from
    the signal (when k ≥ 2).
    """
    if min_segments < 1 or max_segments < min_segments:
        raise ValueError("need 1 <= min_segments <= max_segments")
    n, c, t = x.shape
    flat = x.reshape(n * c, t)
    out = torch.empty_like(flat)
    ks = torch.randint(min_segments, max_segments + 1, (n * c,), generator=generator)
    for i in range(n * c):
        k = int(ks[i])
        # torch.tensor_split lets the last segments be one sample shorter
        # when k does not divide T; the output keeps T samples.
        pieces = torch.tensor_split(flat[i], k)
        order = torch.randperm(k, generator=generator)
        if k > 1 and bool((order == torch.arange(k)).all()):
            order = torch.roll(order, 1)
        out[i] = torch.cat([pieces[j] for j in order.tolist()])
    return out.reshape(n, c, t)


def crop_stretch(
    x: torch.Tensor, generator: torch.Generator, min_fraction: float = 0.5
) -> torch.Tensor:
    """Crop a random window (length ≥ min_fraction·T) and stretch it back to T samples.

    Linear interpolation with both window ends on the output's ends, so a
    window of the full length returns the signal unchanged.
    """
    if not 0.0 < min_fraction <= 1.0:
        raise ValueError("min_fraction must be in (0, 1]")
    n, c, t = x.shape
    flat = x.reshape(n * c, t)
    rows = n * c
    min_len = max(2, int(round(min_fraction * t)))
    u = torch.rand(rows, generator=generator, dtype=torch.float64)
    length = (min_len + torch.floor(u * (t - min_len + 1))).clamp(max=t)
    v = torch.rand(rows, generator=generator, dtype=torch.float64)
    start = torch.floor(v * (t - length + 1))
    grid = torch.arange(t, dtype=torch.float64) / (t - 1)
    pos = start[:, None] + (length[:, None] - 1.0) * grid[None, :]
    i0 = pos.floor().long().clamp(0, t - 1)
    i1 = (i0 + 1).clamp(max=t - 1)
    w = (pos - i0.to(torch.float64)).to(device=x.device, dtype=x.dtype)
    i0, i1 = i0.to(x.device), i1.to(x.device)
    out = flat.gather(1, i0) * (1 - w) + flat.gather(1, i1) * w
    return out.reshape(n, c, t)


def jitter(x: torch.Tensor, generator: torch.Generator, sigma: float) -> torch.Tensor:
    """Add Gaussian noise of standard deviation sigma (signals are z-scored: sigma is relative)."""
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return x + sigma * noise.to(x.device)


def scaling(x: torch.Tensor, generator: torch.Generator, sigma: float) -> torch.Tensor:
    """Multiply each signal by a factor drawn from N(1, sigma)."""
    n, c, _ = x.shape
    factor = 1.0 + sigma * torch.randn((n, c, 1), generator=generator, dtype=x.dtype)
    return x * factor.to(x.device)


def sample_scaling(x: torch.Tensor, generator: torch.Generator, sigma: float, loc: float = 2.0) -> torch.Tensor:
    """Multiply every sample by its own factor drawn from N(loc, sigma) (TS-TCC's weak "scaling").

    TS-TCC draws one factor per time step, not one per signal: the view keeps
    the signal's order and rhythm but not its local amplitude.
    """
    factor = loc + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return x * factor.to(x.device)


def simclr_views(x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """SimCLR's two views of each epoch, one augmentation each (section 4.1 of the paper).

    View 1 is cut into segments and shuffled; view 2 is a random crop stretched
    back to 30 s. Row i of the two views comes from epoch i: they are the
    positive pair, so the network must match an epoch across the two
    augmentations rather than undo one of them.
    """
    return segment_shuffle(x, generator), crop_stretch(x, generator)


# TS-TCC's views with the strengths of its published Sleep-EDF setting
# (Eldele et al. 2021, config sleepEDF): weak = per-sample scaling N(2, 1.5);
# strong = permutation of up to 12 segments plus jitter of σ 2. The weak view
# keeps the signal's order, the strong one breaks it, so predicting one view's
# future from the other's past needs the slow structure of the signal.
WEAK_SCALE_SIGMA = 1.5
WEAK_SCALE_LOC = 2.0
STRONG_JITTER_SIGMA = 2.0
STRONG_MAX_SEGMENTS = 12


def tstcc_weak(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return sample_scaling(x, generator, WEAK_SCALE_SIGMA, WEAK_SCALE_LOC)


def tstcc_strong(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    shuffled = segment_shuffle(x, generator, max_segments=STRONG_MAX_SEGMENTS)
    return jitter(shuffled, generator, STRONG_JITTER_SIGMA)
