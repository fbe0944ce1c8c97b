"""Batch-norm statistics of the night being scored (AdaBN, Li et al. 2016).

A trained network's batch norms hold the mean and variance of every layer's
input over its training nights. A night from another lab, amplifier or
subject shifts those inputs, and the layers then see features off the scale
they learned. Re-estimating the statistics on the night itself (no labels,
no gradient) puts its features back on that scale.

Statistics depend on what they are taken over: the training nights were
trimmed to 30 minutes of wake around the sleep, and a recording with ten
hours of wake before lights-out would give mostly wake's statistics, under
which every other stage looks unlike itself. So they are taken over the
night's sleep period, found from the stages of a first pass with the
trained statistics and widened by the same 30 minutes. A recording whose
sleep period is shorter than two hours (a clip, a nap, a day of wake) keeps
the trained statistics.

The night's stage probabilities are the mean of the two passes': with the
night's statistics alone, stages between two others (N1) were found less
often on the validation nights.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

#: Wake kept each side of the sleep period: the training nights' 30 minutes.
MARGIN_EPOCHS = 60
#: Sleep periods shorter than this (2 hours) keep the trained statistics.
MIN_EPOCHS = 240
#: Epochs, evenly spaced over the sleep period, that the statistics are estimated on.
SAMPLE_EPOCHS = 512
#: Epochs around each one that decide whether it lies in the sleep period (a stray epoch does not).
SMOOTH_EPOCHS = 21
BATCH = 128


def sleep_window(stages: np.ndarray, margin: int = MARGIN_EPOCHS, smooth: int = SMOOTH_EPOCHS) -> slice | None:
    """The sleep period of first-pass `stages` (0 W .. 4 REM, -1 none) widened by `margin` epochs each side,
    or None without sleep. An epoch is in the period when most of the `smooth` epochs around it are sleep."""
    stages = np.asarray(stages)
    sleep = np.isin(stages, (1, 2, 3, 4)).astype(float)
    inside = np.flatnonzero(np.convolve(sleep, np.ones(smooth) / smooth, mode="same") > 0.5)
    if inside.size == 0:
        return None
    return slice(max(0, int(inside[0]) - margin), min(len(stages), int(inside[-1]) + 1 + margin))


def sample_epochs(stages: np.ndarray, n: int = SAMPLE_EPOCHS) -> np.ndarray | None:
    """Indices of at most `n` scored epochs evenly spread over the sleep period, or None if it is too short."""
    window = sleep_window(stages)
    if window is None:
        return None
    idx = np.arange(window.start, window.stop)
    idx = idx[np.asarray(stages)[idx] >= 0]
    if len(idx) < MIN_EPOCHS:
        return None
    return idx[np.linspace(0, len(idx) - 1, min(n, len(idx))).astype(int)]


def batch_norms(model: nn.Module, x: np.ndarray) -> list[nn.BatchNorm1d]:
    """The batch norms to re-estimate on `x`: the encoders' (the layers that read the signals), except in a
    branch whose channel is absent (zeros), which keeps what channel dropout taught it an absent channel
    looks like. Re-estimating the decoders' and the head's as well scored the validation nights as
    accurately but lost a tenth of N1's F1."""
    absent = [name for name, c in (("eeg_branch.", 0), ("eog_branch.", 1)) if not x[:, c].any()]
    return [m for name, m in model.named_modules()
            if isinstance(m, nn.BatchNorm1d) and ".encoder." in f".{name}"
            and not any(name.startswith(a) for a in absent)]


def corrections_statistics(model, x: np.ndarray, absent: int | None = None):
    """A copy of `model` with the statistics of labelled epochs `x` (a lab's corrections, of one night or
    several), at most ``SAMPLE_EPOCHS`` of them evenly spread: the parent as fine-tuning compares it.
    `absent` (0 the EEG, 1 the EOG): as a recording without that channel would be read, its branch keeping
    the trained statistics."""
    idx = np.linspace(0, len(x) - 1, min(SAMPLE_EPOCHS, len(x))).astype(int)
    sample = x[idx]
    if absent is not None:
        sample = sample.copy()
        sample[:, absent] = 0
    return with_statistics(model, sample)


def with_statistics(model, sample: np.ndarray):
    """A copy of `model` whose encoders' batch norms (``batch_norms``) hold the statistics of the epochs `sample`."""
    from sleepscope.model.network import split_amplitude

    out = copy.deepcopy(model).eval()
    norms = batch_norms(out, sample)
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a plain average over the batches
        bn.train()
    device = next(out.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(sample, dtype=np.float32)).to(device)
    with torch.no_grad():
        for i in range(0, len(x), BATCH):
            z = x[i:i + BATCH]
            z = split_amplitude(z)[0] if out.config.amplitude_input else z
            # only the encoders' statistics are taken, so only the encoders need to run
            out.eeg_branch.encoder(z[:, 0:1])
            out.eog_branch.encoder(z[:, 1:2])
    for bn in norms:
        bn.momentum = 0.1
        bn.eval()
    out.version = None
    return out


def to_learn_from_labels(model):
    """`model`, about to learn from labels: a stager again (a site pre-trained encoder included), set to score
    with its trained statistics; it learns its heads on those (children trained on their own data's statistics
    scored lower on other nights, reports/night-statistics-synthetic). Whether a fine-tuned child then reads
    nights with their own statistics too is ``FineTuneOptions.reading``."""
    model.encoder_only = False
    if model.config.night_statistics:
        model.config = model.config.with_(night_statistics=False)
    return model
