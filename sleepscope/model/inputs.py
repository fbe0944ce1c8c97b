"""The model's input: the one path from a recording's µV epochs to the network's `(n, 2, 3000)` array.

``predict``, the GUI's pre-scoring worker and the training cache all call
:func:`model_input`, so a model sees the same preprocessing everywhere.

Two normalisations, chosen by the model's configuration (``normalisation``):

``"epoch"``  (the paper's, and the only one before it was a choice)
    each epoch z-scored on its own. It throws amplitude away: a near-silent
    EOG epoch is blown up to the size of an eye movement.
``"night"``
    each epoch centred, then divided by the night's typical epoch standard
    deviation of that channel (the median over epochs that are not flat),
    and clipped to ±:data:`NIGHT_CLIP`. A gain of ×0.3 or ×3 on a whole
    channel changes nothing; how large an epoch is compared with the rest of
    its night (slow waves, a quiet EOG) survives.
``"epoch+amplitude"``
    the paper's per-epoch z-score, plus the amplitude it throws away: each
    epoch's log amplitude (:func:`log_amplitude`, natural log of its standard
    deviation over :data:`AMPLITUDE_REF_UV`, clipped to ±:data:`AMPLITUDE_CLIP`)
    is added to the whole z-scored epoch as a constant. A z-scored epoch has
    mean 0, so the network recovers both exactly (``split_amplitude`` in
    :mod:`sleepscope.model.network`): the shape part is what an "epoch" model
    sees, and the array keeps its `(n, 2, 3000)` form on every path (caches,
    channel dropout, fine-tuning sets). Unlike "night", it needs no night: a
    5-minute clip gets the same input as the same epochs inside a night.

A channel the recording lacks, or that :mod:`sleepscope.model.quality` finds
unusable for most of the night, is all zeros: the form a model trained with
channel dropout (:func:`drop_channels`) learned as "missing".

Under "night" and "epoch+amplitude", an EEG epoch that a slow drift dominates is
read through a 0.3-Hz high-pass (:mod:`sleepscope.model.drift`); the others, and
every epoch under "epoch", as recorded.
"""

from __future__ import annotations

import time
import warnings
from typing import Sequence

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.model.drift import NORMALISATIONS as DRIFT_NORMALISATIONS
from sleepscope.model.drift import DriftRemover, drifting, slow_ratio
from sleepscope.tasks import CancelToken, check

NORMALISATIONS = ("epoch", "night", "epoch+amplitude")
#: Clip of the night-normalised signal: larger values are artefacts, and a bound keeps them from dominating.
NIGHT_CLIP = 20.0
#: Amplitude (epoch standard deviation, µV) whose log amplitude is 0: mid-way between wake and slow-wave EEG.
AMPLITUDE_REF_UV = 30.0
#: Bound of the log amplitude (e^4: about ×55 either side of the reference); beyond it a unit error, not sleep.
AMPLITUDE_CLIP = 4.0
#: Epochs prepared per chunk: a few ms each, so that a GUI thread gets the interpreter often.
CHUNK = 64
_FLAT_STD_UV = 0.1  # as sleepscope.io.recording.FLAT_STD_UV (kept numeric: no import cycle at load)


def _epoch_std(e: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN epochs
        return np.nanstd(e, axis=-1, dtype=np.float64) if np.isnan(e).any() else e.std(axis=-1, dtype=np.float64)


def night_scale(epochs: np.ndarray) -> float:
    """The night's typical epoch standard deviation (µV): the median over non-flat epochs; 0 if all are flat."""
    sd = _epoch_std(np.asarray(epochs, dtype=np.float32))
    ok = sd[sd >= _FLAT_STD_UV]
    return float(np.median(ok)) if len(ok) else 0.0


def log_amplitude(epochs: np.ndarray) -> np.ndarray:
    """`(n,)` float32 log(std / AMPLITUDE_REF_UV) of `(n, T)` µV epochs, clipped; 0 for flat or all-NaN epochs.

    0 is also what a missing (all-zero) channel carries; the network tells the
    two apart by the z-scored part, which is all zero only when missing or flat.
    """
    sd = _epoch_std(np.asarray(epochs, dtype=np.float32))
    ok = sd >= _FLAT_STD_UV  # False for NaN too
    out = np.zeros(sd.shape, dtype=np.float32)
    out[ok] = np.clip(np.log(sd[ok] / AMPLITUDE_REF_UV), -AMPLITUDE_CLIP, AMPLITUDE_CLIP)
    return out


def normalise(epochs: np.ndarray, mode: str, scale: float | None = None) -> np.ndarray:
    """`(n, T)` µV epochs of one channel -> float32 network input under `mode`; never NaN.

    ``scale`` (mode "night"): the night's scale from :func:`night_scale` over
    the whole night (pass it when normalising a night chunk by chunk).
    """
    from sleepscope.io.recording import zscore_epochs

    if mode == "epoch":
        return zscore_epochs(epochs)
    if mode == "epoch+amplitude":
        out = zscore_epochs(epochs)
        out += log_amplitude(epochs)[..., None]
        return out
    if mode != "night":
        raise ValueError(f"unknown normalisation {mode!r}; choose one of {NORMALISATIONS}")
    x = np.asarray(epochs, dtype=np.float32)
    if scale is None:
        scale = night_scale(x)
    nan = np.isnan(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)
    out = x - mean
    sd = _epoch_std(x)
    flat = ~(sd >= _FLAT_STD_UV)
    if scale <= 0:
        return np.zeros_like(out)
    out /= np.float32(scale)
    np.clip(out, -NIGHT_CLIP, NIGHT_CLIP, out=out)
    out[flat] = 0.0
    out[nan] = 0.0
    return out


def check_prepared(x: np.ndarray, normalisation: str) -> None:
    """Refuse epochs `x` (n, 2, T) prepared under another normalisation than a model's "epoch+amplitude": its
    epochs carry their log amplitude as their mean, z-scored ones ("epoch") have mean 0 everywhere, and a model
    fed those reads every epoch at the reference amplitude without a word."""
    if normalisation != "epoch+amplitude" or len(x) == 0:
        return
    x = np.asarray(x)
    live = x.any(axis=-1)  # missing channels and flat epochs are all zeros in either normalisation
    if live.any() and float(np.abs(x.mean(axis=-1))[live].max()) < 1e-4:
        raise SleepScopeError("these epochs were prepared without the amplitude input the model reads "
                              "(normalisation 'epoch+amplitude'): prepare them with "
                              "sleepscope.model.inputs.model_input(recording, model.config.normalisation)")


def model_input(recording, normalisation: str = "epoch", *, absent: Sequence[str] = (),
                eeg_alone: np.ndarray | None = None, cancel: CancelToken | None = None,
                chunk: int = CHUNK, slow: np.ndarray | None = None, eog_high_pass: bool = False) -> np.ndarray:
    """`(n_epochs, 2, 3000)` float32 [EEG, EOG] of a :class:`~sleepscope.io.Recording`, built chunk by chunk.

    A channel the recording lacks, or named in ``absent`` ("eeg", "eog"), is
    zeros; so is the EOG of the ``eeg_alone`` epochs (`EpochQuality.eeg_alone`: its EOG failed there).
    The EEG epochs a slow drift dominates are read through the drift high-pass (`sleepscope.model.drift`), and
    with ``eog_high_pass`` every EOG epoch (a drifting EOG read alone).
    ``cancel`` is checked between chunks, and the interpreter is handed
    to other threads there (the GUI prepares a night on a worker thread).
    """
    n = recording.n_epochs
    per = int(round(recording.fs * 30))
    out = np.zeros((n, 2, per), dtype=np.float32)
    for c, kind in enumerate(("eeg", "eog")):
        name = recording.eeg_name if kind == "eeg" else recording.eog_name
        if name is None or kind in absent:
            continue
        epochs = recording.epochs(kind)
        scale = night_scale(epochs) if normalisation == "night" else None
        steady = drift = None
        if kind == "eeg" and normalisation in DRIFT_NORMALISATIONS:
            drift = drifting(slow_ratio(recording) if slow is None else slow, n)
            steady = DriftRemover(recording.fs) if drift.any() else None
        elif kind == "eog" and eog_high_pass and normalisation in DRIFT_NORMALISATIONS:
            drift, steady = np.ones(n, dtype=bool), DriftRemover(recording.fs)
        for lo in range(0, n, chunk):
            check(cancel)
            hi = min(n, lo + chunk)
            part = epochs[lo:hi] if steady is None else steady(epochs[lo:hi], drift[lo:hi])
            out[lo:hi, c] = normalise(part, normalisation, scale)
            time.sleep(0)
    if eeg_alone is not None:
        out[np.asarray(eeg_alone, bool), 1] = 0.0
    return out


def drop_channels(x, p: float, generator=None):
    """Channel dropout for training: each sequence of `x` (B, L, 2, T) loses its EEG or its EOG with probability `p`.

    A dropped channel becomes zeros for the whole sequence (a recording
    without that channel), EEG or EOG with equal chance, so that the model
    learns to stage from either alone. Returns a new tensor; ``x`` is left alone.
    """
    import torch

    if p <= 0:
        return x
    b = x.shape[0]
    u = torch.rand(b, generator=generator)
    which = torch.rand(b, generator=generator) < 0.5  # True: drop the EOG, else the EEG
    keep = torch.ones(b, 2, dtype=x.dtype)
    drop = u < p
    keep[drop & which, 1] = 0
    keep[drop & ~which, 0] = 0
    return x * keep.to(x.device).view(b, *([1] * (x.dim() - 3)), 2, 1)
