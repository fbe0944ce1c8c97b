"""Family E: sleep as a sequence of micro-states over an excitable cortex, built apart from families A-D.

Where the other families give each stage a set of signal drives, E follows the
way scorers describe what they see second by second:

- **stage state**: each 30-s epoch is a stretch of a semi-Markov chain of
  micro-states (gamma-distributed dwell times). The waking and sleep-onset
  ones follow Hori's EEG stages of falling asleep (Hori, Hayashi & Morikawa,
  in *Sleep Onset*, APA 1994: alpha train, intermittent alpha, EEG
  flattening, theta ripples, vertex sharp waves); NREM has one background
  micro-state whose depth drifts within the night, REM is tonic or phasic,
  and brief arousals (alpha and muscle for 3-15 s, AASM arousal rule) occur in
  every stage without changing it. An epoch's stage is the micro-state
  majority, as the AASM rule scores it; borderline epochs spend up to 45 % of
  their time in a neighbouring stage's micro-states;
- **background**: shot noise, a high rate of postsynaptic potentials whose
  decay time lengthens with depth (slower inhibitory kinetics in deep NREM),
  so that the spectrum steepens as sleep deepens without a spectral template;
- **slow waves and K-complexes** are excursions of a noise-driven
  FitzHugh-Nagumo unit (an excitable cortical population): below its Hopf
  point (N2) noise triggers isolated down states, the K-complexes; beyond it
  (N3) it cycles at 0.6-1.1 Hz. The down state is surface-negative: a sharp
  onset, a flat trough, a sharp end and a slow positive recovery.
  Spindles are nested in the recovery after a down state (and also
  spontaneous), with a fast-waxing, slow-waning gamma envelope and frequency
  noise;
- **rhythms** (alpha, theta, beta) are stochastic oscillators (complex
  first-order autoregressions) gated by the micro-states; REM sawtooth waves
  are a phase-driven three-harmonic waveform in short trains;
- **eyes**: gaze jumps of heavy-tailed size whose velocity follows a gamma
  profile (skewed: fast acceleration, slower braking), a band-limited wander
  while the eyes are open, pendular slow eye movements under a raised-cosine
  envelope while drowsy; rapid eye movements of REM come in bursts of
  out-and-back pairs (the eyes jump, then return with a slower movement);
  blinks close and reopen as half-Gaussians.

Stage rules follow the AASM manual v2.6, as for the other families.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
from scipy import signal

from sleepscope.data.synth.acquisition import frontal
from sleepscope.data.synth.common import (aux_channels, clock_hours, family_sources, jitter, keyed_rng, loguniform,
                                          night_start, person, waking_theta)
from sleepscope.data.synth.families import FS, Sources

EPOCH_S = 30
_SUBJECT_KEY = 0xE51
_NIGHT_KEY = 0xE52
_SIGNAL_KEY = 0xE53
_EYE_KEY = 0xE54
_DROWSY_KEY = 0xE55  # waking frontal theta's own stream: the other draws stay as they were

# Micro-states.
ALPHA, INTERMITTENT, OPEN, FLAT, THETA, VERTEX, NREM, TONIC, PHASIC, AROUSAL = range(10)
_N_MICRO = 10
_DWELL_S = np.array([6.0, 4.0, 8.0, 5.0, 4.0, 3.0, 25.0, 15.0, 8.0, 6.0])
_DEPTH = {0: 0.0, 1: 0.15, 2: 0.5, 3: 0.9, 4: 0.1, -1: 0.0}  # NREM depth each stage pulls towards


@dataclass(frozen=True)
class SubjectE:
    age: int
    sex: str
    psp_uv: float  # shot-noise background, µV on Fpz-Cz
    decay_light_ms: float  # postsynaptic decay in wake
    decay_deep_ms: float  # ... and in deep NREM
    alpha_hz: float
    alpha_uv: float  # on Pz-Oz
    theta_hz: float
    theta_uv: float
    beta_uv: float
    muscle_uv: float
    excitability: float  # the FitzHugh-Nagumo drive at N2 depth (sets the K-complex rate)
    n3_drive: float  # ... at full N3 depth (beyond the Hopf point: cycling)
    sw_hz: float  # the unit's cycling frequency in N3
    sw_uv: float  # µV per unit of the FitzHugh-Nagumo voltage on Fpz-Cz
    spindle_hz: float
    spindle_uv: float
    spindle_per_min: float
    nested_share: float  # share of down states followed by a spindle
    vertex_uv: float
    sawtooth_hz: float
    sawtooth_uv: float
    tonic_share: float  # share of REM time without eye movements
    gaze_uv: float
    saccade_per_min: float
    wander_uv: float
    vertical_share: float
    rem_burst_per_min: float
    rem_uv: float
    sem_uv: float
    blink_per_min: float
    blink_uv: float
    arousal_per_hour: float
    emg_uv: float
    eog_leak: float
    start_hour: float
    wake_theta: float = 1.0  # waking theta as a factor of the alert level (set per night)


def subject_params(seed: int, subject: int) -> SubjectE:
    rng = keyed_rng(seed, _SUBJECT_KEY, subject)
    return SubjectE(
        **person(rng, ages=(20, 90)),
        psp_uv=loguniform(rng, 5.0, 9.0),
        decay_light_ms=float(rng.uniform(12.0, 20.0)),
        decay_deep_ms=float(rng.uniform(60.0, 110.0)),
        alpha_hz=float(np.clip(rng.normal(10.0, 0.8), 8.2, 12.0)),
        alpha_uv=loguniform(rng, 6.0, 18.0),
        theta_hz=float(rng.uniform(4.8, 7.0)),
        theta_uv=loguniform(rng, 4.0, 9.0),
        beta_uv=loguniform(rng, 1.5, 4.0),
        muscle_uv=loguniform(rng, 2.0, 8.0),
        excitability=float(rng.uniform(0.02, 0.09)),
        n3_drive=float(rng.uniform(0.35, 0.6)),
        sw_hz=float(rng.uniform(0.6, 1.0)),
        sw_uv=loguniform(rng, 22.0, 36.0),
        spindle_hz=float(np.clip(rng.normal(13.2, 0.8), 11.5, 15.0)),
        spindle_uv=loguniform(rng, 20.0, 40.0),
        spindle_per_min=loguniform(rng, 3.0, 6.0),
        nested_share=float(rng.uniform(0.3, 0.7)),
        vertex_uv=loguniform(rng, 40.0, 100.0),
        sawtooth_hz=float(rng.uniform(2.0, 4.0)),
        sawtooth_uv=loguniform(rng, 15.0, 40.0),
        tonic_share=float(rng.uniform(0.25, 0.55)),
        gaze_uv=loguniform(rng, 150.0, 330.0),
        saccade_per_min=loguniform(rng, 25.0, 60.0),
        wander_uv=loguniform(rng, 90.0, 200.0),
        vertical_share=float(rng.uniform(0.2, 0.45)),
        rem_burst_per_min=loguniform(rng, 3.0, 8.0),
        rem_uv=loguniform(rng, 140.0, 320.0),
        sem_uv=loguniform(rng, 60.0, 160.0),
        blink_per_min=loguniform(rng, 6.0, 20.0),
        blink_uv=loguniform(rng, 90.0, 200.0),
        arousal_per_hour=loguniform(rng, 4.0, 20.0),
        emg_uv=loguniform(rng, 2.0, 4.5),
        eog_leak=float(rng.uniform(0.05, 0.4)),
        start_hour=float(rng.uniform(21.5, 24.0)),
    )


def night_params(seed: int, subject: int, night: int) -> SubjectE:
    """The subject on one night: sizes and rates move by about 10 %, the rhythms' frequencies by 2 %."""
    s = subject_params(seed, subject)
    r = keyed_rng(seed, _NIGHT_KEY, subject, night)
    moved = ("psp_uv", "alpha_uv", "theta_uv", "spindle_per_min", "spindle_uv", "sw_uv", "rem_burst_per_min",
             "blink_per_min", "muscle_uv", "emg_uv", "arousal_per_hour", "saccade_per_min")
    changes = jitter(s, r, dict.fromkeys(moved, 0.1))
    changes.update(jitter(s, r, dict.fromkeys(("alpha_hz", "spindle_hz", "sw_hz"), 0.02)))
    changes["excitability"] = s.excitability + float(r.normal(0.0, 0.01))
    changes["start_hour"] = float(r.uniform(21.5, 24.0))
    changes["wake_theta"] = waking_theta(seed, _SUBJECT_KEY, subject, night, most=12.0)
    return replace(s, **changes)


# ---- the micro-state chain ----------------------------------------------------------

def _occupancy(s: SubjectE, stage: int, open_share: float) -> np.ndarray:
    """Share of an epoch of `stage` spent in each micro-state (arousals added by rate, elsewhere)."""
    p = np.zeros(_N_MICRO)
    if stage == 0:
        p[OPEN] = open_share
        p[ALPHA] = 0.75 * (1 - open_share)
        p[INTERMITTENT] = 0.25 * (1 - open_share)
    elif stage == 1:
        p[[INTERMITTENT, FLAT, THETA, VERTEX]] = (0.15, 0.3, 0.35, 0.2)
    elif stage in (2, 3):
        p[NREM] = 1.0
    elif stage == 4:
        p[TONIC] = s.tonic_share
        p[PHASIC] = 1 - s.tonic_share
    else:  # unscored: lights on, moving
        p[OPEN] = 1.0
    return p


def _micro_states(rng: np.random.Generator, labels: np.ndarray, s: SubjectE) -> np.ndarray:
    """Per second: the micro-state, from a semi-Markov chain whose entry probabilities follow the epoch."""
    n = len(labels)
    open_share = rng.uniform(0.1, 0.85, n)
    occ = np.array([_occupancy(s, int(c), o) for c, o in zip(labels, open_share)])
    own = occ.copy()
    # Borderline epochs lean towards a neighbour (or a stage scorers confuse them with), never past half.
    confusable = {0: 1, 1: 2, 2: 1, 3: 2, 4: 1, -1: 0}
    change = np.zeros(n, dtype=bool)
    change[1:] |= labels[1:] != labels[:-1]
    change[:-1] |= labels[1:] != labels[:-1]
    lean = np.where(rng.random(n) < np.where(change, 0.6, 0.2), rng.uniform(0.1, 0.45, n), 0.0)
    for i in np.flatnonzero(lean):
        if change[i]:
            j = i - 1 if i > 0 and labels[i - 1] != labels[i] else i + 1
            other = int(labels[min(j, n - 1)])
        else:
            other = confusable[int(labels[i])]
        occ[i] = (1 - lean[i]) * occ[i] + lean[i] * _occupancy(s, other, open_share[i])
    # Entering a micro-state: in proportion to its share over its mean dwell.
    enter = occ / _DWELL_S[None, :]
    enter /= enter.sum(1, keepdims=True)
    n_sec = n * EPOCH_S
    out = np.empty(n_sec, dtype=np.int64)
    u = rng.random(n_sec)
    dwell_draw = rng.gamma(2.0, 0.5, n_sec)
    state, left = -1, 0.0
    cum = np.cumsum(enter, axis=1)
    own_enter = own / _DWELL_S[None, :]
    own_cum = np.cumsum(own_enter / own_enter.sum(1, keepdims=True), axis=1)
    budget = lean * EPOCH_S  # seconds an epoch may spend in its neighbour's micro-states
    foreign = 0.0
    for t in range(n_sec):
        e = t // EPOCH_S
        if t % EPOCH_S == 0:
            foreign = 0.0
        if left <= 0 or occ[e, state] == 0:
            state = int(min(np.searchsorted(cum[e], u[t]), _N_MICRO - 1))
            left = _DWELL_S[state] * dwell_draw[t]
        if own[e, state] == 0:
            foreign += 1.0
            if foreign > budget[e]:  # a state carried over from the last epoch must not take the majority
                state = int(min(np.searchsorted(own_cum[e], u[t]), _N_MICRO - 1))
                left = _DWELL_S[state] * dwell_draw[t]
        out[t] = state
        left -= 1.0
    # Arousals: 3-15 s of alpha and muscle in sleep, from a Poisson process (the stage is not changed by them).
    asleep = np.repeat(labels > 0, EPOCH_S)
    starts = np.flatnonzero(asleep & (rng.random(n_sec) < s.arousal_per_hour / 3600.0))
    for t0 in starts:
        out[t0:t0 + int(rng.uniform(3, 15))] = AROUSAL
    return out


def _depth(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Per second: NREM depth, relaxing towards each epoch's level over about a minute, with a slow wander."""
    target = np.repeat([_DEPTH.get(int(c), 0.0) for c in labels], EPOCH_S).astype(np.float64)
    a = np.exp(-1.0 / 60.0)
    d = signal.lfilter([1 - a], [1, -a], target, zi=[a * target[0]])[0]
    wander = signal.lfilter([np.sqrt(1 - 0.995 ** 2)], [1, -0.995], rng.standard_normal(len(target)))
    # N3 keeps N3's depth: the slow-wave rule is about the epoch, not about the lag.
    n3 = target >= 0.85
    d = np.where(n3, np.maximum(d, 0.8), d)
    return np.clip(d + 0.06 * wander, 0.0, 1.0)


# ---- generators ---------------------------------------------------------------------

def _up(per_second: np.ndarray) -> np.ndarray:
    """Per-second values to 100 Hz, linearly interpolated (no steps at second boundaries)."""
    x = np.asarray(per_second, dtype=np.float64)
    t = (np.arange(len(x) * FS) + 0.5) / FS - 0.5
    return np.interp(t, np.arange(len(x)), x).astype(np.float32)


def _shot_noise(rng: np.random.Generator, decay_ms: np.ndarray, lo_ms: float, hi_ms: float,
                rise_ms: float = 2.0) -> np.ndarray:
    """Gaussian shot noise through a postsynaptic kernel whose decay time is set per second (unit variance).

    The same train of potentials is seen through kernels of three decay times spanning [lo_ms, hi_ms],
    mixed per sample by where `decay_ms` lies between them (in log time): a kernel that lengthens with
    depth without per-second filter restarts. A 1/f pre-filter gives the field below the kernel's knee
    the power-law rise of scalp EEG (the summed activity of many populations)."""
    x = signal.lfilter(_PINK_B, _PINK_A, rng.standard_normal(len(decay_ms) * FS))
    ar = np.exp(-1000.0 / (rise_ms * FS))
    taus = np.geomspace(lo_ms, hi_ms, 3)
    outs = []
    for tau in taus:
        ad = np.exp(-1000.0 / (tau * FS))
        y = signal.lfilter([1 - ar], [1, -ar], signal.lfilter([1 - ad], [1, -ad], x))
        outs.append(y / (y.std() or 1.0))
    pos = np.interp(np.log(_up(decay_ms)), np.log(taus), np.arange(3.0))
    w1 = np.clip(1 - np.abs(pos - 1), 0, 1)
    w0 = np.clip(1 - pos, 0, 1)
    w2 = np.clip(pos - 1, 0, 1)
    y = w0 * outs[0] + w1 * outs[1] + w2 * outs[2]
    return (y / (y.std() or 1.0)).astype(np.float32)


# Paul Kellet's "economy" pink-noise filter (1/f power over three decades of the sampling rate).
_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
_PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])


def _oscillator(rng: np.random.Generator, n: int, hz: float, bandwidth_hz: float) -> np.ndarray:
    """A stochastic oscillator: the real part of a complex AR(1) rotating at `hz` (unit variance)."""
    rho = np.exp(-np.pi * bandwidth_hz / FS)
    z = signal.lfilter([1.0], [1.0, -rho * np.exp(2j * np.pi * hz / FS)],
                       rng.standard_normal(n) + 1j * rng.standard_normal(n))
    x = z.real
    return (x / (x.std() or 1.0)).astype(np.float32)


def _excitable(rng: np.random.Generator, drive: np.ndarray, hz: float, noise: float = 0.1,
               chunk_s: int = 30, overlap_s: int = 5) -> np.ndarray:
    """FitzHugh-Nagumo voltage at 100 Hz under a per-second drive, relative to rest.

    Chunks of the night run side by side (vectorised) and are cross-faded over `overlap_s`: the unit
    forgets its start within a few cycles."""
    n_sec = len(drive)
    hop = chunk_s - overlap_s
    starts = np.arange(0, max(n_sec - overlap_s, 1), hop)
    k = len(starts)
    L = chunk_s * FS
    sec = np.minimum(starts[:, None] + np.arange(chunk_s)[None, :], n_sec - 1)
    I = np.repeat(drive[sec], FS, axis=1)  # (k, L)
    sub = 3
    dt = 36.5 * hz / FS / sub  # model time per step: the unit cycles at about `hz` at drive 0.5
    v = np.full(k, -1.2)
    w = np.full(k, -0.62)
    out = np.empty((L, k))
    kicks = (noise * np.sqrt(dt)) * rng.standard_normal((L, sub, k), dtype=np.float32)
    I = np.ascontiguousarray(I.T)
    for i in range(L):
        drive_i = I[i]
        for j in range(sub):
            v, w = v + dt * (v - v * v * v / 3 - w + drive_i) + kicks[i, j], w + dt * 0.08 * (v + 0.7 - 0.8 * w)
        out[i] = v
    out = out.T + 1.2  # rest near 0
    x = np.zeros((starts[-1] + chunk_s) * FS)
    weight = np.zeros_like(x)
    ramp = np.ones(L)
    fade = overlap_s * FS
    ramp[:fade] = np.linspace(0, 1, fade + 2)[1:-1]
    ramp[-fade:] = ramp[:fade][::-1]
    for j, s0 in enumerate(starts):
        x[s0 * FS:s0 * FS + L] += ramp * out[j]
        weight[s0 * FS:s0 * FS + L] += ramp
    x = x[:n_sec * FS] / np.maximum(weight[:n_sec * FS], 1e-6)
    return x.astype(np.float32)


def _down_states(v: np.ndarray) -> np.ndarray:
    """Times (s) at which the unit's voltage enters an excursion (a down state on the scalp)."""
    above = v > 1.7
    return np.flatnonzero(above[1:] & ~above[:-1]) / FS


def _stamp(out: np.ndarray, times_s: np.ndarray, rows: np.ndarray) -> None:
    if len(times_s) == 0:
        return
    start = np.round(np.asarray(times_s) * FS).astype(np.int64)
    idx = start[:, None] + np.arange(rows.shape[1])[None, :]
    keep = (idx >= 0) & (idx < len(out))
    np.add.at(out, idx[keep], rows[keep].astype(np.float32))


def _spindles(rng: np.random.Generator, s: SubjectE, k: int) -> np.ndarray:
    """k spindles (rows, 2.5 s): gamma envelope (fast waxing, slow waning), frequency with a little noise."""
    n = int(2.5 * FS)
    t = np.arange(n)[None, :] / FS
    dur = rng.lognormal(np.log(0.8), 0.3, k)[:, None].clip(0.5, 2.0)
    shape = 2.5
    scale = dur / 5.0
    env = (t / scale) ** (shape - 1) * np.exp(-t / scale)
    env /= env.max(axis=1, keepdims=True)
    hz = s.spindle_hz + rng.normal(0.0, 0.4, k)[:, None] + 0.3 * np.cumsum(rng.standard_normal((k, n)), axis=1) / FS
    phase = 2 * np.pi * np.cumsum(hz, axis=1) / FS + rng.uniform(0, 2 * np.pi, k)[:, None]
    return env * np.sin(phase) * rng.lognormal(0.0, 0.25, k)[:, None]


def _vertex(rng: np.random.Generator, k: int) -> np.ndarray:
    """k vertex sharp waves (rows, 0.6 s): a gamma-shaped negative peak and a smaller positive rebound."""
    t = np.arange(int(0.6 * FS))[None, :] / FS
    width = rng.uniform(0.025, 0.045, k)[:, None]
    neg = (t / width) ** 2 * np.exp(2 - t / width)
    late = np.clip(t - 4 * width, 0, None)
    pos = 0.35 * (late / (2 * width)) ** 2 * np.exp(2 - late / (2 * width))
    return -(neg - pos) * rng.lognormal(0.0, 0.25, k)[:, None]


def _gaze_move(amplitude: np.ndarray, duration: np.ndarray, n: int) -> np.ndarray:
    """Rows: eye position during a movement whose velocity follows a gamma profile (shape 3: skewed)."""
    t = np.arange(n)[None, :] / FS
    scale = duration[:, None] / 6.0
    vel = (t / scale) ** 2 * np.exp(-t / scale)
    pos = np.cumsum(vel, axis=1)
    return amplitude[:, None] * pos / pos[:, -1:]


def _steps_to_position(n: int, times_s: np.ndarray, sizes: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """A gaze trace that holds its position between movements."""
    vel = np.zeros(n)
    if len(times_s):
        L = int(np.ceil(durations.max() * 1.6 * FS)) + 2
        moves = _gaze_move(sizes, durations, L)
        vel_rows = np.diff(moves, axis=1, prepend=0.0)
        start = np.round(times_s * FS).astype(np.int64)
        idx = start[:, None] + np.arange(L)[None, :]
        keep = idx < n
        np.add.at(vel, idx[keep], vel_rows[keep])
    return np.cumsum(vel)


def _band_noise(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    sos = signal.butter(2, [lo, hi], btype="band", fs=FS, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal(n))
    return x / (x.std() or 1.0)


def _poisson_times(rng: np.random.Generator, rate_per_s: np.ndarray) -> np.ndarray:
    """Event times (s) of a Poisson process with a per-second rate."""
    hits = rng.random(len(rate_per_s)) < np.clip(rate_per_s, 0, 1)
    return np.flatnonzero(hits) + rng.random(int(hits.sum()))


def _eyes(rng: np.random.Generator, s: SubjectE, micro: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(horizontal on the bipolar EOG, vertical and lids as Fpz-Cz sees them)."""
    n_sec = len(micro)
    T = n_sec * FS
    is_open = (micro == OPEN).astype(np.float64)
    # Waking gaze: heavy-tailed jumps about a centre the gaze keeps returning to, over a slow wander.
    t = _poisson_times(rng, s.saccade_per_min / 60.0 * is_open)
    k = len(t)
    target = np.clip(rng.standard_t(3, k) * 0.5 * s.gaze_uv, -3 * s.gaze_uv, 3 * s.gaze_uv)
    vtarget = rng.normal(0.0, s.vertical_share * s.gaze_uv, k)
    steps_h = np.diff(target, prepend=0.0)
    steps_v = np.diff(vtarget, prepend=0.0)
    dur = np.clip(0.02 + 0.00015 * np.hypot(steps_h, steps_v), 0.02, 0.1)
    h = _steps_to_position(T, t, steps_h, dur)
    v = _steps_to_position(T, t, steps_v, dur)
    gate = signal.lfilter([0.03], [1, -0.97], _up(is_open))
    h = (h + s.wander_uv * _band_noise(rng, T, 0.05, 0.6)) * gate
    v = (v + 0.3 * s.vertical_share * s.wander_uv * _band_noise(rng, T, 0.05, 0.6)) * gate
    # Slow eye movements while drowsy: pendular, under a raised-cosine envelope per micro-state stretch.
    drowsy = np.isin(micro, (INTERMITTENT, FLAT, THETA, VERTEX)).astype(np.float64)
    env = np.convolve(drowsy, np.hanning(9) / np.hanning(9).sum(), mode="same")
    sem_hz = rng.uniform(0.2, 0.5)
    phase = 2 * np.pi * np.cumsum(_up(sem_hz * np.exp(0.25 * _band_noise(rng, n_sec, 0.005, 0.1)))) / FS
    h += _up(s.sem_uv * env) * np.sin(phase)
    # Rapid eye movements: bursts of out-and-back pairs in phasic REM.
    for tb in _poisson_times(rng, s.rem_burst_per_min / 60.0 * (micro == PHASIC)):
        tc = tb
        for _ in range(int(rng.integers(2, 8))):
            size = rng.choice([-1.0, 1.0]) * s.rem_uv * rng.lognormal(0.0, 0.35)
            out_s = np.clip(5.0 * (0.02 + 0.00015 * abs(size)), 0.15, 0.5)
            back_s = out_s * rng.uniform(3.0, 6.0)
            hold = rng.uniform(0.1, 0.5)
            times = np.array([tc, tc + out_s + hold])
            sizes = np.array([size, -size])
            move = _steps_to_position(int((out_s + hold + back_s) * 1.6 * FS) + 4, times - tc, sizes,
                                      np.array([out_s, back_s]))
            oblique = rng.normal(0.0, 0.5)
            i0 = int(tc * FS)
            if i0 >= T:
                break
            seg = slice(i0, min(i0 + len(move), T))
            h[seg] += move[:seg.stop - i0]
            v[seg] += oblique * move[:seg.stop - i0]
            tc += out_s + hold + back_s * rng.uniform(0.6, 1.2)
    # Blinks with the eyes open: closing and reopening as half-Gaussians (reopening slower).
    tb = _poisson_times(rng, s.blink_per_min / 60.0 * is_open)
    tt = np.arange(int(0.8 * FS))[None, :] / FS
    close = rng.uniform(0.03, 0.05, len(tb))[:, None]
    reopen = rng.uniform(0.08, 0.14, len(tb))[:, None]
    peak = 3 * close
    lid = np.where(tt < peak, np.exp(-0.5 * ((tt - peak) / close) ** 2), np.exp(-0.5 * ((tt - peak) / reopen) ** 2))
    blink = np.zeros(T, dtype=np.float32)
    _stamp(blink, tb, s.blink_uv * rng.lognormal(0.0, 0.25, len(tb))[:, None] * lid)
    return h.astype(np.float32), (v + blink).astype(np.float32)


# ---- the night ----------------------------------------------------------------------

def sources(labels: np.ndarray, seed: int, subject: int, night: int) -> Sources:
    s = night_params(seed, subject, night)
    rng = keyed_rng(seed, _SIGNAL_KEY, subject, night)
    labels = np.asarray(labels, dtype=np.int64)
    n_sec = len(labels) * EPOCH_S
    T = n_sec * FS
    micro = _micro_states(rng, labels, s)
    depth = _depth(rng, labels)
    nrem = (micro == NREM).astype(np.float64)
    sleep_nrem = nrem * depth
    share = lambda *states: np.isin(micro, states).astype(np.float64)  # noqa: E731
    rem = share(TONIC, PHASIC)
    awake = share(ALPHA, INTERMITTENT, OPEN, AROUSAL)
    unscored = np.repeat(labels == -1, EPOCH_S).astype(np.float64)

    # Background: shot noise, slower kernels the deeper the sleep; smaller in flattening and REM.
    decay = s.decay_light_ms + (s.decay_deep_ms - s.decay_light_ms) * sleep_nrem
    bg_level = s.psp_uv * (1.0 + 0.35 * sleep_nrem - 0.3 * share(FLAT) - 0.1 * rem)
    bg_env = _up(bg_level)
    span = (s.decay_light_ms, s.decay_deep_ms)
    bg = (bg_env * _shot_noise(rng, decay, *span), bg_env * _shot_noise(rng, decay, *span))

    # Alpha, theta, beta: stochastic oscillators under micro-state gates.
    alpha_gate = (share(ALPHA) + 0.45 * share(INTERMITTENT) + 0.3 * share(OPEN) + 0.6 * share(AROUSAL)
                  + 0.06 * rem + 0.05 * share(FLAT))
    alpha_env = _up(s.alpha_uv * alpha_gate * np.exp(0.3 * _band_noise(rng, n_sec, 0.01, 0.3)))
    alpha = tuple(alpha_env * _oscillator(rng, T, s.alpha_hz, 0.6) for _ in range(2))
    theta_gate = (1.1 * share(THETA) + 0.6 * share(VERTEX) + 0.4 * share(FLAT) + 0.4 * share(INTERMITTENT)
                  + 0.7 * rem + 0.4 * nrem + 0.15 * awake)
    theta_env = _up(s.theta_uv * theta_gate)
    theta = tuple(theta_env * _oscillator(rng, T, s.theta_hz, 1.5) for _ in range(2))
    # Waking theta beyond the alert level comes from a frontal generator: posterior leads do not see it.
    drowsy_env = _up(0.15 * s.theta_uv * (s.wake_theta - 1.0) * share(ALPHA, INTERMITTENT, OPEN))
    drowsy = drowsy_env * _oscillator(keyed_rng(seed, _DROWSY_KEY, subject, night), T, s.theta_hz, 1.5)
    theta = tuple(t + f for t, f in zip(theta, frontal(drowsy)))
    beta_env = _up(s.beta_uv * (0.3 + 0.9 * awake + 0.1 * rem))
    beta = tuple(beta_env * _oscillator(rng, T, float(rng.uniform(19.0, 25.0)), 4.0) for _ in range(2))
    muscle_level = s.muscle_uv * (0.03 + 1.1 * share(OPEN) + 1.5 * share(AROUSAL) + 0.45 * share(ALPHA)
                                  + 0.1 * share(INTERMITTENT) + 0.5 * unscored)
    m_sos = signal.butter(4, 22.0, btype="high", fs=FS, output="sos")
    muscle = tuple(_up(muscle_level) * (signal.sosfilt(m_sos, rng.standard_normal(T))
                                         * np.exp(0.6 * np.repeat(_band_noise(rng, n_sec, 0.02, 0.4), FS))
                                         ).astype(np.float32) for _ in range(2))

    # Slow waves and K-complexes: the excitable unit, quiet awake and in REM, excitable in N2, cycling in N3.
    n3ness = np.clip((depth - 0.6) / 0.3, 0.0, 1.0)
    drive = np.where(nrem > 0, s.excitability - 0.15 * (1 - np.clip(depth / 0.5, 0, 1))
                     + (s.n3_drive - s.excitability) * n3ness, -0.4)
    v_main = _excitable(rng, drive, s.sw_hz)
    v_alt = _excitable(rng, drive, s.sw_hz)
    slow = (-s.sw_uv * v_main).astype(np.float32)
    slow_alt = (-0.6 * s.sw_uv * v_alt).astype(np.float32)

    # Spindles: nested in the recovery after down states, and spontaneous in N2.
    downs = _down_states(v_main)
    nested = downs[rng.random(len(downs)) < s.nested_share * (1 - 0.7 * n3ness[np.minimum(downs.astype(int), n_sec - 1)])]
    nested = nested + rng.uniform(0.5, 0.9, len(nested))
    own = _poisson_times(rng, s.spindle_per_min / 60.0 * nrem * np.clip(depth / 0.4, 0, 1) * (1 - 0.6 * n3ness))
    sp_t = np.sort(np.concatenate([nested, own]))
    if len(sp_t) > 1:  # spindles do not overlap: one at least 2 s after another
        keep = [0]
        for i in range(1, len(sp_t)):
            if sp_t[i] - sp_t[keep[-1]] >= 2.0:
                keep.append(i)
        sp_t = sp_t[keep]
    rows = _spindles(rng, s, len(sp_t))
    spindle = np.zeros(T, dtype=np.float32)
    _stamp(spindle, sp_t, s.spindle_uv * rows)
    spindle_alt = np.zeros(T, dtype=np.float32)
    _stamp(spindle_alt, sp_t + rng.uniform(-0.1, 0.1, len(sp_t)), 0.5 * s.spindle_uv * rows)

    # Vertex sharp waves (Hori's vertex stages: single, then in bursts) and REM sawtooth trains.
    vertex = np.zeros(T, dtype=np.float32)
    vt = _poisson_times(rng, 6.0 / 60.0 * share(VERTEX) + 1.0 / 60.0 * share(THETA))
    burst = rng.random(len(vt)) < 0.4
    vt = np.concatenate([vt, vt[burst] + rng.uniform(0.6, 1.2, int(burst.sum()))])
    _stamp(vertex, vt, s.vertex_uv * _vertex(rng, len(vt)))
    for t0 in _poisson_times(rng, 2.0 / 60.0 * share(PHASIC) + 0.4 / 60.0 * share(TONIC)):
        length = int(rng.uniform(1.5, 5.0) * FS)
        hz = s.sawtooth_hz * rng.uniform(0.85, 1.15)
        ph = 2 * np.pi * hz * np.arange(length) / FS
        wave = sum((-1) ** (m + 1) * np.sin(m * ph) / m for m in (1, 2, 3))
        env = np.sin(np.pi * np.arange(length) / length) ** 0.5 * np.linspace(0.5, 1.0, length)
        _stamp(vertex, np.array([t0]), (s.sawtooth_uv * env * wave)[None, :])

    eye, blink = _eyes(keyed_rng(seed, _EYE_KEY, subject, night), s, micro)
    movement = 0.01 + 0.3 * share(OPEN) + 1.0 * share(AROUSAL) + 1.5 * unscored
    comps = (bg, alpha, theta, (slow, slow_alt), (spindle, spindle_alt), (vertex, None), beta, muscle)
    start = night_start(subject, night, s.start_hour, days_per_subject=53)
    return family_sources("E", s, comps, eye, blink, movement, _aux(rng, s, micro, depth, start), start)


def _aux(rng, s: SubjectE, micro: np.ndarray, depth: np.ndarray, start: dt.datetime) -> dict[str, np.ndarray]:
    """Sleep-EDF's 1-Hz channels from E's micro-states: breathing, chin EMG envelope, temperature, marker."""
    n_sec = len(micro)
    rem = np.isin(micro, (TONIC, PHASIC))
    awake = np.isin(micro, (ALPHA, INTERMITTENT, OPEN, AROUSAL))
    irregular = np.where(rem | awake, 1.0, 0.2)
    rate = 0.26 * (1 - 0.1 * depth) * (1 + 0.1 * irregular * _band_noise(rng, n_sec, 0.01, 0.2))
    resp = np.clip(rng.uniform(300.0, 700.0) * np.sin(2 * np.pi * np.cumsum(rate)), -2048, 2047)
    tone = s.emg_uv * np.where(awake, 1.0, np.where(rem, 0.1, 0.55 - 0.2 * depth))
    twitches = (micro == PHASIC) & (rng.random(n_sec) < 0.08)
    emg = np.clip(tone * np.exp(0.15 * rng.standard_normal(n_sec)) + twitches * rng.uniform(0.3, 1.2, n_sec), 0.05, 5.0)
    temp = np.clip(rng.uniform(36.5, 37.1) + 0.3 * np.cos(2 * np.pi * (clock_hours(start, n_sec) - 17.5) / 24.0),
                   34.0, 40.0)
    marker = np.full(n_sec, rng.uniform(850.0, 950.0))
    return aux_channels(resp, emg, temp, marker)
