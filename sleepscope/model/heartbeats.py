"""The heart on the EEG and EOG: the ECG's beats found, and the spike each leaves there subtracted before the
model reads the night.

A mastoid reference lies over the neck's arteries and picks up the heart: a sharp spike at every beat, tens of
µV on some patients, on every epoch of the night. The model reads it as sleep it is not (``bench_shift.py``'s
row "A ECG beats"). Where the file holds an ECG lead (`ChannelChoice.ecg`), its R peaks are found
(:func:`beats`), and, block of :data:`BLOCK` epochs after block, the waveform the beats leave on the EEG and on
the EOG is their average time-locked to the R peaks (what the heart does not cause averages away). It is
subtracted at every beat, scaled to that beat's neighbours (the spike swells and shrinks with breathing and
posture). A block whose average stands no clearer than :data:`MIN_Z` times its own noise is read as recorded,
so a night whose EEG does not show the heart gets exactly the input the model learned.

The window shows the channels as recorded; the epochs read without the beats carry a reading bit
(`epoch_reading.ECG_SUBTRACTED`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sleepscope.io.recording import FLAT_STD_UV
from sleepscope.tasks import CancelToken, check

#: Epochs per block: one template each (about 2,000 beats, 32 minutes), in memory for one block at a time.
BLOCK = 64
#: The template's RMS over its standard error (beats' spread over the square root of their number) a block needs
#: before its beats are subtracted; an EEG that does not show the heart stays near 1 (its blocks went up to 6.4 on
#: synthetic nights with the beats of another heart, ``reports/ecg-beats/``).
MIN_Z = 8.0
#: The beat's window, seconds before and after its R peak: the QRS and the T wave.
BEFORE_S, AFTER_S = 0.2, 0.5
#: Beats either side whose mean projection scales a beat's template.
NEIGHBOURS = 20
#: The fewest beats a block needs for a template (a minute at a slow heart rate).
MIN_BEATS = 40
_REFRACTORY_S = 0.33  # no two beats closer: 180 a minute


def beats(ecg: np.ndarray, fs: float, cancel: CancelToken | None = None) -> np.ndarray:
    """Where the R peaks of an ECG lead fall, in samples (between two where they do): band-passed at 5-30 Hz,
    its larger-signed side up (a lead may be recorded inverted), peaks above 40 % of the typical one (the median
    of 10-s maxima, which a pop or a loose lead for a few minutes does not move), at most one per
    :data:`_REFRACTORY_S`. Hour by hour, so that a two-day recording needs memory for an hour."""
    from scipy.signal import butter, find_peaks, sosfiltfilt

    x = np.asarray(ecg)
    sos = butter(3, [5.0, min(30.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    hour, margin = int(3600 * fs), int(10 * fs)
    out = []
    for lo in range(0, len(x), hour):
        check(cancel)
        a, b = max(0, lo - margin), min(len(x), lo + hour + margin)
        y = sosfiltfilt(sos, np.nan_to_num(np.asarray(x[a:b], dtype=np.float64)))
        if -np.percentile(y, 0.2) > np.percentile(y, 99.8):
            y = -y
        w = int(10 * fs)
        if len(y) < w:
            continue
        typical = float(np.median(y[: len(y) // w * w].reshape(-1, w).max(axis=1)))
        if typical <= 0:
            continue
        peaks, _ = find_peaks(y, height=0.4 * typical, distance=max(1, int(_REFRACTORY_S * fs)))
        peaks = peaks[(peaks > 0) & (peaks < len(y) - 1)]
        # between samples: the parabola through the peak and its neighbours (a QRS spans a few samples at 100 Hz)
        left, mid, right = y[peaks - 1], y[peaks], y[peaks + 1]
        bend = left - 2 * mid + right
        at = peaks + a + np.where(bend < 0, 0.5 * (left - right) / np.where(bend < 0, bend, -1.0), 0.0)
        out.append(at[(at >= lo) & (at < min(len(x), lo + hour))])
    return np.concatenate(out) if out else np.zeros(0)


def subtract(x: np.ndarray, at: np.ndarray, fs: float, block: int = BLOCK,
             cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """(`x` with the beats at `at` subtracted, `(n_blocks,)` bool: the blocks subtracted, the largest template's
    peak-to-peak µV) for one channel; `x` itself is not changed, and comes back as is when no block shows the
    heart. NaN samples stay NaN and no template reads them."""
    from scipy.interpolate import CubicSpline
    from scipy.ndimage import map_coordinates

    pre, post = int(round(BEFORE_S * fs)), int(round(AFTER_S * fs))
    offs = np.arange(-pre, post)
    per = int(round(30 * fs)) * block
    n_blocks = -(-len(x) // per)
    at = np.asarray(at, np.float64)
    whole = at[(at >= pre + 3) & (at + post + 3 <= len(x))]  # each window whole, and the spline's reach
    # each beat's window ends where the next one's starts (a fast heart), in the next block too
    ends = np.r_[np.ceil(whole[1:] - pre).astype(np.int64), len(x)]
    used = np.zeros(n_blocks, bool)
    out, largest = None, 0.0
    for k in range(n_blocks):
        check(cancel)
        s0, s1 = k * per, min(len(x), (k + 1) * per)
        inside = (whole >= s0) & (whole < s1)
        mine, stop = whole[inside], ends[inside][:, None]
        if len(mine) < MIN_BEATS:
            continue
        # each beat's window read where its R peak falls, between samples (cubic: the EEG is band-limited); a gap
        # read as zeros, which would spread along the spline, and its windows left out
        first = int(mine[0]) - pre - 2
        part = np.asarray(x[first: int(mine[-1]) + post + 3], np.float64)
        gap = np.isnan(part)
        seg = map_coordinates(np.where(gap, 0.0, part), (mine[:, None] + offs - first).reshape(1, -1), order=3,
                              mode="nearest").reshape(len(mine), len(offs))
        base = np.floor(mine).astype(np.int64)
        idx = base[:, None] + offs
        if gap.any():  # windows within two samples of a gap: the spline's reach
            gaps = np.r_[0, np.cumsum(gap)]
            seg[gaps[base - first + post + 3] > gaps[base - first - pre - 2]] = np.nan
        centred = seg - seg.mean(axis=1, keepdims=True)
        shape, z, ok = time_locked(centred)
        if z < MIN_Z:
            continue
        # what is subtracted keeps its level over the window (the beat's own), which the centred shape, which
        # decides and scales, does not
        template = seg[ok].mean(axis=0)
        p = np.where(ok, np.nan_to_num(centred) @ shape / float(shape @ shape), 0.0)
        c, w = np.cumsum(np.r_[0.0, p]), np.cumsum(np.r_[0.0, ok.astype(np.float64)])
        i = np.arange(len(mine))
        lo_i, hi_i = np.clip(i - NEIGHBOURS, 0, len(mine)), np.clip(i + NEIGHBOURS + 1, 0, len(mine))
        gain = np.clip((c[hi_i] - c[lo_i]) / np.maximum(w[hi_i] - w[lo_i], 1.0), 0.0, 3.0)
        # the template at the samples around each beat
        here = CubicSpline(offs, template)(np.clip(offs[None, :] - (mine - base)[:, None], -pre, post - 1))
        keep = idx < stop
        if out is None:
            out = np.array(x, dtype=np.float32, copy=True)
        out[idx[keep]] -= (gain[:, None] * here)[keep].astype(np.float32)
        used[k] = True
        largest = max(largest, float(np.ptp(shape)))
    return (x if out is None else out), used, largest


def time_locked(seg: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """(the mean of the beats' windows `seg` (n, W), each less its own mean; its RMS over its standard error; the
    windows it averages) of one block. Windows with a gap, flat (an electrode off) or 5 times the median spread (a
    movement) are left out."""
    sd = seg.std(axis=1)
    ok = np.isfinite(sd) & (sd >= FLAT_STD_UV)
    ok &= sd <= 5 * np.median(sd[ok]) if ok.any() else ok
    if ok.sum() < MIN_BEATS:
        return np.zeros(seg.shape[1]), 0.0, ok
    good = seg[ok]
    template = good.mean(axis=0)
    se = good.std(axis=0) / np.sqrt(len(good))
    return template, float(np.sqrt(np.mean(template ** 2) / max(np.mean(se ** 2), 1e-24))), ok


@dataclass(frozen=True)
class Heartbeats:
    """What the ECG's beats were subtracted from, for the note and the reading bits."""

    ecg: str
    n_beats: int
    #: channel -> the largest template's peak-to-peak µV, for each channel whose beats were subtracted
    subtracted: dict = field(default_factory=dict)
    epochs: np.ndarray = field(default=None, repr=False)  # (n_epochs,) bool: read without the beats

    def message(self) -> str:
        n = int(np.count_nonzero(self.epochs))
        where = " and ".join(f"{name!r} (up to {uv:.0f} µV)" for name, uv in self.subtracted.items())
        return (f"the heart's beats on {where} subtracted in {n} epoch{'s' if n != 1 else ''} before the model "
                f"read them ({self.n_beats} beats found on the ECG {self.ecg!r})")

    def to_dict(self) -> dict:
        return {"ecg": self.ecg, "beats": self.n_beats, "subtracted_uv": {k: round(v, 1) for k, v in
                                                                           self.subtracted.items()},
                "epochs": int(np.count_nonzero(self.epochs))}


@dataclass(frozen=True)
class Lead:
    """An ECG lead and where its R peaks fall (samples of the recording, between two where they do)."""

    name: str
    at: np.ndarray = field(repr=False)


def lead_beats(rec, cancel: CancelToken | None = None) -> Lead | None:
    """The R peaks of a recording's ECG lead (`ChannelChoice.ecg`: loaded already, else read from the file), or
    None without a lead, or with too few beats on it to make a template."""
    from sleepscope.model.backups import channel_samples

    name = getattr(getattr(rec, "channel_choice", None), "ecg", None)
    got = None if name is None else channel_samples(rec, name, cancel)
    if got is None:
        return None
    at = beats(got[0], rec.fs, cancel)
    return Lead(name, at) if len(at) >= MIN_BEATS else None


def without_heartbeats(rec, lead: Lead | None, cancel: CancelToken | None = None, channels=None):
    """(`rec` with `lead`'s beats subtracted from its EEG and EOG (or the `channels` named) where they show, a
    `Heartbeats`), or (`rec`, None) without a lead or a channel that shows them. `rec` itself is not changed."""
    if lead is None:
        return rec, None
    read, subtracted = dict(rec.channels), {}
    epochs = np.zeros(rec.n_epochs, bool)
    for own in (rec.eeg_name, rec.eog_name) if channels is None else channels:
        if own is None or own not in read:
            continue
        cleaned, used, largest = subtract(read[own], lead.at, rec.fs, cancel=cancel)
        if used.any():
            read[own] = cleaned
            subtracted[own] = largest
            block_epochs = np.repeat(used, BLOCK)[: rec.n_epochs]
            epochs[: len(block_epochs)] |= block_epochs
    if not subtracted:
        return rec, None
    return replace(rec, channels=read, _quality=None), Heartbeats(lead.name, int(len(lead.at)), subtracted, epochs)
