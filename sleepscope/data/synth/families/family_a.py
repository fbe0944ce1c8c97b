"""Family A as sources: the original generator's stage models, split by topography.

The stage physiology is `sleepscope.data.synth.physiology` (carriers under
per-epoch envelopes, template events, blended ambiguous epochs) with the
subject and night parameters of `sleepscope.data.synth.subjects`. Where the
original mixes everything straight into Fpz-Cz, Pz-Oz and the horizontal EOG,
this keeps each process apart so that any derivation can be recorded. The
original two-derivation night stays `physiology.generate` (unchanged, so
files written before families existed are reproduced bit for bit).
"""

from __future__ import annotations

import numpy as np

from sleepscope.data.synth import physiology as ph
from sleepscope.data.synth.families import Sources
from sleepscope.data.synth.subjects import night_params, signal_seed, start_time


def sources(labels: np.ndarray, seed: int, subject: int, night: int) -> Sources:
    params = night_params(seed, subject, night)
    rng = np.random.default_rng(signal_seed(seed, subject, night))
    n = ph._Night(labels, params, rng)
    s = n.s
    alt_rows, alt_weight = ph._ambiguity(n)
    own, other = ph._per_epoch_drives(n, n.rows), ph._per_epoch_drives(n, alt_rows)
    d = {k: (1.0 - alt_weight) * own[k] + alt_weight * other[k] for k in own}

    eyes_open = ph._eyes_open(n, d["eyes_open"])
    sec = {k: n.per_second(v, wobble=0.25) for k, v in d.items() if k != "eyes_open"}
    sec["alpha"] *= 1.0 - 0.75 * eyes_open
    env = {k: n.upsample(sec[k]) for k in ("alpha", "theta", "delta", "sigma", "background", "beta", "muscle", "sems")}

    def pair(shape: np.ndarray, scale: float, envelope: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return scale * envelope * n.carrier(shape), scale * envelope * n.carrier(shape)

    a_shape = n.peak(s.alpha_peak_hz, s.alpha_width_hz / 2)
    delta_shape = n.band(0.4, 2.2, 0.3) + 0.35 * n.band(2.2, 4.0, 0.5)
    comps = {
        "background": pair(n.aperiodic(s.aperiodic_exponent), s.background_uv, env["background"]),
        "alpha": pair(a_shape, s.alpha_uv, env["alpha"]),
        "theta": pair(n.peak(s.theta_peak_hz, 1.0), s.theta_uv, env["theta"]),
        "slow": pair(delta_shape, s.delta_uv, env["delta"]),
        "spindle": pair(n.peak(s.spindle_hz, 0.8), s.sigma_uv, env["sigma"]),
        "beta": pair(n.band(15.0, 30.0, 2.0), s.beta_uv, env["beta"]),
        "muscle": pair(n.band(20.0, 48.0, 4.0), s.muscle_uv, env["muscle"]),
    }
    slow, spindle = comps["slow"][0], comps["spindle"][0]
    t_sp = n.event_times(sec["spindles"])
    n.stamp(spindle, t_sp, ph._spindles(rng, len(t_sp), s.spindle_hz, s.spindle_uv))
    t_kc = n.event_times(sec["kcomplexes"])
    n.stamp(slow, t_kc, ph._kcomplexes(rng, len(t_kc), s.kcomplex_uv))
    with_spindle = t_kc[rng.random(len(t_kc)) < 0.3]
    n.stamp(spindle, with_spindle + 0.8, ph._spindles(rng, len(with_spindle), s.spindle_hz, s.spindle_uv))
    vertex = np.zeros(n.T, dtype=np.float32)
    t_vx = n.event_times(sec["vertex"])
    n.stamp(vertex, t_vx, ph._vertex_waves(rng, len(t_vx), 60.0))
    t_st = n.event_times(sec["sawtooth"])
    n.stamp(vertex, t_st, ph._sawtooth_bursts(rng, len(t_st), 28.0))
    comps["vertex"] = (vertex, None)

    eye = np.zeros(n.T)
    t_sac = n.event_times(60.0 * 0.9 * eyes_open)
    if len(t_sac):
        jumps = np.diff(np.concatenate([[0.0], rng.normal(0.0, 200.0, len(t_sac))]))
        steps = np.zeros(n.T)
        np.add.at(steps, np.minimum(np.round(t_sac * ph.FS).astype(np.int64), n.T - 1), jumps)
        eye += np.convolve(np.cumsum(steps), np.ones(4) / 4, mode="same") * n.upsample(eyes_open)
    burst_times = n.event_times(sec["rems"] / 3.0)
    per_burst = rng.integers(1, 6, len(burst_times))
    t_rem = np.repeat(burst_times, per_burst) + np.concatenate(
        [np.cumsum(rng.uniform(0.15, 0.7, k)) - 0.15 for k in per_burst]) if len(burst_times) else np.zeros(0)
    n.stamp(eye, t_rem, ph._eye_movements(rng, len(t_rem), 230.0))
    eye += 110.0 * env["sems"] * n.carrier(n.band(0.1, 0.5, 0.1))
    eye *= s.eog_gain
    blink = np.zeros(n.T)
    t_bl = n.event_times(s.blink_per_min * eyes_open)
    n.stamp(blink, t_bl, ph._blinks(rng, len(t_bl), 140.0))

    return Sources(
        family="A",
        components=comps,
        eye=eye.astype(np.float32),
        blink=blink.astype(np.float32),
        movement_per_min=sec["movements"],
        aux=ph._aux_channels(n, sec, t_rem, np.zeros(0)),
        eog_leak=s.eeg_in_eog,
        age=s.age,
        sex=s.sex,
        start_time=start_time(params, subject),
        params=params,
    )
