"""The chin-EMG measurement's parts (`benchmarks/bench_chin_emg.py`) on toy nights: the tone is night-relative, and
the fitted coefficients read low tone as REM."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_chin_emg import degrade, emg_tone, fit_weights, with_emg  # noqa: E402


def test_the_tone_is_relative_to_the_night_whatever_the_gain():
    rng = np.random.default_rng(0)
    envelope = rng.lognormal(0.0, 0.3, (200, 30))
    envelope[50:80] *= 0.1  # atonia
    tone = emg_tone(envelope)
    np.testing.assert_allclose(emg_tone(envelope * 1000.0), tone, atol=1e-9)  # µV or mV, any impedance
    assert tone[50:80].max() <= -2 and abs(np.median(tone)) < 1e-9 and tone.min() >= -2  # clipped at 2 IQRs


def test_the_fit_reads_low_tone_as_rem_and_lifts_the_epochs_the_model_called_n2():
    rng = np.random.default_rng(1)
    labels = np.repeat([2, 4] * 10, 20)
    envelope = rng.lognormal(0.0, 0.2, (labels.size, 30)) * np.where(labels == 4, 0.1, 1.0)[:, None]
    probs = np.full((labels.size, 5), 0.05)
    probs[:, 2], probs[:, 4] = 0.6, 0.2  # the model calls every epoch N2, REM second
    tone = emg_tone(envelope)
    weights = fit_weights([(probs, labels, tone)])
    assert weights[4] < 0 < weights[2] - weights[4]
    assert (with_emg(probs, tone, weights) == labels).mean() > 0.95
    # control: an EMG that says nothing (the same tone in every stage) fits no lever and changes no stage
    flat = emg_tone(rng.lognormal(0.0, 0.2, (labels.size, 30)))
    still = fit_weights([(probs, labels, flat)])
    assert (with_emg(probs, flat, still) == 2).mean() > 0.9


def test_degrading_raises_the_floor_and_keeps_the_shape():
    envelope = np.full((10, 30), 1.0)
    envelope[:5] = 0.01
    worse = degrade(envelope, 1.0, seed=0)
    assert worse.shape == envelope.shape and worse[:5].mean() > 0.5
    np.testing.assert_array_equal(degrade(envelope, 0.0, seed=0), envelope)


def test_without_atonia_gives_rem_the_tone_of_n2():
    from bench_chin_emg import without_atonia

    labels = np.array([2] * 10 + [4] * 10 + [0] * 5)
    # each second's jitter as the perturbation gives REM's (the tone is the epoch's quietest quarter)
    jitter = np.random.default_rng(1).lognormal(0.0, 0.3, (len(labels), 30))
    envelope = np.where(labels == 4, 0.05, np.where(labels == 0, 3.0, 1.0))[:, None] * jitter
    rbd = without_atonia(envelope, labels, seed=0)
    tone = emg_tone(rbd)
    assert abs(np.median(rbd[labels == 4]) - 1.0) < 0.2 and abs(tone[labels == 4].mean()) < 1.0
    drawn = emg_tone(envelope)
    assert drawn[labels == 4].max() < drawn[labels != 4].min()  # control: atonia as drawn, the night's lowest tone
    np.testing.assert_array_equal(rbd[labels != 4], envelope[labels != 4])
