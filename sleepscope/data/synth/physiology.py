"""Stage-specific EEG/EOG physiology and artefacts, mixed over a whole night.

The night is built in three layers, all vectorised over the whole night:

1. per-epoch *drives*: how strongly each feature (alpha, theta, delta,
   spindles, K-complexes, eye movements, muscle ...) is present in each epoch.
   They depend on the stage but are drawn at random per epoch, so that stages
   overlap the way real scorers meet them (N1 between W and N2, W epochs with
   little alpha, N2 epochs with N3-like delta);
2. the drives go to a 1-Hz grid, are smoothed across epoch boundaries over a
   subject-specific few seconds (stages fade into each other instead of
   switching at the edge), modulated slowly within epochs, and interpolated to
   100 Hz as envelopes;
3. stationary carriers (band-limited noise drawn once per night in the
   frequency domain) are multiplied by their envelopes, and transient events
   (spindles, K-complexes, vertex waves, sawtooth bursts, blinks, rapid eye
   movements, electrode pops, movements) are stamped in from templates drawn
   with per-event parameters.

Amplitudes are in µV and were set against the real clips in `tests/data`
(see `tests/test_synthetic_realism.py` for the measured figures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import signal
from scipy.ndimage import gaussian_filter1d
from scipy.special import ndtri

from sleepscope.data.synth.subjects import NightParams, SubjectParams

FS = 100
EPOCH_S = 30
EPOCH_SAMPLES = FS * EPOCH_S

EEG_FPZ = "EEG Fpz-Cz"
EEG_PZ = "EEG Pz-Oz"
EOG = "EOG horizontal"
RESP = "Resp oro-nasal"
EMG = "EMG submental"
TEMP = "Temp rectal"
MARKER = "Event marker"

# Row of each stage code in the per-stage tables below; UNSCORED (-1) is last.
_ROW = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, -1: 5}
W, N1, N2, N3, REM, UNS = range(6)


@dataclass
class NightSignals:
    fast: dict[str, np.ndarray]  # 100 Hz, float32 µV
    aux: dict[str, np.ndarray]  # 1 Hz, float32 in their own units


def _slow(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Unit-variance noise correlated over about `sigma` samples."""
    x = gaussian_filter1d(rng.standard_normal(n), sigma, mode="wrap")
    # The expected std of smoothed white noise, not the sample's: a short night
    # (n not >> sigma) must not have its slow drifts blown up.
    return x * np.sqrt(2.0 * np.sqrt(np.pi) * sigma)


def _u(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return rng.uniform(lo, hi, n)


def _by_stage(rows: np.ndarray, values: dict[int, np.ndarray | float], default: float = 0.0) -> np.ndarray:
    out = np.full(rows.shape, default, dtype=np.float64)
    for row, v in values.items():
        mask = rows == row
        out[mask] = v[mask] if isinstance(v, np.ndarray) else v
    return out


class _Night:
    """Working state while one night is generated."""

    def __init__(self, labels: np.ndarray, params: NightParams, rng: np.random.Generator) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.rows = np.array([_ROW.get(int(c), UNS) for c in self.labels], dtype=np.int64)
        self.p = params
        self.s: SubjectParams = params.subject
        self.rng = rng
        self.n = len(self.labels)
        self.n_sec = self.n * EPOCH_S
        self.T = self.n * EPOCH_SAMPLES
        self.freqs = sfft.rfftfreq(self.T, 1.0 / FS)
        # Sample times in seconds, where each 1-Hz grid value sits (its centre).
        self._t = (np.arange(self.T, dtype=np.float64) + 0.5) / FS
        self._centres = np.arange(self.n_sec, dtype=np.float64) + 0.5

    # ---- drives -------------------------------------------------------------
    def per_second(self, per_epoch: np.ndarray, wobble: float = 0.0) -> np.ndarray:
        """Epoch values on the 1-Hz grid, faded across boundaries, slowly modulated within."""
        x = np.repeat(per_epoch.astype(np.float64), EPOCH_S)
        x = gaussian_filter1d(x, self.s.transition_s, mode="nearest")
        if wobble:
            w = _slow(self.rng, self.n_sec, 4.0)
            x = x * np.exp(wobble * w - 0.5 * wobble**2)
        return x

    def upsample(self, per_second: np.ndarray) -> np.ndarray:
        return np.interp(self._t, self._centres, per_second).astype(np.float32)

    # ---- carriers -----------------------------------------------------------
    def carrier(self, shape: np.ndarray) -> np.ndarray:
        """Unit-variance Gaussian noise with the given amplitude spectrum."""
        # Draw random coefficients only where the spectrum is non-negligible:
        # narrow bands (alpha, sigma, delta) need a fraction of the draws.
        support = np.flatnonzero(shape > 1e-4 * shape.max())
        lo, hi = int(support[0]), int(support[-1]) + 1
        z = np.zeros(len(self.freqs), dtype=np.complex64)
        z.real[lo:hi] = self.rng.standard_normal(hi - lo, dtype=np.float32)
        z.imag[lo:hi] = self.rng.standard_normal(hi - lo, dtype=np.float32)
        z[lo:hi] *= shape[lo:hi].astype(np.float32)
        x = sfft.irfft(z, n=self.T)
        std = float(np.sqrt(np.dot(x, x) / len(x))) or 1.0
        x *= np.float32(1.0 / std)
        return x

    def band(self, lo: float, hi: float, edge: float = 0.5) -> np.ndarray:
        f = self.freqs
        rise = 0.5 * (1 + np.tanh((f - lo) / (edge / 2)))
        fall = 0.5 * (1 - np.tanh((f - hi) / (edge / 2)))
        return rise * fall

    def peak(self, centre: float, width: float) -> np.ndarray:
        return np.exp(-0.5 * ((self.freqs - centre) / width) ** 2)

    def aperiodic(self, exponent: float) -> np.ndarray:
        f = np.maximum(self.freqs, 0.25)
        shape = f ** (-exponent / 2.0)
        shape[0] = 0.0
        return shape

    # ---- events -------------------------------------------------------------
    def event_times(self, rate_per_min_per_second: np.ndarray) -> np.ndarray:
        """Poisson event times (s) for a rate given per minute on the 1-Hz grid."""
        counts = self.rng.poisson(np.maximum(rate_per_min_per_second, 0.0) / 60.0)
        sec = np.repeat(np.arange(self.n_sec), counts)
        return sec + self.rng.random(len(sec))

    def stamp(self, out: np.ndarray, times_s: np.ndarray, templates: np.ndarray) -> None:
        """Add templates (n_events, L) starting at the given times into `out`."""
        if len(times_s) == 0:
            return
        length = templates.shape[1]
        start = np.round(times_s * FS).astype(np.int64)
        idx = start[:, None] + np.arange(length)[None, :]
        keep = (idx >= 0) & (idx < len(out))
        np.add.at(out, idx[keep], templates[keep])


# Sleep EEG has more broadband (mostly slow) power than wake EEG.
_BACKGROUND_SCALE = {W: 1.0, N1: 1.0, N2: 1.25, N3: 1.7, REM: 0.9, UNS: 1.1}


def _slow_share(exponent: float) -> float:
    """Share of the 1/f background's variance in 0.3-2.5 Hz (the slow-wave band)."""
    f = np.linspace(0.01, 50.0, 5000)
    p = np.maximum(f, 0.25) ** (-exponent)
    p *= f**2 / (f**2 + 0.5**2)  # the recorder's 0.5-Hz high-pass
    return float(p[(f >= 0.3) & (f <= 2.5)].sum() / p.sum())


# Which stage an epoch of each stage can look partly like, how often, and with
# what odds: real scorers disagree mostly on N1 (with W, N2 and REM), on the
# N2/N3 border and around REM. (alternatives, their odds, share of epochs)
_CONFUSABLE = {
    W: ((N1,), (1.0,), 0.12),
    N1: ((W, N2, REM), (0.4, 0.4, 0.2), 0.45),
    N2: ((N1, N3, REM), (0.3, 0.5, 0.2), 0.16),
    N3: ((N2,), (1.0,), 0.2),
    REM: ((N1, N2, W), (0.6, 0.3, 0.1), 0.16),
    UNS: ((W,), (1.0,), 0.0),
}


def _ambiguity(night: _Night) -> tuple[np.ndarray, np.ndarray]:
    """Per epoch: a stage it partly looks like, and how much (0 = a textbook epoch).

    Epochs next to a stage change are twice as often ambiguous, and then look
    like their neighbour: where scorers place a transition is itself uncertain.
    """
    rng, rows, n = night.rng, night.rows, night.n
    alt = rows.copy()
    share = np.zeros(n)
    for row, (alts, odds, p) in _CONFUSABLE.items():
        mask = rows == row
        alt[mask] = rng.choice(alts, size=int(mask.sum()), p=odds)
        share[mask] = p
    prev = np.concatenate([rows[:1], rows[:-1]])
    nxt = np.concatenate([rows[1:], rows[-1:]])
    neighbour = np.where(prev != rows, prev, nxt)
    at_edge = (neighbour != rows) & (neighbour != UNS) & (rows != UNS)
    share = np.where(at_edge, np.minimum(2 * share, 0.8), share)
    alt = np.where(at_edge & (rng.random(n) < 0.7), neighbour, alt)
    ambiguous = rng.random(n) < share
    weight = np.where(ambiguous, rng.uniform(0.3, 0.75, n), 0.0)
    return alt, weight


def _per_epoch_drives(night: _Night, rows: np.ndarray) -> dict[str, np.ndarray]:
    rng, s, n = night.rng, night.s, night.n
    low_alpha = rng.random(n) < s.low_alpha_fraction
    wake_alpha = np.where(low_alpha, _u(rng, 0.03, 0.3, n), _u(rng, 0.55, 1.05, n))
    # The N2/N3 border is an absolute criterion (waves >= 75 µV peak-to-peak
    # over >= 20 % of the epoch), so N2 and border delta are set in µV on the
    # recorded channel whatever the subject's gains: Gaussian delta of standard
    # deviation sd exceeds 75 µV p-p about exp(-37.5² / 2 sd²) of the time,
    # ~5 % at 15 µV, ~20 % at 21 µV. Deep N3 scales with the subject.
    # The 1/f background already carries slow waves (most of its power lies
    # below 2.5 Hz when its exponent is high): count them in.
    bg_slow = s.background_uv * _BACKGROUND_SCALE[N2] * np.sqrt(_slow_share(s.aperiodic_exponent))

    def drive(total_sd_uv: np.ndarray) -> np.ndarray:
        own = np.sqrt(np.maximum(np.square(total_sd_uv / s.fpz_gain) - bg_slow**2, 2.0**2))
        return own / s.delta_uv

    deep_n2 = rng.random(n) < s.deep_n2_fraction
    n2_delta = drive(np.where(deep_n2, _u(rng, 15.0, 20.0, n), _u(rng, 6.0, 13.0, n)))
    border_n3 = rng.random(n) < 0.15
    n3_delta = np.where(border_n3, drive(_u(rng, 20.0, 26.0, n)), _u(rng, 0.75, 1.3, n))
    n3_delta = np.maximum(n3_delta, drive(np.full(n, 20.0)))
    phasic = rng.random(n) < 0.6
    rem_eye = np.where(phasic, _u(rng, 0.4, 1.6, n), _u(rng, 0.0, 0.12, n))
    n1_spindly = rng.random(n) < 0.2
    return {
        "alpha": _by_stage(rows, {W: wake_alpha, N1: _u(rng, 0.0, 0.45, n), N2: _u(rng, 0.0, 0.08, n),
                                  REM: _u(rng, 0.05, 0.3, n), UNS: _u(rng, 0.2, 0.8, n)}),
        "eyes_open": _by_stage(rows, {W: _u(rng, 0.1, 0.95, n), N1: _u(rng, 0.0, 0.1, n), UNS: 0.8}),
        "theta": _by_stage(rows, {W: _u(rng, 0.1, 0.35, n), N1: _u(rng, 0.7, 1.2, n), N2: _u(rng, 0.3, 0.6, n),
                                  N3: _u(rng, 1.0, 1.6, n), REM: _u(rng, 0.6, 1.0, n), UNS: 0.3}),
        "delta": _by_stage(rows, {W: _u(rng, 0.05, 0.2, n), N1: _u(rng, 0.1, 0.3, n), N2: n2_delta,
                                  N3: n3_delta, REM: _u(rng, 0.08, 0.22, n), UNS: 0.2}),
        "background": _by_stage(rows, _BACKGROUND_SCALE) * _u(rng, 0.9, 1.1, n),
        "beta": _by_stage(rows, {W: _u(rng, 0.6, 1.2, n), N1: _u(rng, 0.3, 0.6, n), N2: 0.25, N3: 0.15,
                                 REM: _u(rng, 0.4, 0.7, n), UNS: 0.9}),
        # Frontal muscle tone falls with sleep but overlaps between N1, N2, N3 and REM.
        "muscle": _by_stage(rows, {W: _u(rng, 0.15, 1.3, n), N1: _u(rng, 0.05, 0.45, n), N2: _u(rng, 0.04, 0.25, n),
                                   N3: _u(rng, 0.03, 0.2, n), REM: _u(rng, 0.02, 0.15, n), UNS: 1.5}),
        "emg": _by_stage(rows, {W: 1.0, N1: 0.7, N2: 0.5, N3: 0.45, REM: 0.15, UNS: 1.3}) * _u(rng, 0.85, 1.15, n),
        "sigma": _by_stage(rows, {N2: _u(rng, 0.5, 1.0, n), N3: 1.0, N1: 0.15}, default=0.05),
        "spindles": _by_stage(rows, {N2: s.spindle_per_min * _u(rng, 0.3, 1.5, n), N3: 0.4 * s.spindle_per_min,
                                     N1: np.where(n1_spindly, 0.5, 0.0)}),
        "kcomplexes": _by_stage(rows, {N2: s.kcomplex_per_min * _u(rng, 0.2, 1.6, n), N3: 0.5 * s.kcomplex_per_min,
                                       N1: 0.15}),
        "vertex": _by_stage(rows, {N1: _u(rng, 1.0, 5.0, n), N2: 0.5}),
        "sawtooth": _by_stage(rows, {REM: s.sawtooth_per_min * _u(rng, 0.0, 1.8, n), N1: 0.1}),
        "rems": _by_stage(rows, {REM: s.rem_per_min * rem_eye, N1: 0.3}),
        "sems": _by_stage(rows, {N1: _u(rng, 0.1, 1.0, n), W: _u(rng, 0.0, 0.4, n), N2: _u(rng, 0.0, 0.3, n),
                                 REM: _u(rng, 0.0, 0.3, n)}),
        "movements": _by_stage(rows, {W: s.movements_per_hour / 60, UNS: 1.5, N1: s.movements_per_hour / 240},
                               default=s.movements_per_hour / 1200),
        "pops": _by_stage(rows, {W: 3.0, UNS: 3.0}, default=1.0) * s.pops_per_hour / 60,
        "breath_irregular": _by_stage(rows, {W: 1.0, N1: 0.6, N2: 0.3, N3: 0.15, REM: 1.0, UNS: 1.2}),
    }


def _eyes_open(night: _Night, p_open_epoch: np.ndarray) -> np.ndarray:
    """A 1-Hz eyes-open state (0..1): runs of seconds open or closed, open a given share of each epoch."""
    latent = _slow(night.rng, night.n_sec, 6.0)
    p = np.clip(np.repeat(p_open_epoch, EPOCH_S), 1e-6, 1 - 1e-6)
    state = (latent < ndtri(p)).astype(np.float64)
    return gaussian_filter1d(state, 0.7, mode="nearest")


# ---- templates (rows: events, columns: samples) ---------------------------------

def _spindles(rng: np.random.Generator, n: int, freq: float, amp: float) -> np.ndarray:
    length = int(2.1 * FS)
    t = np.arange(length) / FS
    dur = np.clip(rng.lognormal(np.log(0.95), 0.35, n), 0.5, 2.0)
    f = np.clip(freq + rng.normal(0, 0.4, n), 11.0, 16.0)
    a = amp * rng.lognormal(0, 0.3, n)
    u = np.clip(t[None, :] / dur[:, None], 0, 1)
    skew = rng.uniform(0.7, 1.4, n)[:, None]  # where the waxing turns to waning
    env = np.sin(np.pi * u**skew) ** 2
    phase = rng.uniform(0, 2 * np.pi, n)[:, None]
    return a[:, None] * env * np.sin(2 * np.pi * f[:, None] * t[None, :] + phase)


def _kcomplexes(rng: np.random.Generator, n: int, amp: float) -> np.ndarray:
    length = int(1.6 * FS)
    t = np.arange(length) / FS
    c1 = rng.uniform(0.25, 0.35, n)[:, None]
    w1 = rng.uniform(0.08, 0.13, n)[:, None]
    c2 = c1 + rng.uniform(0.4, 0.6, n)[:, None]
    w2 = rng.uniform(0.18, 0.3, n)[:, None]
    sharp = -np.exp(-0.5 * ((t - c1) / w1) ** 2)
    slow = rng.uniform(0.5, 0.9, n)[:, None] * np.exp(-0.5 * ((t - c2) / w2) ** 2)
    shape = sharp + slow
    shape /= np.ptp(shape, axis=1, keepdims=True)
    return amp * rng.lognormal(0, 0.25, n)[:, None] * shape


def _vertex_waves(rng: np.random.Generator, n: int, amp: float) -> np.ndarray:
    length = int(0.6 * FS)
    t = np.arange(length) / FS
    w = rng.uniform(0.04, 0.08, n)[:, None]
    shape = np.exp(-0.5 * ((t - 0.2) / w) ** 2) - 0.35 * np.exp(-0.5 * ((t - 0.2 - 2.5 * w) / (1.5 * w)) ** 2)
    return amp * rng.uniform(0.6, 1.4, n)[:, None] * shape


def _sawtooth_bursts(rng: np.random.Generator, n: int, amp: float) -> np.ndarray:
    length = int(3.0 * FS)
    t = np.arange(length) / FS
    f = rng.uniform(2.0, 5.5, n)[:, None]
    dur = rng.uniform(1.0, 3.0, n)[:, None]
    ph = f * t[None, :] + rng.random(n)[:, None]
    frac = ph - np.floor(ph)
    # Slow rise, fast fall: the notched "sawtooth" look.
    tooth = np.where(frac < 0.75, frac / 0.75, (1 - frac) / 0.25) * 2 - 1
    env = np.sin(np.pi * np.clip(t[None, :] / dur, 0, 1)) ** 0.5
    return amp * rng.uniform(0.6, 1.4, n)[:, None] * env * tooth


def _eye_movements(rng: np.random.Generator, n: int, amp: float) -> np.ndarray:
    """Rapid eye movements: a fast conjugate deflection, held, then drifting back."""
    length = int(3.0 * FS)
    t = np.arange(length) / FS
    rise = rng.uniform(0.03, 0.09, n)[:, None]
    hold = rng.uniform(0.1, 0.6, n)[:, None]
    tau = rng.uniform(0.3, 1.0, n)[:, None]
    up = 0.5 * (1 + np.tanh((t - 0.1) / rise * 2))
    back = np.where(t > 0.1 + hold, np.exp(-(t - 0.1 - hold) / tau), 1.0)
    sign = rng.choice([-1.0, 1.0], n)[:, None]
    return sign * amp * rng.lognormal(0, 0.4, n)[:, None] * up * back


def _blinks(rng: np.random.Generator, n: int, amp: float) -> np.ndarray:
    length = int(0.8 * FS)
    t = np.arange(length) / FS
    tau = rng.uniform(0.05, 0.09, n)[:, None]
    shape = (t / tau) ** 2 * np.exp(2 - t / tau) / 4  # peaks at 1 when t = 2 tau
    return amp * rng.lognormal(0, 0.3, n)[:, None] * shape


def _pops(rng: np.random.Generator, n: int) -> np.ndarray:
    length = int(2.0 * FS)
    t = np.arange(length) / FS
    tau = rng.uniform(0.08, 0.5, n)[:, None]
    sign = rng.choice([-1.0, 1.0], n)[:, None]
    return sign * rng.uniform(80, 400, n)[:, None] * np.exp(-t / tau)


def _movements(rng: np.random.Generator, n: int) -> np.ndarray:
    length = int(8.0 * FS)
    t = np.arange(length) / FS
    dur = rng.uniform(2.0, 8.0, n)[:, None]
    env = np.sin(np.pi * np.clip(t[None, :] / dur, 0, 1)) ** 0.7
    slow = np.cumsum(rng.standard_normal((n, length)), axis=1)
    slow -= np.linspace(0, 1, length)[None, :] * slow[:, -1:]
    slow /= slow.std(axis=1, keepdims=True) + 1e-9
    fast = rng.standard_normal((n, length))
    return rng.uniform(40, 220, n)[:, None] * env * (slow + 0.6 * fast)


# ---- the night ------------------------------------------------------------------

def generate(labels: np.ndarray, params: NightParams, rng: np.random.Generator) -> NightSignals:
    """All seven Sleep-EDF channels for one night following `labels` (one per 30-s epoch)."""
    night = _Night(labels, params, rng)
    s = night.s
    alt_rows, alt_weight = _ambiguity(night)
    own, other = _per_epoch_drives(night, night.rows), _per_epoch_drives(night, alt_rows)
    d = {k: (1.0 - alt_weight) * own[k] + alt_weight * other[k] for k in own}

    eyes_open = _eyes_open(night, d["eyes_open"])
    sec = {k: night.per_second(v, wobble=0.25) for k, v in d.items() if k not in ("eyes_open",)}
    # Alpha blocks when the eyes open; blinks and saccades come with open eyes.
    sec["alpha"] *= 1.0 - 0.75 * eyes_open
    blink_rate = s.blink_per_min * eyes_open
    saccade_rate = 60.0 * 0.9 * eyes_open

    env = {k: night.upsample(sec[k]) for k in ("alpha", "theta", "delta", "sigma", "background", "beta", "muscle", "sems")}

    # Stationary carriers, one draw per night and channel.
    a_shape = night.peak(s.alpha_peak_hz, s.alpha_width_hz / 2)
    alpha_pz = night.carrier(a_shape)
    alpha_fpz = 0.6 * alpha_pz + 0.8 * night.carrier(a_shape)
    theta = night.carrier(night.peak(s.theta_peak_hz, 1.0))
    theta_pz = 0.5 * theta + 0.87 * night.carrier(night.peak(s.theta_peak_hz, 1.0))
    delta_shape = night.band(0.4, 2.2, 0.3) + 0.35 * night.band(2.2, 4.0, 0.5)
    delta = night.carrier(delta_shape)
    delta_pz = 0.7 * delta + 0.7 * night.carrier(delta_shape)
    sigma_shape = night.peak(s.spindle_hz, 0.8)
    sigma = night.carrier(sigma_shape)
    beta_shape = night.band(15.0, 30.0, 2.0)
    beta = night.carrier(beta_shape)
    beta_pz = night.carrier(beta_shape)
    bg_shape = night.aperiodic(s.aperiodic_exponent)
    muscle_shape = night.band(20.0, 48.0, 4.0)

    fpz = s.background_uv * env["background"] * night.carrier(bg_shape)
    fpz += s.alpha_uv * s.alpha_frontal_ratio * env["alpha"] * alpha_fpz
    fpz += s.theta_uv * env["theta"] * theta
    fpz += s.delta_uv * env["delta"] * delta
    fpz += s.beta_uv * env["beta"] * beta
    fpz += s.sigma_uv * env["sigma"] * sigma

    pz = 0.8 * s.background_uv * env["background"] * night.carrier(bg_shape)
    pz += s.alpha_uv * env["alpha"] * alpha_pz
    pz += 0.7 * s.theta_uv * env["theta"] * theta_pz
    pz += 0.45 * s.delta_uv * env["delta"] * delta_pz
    pz += 0.8 * s.beta_uv * env["beta"] * beta_pz
    pz += 0.5 * s.sigma_uv * env["sigma"] * sigma

    # Transient EEG graphoelements, stronger over the vertex (Fpz-Cz) than Pz-Oz.
    t_sp = night.event_times(sec["spindles"])
    sp = _spindles(rng, len(t_sp), s.spindle_hz, s.spindle_uv)
    night.stamp(fpz, t_sp, sp)
    night.stamp(pz, t_sp, 0.45 * sp)
    t_kc = night.event_times(sec["kcomplexes"])
    kc = _kcomplexes(rng, len(t_kc), s.kcomplex_uv)
    night.stamp(fpz, t_kc, kc)
    night.stamp(pz, t_kc, 0.35 * kc)
    with_spindle = t_kc[rng.random(len(t_kc)) < 0.3]  # K-complex followed by a spindle
    sp2 = _spindles(rng, len(with_spindle), s.spindle_hz, s.spindle_uv)
    night.stamp(fpz, with_spindle + 0.8, sp2)
    night.stamp(pz, with_spindle + 0.8, 0.45 * sp2)
    t_vx = night.event_times(sec["vertex"])
    vx = _vertex_waves(rng, len(t_vx), 60.0)
    night.stamp(fpz, t_vx, vx)
    night.stamp(pz, t_vx, 0.3 * vx)
    t_st = night.event_times(sec["sawtooth"])
    st = _sawtooth_bursts(rng, len(t_st), 28.0)
    night.stamp(fpz, t_st, st)
    night.stamp(pz, t_st, 0.5 * st)

    fpz *= s.fpz_gain
    pz *= s.pz_gain

    # The eyes: gaze jumps (saccades) with open eyes, rapid eye movements in
    # bursts in REM, slow rolling movements at sleep onset, blinks.
    eye = np.zeros(night.T)
    t_sac = night.event_times(saccade_rate)
    if len(t_sac):
        targets = rng.normal(0.0, 200.0, len(t_sac))
        jumps = np.diff(np.concatenate([[0.0], targets]))
        steps = np.zeros(night.T)
        np.add.at(steps, np.minimum(np.round(t_sac * FS).astype(np.int64), night.T - 1), jumps)
        # Gaze returns to centre with the eyes closed.
        eye += np.convolve(np.cumsum(steps), np.ones(4) / 4, mode="same") * night.upsample(eyes_open)
    burst_times = night.event_times(sec["rems"] / 3.0)
    per_burst = rng.integers(1, 6, len(burst_times))
    t_rem = np.repeat(burst_times, per_burst) + np.concatenate(
        [np.cumsum(rng.uniform(0.15, 0.7, k)) - 0.15 for k in per_burst]) if len(burst_times) else np.zeros(0)
    night.stamp(eye, t_rem, _eye_movements(rng, len(t_rem), 230.0))
    eye += 110.0 * env["sems"] * night.carrier(night.band(0.1, 0.5, 0.1))
    eye *= s.eog_gain

    t_bl = night.event_times(blink_rate)
    bl = _blinks(rng, len(t_bl), 140.0 * s.fpz_gain)
    blink_fpz = np.zeros(night.T)
    night.stamp(blink_fpz, t_bl, bl)

    eog = eye + s.eeg_in_eog * fpz + 0.3 * blink_fpz * s.eog_gain
    eog += 1.2 * s.background_uv * night.carrier(bg_shape)
    # Electrode and amplifier noise: broadband, visible in the EOG's sample-to-sample steps.
    eog += rng.uniform(1.5, 4.0) * rng.standard_normal(night.T)
    fpz += s.crosstalk * eye + blink_fpz

    muscle = env["muscle"] * s.muscle_uv
    fpz += muscle * night.carrier(muscle_shape)
    eog += 1.5 * muscle * night.carrier(muscle_shape)
    pz += 0.4 * muscle * night.carrier(muscle_shape)

    # Artefacts: electrode pops on one channel at a time, movements on all.
    channels = [fpz, pz, eog]
    t_pop = night.event_times(sec["pops"])
    which = rng.choice(3, len(t_pop), p=[0.45, 0.3, 0.25])
    pops = _pops(rng, len(t_pop))
    for c in range(3):
        night.stamp(channels[c], t_pop[which == c], pops[which == c])
    t_mv = night.event_times(sec["movements"])
    mv = _movements(rng, len(t_mv))
    for c, gain in enumerate((1.0, 0.6, 1.5)):
        night.stamp(channels[c], t_mv, gain * mv)

    # Mains interference: a slowly beating line at 50 (or 60) Hz, its
    # amplitude drifting over the night (cables move, impedances change).
    line_env = night.upsample(np.exp(0.5 * _slow(rng, night.n_sec, 120.0)))
    line_env /= line_env.mean()
    line_phase = 2 * np.pi * (s.line_hz + params.line_phase_drift_hz) * night._t
    line = np.sin(line_phase + rng.uniform(0, 2 * np.pi))
    for c, gain in enumerate(rng.uniform(0.5, 1.5, 3)):
        channels[c] += s.line_uv * gain * line_env * line

    # Sleep-EDF's cassette recorder: high-pass 0.5 Hz (first order, causal).
    b, a = signal.butter(1, 0.5, btype="high", fs=FS)
    limits = (params.physical_eeg_uv, params.physical_pz_uv, params.physical_eog_uv)
    names = (EEG_FPZ, EEG_PZ, EOG)
    fast = {}
    for name, x, lim in zip(names, channels, limits):
        y = signal.lfilter(b, a, x)
        fast[name] = np.clip(y, -lim, lim).astype(np.float32)

    return NightSignals(fast=fast, aux=_aux_channels(night, sec, t_rem, t_mv))


def _aux_channels(night: _Night, sec: dict[str, np.ndarray], t_rem: np.ndarray, t_mv: np.ndarray) -> dict[str, np.ndarray]:
    """Sleep-EDF's 1-Hz channels: respiration, submental EMG envelope, rectal temperature, marker."""
    rng, s, p = night.rng, night.s, night.p
    n_sec = night.n_sec
    # Breathing: 12-18 breaths/min, regular in N2/N3, irregular in W and REM.
    rate = rng.uniform(0.2, 0.28) + 0.04 * sec["breath_irregular"] * _slow(rng, n_sec, 3.0)
    phase = np.cumsum(2 * np.pi * np.clip(rate, 0.1, 0.45))
    depth = rng.uniform(350, 700) * (1 + 0.2 * sec["breath_irregular"] * _slow(rng, n_sec, 5.0))
    resp = np.clip(depth * np.sin(phase) + rng.normal(0, 20, n_sec), -2048, 2047)

    emg = s.emg_uv * sec["emg"] * rng.lognormal(0, 0.15, n_sec)
    twitch = np.zeros(n_sec)
    np.add.at(twitch, np.minimum(t_rem.astype(np.int64), n_sec - 1), rng.uniform(0.2, 1.0, len(t_rem)))
    np.add.at(twitch, np.minimum(t_mv.astype(np.int64), n_sec - 1), rng.uniform(1.0, 3.0, len(t_mv)))
    emg = np.clip(emg + twitch, 0.05, 5.0)

    # Core temperature falls through the night towards a nadir in the early morning.
    hours = p.start_hour + np.arange(n_sec) / 3600.0
    temp = rng.uniform(36.7, 37.3) + 0.4 * np.cos(2 * np.pi * (hours - 17.0) / 24.0)
    temp += 0.05 * _slow(rng, n_sec, 300.0)
    temp = np.clip(temp, 34.0, 40.0)

    base = rng.uniform(800, 1000)
    marker = base + 30 * _slow(rng, n_sec, 60.0)
    marker = np.clip(marker, -2047, 2048)
    return {
        RESP: resp.astype(np.float32),
        EMG: emg.astype(np.float32),
        TEMP: temp.astype(np.float32),
        MARKER: marker.astype(np.float32),
    }
