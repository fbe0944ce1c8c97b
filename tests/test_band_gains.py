"""Random band gains: known tones come out with the drawn gains, in every normalisation, and training uses them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sleepscope.model.band_gains import (ANCHORS_HZ, DRIFT_HZ, DRIFT_UV, FAST_NOISE_LOW_HZ, FAST_NOISE_TOP_HZ,
                                         FAST_NOISE_UV, GAIN_RANGE, HEART_BPM, HEARTBEAT_UV, HIGHPASS_HZ, LOWPASS_HZ,
                                         apply_band_gains, random_band_gains, random_drift, random_fast_noise,
                                         random_gain, random_heartbeats, random_highpass, random_lowpass)
from sleepscope.model.inputs import AMPLITUDE_REF_UV, normalise

T = np.arange(3000) / 100.0
ALPHA = ANCHORS_HZ.index(10.0)


def _tones(a3: float = 20.0, a10: float = 10.0) -> np.ndarray:
    return a3 * np.sin(2 * np.pi * 3 * T) + a10 * np.sin(2 * np.pi * 10 * T)


def _input(uv: np.ndarray, mode: str) -> torch.Tensor:
    """(1, 1, 2, 3000): EEG `uv` in `mode`, EOG missing (zeros)."""
    eeg = normalise(uv[None].astype(np.float32), mode)[0]
    return torch.tensor(np.stack([eeg, np.zeros(3000, np.float32)]))[None, None]


def _power(x: torch.Tensor, hz: float) -> float:
    z = x.numpy() - x.numpy().mean()
    return float(np.abs(np.fft.rfft(z))[np.fft.rfftfreq(3000, 0.01) == hz][0] ** 2)


@pytest.mark.parametrize("mode", ["epoch", "epoch+amplitude", "night"])
def test_alpha_gain_reshapes_a_known_spectrum_as_the_recording_would_have_been(mode):
    x = _input(_tones(), mode)
    lg = torch.zeros(1, 2, len(ANCHORS_HZ))
    lg[0, 0, ALPHA] = math.log(2.0)  # alpha doubled, delta at 3 Hz (an anchor) untouched
    y = apply_band_gains(x, lg, mode)
    assert _power(y[0, 0, 0], 10) / _power(y[0, 0, 0], 3) == pytest.approx(4 * 0.25, rel=1e-3)
    # the same as normalising the recording whose alpha really was twice as large
    expected = _input(_tones(a10=20.0), mode)
    if mode == "night":  # scaled by the original night's scale, not the louder one's
        expected = expected * float(y[0, 0, 0].std() / expected[0, 0, 0].std())
    np.testing.assert_allclose(y[0, 0, 0].numpy(), expected[0, 0, 0].numpy(), atol=2e-3)
    assert y[0, 0, 1].abs().max() == 0  # the missing EOG stays missing


def test_a_flat_gain_changes_only_the_amplitude():
    x = _input(_tones(), "epoch+amplitude")
    lg = torch.full((1, 2, len(ANCHORS_HZ)), math.log(3.0))
    y = apply_band_gains(x, lg, "epoch+amplitude")
    assert float(y[0, 0, 0].mean() - x[0, 0, 0].mean()) == pytest.approx(math.log(3.0), abs=1e-4)
    np.testing.assert_allclose((y - y.mean(-1, keepdim=True)).numpy(), (x - x.mean(-1, keepdim=True)).numpy(),
                               atol=1e-4)
    flat = torch.zeros(1, 1, 2, 3000)
    assert apply_band_gains(flat, lg, "epoch+amplitude").abs().max() == 0  # flat stays flat, amplitude 0


def test_random_gains_one_curve_per_sequence_and_channel():
    x = _input(_tones(), "epoch+amplitude").repeat(64, 5, 1, 1)  # 64 sequences of 5 identical epochs
    x[:, :, 1] = x[:, :, 0]
    x0 = x.clone()
    g = torch.Generator().manual_seed(0)
    assert random_band_gains(x, 0.0, g, "epoch+amplitude") is x
    y = random_band_gains(x, 0.5, g, "epoch+amplitude")
    assert torch.equal(x, x0)  # the input is left alone
    changed = (y != x).flatten(1).any(dim=1)
    assert 16 < int(changed.sum()) < 48  # about half the sequences
    assert torch.equal(y[~changed], x[~changed])
    ratios = torch.tensor([[_power(y[b, e, c], 10) / _power(y[b, e, c], 3) for e in range(5) for c in range(2)]
                           for b in torch.nonzero(changed).flatten()[:6].tolist()]).view(-1, 5, 2)
    # the same gains for every epoch of a sequence, different ones for its two channels and across sequences
    assert torch.allclose(ratios, ratios[:, :1].expand_as(ratios), rtol=1e-3)
    assert (ratios[:, 0, 0] - ratios[:, 0, 1]).abs().min() > 1e-3
    assert ratios[:, 0, 0].std() > 0.05
    # every drawn gain within [1/2, 2]: two bands' amplitude ratio within [1/4, 4] of the original 1/2
    amp_ratio = ratios.sqrt() / 0.5
    assert ((amp_ratio > 1 / 4 - 1e-3) & (amp_ratio < 4 + 1e-3)).all()


def test_random_lowpass_removes_what_lies_above_its_cutoff_and_nothing_below():
    tones = 20 * np.sin(2 * np.pi * 3 * T) + 10 * np.sin(2 * np.pi * 10 * T) + 5 * np.sin(2 * np.pi * 45 * T)
    x = _input(tones, "epoch+amplitude").repeat(64, 3, 1, 1)
    x[:, :, 1] = x[:, :, 0]
    x0 = x.clone()
    g = torch.Generator().manual_seed(0)
    assert random_lowpass(x, 0.0, g, "epoch+amplitude") is x
    y = random_lowpass(x, 0.5, g, "epoch+amplitude")
    assert torch.equal(x, x0)
    changed = (y != x).flatten(1).any(dim=1)
    assert 16 < int(changed.sum()) < 48 and torch.equal(y[~changed], x[~changed])
    for b in torch.nonzero(changed).flatten()[:8].tolist():
        for c in range(2):
            before, after = x[b, 0, c], y[b, 0, c]
            # 45 Hz lies at or above every cut-off drawn: at least 3 dB down against 3 Hz; 3 and 10 Hz keep their ratio
            assert _power(after, 45) / _power(after, 3) < 0.5 * _power(before, 45) / _power(before, 3)
            assert _power(after, 10) / _power(after, 3) == pytest.approx(_power(before, 10) / _power(before, 3),
                                                                         rel=0.02)
            # the amplitude input follows the lost power down
            assert float(after.mean()) < float(before.mean())
    assert LOWPASS_HZ[1] <= 45.0


def test_random_highpass_takes_the_slowest_band_away_and_keeps_the_rest():
    """A 0.1-Hz wave beside 5 and 10-Hz tones: high-passed, the slow wave loses what a first- or second-order
    Butterworth at a cut-off within HIGHPASS_HZ takes, the tones keep their ratio; the missing EOG stays missing."""
    uv = 40 * np.sin(2 * np.pi * 0.1 * T) + 10 * np.sin(2 * np.pi * 5 * T) + 5 * np.sin(2 * np.pi * 10 * T)
    x = _input(uv, "epoch+amplitude").repeat(16, 1, 1, 1)
    y = random_highpass(x, 1.0, torch.Generator().manual_seed(4), "epoch+amplitude")
    weakest = 1 / math.sqrt(1 + (HIGHPASS_HZ[0] / 0.1) ** 2)  # first order at the lowest cut-off: the least taken
    strongest = 1 / math.sqrt(1 + (HIGHPASS_HZ[1] / 0.1) ** 4)
    kept = []
    for b in range(16):
        slow = math.sqrt(_power(y[b, 0, 0], 0.1) / _power(y[b, 0, 0], 5.0)) / 4.0  # 40 / 10 before
        kept.append(slow)
        assert strongest * 0.9 < slow < weakest * 1.01
        assert math.isclose(_power(y[b, 0, 0], 10.0) / _power(y[b, 0, 0], 5.0), 0.25, rel_tol=0.05)
    assert max(kept) > 2 * min(kept)  # cut-offs and orders drawn, not one filter
    assert y[:, :, 1].abs().max() == 0
    assert random_highpass(x, 0.0, torch.Generator(), "epoch+amplitude") is x


def test_a_shared_highpass_filters_both_channels_alike_and_a_per_channel_one_does_not():
    """The same 0.1-Hz wave and 5-Hz tone on both channels: with one amplifier setting per sequence both keep the
    same share of the slow wave; drawn per channel (the control), they differ."""
    uv = 40 * np.sin(2 * np.pi * 0.1 * T) + 10 * np.sin(2 * np.pi * 5 * T)
    x = _input(uv, "epoch+amplitude")
    x = x.clone()
    x[:, :, 1] = x[:, :, 0]
    x = x.repeat(16, 1, 1, 1)

    def slow_share(y, b, c):
        return math.sqrt(_power(y[b, 0, c], 0.1) / _power(y[b, 0, c], 5.0))

    shared = random_highpass(x, 1.0, torch.Generator().manual_seed(4), "epoch+amplitude", shared=True)
    apart = random_highpass(x, 1.0, torch.Generator().manual_seed(4), "epoch+amplitude")
    for b in range(16):
        assert math.isclose(slow_share(shared, b, 0), slow_share(shared, b, 1), rel_tol=1e-4)
        assert torch.allclose(shared[b, :, 0], shared[b, :, 1])
    assert max(abs(slow_share(apart, b, 0) - slow_share(apart, b, 1)) for b in range(16)) > 0.1
    assert max(slow_share(shared, b, 0) for b in range(16)) > 2 * min(slow_share(shared, b, 0) for b in range(16))


def test_random_gain_is_the_scaled_recording_normalised():
    """What the augmentation gives equals normalising the recording scaled by one gain per channel (µV), the gains
    spread over GAIN_RANGE; a flat epoch and the missing EOG stay as they are."""
    rng = np.random.default_rng(0)
    uv = rng.normal(0, 25, (16, 3, 3000))  # sixteen sequences of 3 epochs of one channel
    uv[:, 1] = 0.0  # a flat epoch in each
    x = torch.tensor(np.stack([normalise(u.astype(np.float32), "epoch+amplitude") for u in uv]))[:, :, None]
    x = torch.cat([x, torch.zeros_like(x)], dim=2)
    y = random_gain(x, 1.0, torch.Generator().manual_seed(3), "epoch+amplitude")
    gains = []
    for b in range(16):
        gain = math.exp(float(y[b, 0, 0].mean() - x[b, 0, 0].mean()))
        gains.append(gain)
        expected = normalise((gain * uv[b]).astype(np.float32), "epoch+amplitude")
        np.testing.assert_allclose(y[b, :, 0].numpy(), expected, atol=2e-3)
    assert GAIN_RANGE[0] * 0.999 < min(gains) and max(gains) < GAIN_RANGE[1] * 1.001 and max(gains) > 3 * min(gains)
    assert y[:, 1, 0].abs().max() == 0 and y[:, :, 1].abs().max() == 0
    assert random_gain(x, 0.0, torch.Generator(), "epoch+amplitude") is x
    assert random_gain(x, 1.0, torch.Generator(), "epoch") is x


def test_random_drift_is_the_drifting_recording_normalised():
    """What the augmentation gives equals normalising the recording with the drift really added (µV)."""
    rng = np.random.default_rng(0)
    uv = rng.normal(0, 25, (2, 3, 3000))  # two sequences of 3 epochs of one channel
    x = torch.tensor(np.stack([normalise(u.astype(np.float32), "epoch+amplitude") for u in uv]))[:, :, None]
    x = torch.cat([x, torch.zeros_like(x)], dim=2)  # (2, 3, 2, 3000), the EOG missing
    g = torch.Generator().manual_seed(3)
    y = random_drift(x, 1.0, g, "epoch+amplitude")
    g = torch.Generator().manual_seed(3)  # the same draws, in the same order
    torch.rand(2, generator=g)
    hz = torch.exp(torch.empty(2, 2).uniform_(*np.log(DRIFT_HZ), generator=g))
    amp = torch.exp(torch.empty(2, 2).uniform_(*np.log(DRIFT_UV), generator=g))
    phase = torch.rand(2, 2, generator=g) * 2 * np.pi
    t = np.arange(3 * 3000).reshape(3, 3000) / 100.0
    for b in range(2):
        drifted = uv[b] + float(amp[b, 0]) * np.sin(2 * np.pi * float(hz[b, 0]) * t + float(phase[b, 0]))
        expected = normalise(drifted.astype(np.float32), "epoch+amplitude")
        np.testing.assert_allclose(y[b, :, 0].numpy(), expected, atol=2e-3)
    assert y[:, :, 1].abs().max() == 0  # the missing EOG stays missing
    assert random_drift(x, 0.0, g, "epoch+amplitude") is x and random_drift(x, 1.0, g, "epoch") is x


def test_random_fast_noise_adds_band_limited_microvolts_across_the_sequence():
    """Taken back to µV, the augmented sequence is the recording plus noise of one RMS within FAST_NOISE_UV and no
    power outside its band; a flat epoch and the missing EOG stay as they are."""
    rng = np.random.default_rng(0)
    slow = 30 * np.sin(2 * np.pi * 2 * np.arange(4 * 3000) / 100.0)  # 2 Hz: far below any band drawn
    uv = np.stack([slow + rng.normal(0, 0.01, slow.shape)] * 3).reshape(3, 4, 3000)
    uv[:, 2] = 0.0  # a flat epoch
    x = torch.tensor(np.stack([normalise(u.astype(np.float32), "epoch+amplitude") for u in uv]))[:, :, None]
    x = torch.cat([x, torch.zeros_like(x)], dim=2)  # (3, 4, 2, 3000), the EOG missing
    y = random_fast_noise(x, 1.0, torch.Generator().manual_seed(5), "epoch+amplitude")
    amp = y[:, :, 0].mean(dim=-1, keepdim=True)
    back = ((y[:, :, 0] - amp) * AMPLITUDE_REF_UV * torch.exp(amp)).numpy()  # each epoch's µV, its mean removed
    live = [0, 1, 3]
    added = back[:, live] - (uv[:, live] - uv[:, live].mean(axis=-1, keepdims=True))
    rms = added.reshape(3, -1).std(axis=-1)
    assert np.all((rms > FAST_NOISE_UV[0] * 0.9) & (rms < FAST_NOISE_UV[1] * 1.1))
    assert len(set(np.round(rms, 3))) == 3  # each sequence its own draw
    power = np.abs(np.fft.rfft(added.reshape(3, -1), axis=-1)) ** 2
    f = np.fft.rfftfreq(added.shape[1] * 3000, 0.01)
    outside = (f < FAST_NOISE_LOW_HZ[0] * 0.95) | (f > FAST_NOISE_TOP_HZ + 1)
    assert power[:, outside].sum() < 1e-3 * power.sum()
    assert torch.equal(y[:, 2], x[:, 2]) and y[:, :, 1].abs().max() == 0
    milder = random_fast_noise(x, 1.0, torch.Generator().manual_seed(5), "epoch+amplitude", uv_range=(0.5, 4.0))
    amp = milder[:, :, 0].mean(dim=-1, keepdim=True)
    added = ((milder[:, :, 0] - amp) * AMPLITUDE_REF_UV * torch.exp(amp)).numpy()[:, live] - (
        uv[:, live] - uv[:, live].mean(axis=-1, keepdims=True))
    assert np.all(added.reshape(3, -1).std(axis=-1) < 4.0 * 1.1)
    g = torch.Generator().manual_seed(5)
    assert random_fast_noise(x, 0.0, g, "epoch+amplitude") is x and random_fast_noise(x, 1.0, g, "epoch") is x


def test_random_heartbeats_add_one_hearts_beats_to_both_channels():
    """Taken back to µV, what was added to each channel is one train of beats (the same beat times on the EEG and
    the EOG, each with its own size and sign within HEARTBEAT_UV) at a rate within HEART_BPM; flat epochs stay flat."""
    from scipy.signal import find_peaks

    rng = np.random.default_rng(1)
    uv = rng.normal(0, 20, (6, 4, 2, 3000))
    uv[:, 1, 1] = 0.0  # a flat EOG epoch
    x = torch.tensor(np.stack([np.stack([normalise(u[:, k].astype(np.float32), "epoch+amplitude") for k in (0, 1)],
                                        axis=1) for u in uv]))
    y = random_heartbeats(x, 1.0, torch.Generator().manual_seed(2), "epoch+amplitude")
    amp = y.mean(dim=-1, keepdim=True)
    back = ((y - amp) * AMPLITUDE_REF_UV * torch.exp(amp)).numpy()
    added = back - (uv - uv.mean(axis=-1, keepdims=True))
    signs = set()
    for b in range(6):
        eeg = added[b, [0, 2, 3], 0].reshape(-1)  # epochs whose EOG is live too
        eog = added[b, [0, 2, 3], 1].reshape(-1)
        size_eeg, size_eog = eeg[np.argmax(np.abs(eeg))], eog[np.argmax(np.abs(eog))]
        signs.add((np.sign(size_eeg), np.sign(size_eog)))
        for size in (size_eeg, size_eog):
            assert HEARTBEAT_UV[0] * 0.8 < abs(size) < HEARTBEAT_UV[1] * 1.3
        peaks_eeg = find_peaks(eeg * np.sign(size_eeg), height=0.6 * abs(size_eeg), distance=40)[0]
        peaks_eog = find_peaks(eog * np.sign(size_eog), height=0.6 * abs(size_eog), distance=40)[0]
        assert len(peaks_eeg) == len(peaks_eog) and np.abs(peaks_eeg - peaks_eog).max() <= 1  # one heart
        bpm = 60.0 / (np.median(np.diff(peaks_eeg)) / 100.0)
        assert HEART_BPM[0] * 0.9 < bpm < HEART_BPM[1] * 1.1
    assert any(a != b for a, b in signs)  # each channel sees the heart its own way
    assert torch.equal(y[:, 1, 1], x[:, 1, 1])
    g = torch.Generator().manual_seed(2)
    assert random_heartbeats(x, 0.0, g, "epoch+amplitude") is x and random_heartbeats(x, 1.0, g, "epoch") is x


def test_training_draws_each_augmentation_when_asked():
    from torch.utils.data import TensorDataset

    from sleepscope.model.config import CONFIGS
    from sleepscope.model.network import SleepStager
    from sleepscope.model.train import TrainConfig, train

    g = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.randn(4, 3, 2, 3000, generator=g), torch.randint(0, 5, (4, 3), generator=g))

    def losses(band_gain: float = 0.0, lowpass: float = 0.0, drift: float = 0.0, polarity: float = 0.0,
               fast_noise: float = 0.0, heartbeats: float = 0.0, highpass: float = 0.0) -> list[float]:
        torch.manual_seed(0)
        model = SleepStager(CONFIGS["tiny"].with_(normalisation="epoch+amplitude"))
        cfg = TrainConfig(epochs=1, batch_size=2, max_steps=2, seed=0, band_gain=band_gain, lowpass=lowpass,
                          drift=drift, polarity=polarity, fast_noise=fast_noise, heartbeats=heartbeats,
                          highpass=highpass)
        return train(model, data, None, cfg).losses

    plain = losses()
    assert losses() == plain  # control: the same run twice is the same
    assert losses(band_gain=1.0) != plain
    assert losses(lowpass=1.0) != plain
    assert losses(drift=1.0) != plain
    assert losses(fast_noise=1.0) != plain
    assert losses(heartbeats=1.0) != plain
    assert losses(highpass=1.0) != plain
    assert losses(polarity=1.0) != plain  # sleepscope.model.polarity
