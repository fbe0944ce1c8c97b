"""Signal quality per 30-s epoch: which epochs the model must not stage with confidence.

Checked on the µV signals (before any normalisation hides amplitude), per
channel the model reads:

flat
    standard deviation under 0.1 µV, or more than half of the samples equal
    to their predecessor: a disconnected amplifier input, a flat-lined stretch,
    or a unit error that shrank the signal (a header in V or nV read as µV);
tiny (EEG only)
    standard deviation under 0.5 µV: no scalp EEG is that small; a unit or
    gain error;
clipped
    more than 2 % of the samples sit at the epoch's own extreme value: the
    amplifier's or the file's range was exceeded (saturation);
absurd
    standard deviation over 1,500 µV: beyond any EEG/EOG, an electrode
    artefact or a unit error (µV numbers labelled mV or V);
drift
    over 90 % of the power below 0.5 Hz at over 300 µV standard deviation:
    the slow wandering of an electrode that lost contact;
missing
    over half of the samples NaN, or an epoch in a gap of the recording.

An epoch with a problem on the EEG the model reads (or on its only channel)
is an artefact epoch: ``predict`` gives it no stage (uniform probabilities,
stage unscored), unless a backup EEG is clean there
(``sleepscope.model.backups``, which also reads the other eye where a one-eye
EOG fails). An epoch whose EOG alone has a problem is read from the EEG alone
(its EOG input zeroed, as channel dropout trained the model): the EEG carries
most of the staging, the EOG alone does not (``benchmarks/bench_backups.py``).
A channel with a problem in most of the night (a flat EOG all night) is
treated as absent instead, so that the model reads the other channel alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FLAT_STD_UV = 0.1
TINY_EEG_STD_UV = 0.5
ABSURD_STD_UV = 1500.0
CLIP_SHARE = 0.02
FLAT_RUN_SHARE = 0.5
DRIFT_STD_UV = 300.0
DRIFT_LOW_SHARE = 0.9
#: a channel with problems in more than this share of its epochs is treated as absent for the night
ABSENT_SHARE = 0.5

#: Problem flags (bits) per channel and epoch.
FLAT, TINY, CLIPPED, ABSURD, DRIFT, MISSING = 1, 2, 4, 8, 16, 32
FLAG_NAMES = {FLAT: "flat", TINY: "implausibly small (unit or gain error?)", CLIPPED: "clipped/saturated",
              ABSURD: "absurd amplitude (unit error or electrode artefact)", DRIFT: "electrode drift (disconnected?)",
              MISSING: "no signal"}


def channel_flags(epochs: np.ndarray, kind: str, fs: float = 100.0) -> np.ndarray:
    """`(n, T)` µV epochs of one channel -> uint8 problem flags per epoch (0 = fine)."""
    x = np.asarray(epochs, dtype=np.float32)
    n = x.shape[0]
    flags = np.zeros(n, dtype=np.uint8)
    nan = np.isnan(x)
    if nan.any():
        flags[nan.mean(axis=1) > 0.5] |= MISSING
        x = np.where(nan, np.nanmean(x, axis=1, keepdims=True) if not nan.all() else 0.0, x)
        x = np.nan_to_num(x)
    sd = x.std(axis=1, dtype=np.float64)
    flags[sd < FLAT_STD_UV] |= FLAT
    hi, lo = x.max(axis=1, keepdims=True), x.min(axis=1, keepdims=True)
    tol = 1e-4 * np.maximum(hi - lo, 1e-12)
    top, bottom = x >= hi - tol, x <= lo + tol
    at_rail = np.maximum(top.mean(axis=1), bottom.mean(axis=1))
    flags[(at_rail > CLIP_SHARE) & (sd >= FLAT_STD_UV)] |= CLIPPED
    # a flat line inside the epoch: repeated values away from the rails (those are clipping)
    same = ((np.diff(x, axis=1) == 0) & ~(top | bottom)[:, 1:]).mean(axis=1)
    flags[same > FLAT_RUN_SHARE] |= FLAT
    if kind == "eeg":
        flags[(sd >= FLAT_STD_UV) & (sd < TINY_EEG_STD_UV)] |= TINY
    flags[sd > ABSURD_STD_UV] |= ABSURD
    big = sd > DRIFT_STD_UV
    if big.any():
        spec = np.abs(np.fft.rfft(x[big] - x[big].mean(axis=1, keepdims=True), axis=1)) ** 2
        freqs = np.fft.rfftfreq(x.shape[1], 1.0 / fs)
        low = spec[:, freqs < 0.5].sum(axis=1) / np.maximum(spec.sum(axis=1), 1e-12)
        idx = np.flatnonzero(big)
        flags[idx[low > DRIFT_LOW_SHARE]] |= DRIFT
    return flags


@dataclass
class EpochQuality:
    """Per-epoch problems of the channels the model reads, and what the model does about them."""

    flags: dict[str, np.ndarray]  # "eeg"/"eog" -> uint8 flags per epoch (only channels the recording has)
    absent: tuple[str, ...] = ()  # channels unusable for most of the night: read as missing
    gap: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_epochs(self) -> int:
        return len(next(iter(self.flags.values())))

    @property
    def eeg_alone(self) -> np.ndarray:
        """Per epoch: True where the EOG has a problem and the EEG does not: read from the EEG alone."""
        out = np.zeros(self.n_epochs, dtype=bool)
        if all(k in self.flags and k not in self.absent for k in ("eeg", "eog")):
            out = (self.flags["eog"] != 0) & (self.flags["eeg"] == 0)
            if self.gap is not None:
                out &= ~self.gap[: self.n_epochs]
        return out

    @property
    def artefact(self) -> np.ndarray:
        """Per epoch: True when the channels the model reads leave it nothing sound there (no confident stage)."""
        bad = np.zeros(self.n_epochs, dtype=bool)
        for kind, f in self.flags.items():
            if kind not in self.absent:
                bad |= f != 0
        if self.gap is not None:
            bad |= self.gap[: self.n_epochs]
        return bad & ~self.eeg_alone

    def reasons(self, i: int) -> list[str]:
        """What is wrong in epoch `i`, e.g. ["EEG: flat"]."""
        out = []
        for kind, f in self.flags.items():
            if kind in self.absent:
                continue
            out += [f"{kind.upper()}: {name}" for bit, name in FLAG_NAMES.items() if f[i] & bit]
        if self.gap is not None and self.gap[i]:
            out.append("gap in the recording")
        return out

    def summary(self) -> str:
        parts = []
        for kind in self.absent:
            parts.append(f"the {kind.upper()} is unusable for most of the night and is read as missing")
        for mask, what in ((self.eeg_alone, "epochs read from the EEG alone"),
                           (self.artefact, "artefact epochs without a confident stage")):
            n = int(mask.sum())
            if not n:
                continue
            counts: dict[str, int] = {}
            for kind, f in self.flags.items():
                if kind in self.absent:
                    continue
                for bit, name in FLAG_NAMES.items():
                    k = int(np.count_nonzero(f[mask] & bit))
                    if k:
                        counts[f"{kind.upper()} {name}"] = k
            detail = ", ".join(f"{k} {v}" for v, k in counts.items())
            parts.append(f"{n} {what} ({detail})" if detail else f"{n} {what}")
        return "; ".join(parts) if parts else "no artefact epochs"

    def to_dict(self) -> dict:
        art = self.artefact
        return {"artefact_epochs": [int(i) for i in np.flatnonzero(art)], "absent": list(self.absent),
                "eeg_alone_epochs": [int(i) for i in np.flatnonzero(self.eeg_alone)], "summary": self.summary()}


def epoch_quality(recording) -> EpochQuality:
    """The :class:`EpochQuality` of a :class:`~sleepscope.io.Recording`'s EEG and EOG."""
    flags = {}
    for kind in ("eeg", "eog"):
        name = recording.eeg_name if kind == "eeg" else recording.eog_name
        if name is not None:
            flags[kind] = channel_flags(recording.epochs(kind), kind, recording.fs)
    absent = tuple(k for k, f in flags.items() if np.count_nonzero(f) > ABSENT_SHARE * len(f))
    if len(absent) == len(flags):  # never read every channel as missing: mark the epochs instead
        absent = ()
    gap = getattr(recording, "gap", None)
    gap = None if gap is None or not np.any(gap) else np.asarray(gap, dtype=bool)
    return EpochQuality(flags, absent, gap)
