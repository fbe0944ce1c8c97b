"""Random band gains: training sequences whose spectra are reshaped as another lab or subject would reshape them.

How much alpha a waking subject shows (eyes open or closed, frontal or
occipital derivation), how much beta and muscle reach the electrode, how
steep the acquisition filters are: these vary between labs and people far
more than between two nights of one simulator. A model that learns "wake is
where the alpha is" fails on eyes-open wake over a frontal derivation. Each
channel of a chosen sequence gets one smooth gain curve over frequency (the
same for all its epochs: a property of the recording, not of the epoch),
and the input is rebuilt in the model's normalisation, so that the network
sees what it would see had the recording been made so.

The other training augmentations here change a recording the same way, as a
property of the whole sequence: its size (one broadband gain), amplifier low-
and high-passes, and what is added to the scalp signal in µV (a slow drift,
broadband fast noise, the heart's beats).
"""

from __future__ import annotations

import numpy as np
import torch

from sleepscope.model.inputs import AMPLITUDE_CLIP, AMPLITUDE_REF_UV, NIGHT_CLIP

#: Frequencies (Hz) at which a gain is drawn: the bands a scorer reads (slow, delta, theta, alpha, sigma, beta, gamma).
ANCHORS_HZ = (1.0, 3.0, 6.0, 10.0, 14.0, 22.0, 40.0)


def gain_curve(freqs: np.ndarray, log_gains: torch.Tensor) -> torch.Tensor:
    """`(..., len(freqs))` log gain at `freqs`, linear in log frequency between ANCHORS_HZ, constant beyond them.

    ``log_gains``: `(..., len(ANCHORS_HZ))` natural-log gains at the anchors.
    """
    lf = np.log(np.clip(freqs, ANCHORS_HZ[0], ANCHORS_HZ[-1]))
    la = np.log(ANCHORS_HZ)
    hi = np.clip(np.searchsorted(la, lf, side="right"), 1, len(la) - 1)
    w = torch.tensor((lf - la[hi - 1]) / (la[hi] - la[hi - 1]), dtype=log_gains.dtype)
    lo_g = log_gains[..., torch.as_tensor(hi - 1)]
    hi_g = log_gains[..., torch.as_tensor(hi)]
    return lo_g + (hi_g - lo_g) * w


def apply_band_gains(x: torch.Tensor, log_gains: torch.Tensor, normalisation: str, fs: float = 100.0) -> torch.Tensor:
    """`x` (B, L, 2, T) in `normalisation` with each (sequence, channel) filtered by its `log_gains` (B, 2, K).

    A missing channel (all zeros) stays missing; a flat epoch stays flat.
    """
    freqs = np.fft.rfftfreq(x.shape[-1], 1.0 / fs)
    return apply_gain(x, torch.exp(gain_curve(freqs, log_gains.to(torch.float32))), normalisation)


def apply_gain(x: torch.Tensor, gain: torch.Tensor, normalisation: str) -> torch.Tensor:
    """`x` (B, L, 2, T) in `normalisation` with each (sequence, channel) filtered by its magnitude response
    `gain` (B, 2, T // 2 + 1, at the real FFT's frequencies), and put back in the normalisation."""
    t = x.shape[-1]
    gain = gain[:, None]  # (B, 1, 2, F): one response for every epoch of a sequence
    xf = x.to(torch.float32)
    amp = xf.mean(dim=-1, keepdim=True) if normalisation == "epoch+amplitude" else None
    z = xf - amp if amp is not None else xf
    shaped = torch.fft.irfft(torch.fft.rfft(z, dim=-1) * gain, n=t, dim=-1)
    if normalisation == "night":
        return shaped.clamp(-NIGHT_CLIP, NIGHT_CLIP).to(x.dtype)
    sd = shaped.std(dim=-1, keepdim=True, unbiased=False)
    live = sd > 1e-6
    out = torch.where(live, shaped / sd.clamp(min=1e-6), torch.zeros_like(shaped))
    if amp is not None:
        # the µV standard deviation grew by the factor `sd` (z had unit deviation); flat/missing keep 0
        new_amp = torch.where(live, (amp + torch.log(sd.clamp(min=1e-6))).clamp(-AMPLITUDE_CLIP, AMPLITUDE_CLIP), amp)
        out = out + new_amp
    return out.to(x.dtype)


def random_band_gains(x: torch.Tensor, p: float, generator: torch.Generator, normalisation: str,
                      max_factor: float = 2.0) -> torch.Tensor:
    """Each sequence of `x` (B, L, 2, T), with probability `p`, has its channels reshaped by random band gains.

    Gains at each anchor are drawn log-uniformly in [1/max_factor, max_factor],
    independently per channel. Returns `x` itself when nothing is drawn.
    """
    if p <= 0:
        return x
    b = x.shape[0]
    chosen = torch.rand(b, generator=generator) < p
    lg = (torch.rand(b, 2, len(ANCHORS_HZ), generator=generator) * 2 - 1) * float(np.log(max_factor))
    if not bool(chosen.any()):
        return x
    out = x.clone()
    out[chosen] = apply_band_gains(x[chosen], lg[chosen], normalisation)
    return out


#: Range (Hz) of the low-pass cut-offs `random_lowpass` draws: from a 50-Hz recording's anti-aliasing to above
#: the AASM's recommended 35 Hz.
LOWPASS_HZ = (20.0, 45.0)


def lowpass_gain(freqs: np.ndarray, cutoff: torch.Tensor, order: int = 4) -> torch.Tensor:
    """`(..., len(freqs))` magnitude of a Butterworth low-pass of `order` at each `cutoff` (Hz, shape (...))."""
    ratio = torch.as_tensor(freqs, dtype=torch.float32) / cutoff[..., None].to(torch.float32)
    return 1.0 / torch.sqrt(1.0 + ratio ** (2 * order))


def random_lowpass(x: torch.Tensor, p: float, generator: torch.Generator, normalisation: str,
                   cutoffs: tuple[float, float] = LOWPASS_HZ, fs: float = 100.0) -> torch.Tensor:
    """Each sequence of `x` (B, L, 2, T), with probability `p`, has each channel low-passed as an amplifier or a
    low sampling rate would (cut-off log-uniform in `cutoffs`, drawn per channel), so that no stage is read from
    a band some labs do not record. Returns `x` itself when nothing is drawn."""
    return _random_filter(x, p, generator, normalisation, cutoffs, fs, lambda f, cut, _: lowpass_gain(f, cut))


#: Range (Hz) of the high-pass cut-offs `random_highpass` draws: from a DC-coupled amplifier's slowest to the
#: 0.5-1 Hz some labs set on the EEG and EOG (the AASM recommends 0.3 Hz).
HIGHPASS_HZ = (0.15, 1.0)


def highpass_gain(freqs: np.ndarray, cutoff: torch.Tensor, order: torch.Tensor | int = 1) -> torch.Tensor:
    """`(..., len(freqs))` magnitude of a Butterworth high-pass of `order` at each `cutoff` (Hz, shape (...))."""
    f = torch.as_tensor(freqs, dtype=torch.float32).clamp(min=1e-6)
    ratio = cutoff[..., None].to(torch.float32) / f
    return 1.0 / torch.sqrt(1.0 + ratio ** (2 * torch.as_tensor(order)[..., None]))


def random_highpass(x: torch.Tensor, p: float, generator: torch.Generator, normalisation: str,
                    cutoffs: tuple[float, float] = HIGHPASS_HZ, fs: float = 100.0,
                    shared: bool = False) -> torch.Tensor:
    """Each sequence of `x` (B, L, 2, T), with probability `p`, has each channel high-passed as an amplifier would
    (first or second order, cut-off log-uniform in `cutoffs`, drawn per channel), so that no stage is read from the
    slowest band, which a lab's high-pass takes away. `shared`: one cut-off and order per sequence for both
    channels, as one amplifier setting for every scalp channel gives. Returns `x` itself when nothing is drawn."""
    order = 1 + torch.randint(0, 2, (x.shape[0], 1 if shared else 2), generator=generator).expand(-1, 2)
    return _random_filter(x, p, generator, normalisation, cutoffs, fs,
                          lambda f, cut, chosen: highpass_gain(f, cut, order[chosen]), shared=shared)


def _random_filter(x, p, generator, normalisation, cutoffs, fs, gain, shared: bool = False) -> torch.Tensor:
    """`x` with the chosen sequences' channels filtered by `gain(freqs, cut-offs, chosen)` (cut-offs log-uniform
    in `cutoffs`, one per sequence and channel, or per sequence where `shared`; `chosen` the mask of the sequences
    filtered), and put back in the normalisation."""
    if p <= 0:
        return x
    b = x.shape[0]
    chosen = torch.rand(b, generator=generator) < p
    lo, hi = np.log(cutoffs[0]), np.log(cutoffs[1])
    cut = torch.exp(lo + torch.rand(b, 1 if shared else 2, generator=generator) * float(hi - lo)).expand(-1, 2)
    if not bool(chosen.any()):
        return x
    out = x.clone()
    freqs = np.fft.rfftfreq(x.shape[-1], 1.0 / fs)
    out[chosen] = apply_gain(x[chosen], gain(freqs, cut[chosen], chosen), normalisation)
    return out


#: Range of the broadband gains `random_gain` draws (log-uniform): a head's size and age, an electrode's distance
#: from its reference and an amplifier's scale move a derivation's amplitude by about x0.3-x3 between labs.
GAIN_RANGE = (0.33, 3.0)


def random_gain(x: torch.Tensor, p: float, generator: torch.Generator, normalisation: str,
                factors: tuple[float, float] = GAIN_RANGE) -> torch.Tensor:
    """Each sequence of `x` (B, L, 2, T) in "epoch+amplitude", with probability `p`, has each channel scaled by one
    gain across its whole length (log-uniform in `factors`, drawn per channel), so that no stage is read from the
    size of a derivation alone; only the amplitude input moves, the epoch's shape is the same. Missing channels
    and flat epochs stay as they are; other normalisations (blind to the size) return `x` itself."""
    if p <= 0 or normalisation != "epoch+amplitude":
        return x
    b, _, c, _ = x.shape
    chosen = torch.rand(b, generator=generator) < p
    log_gain = torch.empty(b, c).uniform_(*np.log(factors), generator=generator)
    if not bool(chosen.any()):
        return x
    xf = x[chosen].to(torch.float32)
    amp = xf.mean(dim=-1, keepdim=True)
    z = xf - amp
    live = z.abs().amax(dim=-1, keepdim=True) > 1e-6
    moved = (amp + log_gain[chosen][:, None, :, None]).clamp(-AMPLITUDE_CLIP, AMPLITUDE_CLIP)
    out = x.clone()
    out[chosen] = torch.where(live, z + moved, xf).to(x.dtype)
    return out


#: Ranges of the slow drifts `random_drift` adds: frequency (Hz) and amplitude (µV), both drawn log-uniformly.
DRIFT_HZ = (0.02, 0.2)
DRIFT_UV = (20.0, 200.0)


def random_drift(x: torch.Tensor, p: float, generator: torch.Generator, normalisation: str,
                 fs: float = 100.0) -> torch.Tensor:
    """Each sequence of `x` (B, L, 2, T) in "epoch+amplitude", with probability `p`, has on each channel one slow
    sinusoid added across its whole length (sweat, a drifting electrode: `DRIFT_HZ`, `DRIFT_UV`, random phase),
    and its epochs put back in the normalisation, so that a stage is not read from a wandering baseline.
    Missing channels and flat epochs stay as they are; other normalisations return `x` itself."""
    if p <= 0 or normalisation != "epoch+amplitude":
        return x
    b, n_epochs, _, t = x.shape
    chosen = torch.rand(b, generator=generator) < p
    hz = torch.exp(torch.empty(b, 2).uniform_(*np.log(DRIFT_HZ), generator=generator))
    uv = torch.exp(torch.empty(b, 2).uniform_(*np.log(DRIFT_UV), generator=generator))
    phase = torch.rand(b, 2, generator=generator) * 2 * np.pi
    if not bool(chosen.any()):
        return x
    time = torch.arange(n_epochs * t, dtype=torch.float32).view(n_epochs, t) / fs  # seconds along the sequence
    drift = uv[chosen][:, None, :, None] * torch.sin(
        2 * np.pi * hz[chosen][:, None, :, None] * time[None, :, None, :] + phase[chosen][:, None, :, None])
    return _add_microvolts(x, chosen, drift)


#: Ranges of the noise `random_fast_noise` adds: its band's lower edge (Hz, its upper edge FAST_NOISE_TOP_HZ) and
#: its RMS (µV), both drawn log-uniformly: the broadband fast activity a tense muscle or a high-impedance electrode
#: puts on a scalp derivation, which a model must not read as wake by itself.
FAST_NOISE_LOW_HZ = (15.0, 30.0)
FAST_NOISE_TOP_HZ = 45.0
FAST_NOISE_UV = (1.0, 12.0)


def random_fast_noise(x: torch.Tensor, p: float, generator: torch.Generator, normalisation: str,
                      fs: float = 100.0, uv_range: tuple[float, float] = FAST_NOISE_UV) -> torch.Tensor:
    """Each sequence of `x` (B, L, 2, T) in "epoch+amplitude", with probability `p`, has on each channel Gaussian
    noise of one band and RMS across its whole length (`FAST_NOISE_LOW_HZ` to `FAST_NOISE_TOP_HZ`, `uv_range`)
    added in µV, and its epochs put back in the normalisation, so that fast activity alone does not make a stage
    wake. Missing channels and flat epochs stay as they are; other normalisations return `x` itself."""
    if p <= 0 or normalisation != "epoch+amplitude":
        return x
    b, n_epochs, c, t = x.shape
    chosen = torch.rand(b, generator=generator) < p
    low = torch.exp(torch.empty(b, c).uniform_(*np.log(FAST_NOISE_LOW_HZ), generator=generator))
    uv = torch.exp(torch.empty(b, c).uniform_(*np.log(uv_range), generator=generator))
    white = torch.randn(b, c, n_epochs * t, generator=generator)
    if not bool(chosen.any()):
        return x
    k = int(chosen.sum())
    freqs = torch.as_tensor(np.fft.rfftfreq(n_epochs * t, 1.0 / fs), dtype=torch.float32)
    band = (freqs[None, None] >= low[chosen][..., None]) & (freqs[None, None] <= FAST_NOISE_TOP_HZ)
    noise = torch.fft.irfft(torch.fft.rfft(white[chosen], dim=-1) * band, n=n_epochs * t, dim=-1)
    noise = noise / noise.std(dim=-1, keepdim=True).clamp(min=1e-6) * uv[chosen][..., None]
    return _add_microvolts(x, chosen, noise.view(k, c, n_epochs, t).transpose(1, 2))


#: Ranges `random_heartbeats` draws from: heart rate (beats a minute), the beats' peak on a channel (µV, log-uniform,
#: either sign: each derivation sees the heart's dipole its own way) and the R wave's width (s, its Gaussian's SD).
HEART_BPM = (45.0, 100.0)
HEARTBEAT_UV = (10.0, 120.0)
R_WIDTH_S = (0.008, 0.016)


def heartbeat_train(rng: np.random.Generator, n: int, fs: float = 100.0) -> np.ndarray:
    """`n` samples of unit-peak heartbeats as a scalp derivation picks them up: an R wave, an S dip and a T wave,
    at a rate drawn from `HEART_BPM` with beat-to-beat variability."""
    width = rng.uniform(*R_WIDTH_S)
    t = np.arange(int(0.7 * fs)) / fs
    beat = (np.exp(-0.5 * ((t - 0.1) / width) ** 2) - rng.uniform(0.1, 0.4) * np.exp(-0.5 * ((t - 0.125) / 0.012) ** 2)
            + rng.uniform(0.05, 0.3) * np.exp(-0.5 * ((t - rng.uniform(0.3, 0.4)) / rng.uniform(0.04, 0.07)) ** 2))
    period = 60.0 / rng.uniform(*HEART_BPM)
    rr = period * (1 + rng.normal(0, 0.04, int(n / fs / period) + 3))
    at = np.round((np.cumsum(rr) - rng.uniform(0, 2 * period)) * fs).astype(np.int64)
    impulses = np.zeros(n + len(beat))
    impulses[at[(at >= 0) & (at < n)]] = 1.0
    return np.convolve(impulses, beat)[:n] / beat.max()


def random_heartbeats(x: torch.Tensor, p: float, generator: torch.Generator, normalisation: str,
                      fs: float = 100.0) -> torch.Tensor:
    """Each sequence of `x` (B, L, 2, T) in "epoch+amplitude", with probability `p`, has one heart's beats
    (`heartbeat_train`) added in µV to each channel with its own size and sign (`HEARTBEAT_UV`), and its epochs put
    back in the normalisation, so that a mastoid reference picking up the heart is not read as a stage where the
    file holds no ECG lead to subtract them with. Missing channels and flat epochs stay as they are; other
    normalisations return `x` itself."""
    if p <= 0 or normalisation != "epoch+amplitude":
        return x
    b, n_epochs, c, t = x.shape
    chosen = torch.rand(b, generator=generator) < p
    seeds = torch.randint(0, 2 ** 31 - 1, (b,), generator=generator)
    if not bool(chosen.any()):
        return x
    beats = []
    for s in seeds[chosen].tolist():
        rng = np.random.default_rng(s)
        train = heartbeat_train(rng, n_epochs * t, fs)
        size = np.exp(rng.uniform(*np.log(HEARTBEAT_UV), c)) * rng.choice((-1.0, 1.0), c)
        beats.append(size[:, None] * train[None])
    added = torch.tensor(np.stack(beats), dtype=torch.float32).view(-1, c, n_epochs, t).transpose(1, 2)
    return _add_microvolts(x, chosen, added)


def _add_microvolts(x: torch.Tensor, chosen: torch.Tensor, added: torch.Tensor) -> torch.Tensor:
    """`x` (B, L, C, T) in "epoch+amplitude" with `added` (µV, one (L, C, T) per chosen sequence) added to the
    chosen sequences' live epochs, which are normalised again; flat epochs and missing channels stay as they are."""
    xf = x[chosen].to(torch.float32)
    amp = xf.mean(dim=-1, keepdim=True)
    z = xf - amp
    live = z.abs().amax(dim=-1, keepdim=True) > 1e-6
    uv_signal = z * (AMPLITUDE_REF_UV * torch.exp(amp)) + added
    uv_signal = uv_signal - uv_signal.mean(dim=-1, keepdim=True)
    new_sd = uv_signal.std(dim=-1, keepdim=True, unbiased=False).clamp(min=1e-6)
    new_amp = torch.log(new_sd / AMPLITUDE_REF_UV).clamp(-AMPLITUDE_CLIP, AMPLITUDE_CLIP)
    out = x.clone()
    out[chosen] = torch.where(live, uv_signal / new_sd + new_amp, xf).to(x.dtype)
    return out
