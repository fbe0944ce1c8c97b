"""Family C: sleep EEG as time-frequency atoms, built apart from families A and B.

The signal model follows the matching-pursuit description of sleep EEG
(Durka et al.; Malinowska et al. 2006, "Micro- and macrostructure of sleep
EEG"): a recording is a sum of Gabor-like atoms, each with its own time,
frequency, width and amplitude, over a background whose *spectral shape*
changes second by second. So:

- the background is synthesised from a per-second power spectrum (a knee
  aperiodic component whose exponent steepens with sleep depth, plus a beta
  bump), by inverse short-time Fourier transform with random phases;
- rhythms are dense streams of atoms: alpha and theta as overlapping Gabor
  atoms at the subject's frequencies; slow waves as wide low-frequency atoms
  whose rate and amplitude follow the stage (they overlap into quasi-rhythmic
  delta);
- graphoelements are atoms of their own shapes: spindles as long, low,
  symmetric Gabor atoms at high density; K-complexes and vertex waves as
  Ricker ("Mexican hat") wavelets, negative first; sawtooth waves as clipped
  sinusoid trains;
- the eyes move along minimum-jerk trajectories (rapid eye movements return
  to the centre exponentially); waking gaze is a fixation-and-saccade sequence
  with gamma-distributed fixation times, oblique saccades and reading-like
  runs of small steps closed by a return sweep, over a smooth slow wander
  (Gaussian-shaped spectrum); slow eye movements are very
  low-frequency atoms; blinks are log-normal pulses;
- stage boundaries are crossfades of every per-second parameter over a random
  0-20 s window, and NREM alternates between phases with and without bursts
  of K-complexes and alpha (the cyclic alternating pattern), so borderline
  epochs come from the microstructure.

Stage rules follow the AASM manual v2.6, as for the other families.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy import signal

from sleepscope.data.synth.acquisition import frontal
from sleepscope.data.synth.common import (aux_channels, clock_hours, family_sources, keyed_rng, loguniform,
                                          night_start, night_variant, person, waking_theta)
from sleepscope.data.synth.families import FS, Sources

EPOCH_S = 30
_SUBJECT_KEY = 0xC51
_NIGHT_KEY = 0xC52
_SIGNAL_KEY = 0xC53
_WAKE_EYE_KEY = 0xC54  # the waking eyes' own stream: the rest of a subject and night draws as before
_DROWSY_KEY = 0xC55  # waking frontal theta's own stream: the other draws stay as they were
_NPERSEG = 2 * FS  # 2-s STFT frames, 1-s hop

# Relative level of each feature per stage, columns W, N1, N2, N3, REM, unscored: the
# aperiodic exponent itself, then multipliers of the subject's rates and amplitudes.
_ROWS = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, -1: 5}
_TABLE = {
    "exponent": (1.3, 1.7, 2.0, 2.4, 1.9, 1.4),
    "alpha": (1.0, 0.15, 0.05, 0.02, 0.15, 0.7),
    "theta": (0.25, 1.0, 0.55, 0.4, 0.85, 0.3),
    "spindles": (0.0, 0.3, 1.0, 0.45, 0.0, 0.0),
    "slow": (0.02, 0.1, 0.25, 1.0, 0.05, 0.05),
    "kcomplex": (0.0, 0.15, 1.0, 0.35, 0.0, 0.0),
    "vertex": (0.05, 1.0, 0.25, 0.0, 0.1, 0.0),
    "beta": (1.0, 0.5, 0.3, 0.2, 0.6, 1.0),
    "muscle": (1.0, 0.35, 0.12, 0.08, 0.05, 1.6),
    "sem": (0.15, 1.0, 0.2, 0.0, 0.15, 0.0),
    "rem": (0.0, 0.05, 0.0, 0.0, 1.0, 0.0),
    "chin": (1.0, 0.7, 0.5, 0.45, 0.12, 1.3),
}


@dataclass(frozen=True)
class SubjectC:
    age: int
    sex: str
    background_uv: float
    alpha_hz: float
    alpha_uv: float  # atom amplitude (Pz-Oz)
    theta_hz: float
    theta_uv: float
    beta_uv: float
    muscle_uv: float
    spindle_hz: float
    spindle_uv: float
    spindle_per_min: float
    sw_uv: float  # slow-wave atom amplitude (Fpz-Cz)
    sw_per_min: float  # N3 atom rate
    kc_uv: float
    kc_per_min: float
    vertex_uv: float
    sawtooth_uv: float
    rem_per_min: float
    rem_uv: float
    sem_uv: float
    blink_per_min: float
    blink_uv: float
    emg_uv: float
    crossfade_s: float
    eog_leak: float
    start_hour: float
    gaze_uv: float  # spread of waking gaze targets, µV on the bipolar EOG
    fixation_s: float  # mean waking fixation between saccades
    vertical_share: float  # vertical part of waking saccades (on Fpz-Cz) relative to the horizontal
    reading_share: float  # share of waking saccades in reading-like runs
    wake_theta: float = 1.0  # waking theta as a factor of the table's alert level (set per night)


def subject_params(seed: int, subject: int) -> SubjectC:
    rng = keyed_rng(seed, _SUBJECT_KEY, subject)
    return SubjectC(
        **person(rng, ages=(22, 90)),
        background_uv=loguniform(rng, 3.0, 7.0),
        alpha_hz=float(np.clip(rng.normal(10.0, 0.8), 8.2, 12.0)),
        alpha_uv=1.0 if rng.random() < 0.08 else loguniform(rng, 4.0, 12.0),
        theta_hz=float(rng.uniform(5.0, 7.0)),
        theta_uv=loguniform(rng, 4.0, 9.0),
        beta_uv=loguniform(rng, 1.5, 4.0),
        muscle_uv=loguniform(rng, 1.0, 7.0),
        spindle_hz=float(np.clip(rng.normal(13.2, 0.8), 11.5, 15.5)),
        spindle_uv=loguniform(rng, 14.0, 28.0),
        spindle_per_min=loguniform(rng, 4.0, 10.0),
        sw_uv=loguniform(rng, 72.0, 105.0),
        sw_per_min=loguniform(rng, 40.0, 70.0),
        kc_uv=loguniform(rng, 60.0, 140.0),
        kc_per_min=loguniform(rng, 1.0, 3.0),
        vertex_uv=loguniform(rng, 35.0, 90.0),
        sawtooth_uv=loguniform(rng, 15.0, 40.0),
        rem_per_min=loguniform(rng, 15.0, 45.0),
        rem_uv=loguniform(rng, 150.0, 350.0),
        sem_uv=loguniform(rng, 60.0, 160.0),
        blink_per_min=loguniform(rng, 6.0, 20.0),
        blink_uv=loguniform(rng, 90.0, 200.0),
        emg_uv=loguniform(rng, 2.0, 4.5),
        crossfade_s=float(rng.uniform(4.0, 20.0)),
        eog_leak=float(rng.uniform(0.1, 0.45)),
        start_hour=float(rng.uniform(21.5, 24.0)),
        **_waking_eyes(keyed_rng(seed, _WAKE_EYE_KEY, subject)),
    )


def _waking_eyes(rng: np.random.Generator) -> dict[str, float]:
    # Waking horizontal EOG of Sleep-EDF's evening wake: large gaze shifts of tens to hundreds of µV.
    # Fpz sits just above the eyes: vertical gaze reaches Fpz-Cz about as strongly as horizontal gaze reaches
    # the bipolar EOG, and makes waking Fpz-Cz slow-dominated (docs/synthetic-axes.md).
    # Lying in bed the eyes mostly rest and wander slowly between a few long fixations (Sleep-EDF's real wake EOG is
    # slow-dominated); most of the gaze spread is the slow wander, saccades only correct around it.
    return {"gaze_uv": loguniform(rng, 150.0, 330.0), "fixation_s": loguniform(rng, 0.6, 1.6),
            "vertical_share": float(rng.uniform(0.3, 0.7)), "reading_share": float(rng.uniform(0.0, 0.6))}


_NIGHT_JITTER = ("background_uv", "alpha_uv", "spindle_uv", "spindle_per_min", "sw_uv", "kc_per_min", "rem_per_min",
                 "blink_per_min", "muscle_uv", "emg_uv")


def night_params(seed: int, subject: int, night: int) -> SubjectC:
    s = night_variant(subject_params(seed, subject), keyed_rng(seed, _NIGHT_KEY, subject, night), _NIGHT_JITTER)
    # The evening differs too (reading, television, lying with the eyes closed).
    r = keyed_rng(seed, _WAKE_EYE_KEY, subject, night)
    return replace(s, fixation_s=s.fixation_s * float(np.exp(r.normal(0.0, 0.25))),
                   reading_share=float(np.clip(s.reading_share + r.normal(0.0, 0.15), 0.0, 0.8)),
                   wake_theta=waking_theta(seed, _SUBJECT_KEY, subject, night, most=40.0))


# ---- per-second parameters ------------------------------------------------------

def _per_second(rng: np.random.Generator, labels: np.ndarray, s: SubjectC) -> dict[str, np.ndarray]:
    """Every table row per second: crossfaded across stage changes, with per-epoch atypicality."""
    rows = np.array([_ROWS.get(int(c), 5) for c in labels])
    n = len(labels)
    out = {}
    # Atypical epochs borrow part of another stage's features: next to a stage change
    # mostly the neighbour's, elsewhere a stage scorers confuse it with (N1 most often).
    prev = np.concatenate([rows[:1], rows[:-1]])
    nxt = np.concatenate([rows[1:], rows[-1:]])
    neighbour = np.where(prev != rows, prev, nxt)
    confusable = {0: (1,), 1: (0, 2, 4), 2: (1, 3, 4), 3: (2,), 4: (1, 1, 0), 5: (0,)}
    share = np.array([0.3, 0.5, 0.3, 0.25, 0.3, 0.0])[rows]
    other = np.array([confusable[r][int(rng.integers(len(confusable[r])))] for r in rows])
    at_edge = (neighbour != rows) & (rng.random(n) < 0.6)
    other = np.where(at_edge, neighbour, other)
    borrow = np.where(at_edge | (rng.random(n) < share), rng.uniform(0.2, 0.6, n), 0.0)
    for key, values in _TABLE.items():
        v = np.asarray(values)
        # Chin tone is a scoring rule of its own (REM atonia): not borrowed.
        per_epoch = v[rows] if key == "chin" else (1 - borrow) * v[rows] + borrow * v[other]
        if key != "exponent":  # every feature's strength varies from epoch to epoch
            per_epoch = per_epoch * rng.lognormal(0.0, 0.4, n)
        else:
            per_epoch = per_epoch + rng.normal(0.0, 0.12, n)
        out[key] = np.repeat(per_epoch, EPOCH_S)
    # Crossfade: a linear ramp over a random window centred on each boundary.
    n_sec = n * EPOCH_S
    width = max(1, int(s.crossfade_s))
    kernel = np.ones(width) / width
    for key in out:
        padded = np.concatenate([np.full(width, out[key][0]), out[key], np.full(width, out[key][-1])])
        out[key] = np.convolve(padded, kernel, mode="same")[width: width + n_sec]
    # N2 never reaches N3's slow-wave density, N3 never falls below it.
    sec_labels = np.repeat(labels, EPOCH_S)
    out["slow"] = np.where(sec_labels == 2, np.minimum(out["slow"], 0.35), out["slow"])
    out["slow"] = np.where(sec_labels == 3, np.maximum(out["slow"], 0.8), out["slow"])
    # Cyclic alternating pattern in NREM: A-phases (bursts) of 2-60 s between quieter B-phases.
    nrem = np.isin(sec_labels, (1, 2, 3)).astype(float)
    phase_a = (np.sin(2 * np.pi * np.cumsum(rng.uniform(1 / 60, 1 / 20, n_sec))) > 0.4).astype(float) * nrem
    out["cap"] = phase_a
    # Eyes open for a share of each wake epoch, in runs of seconds.
    open_share = np.repeat(rng.uniform(0.0, 0.7, n) * (labels == 0), EPOCH_S)
    out["eyes_open"] = signal.medfilt((rng.random(n_sec) < open_share).astype(float), 5)
    return out


# ---- generators -----------------------------------------------------------------

@lru_cache(maxsize=4)
def _istft_gain(nperseg: int) -> float:
    """Output RMS of the STFT synthesis for a flat unit spectrum (normalises it to µV)."""
    rng = np.random.default_rng(0)
    n_frames, n_bins = 400, nperseg // 2 + 1
    z = rng.standard_normal((n_bins, n_frames)) + 1j * rng.standard_normal((n_bins, n_frames))
    _, x = signal.istft(z, fs=FS, nperseg=nperseg, noverlap=nperseg // 2)
    return float(np.std(x[nperseg:-nperseg]))


def _tf_noise(rng: np.random.Generator, n_sec: int, psd: np.ndarray) -> np.ndarray:
    """Gaussian noise whose spectrum follows `psd` (bins x seconds, relative power), unit RMS where psd sums to 1."""
    n_bins = psd.shape[0]
    frames = psd.shape[1]
    z = (rng.standard_normal((n_bins, frames), dtype=np.float32)
         + 1j * rng.standard_normal((n_bins, frames), dtype=np.float32)) * np.sqrt(psd * n_bins).astype(np.float32)
    _, x = signal.istft(z, fs=FS, nperseg=_NPERSEG, noverlap=_NPERSEG // 2)
    x = x[: n_sec * FS] / _istft_gain(_NPERSEG)
    return np.pad(x, (0, n_sec * FS - len(x))).astype(np.float32)


def _background_psd(freqs: np.ndarray, exponent: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Per-second relative spectra: a knee aperiodic 1 / (k + f^chi), plus a 15-30 Hz bump for beta."""
    f = freqs[:, None]
    aperiodic = 1.0 / (1.5 + np.maximum(f, 0.2) ** exponent[None, :])
    bump = 0.004 * beta[None, :] * np.exp(-0.5 * ((f - 21.0) / 5.0) ** 2)
    p = aperiodic + bump
    p[freqs < 0.3] = 0.0
    return p / p.sum(axis=0, keepdims=True)


def _atoms(rng: np.random.Generator, n: int, rate_per_min: np.ndarray, make, scale=None, echo_sd=None):
    """Stamp atoms from `make(rng, k) -> (k, L) templates` at Poisson times of a per-second rate,
    each scaled by `scale` (per second) where given. With `echo_sd`, also a second signal of the same
    atoms each times a normal factor of that spread: (atoms, echo)."""
    out = np.zeros(n, dtype=np.float32)
    echo = None if echo_sd is None else np.zeros(n, dtype=np.float32)
    counts = rng.poisson(np.maximum(rate_per_min, 0.0) / 60.0)
    if counts.sum() == 0:
        return out if echo is None else (out, echo)
    sec = np.repeat(np.arange(len(rate_per_min)), counts)
    t = sec + rng.random(len(sec))
    tpl = make(rng, len(t))
    if scale is not None:
        tpl = tpl * scale[sec][:, None]
    start = np.round(t * FS).astype(np.int64) - tpl.shape[1] // 2
    idx = start[:, None] + np.arange(tpl.shape[1])[None, :]
    keep = (idx >= 0) & (idx < n)
    np.add.at(out, idx[keep], tpl[keep].astype(np.float32))
    if echo is None:
        return out
    np.add.at(echo, idx[keep], (rng.normal(0.0, echo_sd, len(t))[:, None] * tpl)[keep].astype(np.float32))
    return out, echo


def _gabor(rng, k, hz, hz_sd, sigma_lo, sigma_hi, amp, length_s):
    t = (np.arange(int(length_s * FS)) - int(length_s * FS) // 2) / FS
    f = np.maximum(hz + rng.normal(0, hz_sd, k), 0.3)[:, None]
    sigma = rng.uniform(sigma_lo, sigma_hi, k)[:, None]
    a = amp * rng.lognormal(0, 0.3, k)[:, None]
    return a * np.exp(-0.5 * (t / sigma) ** 2) * np.cos(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi, k)[:, None])


def _ricker(rng, k, width_lo, width_hi, amp, length_s):
    t = (np.arange(int(length_s * FS)) - int(length_s * FS) // 2) / FS
    w = rng.uniform(width_lo, width_hi, k)[:, None]
    u = (t / w) ** 2
    # Negative first: the surface-negative sharp component of K-complexes and vertex waves.
    return -amp * rng.lognormal(0, 0.25, k)[:, None] * (1 - u) * np.exp(-u / 2)


def _min_jerk(tau: np.ndarray) -> np.ndarray:
    tau = np.clip(tau, 0, 1)
    return 10 * tau ** 3 - 15 * tau ** 4 + 6 * tau ** 5


def _waking_gaze(rng: np.random.Generator, s: SubjectC, eyes_open: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Waking gaze with the eyes open, horizontal (bipolar EOG) and vertical (as Fpz-Cz sees it).

    Fixations last a gamma-distributed time; each ends in a minimum-jerk saccade whose duration grows with its
    size. Saccades either look somewhere new (oblique, mostly near straight ahead) or belong to a reading-like
    run: small rightward steps along a line, then one return sweep to its start and a little lower. The
    saccades correct around a slow wander that carries most of the gaze's spread.
    """
    n_sec = len(eyes_open)
    T = n_sec * FS
    n_max = int(n_sec / (0.1 * s.fixation_s)) + 8
    t = np.cumsum(rng.gamma(2.5, s.fixation_s / 2.5, n_max))
    t = t[t < n_sec]
    # Only fixations that end while the eyes are open end in a saccade.
    t = t[eyes_open[t.astype(np.int64)] > 0]
    k = len(t)
    if k == 0:
        return np.zeros(T, dtype=np.float32), np.zeros(T, dtype=np.float32)
    th = rng.normal(0.0, s.gaze_uv, k) * rng.choice([0.5, 1.0, 1.8], k, p=[0.3, 0.5, 0.2])
    tv = rng.normal(0.0, s.vertical_share * s.gaze_uv, k)
    # Reading runs overwrite some targets: a line of 3-8 small steps, then the sweep back.
    reading = rng.random(k) < s.reading_share
    line_v, step, length = s.vertical_share * s.gaze_uv, 0, 0
    for i in np.flatnonzero(reading):
        if step == 0:
            # Each line a little lower than the last; at the bottom of the page back to the top.
            line_v -= 0.2 * s.vertical_share * s.gaze_uv
            if line_v < -s.vertical_share * s.gaze_uv:
                line_v = s.vertical_share * s.gaze_uv
            line_h = -s.gaze_uv * rng.uniform(0.6, 1.2)
            length = int(rng.integers(3, 9))
        step += 1
        th[i] = line_h + step * s.gaze_uv * rng.uniform(0.15, 0.35)
        tv[i] = line_v + rng.normal(0.0, 0.03 * s.gaze_uv)
        if step >= length:
            th[i], step = line_h, 0
    dh = np.diff(th, prepend=0.0)
    dv = np.diff(tv, prepend=0.0)
    size = np.hypot(dh, dv)
    # Main sequence: a bigger saccade lasts longer (20-120 ms).
    dur = np.clip(0.02 + 0.0003 * size, 0.02, 0.12)
    L = int(0.13 * FS) + 1
    u = np.arange(L + 1)[None, :] / (dur[:, None] * FS)
    vel = np.diff(_min_jerk(u), axis=1)  # (k, L): fraction of the step covered per sample
    idx = np.round(t * FS).astype(np.int64)[:, None] + np.arange(L)[None, :]
    keep = idx < T
    h = np.zeros(T, dtype=np.float64)
    v = np.zeros(T, dtype=np.float64)
    np.add.at(h, idx[keep], (dh[:, None] * vel)[keep])
    np.add.at(v, idx[keep], (dv[:, None] * vel)[keep])
    held = np.repeat(eyes_open, FS)
    wander_h, wander_v = (_slow_wander(rng, T, 1.6 * sd) for sd in (s.gaze_uv, s.vertical_share * s.gaze_uv))
    return ((0.4 * np.cumsum(h) + wander_h) * held).astype(np.float32), \
        ((0.4 * np.cumsum(v) + wander_v) * held).astype(np.float32)


def _slow_wander(rng: np.random.Generator, T: int, sd_uv: float) -> np.ndarray:
    """Smooth gaze wander of standard deviation `sd_uv`, with its power under about 1 Hz."""
    f = np.fft.rfftfreq(T, 1.0 / FS)
    spec = (rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))) * np.exp(-0.5 * (f / 0.4) ** 2)
    x = np.fft.irfft(spec, T)
    return sd_uv * x / max(float(x.std()), 1e-12)


def sources(labels: np.ndarray, seed: int, subject: int, night: int) -> Sources:
    s = night_params(seed, subject, night)
    rng = keyed_rng(seed, _SIGNAL_KEY, subject, night)
    labels = np.asarray(labels, dtype=np.int64)
    n_sec = len(labels) * EPOCH_S
    T = n_sec * FS
    p = _per_second(rng, labels, s)
    eyes_open = p["eyes_open"]
    cap = p["cap"]

    def up(x: np.ndarray) -> np.ndarray:
        return np.repeat(np.asarray(x, dtype=np.float32), FS)

    freqs = np.fft.rfftfreq(_NPERSEG, 1.0 / FS)
    frames = np.concatenate([p["exponent"][:1], p["exponent"]])  # istft frames sit on whole seconds
    beta_frames = np.concatenate([p["beta"][:1], p["beta"]])
    psd = _background_psd(freqs, frames, beta_frames)
    level = s.background_uv * (0.8 + 0.25 * np.clip(p["exponent"] - 1.3, 0, 2))
    bg = tuple(up(level) * _tf_noise(rng, n_sec, psd) for _ in range(2))
    beta = tuple(up(s.beta_uv * p["beta"]) * _tf_noise(
        rng, n_sec, np.repeat((np.exp(-0.5 * ((freqs - 22.0) / 4.0) ** 2))[:, None], n_sec + 1, axis=1)
        / np.exp(-0.5 * ((freqs - 22.0) / 4.0) ** 2).sum()) for _ in range(2))
    muscle_shape = np.where(freqs > 22.0, 1.0, 0.0)
    muscle = tuple(up(s.muscle_uv * p["muscle"] * (1 + 0.8 * cap)) * _tf_noise(
        rng, n_sec, np.repeat((muscle_shape / muscle_shape.sum())[:, None], n_sec + 1, axis=1)) for _ in range(2))

    alpha_rate = 180.0 * p["alpha"] * (1 - 0.8 * eyes_open) * (1 + 0.5 * cap)
    alpha = tuple(_atoms(rng, T, alpha_rate, lambda r, k: _gabor(r, k, s.alpha_hz, 0.3, 0.3, 0.8, s.alpha_uv * 0.6,
                                                                  4.0)) for _ in range(2))
    theta_rate = 150.0 * p["theta"]
    theta = tuple(_atoms(rng, T, theta_rate, lambda r, k: _gabor(r, k, s.theta_hz, 0.6, 0.12, 0.3, s.theta_uv * 0.8,
                                                                  1.6)) for _ in range(2))
    # Waking theta beyond the alert level comes from a frontal generator: posterior leads do not see it.
    drowsy_rate = theta_rate * np.repeat(labels == 0, EPOCH_S) * (s.wake_theta - 1.0)
    drowsy = _atoms(keyed_rng(seed, _DROWSY_KEY, subject, night), T, drowsy_rate,
                    lambda r, k: _gabor(r, k, s.theta_hz, 0.6, 0.12, 0.3, s.theta_uv * 0.8, 1.6))
    theta = tuple(t + f for t, f in zip(theta, frontal(drowsy)))
    # Slow-wave atoms grow in number and size with depth: N2 keeps under the N3 rule.
    sw_rate = s.sw_per_min * p["slow"] ** 1.5
    sw_size = 0.15 + 0.85 * p["slow"]
    slow = _atoms(rng, T, sw_rate, lambda r, k: _gabor(r, k, 1.0, 0.3, 0.3, 0.6, s.sw_uv, 4.0), sw_size)
    slow_alt = _atoms(rng, T, sw_rate, lambda r, k: _gabor(r, k, 1.0, 0.3, 0.3, 0.6, s.sw_uv, 4.0), sw_size)
    slow += _atoms(rng, T, s.kc_per_min * p["kcomplex"] * (0.4 + 1.5 * cap),
                   lambda r, k: _ricker(r, k, 0.12, 0.2, s.kc_uv, 1.6))
    spindle = _atoms(rng, T, s.spindle_per_min * p["spindles"],
                     lambda r, k: _gabor(r, k, s.spindle_hz, 0.6, 0.3, 0.6, s.spindle_uv, 3.0))
    spindle_alt = _atoms(rng, T, 0.5 * s.spindle_per_min * p["spindles"],
                         lambda r, k: _gabor(r, k, s.spindle_hz, 0.6, 0.3, 0.6, 0.5 * s.spindle_uv, 3.0))
    vertex = _atoms(rng, T, 3.0 * p["vertex"], lambda r, k: _ricker(r, k, 0.04, 0.07, s.vertex_uv, 0.8))

    def sawtooth(r, k):
        t = np.arange(int(3.0 * FS)) / FS
        f = r.uniform(2.0, 5.0, k)[:, None]
        env = np.sin(np.pi * np.clip(t[None, :] / r.uniform(1.0, 3.0, k)[:, None], 0, 1))
        return s.sawtooth_uv * env * np.tanh(2.0 * np.sin(2 * np.pi * f * t[None, :]))

    vertex += _atoms(rng, T, 2.0 * p["rem"], sawtooth)

    # Eyes.
    def rem_move(r, k):
        t = np.arange(int(3.0 * FS)) / FS
        dur = r.uniform(0.08, 0.2, k)[:, None]
        back = r.uniform(0.5, 1.5, k)[:, None]
        pos = _min_jerk((t[None, :] - 0.3) / dur) * np.exp(-np.maximum(t[None, :] - 0.3 - dur, 0) / back)
        return r.choice([-1.0, 1.0], k)[:, None] * s.rem_uv * r.lognormal(0, 0.35, k)[:, None] * pos

    phasic = p["rem"] * (rng.random(n_sec) < np.repeat(rng.uniform(0.3, 1.0, len(labels)), EPOCH_S))
    # Rapid eye movements are oblique as often as not: their vertical part reaches Fpz-Cz.
    eye, rem_vertical = _atoms(rng, T, s.rem_per_min * phasic, rem_move, echo_sd=0.35)
    eye += _atoms(rng, T, 2.0 * s.sem_uv / 100 * p["sem"] * (1 - eyes_open),
                  lambda r, k: _gabor(r, k, 0.25, 0.08, 1.5, 3.0, s.sem_uv, 12.0))
    gaze, vertical = _waking_gaze(keyed_rng(seed, _WAKE_EYE_KEY, subject, night, 1), s, eyes_open)
    eye += gaze

    def blink(r, k):
        t = np.arange(1, int(0.6 * FS) + 1) / FS
        # A blink lasts 0.2-0.4 s: its power lies mostly under 2-3 Hz.
        m = r.uniform(0.12, 0.2, k)[:, None]
        shape = np.exp(-0.5 * (np.log(t[None, :] / m) / 0.45) ** 2)
        return s.blink_uv * r.lognormal(0, 0.25, k)[:, None] * shape

    blink_sig = vertical + rem_vertical + _atoms(rng, T, s.blink_per_min * eyes_open, blink)

    sec_labels = np.repeat(labels, EPOCH_S)
    movement = 0.01 + 0.5 * (sec_labels == 0) + 1.5 * (sec_labels == -1) + 0.03 * cap
    comps = (bg, alpha, theta, (slow, slow_alt), (spindle, spindle_alt), (vertex, None), beta, muscle)
    start = night_start(subject, night, s.start_hour, days_per_subject=43)
    return family_sources("C", s, comps, eye, blink_sig, movement, _aux(rng, s, p, start), start)


def _aux(rng, s: SubjectC, p: dict[str, np.ndarray], start: dt.datetime) -> dict[str, np.ndarray]:
    n_sec = len(p["chin"])
    breaths = np.cumsum(rng.uniform(0.2, 0.3) * (1 + 0.1 * p["beta"] * rng.standard_normal(n_sec)))
    resp = np.clip(rng.uniform(300, 700) * np.sin(2 * np.pi * breaths), -2048, 2047)
    emg = np.clip(s.emg_uv * p["chin"] * rng.lognormal(0, 0.2, n_sec) + (rng.random(n_sec) < 0.03 * p["rem"]) * 0.8,
                  0.05, 5.0)
    temp = np.clip(rng.uniform(36.6, 37.2) + 0.3 * np.cos(2 * np.pi * (clock_hours(start, n_sec) - 17.5) / 24.0),
                   34.0, 40.0)
    marker = np.full(n_sec, rng.uniform(850.0, 950.0))
    return aux_channels(resp, emg, temp, marker)
