"""Family D: sleep EEG as the output of a corticothalamic neural field, built apart from families A, B and C.

The brain is the linearised corticothalamic neural field model of Robinson,
Rennie, Wright et al. ("Prediction of electroencephalographic spectra from
neurophysiology", Phys. Rev. E 63, 021903, 2001; Robinson, Rennie, Rowe,
Phys. Rev. E 65, 041924, 2002; Abeysuriya, Rennie, Robinson, "Physiologically
based arousal state estimation and dynamics", J. Neurosci. Methods 253, 2015):
excitatory and inhibitory cortex, thalamic relay (s) and reticular (r) nuclei,
corticothalamic loop delay t0, synaptic rise and decay rates beta and alpha,
cortical damping rate gamma_e and axonal range r_e. Each arousal state is a
point in gain space (G_ee, G_ei, G_ese, G_esre, G_srs, alpha, beta), and the
EEG spectrum follows analytically from the transfer function
phi_e(k, w) / phi_n(w); the power sums over cortical wavenumbers k under a
volume-conduction filter exp(-k^2 / k0^2) (the spectrum of braintrak's
full model, re-derived here). So:

- the background is white noise filtered by that time-varying transfer
  function (its magnitude from the wavenumber sum, its phase from the k = 0
  mode), frame by frame with 5.12-s square-root-Hann frames at half overlap;
  alpha (about 1/t0) in relaxed wake, the broad sigma bump of N2 and the
  low-frequency rise towards N3 (X = G_ee / (1 - G_ei) -> 1) all come from the
  same function. The state moves between stage points with a first-order
  relaxation of 8-20 s plus a slow wander, not per-epoch steps; the stage
  points' values were chosen here to give realistic spectra (not fitted
  parameters of a published table), with the published model's structure:
  in sleep X rises towards 1, the corticothalamic loop gain Y falls to about
  0 and the intrathalamic gain Z = -G_srs alpha beta / (alpha + beta)^2 rises;
- spindles are transient bursts of reticular gain: |G_srs| rises for 0.4-1.4 s
  towards the intrathalamic loop's instability (1 - L^2 G_srs = 0), so its
  least-damped mode rings at 11-16 Hz, growing while its damping is low and
  ringing down after, in refractory trains;
- K-complexes, vertex waves, N3 slow waves and REM sawtooth waves are the
  cortex's impulse responses (from the transfer function of the stage's gain
  point) to brief afferent pulses: a burst followed by a longer pause for
  K-complexes, trains of pulses at about 1 Hz for slow waves and at 2-5 Hz for
  sawtooth waves; muscle uses braintrak's EMG spectral form;
- the eyes are an oculomotor plant (two time constants, 0.15-0.2 s and
  0.01-0.02 s) driven by pulse-step commands: a velocity pulse integrated by
  a neural integrator that holds gaze in wake and leaks within 1-3 s in REM
  (so rapid eye movements drift back); waking saccades at log-normal
  intervals over an Ornstein-Uhlenbeck drift of the command, REMs as a
  self-exciting (Hawkes) process, slow eye movements of N1 as a slower, larger
  drift of the command; blinks close fast and reopen exponentially.

Stage rules follow the AASM manual v2.6, as for the other families.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
from scipy import fft as sfft
from scipy import signal

from sleepscope.data.synth.common import (aux_channels, clock_hours, family_sources, keyed_rng, loguniform,
                                          night_start, person)
from sleepscope.data.synth.families import FS, Sources

EPOCH_S = 30
_SUBJECT_KEY = 0xD51
_NIGHT_KEY = 0xD52
_SIGNAL_KEY = 0xD53
_EYE_KEY = 0xD54

_GAMMA_E = 116.0  # cortical damping rate, 1/s
_R_E = 0.086  # excitatory axonal range, m
_K0 = 10.0  # volume-conduction cut-off, 1/m
_K = np.linspace(0.0, 40.0, 21)[1:]  # cortical wavenumbers summed over, 1/m
_NFRAME = 512  # 5.12-s synthesis frames, hop half a frame
_HOP = _NFRAME // 2

# Stage points in gain space: G_ee, G_ei, G_ese, G_esre, G_srs, alpha (1/s), beta (1/s).
# Columns W eyes closed, W eyes open, N1, N2, N3, REM.
_POINTS = np.array([
    (4.5, -7.0, 6.0, -3.2, -0.6, 75.0, 300.0),
    (4.8, -7.0, 1.6, -1.2, -0.6, 75.0, 300.0),
    (8.8, -9.0, 0.9, -0.8, -0.8, 55.0, 240.0),
    (11.6, -10.9, 0.6, -1.2, -1.6, 50.0, 260.0),
    (14.5, -13.6, 0.5, -0.8, -1.5, 45.0, 220.0),
    (7.2, -8.8, 1.2, -1.0, -0.6, 60.0, 280.0),
])
_WC, _WO, _N1, _N2, _N3, _REM = range(6)
_STAGE_POINT = {0: _WC, 1: _N1, 2: _N2, 3: _N3, 4: _REM, -1: _WO}
# Noise drive (phi_n, relative) per point: sleep synchronises the thalamic input.
_DRIVE = np.array([1.0, 0.9, 0.9, 1.3, 1.9, 1.0])


@dataclass(frozen=True)
class SubjectD:
    age: int
    sex: str
    t0: float  # corticothalamic loop delay, s (sets the alpha frequency)
    gain_jitter: tuple  # per-subject log-factors on the five gains
    drive_uv: float  # background scale, µV on Fpz-Cz for the W point
    alpha_gain: float  # posterior alpha relative to the field's frontal alpha
    relax_s: float  # state relaxation time
    spindle_hz: float
    spindle_per_min: float
    spindle_uv: float
    kc_per_min: float
    kc_uv: float
    sw_hz: float
    sw_uv: float  # peak of one N3 slow-wave response, µV
    vertex_uv: float
    sawtooth_uv: float
    muscle_uv: float
    plant_slow_s: float  # oculomotor plant time constants
    plant_fast_s: float
    gaze_uv: float
    fixation_s: float
    vertical_share: float
    drift_uv: float  # waking drift of the eye command
    rem_per_min: float
    rem_uv: float
    rem_leak_s: float
    sem_uv: float
    blink_per_min: float
    blink_uv: float
    emg_uv: float
    eog_leak: float
    start_hour: float


def subject_params(seed: int, subject: int) -> SubjectD:
    rng = keyed_rng(seed, _SUBJECT_KEY, subject)
    alpha_hz = float(np.clip(rng.normal(9.8, 0.8), 8.0, 12.0))
    return SubjectD(
        **person(rng, ages=(21, 88)),
        # The W point's alpha peak sits at 9.25 Hz with t0 = 85 ms; alpha frequency scales about as 1/t0.
        t0=0.085 * 9.25 / alpha_hz,
        gain_jitter=tuple(float(v) for v in rng.normal(0.0, 0.06, 5)),
        drive_uv=loguniform(rng, 7.0, 12.0),
        alpha_gain=loguniform(rng, 1.2, 3.2),
        relax_s=float(rng.uniform(8.0, 20.0)),
        spindle_hz=float(np.clip(rng.normal(13.0, 0.9), 11.2, 15.5)),
        spindle_per_min=loguniform(rng, 3.0, 7.0),
        spindle_uv=loguniform(rng, 22.0, 40.0),
        kc_per_min=loguniform(rng, 1.0, 3.0),
        kc_uv=loguniform(rng, 70.0, 150.0),
        sw_hz=float(rng.uniform(0.7, 1.2)),
        sw_uv=loguniform(rng, 80.0, 130.0),
        vertex_uv=loguniform(rng, 40.0, 90.0),
        sawtooth_uv=loguniform(rng, 12.0, 30.0),
        muscle_uv=loguniform(rng, 2.0, 7.0),
        plant_slow_s=float(rng.uniform(0.15, 0.2)),
        plant_fast_s=float(rng.uniform(0.01, 0.02)),
        gaze_uv=loguniform(rng, 90.0, 200.0),
        fixation_s=loguniform(rng, 0.8, 2.0),
        vertical_share=float(rng.uniform(0.3, 0.6)),
        drift_uv=loguniform(rng, 180.0, 350.0),
        rem_per_min=loguniform(rng, 6.0, 14.0),
        rem_uv=loguniform(rng, 150.0, 350.0),
        rem_leak_s=float(rng.uniform(1.0, 3.0)),
        sem_uv=loguniform(rng, 80.0, 180.0),
        blink_per_min=loguniform(rng, 6.0, 20.0),
        blink_uv=loguniform(rng, 90.0, 200.0),
        emg_uv=loguniform(rng, 2.0, 4.5),
        eog_leak=float(rng.uniform(0.05, 0.4)),
        start_hour=float(rng.uniform(21.5, 24.0)),
    )


def night_params(seed: int, subject: int, night: int) -> SubjectD:
    """The subject on one night: rates and sizes move by about 10 %, the loop delay by 2 %, a new bedtime."""
    s = subject_params(seed, subject)
    r = keyed_rng(seed, _NIGHT_KEY, subject, night)
    moved = ("drive_uv", "spindle_per_min", "spindle_uv", "kc_per_min", "sw_uv", "rem_per_min", "blink_per_min",
             "muscle_uv", "emg_uv", "fixation_s")
    changes = {k: getattr(s, k) * float(np.exp(r.normal(0.0, 0.1))) for k in moved}
    changes["t0"] = s.t0 * float(np.exp(r.normal(0.0, 0.02)))
    changes["gain_jitter"] = tuple(g + float(r.normal(0.0, 0.02)) for g in s.gain_jitter)
    changes["start_hour"] = float(r.uniform(21.5, 24.0))
    return replace(s, **changes)


# ---- the neural field ------------------------------------------------------------

def _synaptic(w: np.ndarray, a, b):
    return 1.0 / ((1.0 - 1j * w / a) * (1.0 - 1j * w / b))


def transfer(f: np.ndarray, g: np.ndarray, t0: float) -> tuple[np.ndarray, np.ndarray]:
    """(power, phase) of phi_e / phi_n at frequencies `f` (Hz) for gain points `g` (..., 7): the power summed
    over wavenumbers under the volume-conduction filter, the phase of the k = 0 mode (physics e^{-iwt})."""
    w = 2 * np.pi * np.asarray(f)
    gee, gei, gese, gesre, gsrs, a, b = (g[..., i:i + 1] for i in range(7))
    L = _synaptic(w, a, b)
    loop = np.exp(1j * w * t0)
    q2 = (1 - 1j * w / _GAMMA_E) ** 2 - (L * gee + (L * L * gese + L ** 3 * gesre) * loop / (1 - L * L * gsrs)) / (
        1 - L * gei)
    T = L * L * np.exp(0.5j * w * t0) / ((1 - L * gei) * (1 - L * L * gsrs))
    k2 = (_K * _R_E) ** 2
    weight = _K * np.exp(-(_K / _K0) ** 2)  # 2-D wavenumber measure times the volume-conduction filter
    power = np.zeros(q2.shape)
    for kk, wk in zip(k2, weight):
        power += wk * np.abs(T / (kk + q2)) ** 2
    return power, np.angle(T / q2)


def _gain_points(s: SubjectD) -> np.ndarray:
    pts = _POINTS.copy()
    pts[:, :5] *= np.exp(np.asarray(s.gain_jitter))[None, :]
    # Stay on the stable side: X + Y below 0.985 (the low-frequency mode just below instability in N3).
    x_max = 0.985 - (pts[:, 2] + pts[:, 3]) / ((1 - pts[:, 4]) * (1 - pts[:, 1]))
    pts[:, 0] = np.minimum(pts[:, 0], x_max * (1 - pts[:, 1]))
    return pts


def _state(rng: np.random.Generator, labels: np.ndarray, s: SubjectD, eyes_open: np.ndarray) -> np.ndarray:
    """Per second: weights over the six stage points, relaxing towards each epoch's target."""
    n = len(labels)
    target = np.zeros((n, 6))
    target[np.arange(n), [_STAGE_POINT.get(int(c), _WO) for c in labels]] = 1.0
    # Borderline epochs: part of the way towards a stage scorers confuse it with.
    confusable = {0: _N1, 1: _N2, 2: _N3, 3: _N2, 4: _N1, -1: _WC}
    lean = np.where(rng.random(n) < 0.35, rng.uniform(0.1, 0.45, n), 0.0)
    for i, c in enumerate(labels):
        target[i] *= 1 - lean[i]
        target[i, confusable.get(int(c), _WC)] += lean[i]
    # N2 and N3 keep their side of the slow-wave rule.
    n3 = labels == 3
    target[n3, _N3] = np.maximum(target[n3, _N3], 0.75)
    target[n3] /= target[n3].sum(1, keepdims=True)
    per_sec = np.repeat(target, EPOCH_S, axis=0)
    a = np.exp(-1.0 / s.relax_s)
    w = signal.lfilter([1 - a], [1, -a], per_sec, axis=0, zi=a * per_sec[:1])[0]
    # Waking with the eyes open moves the eyes-closed share over to the eyes-open point.
    shift = w[:, _WC] * eyes_open
    w[:, _WC] -= shift
    w[:, _WO] += shift
    return w


def _field(rng: np.random.Generator, n_samples: int, frames_g: np.ndarray, drive: np.ndarray, t0: float,
           splits: np.ndarray) -> list[np.ndarray]:
    """White noise through the frame-wise transfer function, split by `splits` (outputs x frames x bins)."""
    n_frames = frames_g.shape[0]
    f = sfft.rfftfreq(_NFRAME, 1.0 / FS)
    win = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_NFRAME) / _NFRAME)).astype(np.float32)
    noise = rng.standard_normal((n_frames + 1) * _HOP, dtype=np.float32)
    idx = np.arange(n_frames)[:, None] * _HOP + np.arange(_NFRAME)[None, :]
    spec = sfft.rfft(noise[idx] * win, axis=1)
    outs = [np.zeros((n_frames + 1) * _HOP, dtype=np.float32) for _ in range(splits.shape[0])]
    for lo in range(0, n_frames, 2000):
        hi = min(lo + 2000, n_frames)
        power, phase = transfer(f, frames_g[lo:hi], t0)
        # Physics e^{-iwt} against numpy's e^{+iwt}: the conjugate phase keeps the response causal.
        h = (np.sqrt(power) * drive[lo:hi, None] * np.exp(-1j * phase)).astype(np.complex64)
        shaped = spec[lo:hi] * h
        for k, out in enumerate(outs):
            y = sfft.irfft(shaped * splits[k, lo:hi], n=_NFRAME, axis=1).astype(np.float32) * win
            # Overlap-add at half a frame: the squared square-root-Hann windows sum to one.
            out[lo * _HOP:hi * _HOP] += y[:, :_HOP].ravel()
            out[(lo + 1) * _HOP:(hi + 1) * _HOP] += y[:, _HOP:].ravel()
    # Frame m is centred on the night's sample m * _HOP.
    return [o[_HOP:_HOP + n_samples] for o in outs]


def _normaliser(points: np.ndarray, t0: float) -> float:
    """Output variance of unit white noise through the W point's transfer function (sets the µV scale)."""
    f = sfft.rfftfreq(_NFRAME, 1.0 / FS)
    power, _ = transfer(f, points[_WC][None, :], t0)
    return float(np.sqrt(power.mean()))


def _response(points: np.ndarray, t0: float, point: int, drive: np.ndarray, n: int = _NFRAME) -> np.ndarray:
    """The cortex's response (k-summed magnitude, k = 0 phase) at stage `point` to afferent inputs `drive` (rows)."""
    f = sfft.rfftfreq(n, 1.0 / FS)
    power, phase = transfer(f, points[point][None, :], t0)
    h = np.sqrt(power[0]) * np.exp(-1j * phase[0])
    return sfft.irfft(sfft.rfft(drive, n=n, axis=-1) * h, n=n, axis=-1)


def _afferent(rng: np.random.Generator, k: int, burst_s: tuple, pause: float, n: int, at_s: float = 0.3) -> np.ndarray:
    """k afferent inputs: a Gaussian burst of width `burst_s` (range), then a pause (negative lobe) of `pause`
    times its area, so that the cortical response has no lasting offset."""
    t = np.arange(n) / FS
    width = rng.uniform(*burst_s, k)[:, None]
    burst = np.exp(-0.5 * ((t - at_s) / width) ** 2) / width
    lag = rng.uniform(0.15, 0.3, k)[:, None]
    wide = 4 * width
    silence = np.exp(-0.5 * ((t - at_s - lag - wide) / wide) ** 2) / wide
    return burst - pause * silence


def _templates(rng: np.random.Generator, points: np.ndarray, t0: float, point: int, k: int, burst_s: tuple,
               pause: float, n: int) -> np.ndarray:
    """k responses at `point`, surface-negative first, each scaled to a negative peak of -1."""
    x = _response(points, t0, point, _afferent(rng, k, burst_s, pause, n), n)
    x -= x[:, :1]
    i = np.argmax(np.abs(x), axis=1)
    peak = x[np.arange(k), i]
    return -x / np.abs(peak)[:, None] * np.sign(peak)[:, None]


def _renewal_times(rng: np.random.Generator, rate_per_s: np.ndarray, shape: float, refractory_s: float) -> np.ndarray:
    """Event times of a gamma renewal process in the operational time of a per-second rate (time rescaling),
    none closer than `refractory_s`: the more regular the larger `shape`."""
    op = np.concatenate([[0.0], np.cumsum(np.maximum(rate_per_s, 0.0))])
    total = op[-1]
    if total <= 0:
        return np.zeros(0)
    steps = rng.gamma(shape, 1.0 / shape, int(total * 1.5) + 10)
    marks = np.cumsum(steps)
    marks = marks[marks < total]
    t = np.interp(marks, op, np.arange(len(op), dtype=float))
    if refractory_s > 0 and len(t) > 1:
        keep = np.concatenate([[True], np.diff(t) >= refractory_s])
        t = t[keep]
    return t


def _stamp(out: np.ndarray, times_s: np.ndarray, tpl: np.ndarray, at: int = 0) -> None:
    """Add row i of `tpl` at times_s[i] (its sample `at` on the time)."""
    if len(times_s) == 0:
        return
    start = np.round(times_s * FS).astype(np.int64) - at
    idx = start[:, None] + np.arange(tpl.shape[1])[None, :]
    keep = (idx >= 0) & (idx < len(out))
    np.add.at(out, idx[keep], tpl[keep].astype(np.float32))


def _spindles(rng: np.random.Generator, s: SubjectD, times: np.ndarray) -> np.ndarray:
    """One reticular-gain burst per time: the intrathalamic loop's least-damped mode, driven by noise, while
    Z = -G_srs alpha beta / (alpha + beta)^2 rises towards 1 and falls back (rows: 0.9-2.2 s bursts + ring-down)."""
    k = len(times)
    n = int(3.2 * FS)
    if k == 0:
        return np.zeros((0, n))
    ratio = 4.5
    a = 2 * np.pi * s.spindle_hz / np.sqrt(ratio) * rng.lognormal(0.0, 0.03, k)[:, None]
    b = ratio * a
    dur = rng.uniform(0.9, 2.2, k)[:, None]
    t = np.arange(n)[None, :] / FS
    bump = np.where(t < dur, np.sin(np.pi * t / dur) ** 2, 0.0)
    z = 0.45 + (rng.uniform(0.96, 0.99, k)[:, None] - 0.45) * bump
    sq = z * (a + b) / np.sqrt(a * b)  # sqrt(|G_srs|)
    # Mode of 1 - L^2 G_srs = 0 (L = synaptic response, G_srs < 0): w^2 + i(a+b)w - ab(1 - i sqrt|G_srs|) = 0.
    root = np.sqrt(-(a + b) ** 2 + 4 * a * b * (1 - 1j * sq))
    w1, w2 = (-1j * (a + b) + root) / 2, (-1j * (a + b) - root) / 2
    w = np.where(w1.imag > w2.imag, w1, w2)  # the least-damped root (its mirror -conj(w) has the same damping)
    r = np.exp(w.imag / FS)
    c1 = 2 * r * np.cos(np.abs(w.real) / FS)
    c2 = -r * r
    e = rng.standard_normal((k, n))
    # The spindle is what the burst adds: the loop with the burst minus the loop without it, same input.
    c1b, c2b = c1[:, :1], c2[:, :1]
    x = np.zeros((k, n))
    base = np.zeros((k, n))
    for i in range(2, n):
        x[:, i] = c1[:, i] * x[:, i - 1] + c2[:, i] * x[:, i - 2] + e[:, i]
        base[:, i] = c1b[:, 0] * base[:, i - 1] + c2b[:, 0] * base[:, i - 2] + e[:, i]
    x -= base
    taper = np.minimum(1.0, np.minimum(np.arange(n), n - 1 - np.arange(n)) / (0.1 * FS))
    x *= taper[None, :]
    return x / np.abs(x).max(axis=1, keepdims=True)


# ---- eyes ---------------------------------------------------------------------------

def _plant(s: SubjectD, command: np.ndarray) -> np.ndarray:
    """Eye position from the innervation command through the two-time-constant oculomotor plant."""
    out = command.astype(np.float64)
    for tau in (s.plant_slow_s, s.plant_fast_s):
        a = np.exp(-1.0 / (tau * FS))
        out = signal.lfilter([1 - a], [1, -a], out)
    return out


def _pulse_step(T: int, times: np.ndarray, steps: np.ndarray, durations: np.ndarray, leak_s: float,
                tau_est: float) -> np.ndarray:
    """Innervation command: velocity pulses (`steps` spread over `durations`), integrated by a neural integrator
    leaking with `leak_s`, plus the pulse scaled by the brain's estimate of the plant's slow time constant."""
    v = np.zeros(T)
    if len(times):
        n = np.maximum(np.round(durations * FS).astype(np.int64), 1)
        L = int(n.max())
        idx = np.round(times * FS).astype(np.int64)[:, None] + np.arange(L)[None, :]
        val = np.where(np.arange(L)[None, :] < n[:, None], (steps / n)[:, None], 0.0)
        keep = idx < T
        np.add.at(v, idx[keep], val[keep])
    a = np.exp(-1.0 / (leak_s * FS))
    integrator = signal.lfilter([1.0], [1, -a], v)
    return integrator + tau_est * FS * v


def _ou(rng: np.random.Generator, n: int, tau_samples: float) -> np.ndarray:
    a = np.exp(-1.0 / tau_samples)
    return signal.lfilter([np.sqrt(1 - a * a)], [1, -a], rng.standard_normal(n))


def _eyes_open(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Per second: eyes open (1) or closed, a two-state chain with a per-epoch open share in wake."""
    share = np.where(labels == 0, rng.uniform(0.1, 0.85, len(labels)), np.where(labels == -1, 0.8, 0.0))
    p = np.clip(np.repeat(share, EPOCH_S), 0.0, 0.98)
    p_close = 1.0 / rng.uniform(6.0, 15.0)
    p_open = np.minimum(p / np.maximum(1 - p, 1e-6) * p_close, 1.0)
    u = rng.random(len(p))
    out = np.zeros(len(p))
    state = 0.0
    for i in range(len(p)):
        state = float(u[i] >= p_close) if state else float(u[i] < p_open[i])
        out[i] = state
    return out


def _hawkes(rng: np.random.Generator, base_per_s: np.ndarray, branching: float, decay_s: float) -> np.ndarray:
    """Event times of a self-exciting process: each event raises the rate by branching / decay_s, decaying."""
    dt = 0.05
    base = np.repeat(base_per_s, int(1 / dt))
    times, excite = [], 0.0
    a = np.exp(-dt / decay_s)
    u = rng.random(len(base))
    active = np.flatnonzero(base > 0)
    last = -1
    for i in active:
        if i != last + 1:
            excite = 0.0
        excite *= a ** (i - last) if last >= 0 and i == last + 1 else 1.0
        if u[i] < 1 - np.exp(-(base[i] + excite) * dt):
            times.append((i + rng.random()) * dt)
            excite += branching / decay_s
        last = i
    return np.asarray(times)


def _eyes(rng: np.random.Generator, s: SubjectD, w: np.ndarray, eyes_open: np.ndarray, labels: np.ndarray):
    """(horizontal on the bipolar EOG, vertical and lids as Fpz-Cz sees them)."""
    n_sec = len(eyes_open)
    T = n_sec * FS
    up = lambda x: np.repeat(x, FS)  # noqa: E731
    tau_est = s.plant_slow_s * rng.uniform(0.8, 1.2)  # a mismatched pulse: glissades and post-saccadic drift
    # Waking saccades: log-normal fixations while the eyes are open; the integrator holds the gaze.
    gaps = rng.lognormal(np.log(s.fixation_s) - 0.32, 0.8, int(n_sec / (0.1 * s.fixation_s)) + 8)
    t = np.cumsum(gaps)
    t = t[t < n_sec - 1]
    t = t[eyes_open[t.astype(np.int64)] > 0]
    k = len(t)
    th = rng.normal(0.0, s.gaze_uv, k) * rng.choice([0.6, 1.0, 1.7], k, p=[0.35, 0.45, 0.2])
    tv = rng.normal(0.0, s.vertical_share * s.gaze_uv, k)
    dh, dv = np.diff(th, prepend=0.0), np.diff(tv, prepend=0.0)
    dur = np.clip(0.02 + 0.00025 * np.hypot(dh, dv), 0.02, 0.1)
    hold = 30.0
    h = _pulse_step(T, t, dh, dur, hold, tau_est)
    v = _pulse_step(T, t, dv, dur, hold, tau_est)
    # The command drifts (Ornstein-Uhlenbeck): a slow wander awake, slow eye movements when drowsy.
    open_s = up(eyes_open)
    drowsy = up(np.clip(w[:, _N1], 0, 1) * (1 - eyes_open))
    h += (s.drift_uv * open_s) * _ou(rng, T, 1.2 * FS) + (s.sem_uv * drowsy) * _ou(rng, T, 3.0 * FS)
    v += (0.5 * s.vertical_share * s.drift_uv * open_s) * _ou(rng, T, 1.2 * FS)
    # Closing the eyes lets the gaze fall back to rest (and the plant smooths the fall).
    gate = signal.lfilter([0.02], [1, -0.98], open_s)
    h *= np.maximum(gate, drowsy > 0)
    v *= gate
    # Rapid eye movements: Hawkes clusters in REM, slower pulses, integrator leaking back to centre.
    rem_base = s.rem_per_min / 60.0 * w[:, _REM] ** 2
    tonic = np.repeat(np.where(rng.random(len(labels)) < 0.3, 0.1, 1.0), EPOCH_S)
    tr = _hawkes(rng, rem_base * tonic, 0.6, 0.8)
    step = rng.choice([-1.0, 1.0], len(tr)) * s.rem_uv * rng.lognormal(0.0, 0.35, len(tr))
    rdur = np.clip(rng.uniform(2.0, 3.0, len(tr)) * (0.02 + 0.00025 * np.abs(step)), 0.06, 0.3)
    rem = _pulse_step(T, tr, step, rdur, s.rem_leak_s, tau_est)
    rem_v = _pulse_step(T, tr, step * rng.normal(0.0, 0.35, len(tr)), rdur, s.rem_leak_s, tau_est)
    horizontal = _plant(s, h + rem)
    vertical = _plant(s, v + rem_v)
    # Blinks: the lid closes in 60-100 ms (smooth step) and reopens exponentially.
    tb = _renewal_times(rng, s.blink_per_min / 60.0 * eyes_open, 1.5, 0.5)
    tt = np.arange(int(0.9 * FS)) / FS
    tc = rng.uniform(0.06, 0.1, len(tb))[:, None]
    reopen = rng.uniform(0.1, 0.18, len(tb))[:, None]
    u = np.clip(tt[None, :] / tc, 0, 1)
    lid = np.where(tt[None, :] < tc, u * u * (3 - 2 * u), np.exp(-(tt[None, :] - tc) / reopen))
    blink = np.zeros(T, dtype=np.float32)
    _stamp(blink, tb, s.blink_uv * rng.lognormal(0.0, 0.25, len(tb))[:, None] * lid)
    return horizontal.astype(np.float32), (vertical + blink).astype(np.float32)


# ---- the night ------------------------------------------------------------------

def _emg_fir() -> np.ndarray:
    """FIR with braintrak's EMG spectral shape (f / 40 Hz)^2 / (1 + (f / 40 Hz)^2)^2, unit output RMS."""
    f = sfft.rfftfreq(128, 1.0 / FS)
    u = (f / 40.0) ** 2
    h = np.fft.fftshift(sfft.irfft(np.sqrt(u / (1 + u) ** 2), 128)) * np.hanning(128)
    return h / np.sqrt((h ** 2).sum())


def sources(labels: np.ndarray, seed: int, subject: int, night: int) -> Sources:
    s = night_params(seed, subject, night)
    rng = keyed_rng(seed, _SIGNAL_KEY, subject, night)
    labels = np.asarray(labels, dtype=np.int64)
    n_sec = len(labels) * EPOCH_S
    T = n_sec * FS
    points = _gain_points(s)
    eyes_open = _eyes_open(rng, labels)
    w = _state(rng, labels, s, eyes_open)  # (n_sec, 6)

    # Gains and drive per synthesis frame (frame m centred on second m * 2.56), with a slow wander of G_ee.
    n_frames = -(-T // _HOP) + 1
    sec = np.minimum((np.arange(n_frames) * _HOP / FS).astype(np.int64), n_sec - 1)
    g = w[sec] @ points
    wander = 1 + 0.03 * _ou(rng, n_frames, 10.0)
    g[:, 0] = np.minimum(g[:, 0] * wander, (0.985 - (g[:, 2] + g[:, 3]) / ((1 - g[:, 4]) * (1 - g[:, 1])))
                         * (1 - g[:, 1]))
    drive = (w[sec] @ _DRIVE) * s.drive_uv / _normaliser(points, s.t0)
    f = sfft.rfftfreq(_NFRAME, 1.0 / FS)[None, :]
    alpha_hz = 0.085 * 9.25 / s.t0
    slow = 1 / (1 + (f / 1.6) ** 4) * np.ones((n_frames, 1))
    theta = np.exp(-0.5 * ((f - 5.5) / 1.2) ** 2) * (1 - slow)
    alpha = w[sec][:, _WC:_WC + 1] * np.exp(-0.5 * ((f - alpha_hz) / 1.6) ** 2) * (1 - slow - theta)
    beta = 1 / (1 + np.exp(-(f - 17.0) / 2.0)) * (1 - slow - theta - alpha)
    splits = np.stack([1 - slow - theta - alpha - beta, slow, theta, alpha, beta]).astype(np.float32)
    main = _field(rng, T, g, drive, s.t0, splits)
    alt = _field(rng, T, g, drive, s.t0, splits)
    bg, slow_f, theta_f, alpha_f, beta_f = ((m, a) for m, a in zip(main, alt))
    alpha_f = (np.float32(s.alpha_gain) * alpha_f[0], np.float32(s.alpha_gain) * alpha_f[1])

    # Graphoelements: the system's responses.
    kc_tpl = _templates(rng, points, s.t0, _N2, 16, (0.02, 0.05), 0.8, 256)
    kc_t = _renewal_times(rng, s.kc_per_min / 60.0 * w[:, _N2] * (1 - 0.6 * w[:, _N3]), 1.0, 5.0)
    slow_main = slow_f[0].copy()
    _stamp(slow_main, kc_t, s.kc_uv * rng.lognormal(0, 0.25, len(kc_t))[:, None]
           * kc_tpl[rng.integers(0, 16, len(kc_t))], at=int(0.3 * FS))
    sw_tpl = _templates(rng, points, s.t0, _N3, 16, (0.04, 0.09), 1.0, 256)
    # Deep N2 has a few: N3's rule (>= 20 % of the epoch) stays N3's.
    train = np.clip(w[:, _N3] - 0.25, 0, None) / 0.6 + 0.15 * w[:, _N2]
    occupied = np.clip(train, 0, 1) ** 1.2
    sw_t = _renewal_times(rng, s.sw_hz * (occupied > 0.05) * np.ones(n_sec), 8.0, 0.45)
    sw_t = sw_t[rng.random(len(sw_t)) < occupied[sw_t.astype(np.int64)]]
    sw_amp = s.sw_uv * rng.lognormal(0, 0.2, len(sw_t)) * (0.5 + 0.5 * occupied[sw_t.astype(np.int64)])
    _stamp(slow_main, sw_t, sw_amp[:, None] * sw_tpl[rng.integers(0, 16, len(sw_t))], at=int(0.3 * FS))
    slow_alt = slow_f[1].copy()
    _stamp(slow_alt, sw_t, 0.5 * sw_amp[:, None] * sw_tpl[rng.integers(0, 16, len(sw_t))], at=int(0.3 * FS))

    sp_rate = s.spindle_per_min / 60.0 * (w[:, _N2] + 0.4 * w[:, _N3] + 0.1 * w[:, _N1])
    sp_t = _renewal_times(rng, sp_rate, 2.0, 2.5)
    # K-complexes often trigger a spindle on their positive phase.
    with_kc = kc_t[rng.random(len(kc_t)) < 0.4] + 0.5
    sp_t = np.sort(np.concatenate([sp_t, with_kc]))
    sp_tpl = _spindles(rng, s, sp_t)
    sp_amp = s.spindle_uv * rng.lognormal(0, 0.25, len(sp_t))[:, None]
    spindle = np.zeros(T, dtype=np.float32)
    _stamp(spindle, sp_t, sp_amp * sp_tpl)
    spindle_alt = np.zeros(T, dtype=np.float32)
    _stamp(spindle_alt, sp_t, 0.5 * sp_amp * rng.normal(1.0, 0.3, len(sp_t))[:, None] * sp_tpl)

    vertex = np.zeros(T, dtype=np.float32)
    vx_tpl = _templates(rng, points, s.t0, _N1, 8, (0.015, 0.03), 0.6, 128)
    vx_t = _renewal_times(rng, 4.0 / 60.0 * w[:, _N1] * (1 - eyes_open), 1.0, 1.0)
    _stamp(vertex, vx_t, s.vertex_uv * rng.lognormal(0, 0.25, len(vx_t))[:, None]
           * vx_tpl[rng.integers(0, 8, len(vx_t))], at=int(0.3 * FS))
    # Sawtooth waves: the REM cortex's responses to 2-5 Hz afferent volleys, in crescendo trains.
    st_tpl = _templates(rng, points, s.t0, _REM, 8, (0.015, 0.03), 0.3, 128)
    for t_train in _renewal_times(rng, 1.5 / 60.0 * w[:, _REM] ** 2, 1.0, 4.0):
        hz, length = rng.uniform(2.0, 5.0), rng.uniform(1.5, 4.0)
        tt = t_train + np.arange(0, length, 1 / hz)
        size = s.sawtooth_uv * (0.4 + 0.6 * np.arange(len(tt)) / max(len(tt) - 1, 1))
        _stamp(vertex, tt, size[:, None] * st_tpl[rng.integers(0, 8, len(tt))], at=int(0.3 * FS))

    wake = w[:, _WC] + w[:, _WO]
    unscored = np.repeat(labels == -1, EPOCH_S)
    fir = _emg_fir()
    tone = np.repeat(s.muscle_uv * (0.05 + 0.95 * wake + 0.5 * unscored) * np.exp(0.8 * _ou(rng, n_sec, 2.0) - 0.3),
                     FS)
    muscle = tuple((tone * signal.fftconvolve(rng.standard_normal(T), fir, mode="same")).astype(np.float32)
                   for _ in range(2))

    eye, blink = _eyes(keyed_rng(seed, _EYE_KEY, subject, night), s, w, eyes_open, labels)
    movement = 0.01 + 0.5 * wake + 1.5 * unscored
    comps = (bg, alpha_f, theta_f, (slow_main, slow_alt), (spindle, spindle_alt), (vertex, None), beta_f, muscle)
    start = night_start(subject, night, s.start_hour, days_per_subject=47)
    return family_sources("D", s, comps, eye, blink, movement, _aux(rng, s, w, labels, start), start)


def _aux(rng, s: SubjectD, w: np.ndarray, labels: np.ndarray, start: dt.datetime) -> dict[str, np.ndarray]:
    """Sleep-EDF's 1-Hz channels from D's state weights."""
    n_sec = len(w)
    chin = w @ np.array([1.0, 1.0, 0.7, 0.5, 0.45, 0.12])
    breaths = np.cumsum(rng.uniform(0.22, 0.3) * (1 + 0.08 * (1 - w[:, _N3]) * _ou(rng, n_sec, 5.0)))
    resp = np.clip(rng.uniform(300, 700) * np.sin(2 * np.pi * breaths), -2048, 2047)
    emg = np.clip(s.emg_uv * chin * rng.lognormal(0, 0.2, n_sec) + (rng.random(n_sec) < 0.04 * w[:, _REM]) * 0.9,
                  0.05, 5.0)
    temp = np.clip(rng.uniform(36.6, 37.2) + 0.32 * np.cos(2 * np.pi * (clock_hours(start, n_sec) - 17.0) / 24.0),
                   34.0, 40.0)
    marker = np.full(n_sec, rng.uniform(850.0, 950.0))
    return aux_channels(resp, emg, temp, marker)
