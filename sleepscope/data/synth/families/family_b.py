"""Family B: a second physiology, built apart from family A.

Where A draws per-epoch feature drives, blends ambiguous epochs with another
stage's drives and multiplies band-limited noise carriers by envelopes, B
derives everything from one continuous latent state per second:

- *depth* (0 wake, 1 N1, 2 N2, 3+ N3) and *REM-ness*, set per epoch with
  noise, pulled towards the neighbouring stage near a boundary and relaxing
  causally (a first-order lag plus an Ornstein-Uhlenbeck wander), so stage
  boundaries blur forwards in time and borderline epochs come from the state,
  not from a blend;
- rhythms from generators with their own dynamics: alpha as a noisy phase
  oscillator with an arch-shaped (harmonic) waveform that slows in REM, theta
  and the background as resonators and multi-timescale Ornstein-Uhlenbeck
  processes driven by modulated noise;
- slow waves as individual up/down cycles (sharp negative down-state, broad
  positive up-state) in on/off runs whose occupancy and amplitude follow
  depth; K-complexes as single large cycles, often followed by a spindle;
- spindles as chirps (frequency falling through the spindle) of two kinds,
  slow (~11-12 Hz) and fast (~13-15 Hz), in trains with a refractory period,
  with Gaussian envelopes and gamma-distributed durations;
- vertex sharp waves as asymmetric triangles, sawtooth waves with a fast rise
  and slow fall in crescendo trains;
- eyes: waking gaze as a position that saccades (main-sequence durations,
  horizontal and vertical together) and holds, over a slow sideways wander,
  with scanning that comes and goes and eyes-closed stretches without it; rapid eye movements as clustered,
  slower saccades that drift back; slow eye movements as a slow oscillation;
  blinks that close fast and open slowly.

Stage physiology follows the AASM scoring manual (v2.6): posterior alpha with
eyes closed in W; alpha dropping out, theta, vertex waves and slow eye
movements in N1; spindles (11-16 Hz) and K-complexes in N2; waves of
0.5-2 Hz over 75 µV peak-to-peak in at least 20 % of N3 epochs (frontal);
low-voltage mixed activity, sawtooth waves, rapid eye movements and atonia in
REM.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
from scipy import signal
from scipy.special import ndtri

from sleepscope.data.synth.common import (aux_channels, clock_hours, family_sources, keyed_rng, loguniform,
                                          night_start, night_variant, person)
from sleepscope.data.synth.families import FS, Sources

EPOCH_S = 30
_SUBJECT_KEY = 0xB51
_NIGHT_KEY = 0xB52
_SIGNAL_KEY = 0xB53
_WAKE_EYE_KEY = 0xB54  # the waking eyes' own stream: the rest of a subject and night draws as before

# Latent depth of each stage code; REM sits near N1 in depth and is told apart by REM-ness.
_DEPTH = {0: 0.0, 1: 1.1, 2: 2.0, 3: 3.3, 4: 1.1, -1: 0.0}


@dataclass(frozen=True)
class SubjectB:
    """One synthetic person under family B (µV on the calibration derivation, Hz, s)."""

    age: int
    sex: str
    background_uv: float
    alpha_hz: float
    alpha_uv: float
    alpha_harmonic: float  # second-harmonic share: the arch-shaped alpha wave
    theta_hz: float
    theta_uv: float
    beta_uv: float
    muscle_uv: float
    spindle_fast_hz: float
    spindle_slow_hz: float
    slow_spindle_share: float
    spindle_uv: float
    spindle_per_min: float
    spindle_s: float  # mean spindle duration
    spindle_chirp: float  # Hz per second (negative: slowing through the spindle)
    sw_pp_uv: float  # N3 slow-wave peak-to-peak amplitude on Fpz-Cz
    sw_hz: float
    sw_down: float  # share of the cycle in the down-state
    sw_up: float  # up-state height relative to the down-state
    kc_per_min: float
    kc_pp_uv: float
    kc_spindle: float  # share of K-complexes followed by a spindle
    vertex_uv: float
    sawtooth_hz: float
    sawtooth_uv: float
    sawtooth_per_min: float
    rem_bursts_per_min: float
    rem_saccade_uv: float
    sem_uv: float
    blink_per_min: float
    blink_uv: float
    emg_uv: float
    depth_noise: float
    lag_s: float  # how long the state takes to follow a stage change
    eog_leak: float  # share of frontal EEG in the bipolar EOG
    start_hour: float
    gaze_uv: float  # spread of waking gaze targets, µV on the bipolar EOG
    scan_per_min: float  # waking saccades per minute while the eyes scan
    vertical_share: float  # vertical part of waking gaze shifts (on Fpz-Cz) relative to the horizontal


def subject_params(seed: int, subject: int) -> SubjectB:
    rng = keyed_rng(seed, _SUBJECT_KEY, subject)
    return SubjectB(
        **person(rng, ages=(20, 95)),
        background_uv=loguniform(rng, 4.0, 8.5),
        alpha_hz=float(rng.uniform(8.5, 11.5)),
        alpha_uv=1.5 if rng.random() < 0.07 else loguniform(rng, 3.5, 13.0),
        alpha_harmonic=float(rng.uniform(0.15, 0.45)),
        theta_hz=float(rng.uniform(4.5, 7.0)),
        theta_uv=loguniform(rng, 4.5, 9.0),
        beta_uv=loguniform(rng, 1.5, 4.0),
        muscle_uv=loguniform(rng, 1.5, 8.0),
        spindle_fast_hz=float(rng.uniform(12.8, 14.8)),
        spindle_slow_hz=float(rng.uniform(11.0, 12.3)),
        slow_spindle_share=float(rng.uniform(0.2, 0.5)),
        spindle_uv=loguniform(rng, 15.0, 35.0),
        spindle_per_min=loguniform(rng, 2.5, 7.0),
        spindle_s=float(rng.uniform(0.8, 1.4)),
        spindle_chirp=float(rng.uniform(-1.2, -0.3)),
        sw_pp_uv=loguniform(rng, 150.0, 240.0),
        sw_hz=float(rng.uniform(0.7, 1.1)),
        sw_down=float(rng.uniform(0.35, 0.48)),
        sw_up=float(rng.uniform(0.55, 0.9)),
        kc_per_min=loguniform(rng, 0.8, 3.0),
        kc_pp_uv=loguniform(rng, 100.0, 250.0),
        kc_spindle=float(rng.uniform(0.3, 0.7)),
        vertex_uv=loguniform(rng, 45.0, 110.0),
        sawtooth_hz=float(rng.uniform(2.0, 4.5)),
        sawtooth_uv=loguniform(rng, 18.0, 45.0),
        sawtooth_per_min=loguniform(rng, 0.5, 3.0),
        rem_bursts_per_min=loguniform(rng, 5.0, 12.0),
        rem_saccade_uv=loguniform(rng, 160.0, 420.0),
        sem_uv=loguniform(rng, 60.0, 180.0),
        blink_per_min=loguniform(rng, 8.0, 25.0),
        blink_uv=loguniform(rng, 100.0, 220.0),
        emg_uv=loguniform(rng, 2.0, 4.5),
        depth_noise=float(rng.uniform(0.25, 0.4)),
        lag_s=float(rng.uniform(3.0, 10.0)),
        eog_leak=float(rng.uniform(0.05, 0.35)),
        start_hour=float(rng.uniform(21.5, 24.0)),
        **_waking_eyes(keyed_rng(seed, _WAKE_EYE_KEY, subject)),
    )


def _waking_eyes(rng: np.random.Generator) -> dict[str, float]:
    # Waking horizontal EOG of Sleep-EDF's evening wake: large gaze shifts of tens to hundreds of µV.
    # Fpz sits just above the eyes: vertical gaze reaches Fpz-Cz about as strongly as horizontal gaze reaches
    # the bipolar EOG, and makes waking Fpz-Cz slow-dominated (docs/synthetic-axes.md).
    return {"gaze_uv": loguniform(rng, 170.0, 360.0), "scan_per_min": loguniform(rng, 80.0, 200.0),
            "vertical_share": float(rng.uniform(0.2, 0.5))}


_NIGHT_JITTER = ("background_uv", "alpha_uv", "spindle_per_min", "spindle_uv", "sw_pp_uv", "kc_per_min",
                 "rem_bursts_per_min", "blink_per_min", "muscle_uv", "emg_uv")


def night_params(seed: int, subject: int, night: int) -> SubjectB:
    s = night_variant(subject_params(seed, subject), keyed_rng(seed, _NIGHT_KEY, subject, night), _NIGHT_JITTER,
                      lambda b, r: {"alpha_hz": float(np.clip(b.alpha_hz + r.normal(0, 0.12), 8.0, 12.0))})
    # The evening differs too (reading, television, lying with the eyes closed).
    r = keyed_rng(seed, _WAKE_EYE_KEY, subject, night)
    return replace(s, scan_per_min=s.scan_per_min * float(np.exp(r.normal(0.0, 0.25))),
                   gaze_uv=s.gaze_uv * float(np.exp(r.normal(0.0, 0.15))))


# ---- generators -----------------------------------------------------------------

def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _upsample(per_second: np.ndarray) -> np.ndarray:
    """Linear interpolation from the 1-Hz grid (values at each second's centre) to 100 Hz, float32."""
    x = np.asarray(per_second, dtype=np.float32)
    prev = np.concatenate([x[:1], x[:-1]])[:, None]
    nxt = np.concatenate([x[1:], x[-1:]])[:, None]
    w = ((np.arange(FS // 2, dtype=np.float32) + 0.5) / FS)[None, :]  # distance from the centre, in seconds
    first = x[:, None] + (prev - x[:, None]) * (0.5 - w)  # samples before the centre
    second = x[:, None] + (nxt - x[:, None]) * w  # samples after it
    return np.concatenate([first, second], axis=1).ravel()


def _ou(rng: np.random.Generator, n: int, tau: float) -> np.ndarray:
    """Unit-variance Ornstein-Uhlenbeck (AR(1)) noise with time constant `tau` samples."""
    a = np.exp(-1.0 / tau)
    return signal.lfilter(_f32([np.sqrt(1 - a * a)]), _f32([1.0, -a]), rng.standard_normal(n, dtype=np.float32))


def _resonator(rng: np.random.Generator, n: int, hz: float, bandwidth: float, drive=None) -> np.ndarray:
    """A damped oscillator (AR(2)) driven by white noise (scaled by `drive` if given): unit variance where drive is 1."""
    r = np.exp(-np.pi * bandwidth / FS)
    phi1, phi2 = 2 * r * np.cos(2 * np.pi * hz / FS), -r * r
    var = (1 - phi2) / ((1 + phi2) * ((1 - phi2) ** 2 - phi1 ** 2))
    noise = rng.standard_normal(n, dtype=np.float32)
    if drive is not None:
        noise *= drive
    return signal.lfilter(_f32([1.0 / np.sqrt(var)]), _f32([1.0, -phi1, -phi2]), noise)


def _phase_oscillator(rng: np.random.Generator, hz: np.ndarray, diffusion: float, harmonic: float) -> np.ndarray:
    """A rhythm with a wandering phase and a non-sinusoidal (arch) shape, unit RMS."""
    steps = 2 * np.pi * hz.astype(np.float64) / FS
    steps += (diffusion / np.sqrt(FS)) * rng.standard_normal(len(hz), dtype=np.float32)
    sin = np.sin(np.cumsum(steps) % (2 * np.pi)).astype(np.float32)
    # sin(p) + h sin(2p + pi/2) = sin(p) + h (1 - 2 sin(p)^2): the harmonic without a second sine.
    wave = sin + np.float32(harmonic) * (1 - 2 * sin * sin)
    return wave / np.float32(np.sqrt(0.5 * (1 + harmonic ** 2)))


def _events(rng: np.random.Generator, rate_per_min: np.ndarray, refractory_s: float = 0.0) -> np.ndarray:
    """Event times (s) with a per-second rate; with a refractory period the train is more regular than Poisson."""
    counts = rng.poisson(np.maximum(rate_per_min, 0.0) / 60.0)
    t = np.repeat(np.arange(len(rate_per_min)), counts) + rng.random(int(counts.sum()))
    t.sort()
    if refractory_s <= 0 or len(t) < 2:
        return t
    kept, last = [], -np.inf
    for x in t:
        if x - last >= refractory_s:
            kept.append(x)
            last = x
    return np.asarray(kept)


def _place(out: np.ndarray, t_s: float, x: np.ndarray) -> None:
    i = int(round(t_s * FS))
    lo, hi = max(i, 0), min(len(out), i + len(x))
    if lo < hi:
        out[lo:hi] += x[lo - i: hi - i]


def _spindle(rng: np.random.Generator, s: SubjectB, amp: float) -> np.ndarray:
    dur = float(np.clip(rng.gamma(4.0, s.spindle_s / 4.0), 0.5, 3.0))
    t = np.arange(int((dur + 0.4) * FS)) / FS
    f0 = s.spindle_slow_hz if rng.random() < s.slow_spindle_share else s.spindle_fast_hz
    f0 = float(np.clip(f0 + rng.normal(0, 0.3), 10.8, 15.8))
    centre = 0.2 + dur / 2
    freq = f0 + s.spindle_chirp * (t - centre)
    phase = 2 * np.pi * np.cumsum(freq) / FS + rng.uniform(0, 2 * np.pi)
    env = np.exp(-0.5 * ((t - centre) / (dur / 4.5)) ** 2)
    return amp * rng.lognormal(0, 0.25) * env * np.sin(phase)


def _cycle(n: int, down: float, up: float) -> np.ndarray:
    """One slow-oscillation cycle sampled at n points: a sharp negative down-state, then a broad up-state."""
    ph = (np.arange(n) + 0.5) / n
    return np.where(ph < down, -np.sin(np.pi * ph / down), up * np.sin(np.pi * (ph - down) / (1 - down)))


def _slow_waves(rng: np.random.Generator, s: SubjectB, occupancy: np.ndarray, pp: np.ndarray) -> np.ndarray:
    """Runs of slow-oscillation cycles: `occupancy` (per second) of the time, `pp` peak-to-peak µV."""
    n_sec = len(occupancy)
    # Two-state on/off runs: on-runs of a few seconds, off-runs set by the wanted occupancy.
    # A second-by-second Markov chain whose switching odds follow the occupancy as it changes.
    p = np.clip(occupancy, 0.005, 0.995)
    mean_on = rng.uniform(3.0, 9.0)
    p_off = 1.0 / mean_on
    p_on = np.minimum(p / (1 - p) * p_off, 1.0)
    u = rng.random(n_sec)
    on = np.zeros(n_sec, dtype=bool)
    state = False
    for i in range(n_sec):
        state = u[i] >= p_off if state else u[i] < p_on[i]
        on[i] = state
    # Back-to-back cycles of random period over the whole night; those starting in an
    # "off" second stay silent. Each cycle has its own amplitude, down-state share and up-state height.
    periods = np.clip(rng.gamma(9.0, 1.0 / (9.0 * s.sw_hz), int(n_sec / 0.5) + 2), 0.55, 1.9)
    starts = np.concatenate([[0.0], np.cumsum(periods)[:-1]])
    keep = starts < n_sec
    periods, starts = periods[keep], starts[keep]
    k = len(starts)
    sec = starts.astype(np.int64)
    down = np.clip(s.sw_down + rng.normal(0, 0.04, k), 0.28, 0.55)
    amp = on[sec] * pp[sec] * rng.lognormal(0, 0.22, k) / (1 + s.sw_up)
    up = s.sw_up * rng.uniform(0.85, 1.15, k)
    t = (np.arange(n_sec * FS) + 0.5) / FS
    c = np.searchsorted(starts, t, side="right") - 1
    ph = (t - starts[c]) / periods[c]
    d = down[c]
    wave = np.where(ph < d, -np.sin(np.pi * ph / d), up[c] * np.sin(np.pi * (ph - d) / (1 - d)))
    return (amp[c] * wave).astype(np.float32)


def _vertex_wave(rng: np.random.Generator, amp: float) -> np.ndarray:
    rise, fall = rng.uniform(0.05, 0.09), rng.uniform(0.12, 0.2)
    t = np.arange(int((rise + fall + 0.25) * FS)) / FS
    tri = np.where(t < rise, t / rise, np.clip(1 - (t - rise) / fall, 0, 1))
    overshoot = -0.2 * np.exp(-0.5 * ((t - rise - fall - 0.08) / 0.05) ** 2)
    return -amp * rng.lognormal(0, 0.25) * (tri + overshoot)  # surface-negative


def _sawtooth_train(rng: np.random.Generator, s: SubjectB) -> np.ndarray:
    dur = rng.uniform(2.0, 6.0)
    t = np.arange(int(dur * FS)) / FS
    f = s.sawtooth_hz * rng.uniform(0.85, 1.15)
    frac = (f * t) % 1.0
    tooth = np.where(frac < 0.3, frac / 0.3, 1 - (frac - 0.3) / 0.7) * 2 - 1  # fast rise, slow fall
    crescendo = np.minimum(1.0, 0.3 + t / dur) * np.sin(np.pi * t / dur) ** 0.3
    return s.sawtooth_uv * rng.lognormal(0, 0.25) * crescendo * tooth


def _saccade(amplitude: float, slowness: float = 1.0, fs: int = FS) -> np.ndarray:
    """A gaze step whose duration grows with its size (main sequence), as a smooth ramp.

    Rapid eye movements of REM are slower than waking saccades of the same size (`slowness` > 1).
    """
    dur = slowness * (0.025 + 0.00015 * abs(amplitude))  # µV on the bipolar EOG stand in for degrees
    t = np.arange(int(0.3 * fs)) / fs
    return amplitude * 0.5 * (1 + np.tanh((t - 0.05 - dur / 2) / (dur / 4)))


def _waking_gaze(rng: np.random.Generator, s: SubjectB, eyes_open: np.ndarray,
                 wander_rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Waking gaze with the eyes open: fixations held between saccades to new targets (horizontal on the
    bipolar EOG, vertical as Fpz-Cz sees it), one main-sequence ramp for both. Scanning waxes and wanes."""
    n_sec = len(eyes_open)
    T = n_sec * FS
    scanning = eyes_open * np.exp(0.8 * _ou(rng, n_sec, 20.0) - 0.32)
    h_steps = np.zeros(T, dtype=np.float32)
    v_steps = np.zeros(T, dtype=np.float32)
    gh = gv = 0.0
    for ts in _events(rng, s.scan_per_min * scanning, refractory_s=0.15):
        # Mostly near straight ahead with occasional far looks (a heavier tail than a normal).
        th = rng.normal(0.0, s.gaze_uv) * rng.choice([0.5, 1.0, 1.8], p=[0.3, 0.5, 0.2])
        tv = rng.normal(0.0, s.vertical_share * s.gaze_uv)
        size = float(np.hypot(th - gh, tv - gv))
        ramp = np.diff(_saccade(max(size, 1e-3)), prepend=0.0) / max(size, 1e-3)
        _place(h_steps, ts, (th - gh) * ramp)
        _place(v_steps, ts, (tv - gv) * ramp)
        gh, gv = th, tv
    # Lying in bed the gaze also wanders slowly, mostly sideways (Sleep-EDF's real waking EOG is slow-dominated):
    # the wander carries much of the horizontal spread; the vertical saccades keep their size (they make waking
    # Fpz-Cz slow). Its own stream leaves the saccades and REM's eye movements as they were.
    wander_h = s.gaze_uv * _wander(wander_rng, T)
    wander_v = 0.3 * s.vertical_share * s.gaze_uv * _wander(wander_rng, T)
    # Closing the eyes ends the fixation: the gaze potential falls back to the resting position.
    held = _upsample(eyes_open)
    return (0.8 * np.cumsum(h_steps) + wander_h) * held, (np.cumsum(v_steps) + wander_v) * held


def _wander(rng: np.random.Generator, n: int) -> np.ndarray:
    """Slow unit-variance gaze wander: OU noise smoothed twice more, so its power falls steeply above a few tenths
    of a hertz."""
    x = _ou(rng, n, 0.4 * FS)
    for _ in range(2):
        x = signal.lfilter(_f32([1 - np.exp(-3.0 / FS)]), _f32([1.0, -np.exp(-3.0 / FS)]), x)
    return x / max(float(x.std()), 1e-12)


def _blink(rng: np.random.Generator, amp: float) -> np.ndarray:
    close, open_ = rng.uniform(0.06, 0.1), rng.uniform(0.15, 0.3)
    t = np.arange(int((close + open_) * FS)) / FS
    shape = np.where(t < close, 0.5 * (1 - np.cos(np.pi * t / close)), 0.5 * (1 + np.cos(np.pi * (t - close) / open_)))
    return amp * rng.lognormal(0, 0.25) * shape


def _state(rng: np.random.Generator, labels: np.ndarray, s: SubjectB) -> tuple[np.ndarray, np.ndarray]:
    """Per second: latent depth and REM-ness."""
    n = len(labels)
    target = np.array([_DEPTH.get(int(c), 0.0) for c in labels])
    rem = (labels == 4).astype(np.float64)
    depth = target + rng.normal(0.0, s.depth_noise, n)
    # Borderline epochs in the middle of a stage: drowsy wake, alpha-rich or deep N1,
    # light or deep N2, shallow N3 (where scorers disagree most).
    shift = {0: (0.35, 0.25, 0.7), 1: (0.5, -0.75, 0.65), 2: (0.35, -0.65, 0.8), 3: (0.3, -0.9, -0.3)}
    for code, (share, lo, hi) in shift.items():
        mask = (labels == code) & (rng.random(n) < share)
        depth[mask] += rng.uniform(lo, hi, int(mask.sum()))
    # Near a boundary an epoch often already (or still) looks partly like its neighbour.
    prev = np.concatenate([target[:1], target[:-1]])
    nxt = np.concatenate([target[1:], target[-1:]])
    neighbour = np.where(prev != target, prev, nxt)
    edge = (neighbour != target) & (rng.random(n) < 0.6)
    depth = np.where(edge, depth + rng.uniform(0.25, 0.65, n) * (neighbour - target), depth)
    # The N2/N3 border is an absolute rule (>= 20 % of the epoch in large slow waves):
    # borderline epochs come close to it from either side without crossing it.
    depth = np.where(labels == 3, np.maximum(depth, 2.55), depth)
    depth = np.where(labels == 2, np.minimum(depth, 2.45), depth)
    rem_prev = np.concatenate([rem[:1], rem[:-1]])
    rem = np.where((rem != rem_prev) & (rng.random(n) < 0.5), 0.5 * (rem + rem_prev), rem)
    # Tonic REM stretches with few phasic features; some N1 with REM-like features.
    rem = np.where((labels == 4) & (rng.random(n) < 0.2), rng.uniform(0.5, 0.8, n), rem)
    rem = np.where((labels == 1) & (rng.random(n) < 0.2), rng.uniform(0.2, 0.5, n), rem)
    depth_s = np.repeat(depth, EPOCH_S)
    rem_s = np.repeat(rem, EPOCH_S)
    a = np.exp(-1.0 / s.lag_s)
    depth_s = signal.lfilter([1 - a], [1, -a], depth_s, zi=[a * depth_s[0]])[0]
    rem_s = signal.lfilter([1 - a], [1, -a], rem_s, zi=[a * rem_s[0]])[0]
    depth_s += 0.15 * _ou(rng, len(depth_s), 10.0)
    return depth_s, np.clip(rem_s, 0.0, 1.0)


def sources(labels: np.ndarray, seed: int, subject: int, night: int) -> Sources:
    s = night_params(seed, subject, night)
    rng = keyed_rng(seed, _SIGNAL_KEY, subject, night)
    labels = np.asarray(labels, dtype=np.int64)
    n_sec = len(labels) * EPOCH_S
    T = n_sec * FS

    up = _upsample

    depth, rem = _state(rng, labels, s)
    nrem = 1.0 - rem
    awake = _sigmoid((0.45 - depth) / 0.1) * nrem
    unscored = np.repeat(labels == -1, EPOCH_S)
    # Eyes: open for runs of seconds, more of the time the more awake.
    p_open = np.clip(np.repeat(rng.uniform(0.1, 0.85, len(labels)), EPOCH_S) * awake, 1e-6, 1 - 1e-6)
    eyes_open = (_ou(rng, n_sec, 5.0) < ndtri(p_open)).astype(np.float64)

    # Rhythms.
    # Opening the eyes attenuates alpha; REM has brief alpha bursts, slower than wake alpha.
    alpha_drive = (awake * (1 - 0.5 * eyes_open) + 0.2 * rem) * np.exp(0.35 * _ou(rng, n_sec, 3.0))
    alpha_hz = up(s.alpha_hz - 1.0 * rem - 0.6 * np.clip(depth, 0, 1) + 0.15 * _ou(rng, n_sec, 60.0))
    alpha_env = up(s.alpha_uv * alpha_drive)
    alpha = (alpha_env * _phase_oscillator(rng, alpha_hz, 1.2, s.alpha_harmonic),
             alpha_env * _phase_oscillator(rng, alpha_hz, 1.2, s.alpha_harmonic))
    # Theta peaks at sleep onset and in REM, and rides on the slow waves of deep sleep.
    theta_level = (np.exp(-0.5 * ((depth - 1.0) / 0.7) ** 2) * (1 - 0.4 * rem) + 0.3 * rem + 0.15
                   + 0.6 * _sigmoid((depth - 2.6) / 0.3))
    theta_env = up(s.theta_uv * theta_level)
    theta = (_resonator(rng, T, s.theta_hz, 2.0, theta_env), _resonator(rng, T, s.theta_hz, 2.0, theta_env))

    def background() -> np.ndarray:
        # Multi-timescale OU mixture: a spectrum with a knee instead of a pure power law.
        x = 0.85 * _ou(rng, T, 0.35 * FS) + 0.45 * _ou(rng, T, 0.06 * FS) + 0.12 * _ou(rng, T, 0.012 * FS)
        return x / np.float32(np.sqrt(0.85 ** 2 + 0.45 ** 2 + 0.12 ** 2))

    bg_env = up(s.background_uv * (0.95 + 0.2 * np.clip(depth, 0, 3.5) - 0.1 * rem) * np.exp(0.1 * _ou(rng, n_sec, 8.0)))
    bg = (bg_env * background(), bg_env * background())
    beta_env = up(s.beta_uv * (0.25 + 0.9 * awake + 0.2 * rem))
    b_sos = _f32(signal.butter(4, [17.0, 28.0], btype="band", fs=FS, output="sos"))

    def beta_noise() -> np.ndarray:
        x = signal.sosfilt(b_sos, rng.standard_normal(T, dtype=np.float32))
        return x / (x.std() or 1.0)

    beta = (beta_env * beta_noise(), beta_env * beta_noise())
    m_sos = _f32(signal.butter(3, 24.0, btype="high", fs=FS, output="sos"))
    burst = np.exp(1.0 * _ou(rng, n_sec, 2.0) - 0.5)
    muscle_env = up(s.muscle_uv * (0.03 + 0.9 * awake * burst + 0.2 * unscored))

    def muscle_noise() -> np.ndarray:
        x = signal.sosfilt(m_sos, rng.standard_normal(T, dtype=np.float32))
        return x / (x.std() or 1.0)

    muscle = (muscle_env * muscle_noise(), muscle_env * muscle_noise())

    # Slow waves and K-complexes (frontal).
    occupancy = 0.02 + 0.93 * _sigmoid((depth - 2.65) / 0.18)
    pp = s.sw_pp_uv * (0.3 + 0.7 * _sigmoid((depth - 2.55) / 0.25))
    slow = _slow_waves(rng, s, occupancy * nrem, pp)
    delta_env = up(0.12 * s.sw_pp_uv / 4 * _sigmoid((depth - 1.5) / 0.3) * nrem)
    slow_alt = delta_env * _resonator(rng, T, 1.6, 1.5)
    slow += delta_env * _resonator(rng, T, 1.6, 1.5)
    spindle = np.zeros(T, dtype=np.float32)
    vertex = np.zeros(T, dtype=np.float32)
    n2ness = _sigmoid((depth - 1.55) / 0.15) * nrem
    kc_rate = s.kc_per_min * n2ness * (1 - 0.6 * _sigmoid((depth - 2.8) / 0.2))
    for tk in _events(rng, kc_rate, refractory_s=4.0):
        period = rng.uniform(0.9, 1.5)
        amp = s.kc_pp_uv * rng.lognormal(0, 0.25) / (1 + 0.5)
        _place(slow, tk, amp * _cycle(int(period * FS), rng.uniform(0.3, 0.42), 0.5))
        if rng.random() < s.kc_spindle:
            _place(spindle, tk + period * rng.uniform(0.5, 0.8), _spindle(rng, s, s.spindle_uv))
    sp_rate = s.spindle_per_min * n2ness * (1 - 0.55 * _sigmoid((depth - 2.9) / 0.2)) + 0.3 * _sigmoid((depth - 0.9) / 0.2) * nrem
    for ts in _events(rng, sp_rate, refractory_s=3.0):
        _place(spindle, ts, _spindle(rng, s, s.spindle_uv))
    sigma_env = up(2.5 * n2ness + 0.3)
    spindle_alt = sigma_env * _resonator(rng, T, s.spindle_fast_hz, 1.5)
    spindle += sigma_env * _resonator(rng, T, s.spindle_fast_hz, 1.5)

    # Vertex sharp waves (drowsiness into light sleep) and sawtooth trains (REM).
    vx_rate = 4.0 * np.exp(-0.5 * ((depth - 1.1) / 0.35) ** 2) * nrem
    for tv in _events(rng, vx_rate, refractory_s=1.0):
        for k in range(1 if rng.random() < 0.7 else int(rng.integers(2, 4))):
            _place(vertex, tv + 0.7 * k, _vertex_wave(rng, s.vertex_uv))
    for tt in _events(rng, s.sawtooth_per_min * rem ** 2, refractory_s=4.0):
        _place(vertex, tt, _sawtooth_train(rng, s))

    # Eyes: gaze holds between saccades; the amplifier's high-pass makes steps decay in the EOG.
    eye_rng = keyed_rng(seed, _WAKE_EYE_KEY, subject, night, 1)
    eye, vertical = _waking_gaze(eye_rng, s, eyes_open, keyed_rng(seed, _WAKE_EYE_KEY, subject, night, 2))
    # Tonic REM: a third of REM epochs with hardly any eye movements.
    tonic = np.repeat(np.where(rng.random(len(labels)) < 0.35, 0.1, 1.0), EPOCH_S)
    phasic = rem * tonic * np.exp(0.8 * _ou(rng, n_sec, 20.0) - 0.3)
    for tb in _events(rng, s.rem_bursts_per_min * phasic, refractory_s=1.0):
        tcur = tb
        for _ in range(int(rng.geometric(0.3))):
            amp = rng.choice([-1.0, 1.0]) * s.rem_saccade_uv * rng.lognormal(0, 0.35)
            # A rapid eye movement: the saccade, then a slow drift back towards the centre.
            tpl = _saccade(amp, slowness=rng.uniform(2.0, 3.5))
            hold = np.exp(-np.arange(int(3.0 * FS)) / (rng.uniform(1.0, 3.0) * FS))
            move = np.concatenate([tpl, tpl[-1] * hold])
            _place(eye, tcur, move)
            # Rapid eye movements are oblique as often as not: their vertical part reaches Fpz-Cz.
            _place(vertical, tcur, eye_rng.normal(0.0, 0.4) * move)
            tcur += rng.uniform(0.2, 0.8)
    sem_level = (np.exp(-0.5 * ((depth - 0.8) / 0.45) ** 2) * nrem + 0.4 * rem) * (1 - eyes_open)
    sem_hz = rng.uniform(0.15, 0.45)
    eye += up(s.sem_uv * sem_level * np.exp(0.3 * _ou(rng, n_sec, 10.0))) * np.sin(
        2 * np.pi * np.cumsum(up(sem_hz * np.exp(0.2 * _ou(rng, n_sec, 20.0)))) / FS)
    blink = vertical.astype(np.float32)
    for tb in _events(rng, s.blink_per_min * eyes_open * (0.3 + 0.7 * awake), refractory_s=0.5):
        _place(blink, tb, _blink(rng, s.blink_uv))

    movement = 0.01 + 0.6 * awake + 1.5 * np.repeat(labels == -1, EPOCH_S)
    comps = (bg, alpha, theta, (slow, slow_alt), (spindle, spindle_alt), (vertex, None), beta, muscle)
    start = night_start(subject, night, s.start_hour, days_per_subject=41)
    return family_sources("B", s, comps, eye, blink, movement, _aux(rng, s, depth, rem, awake, labels, start), start)


def _aux(rng, s: SubjectB, depth, rem, awake, labels, start: dt.datetime) -> dict[str, np.ndarray]:
    """Sleep-EDF's 1-Hz channels from B's state: breathing, chin EMG envelope, temperature, marker."""
    n_sec = len(depth)
    irregular = 0.2 + 0.8 * np.maximum(awake, rem)
    rate = 0.25 * (1 - 0.05 * np.clip(depth, 0, 3)) * (1 + 0.12 * irregular * _ou(rng, n_sec, 4.0))
    amp = rng.uniform(300.0, 700.0) * (1 + 0.25 * irregular * _ou(rng, n_sec, 6.0))
    resp = np.clip(amp * np.sin(2 * np.pi * np.cumsum(rate)), -2048, 2047)
    tone = s.emg_uv * (0.35 + 0.65 * awake + 0.15 * (1 - awake) * np.exp(-np.clip(depth, 0, 3))) * (1 - 0.85 * rem)
    twitches = rng.random(n_sec) < 0.05 * rem
    emg = np.clip(tone * np.exp(0.15 * rng.standard_normal(n_sec)) + twitches * rng.uniform(0.3, 1.5, n_sec), 0.05, 5.0)
    temp = np.clip(rng.uniform(36.6, 37.2) + 0.35 * np.cos(2 * np.pi * (clock_hours(start, n_sec) - 16.0) / 24.0)
                   + 0.03 * _ou(rng, n_sec, 400.0), 34.0, 40.0)
    marker = np.full(n_sec, rng.uniform(850.0, 950.0)) + 5.0 * rng.standard_normal(n_sec)
    return aux_channels(resp, emg, temp, marker)
