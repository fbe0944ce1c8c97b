"""Waking frontal EEG of families B and C against the REAL 5-minute Sleep-EDF wake recording in tests/data.

The real clip's Fpz-Cz is dominated by slow (0.5-4 Hz) activity from the
eyes' vertical movements just below Fpz, with only a little 20-45 Hz (muscle)
power. A family whose wake lacks that slow part teaches a model that "slow
over fast" means REM, and the real wake is then called REM. Family A, pinned
by its hash, is the control: its wake is close to the real clip on this
measure, and B and C must be about as close, and closer to the real wake than
their own REM is.

The waking EOG is slow-dominated too (the eyes wander and rest between few
saccades, blinks are slow): a family whose waking EOG has much 2-8 Hz power
teaches a model that the real clip's slow EOG is REM's.

Below 35 Hz the real wake minutes carry a theta (4-8 Hz) share that alert
synthetic wake lacks and synthetic REM has: a model trained where only REM
has theta reads the real wake as REM once a low-pass or a 50-Hz sampling
rate removes the muscle power above 35 Hz
(reports/third-training-family-synthetic/). Waking theta varies between
people and with sleep pressure; each family's wake must span the real clip's.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from sleepscope.analysis.spectrogram import epoch_spectrogram
from sleepscope.data.synthetic import synth_night
from sleepscope.io import open_recording

DATA = Path(__file__).parent / "data"
EPOCH = 3000  # samples of a 30-s epoch at 100 Hz
LABELS = np.array([0] * 20 + [1] * 2 + [2] * 6 + [4] * 8 + [0] * 10, dtype=np.int8)
SUBJECTS = range(8)


def slow_over_fast(x: np.ndarray, slow=(0.5, 4), fast=(20, 45)) -> np.ndarray:
    """Per 30-s epoch: log10 of the signal's power in the `slow` band over its power in the `fast` band (Hz)."""
    n = len(x) // EPOCH
    f, p = welch(x[: n * EPOCH].reshape(n, EPOCH).astype(np.float64), fs=100, nperseg=400, axis=-1)
    return np.log10(p[:, (f >= slow[0]) & (f < slow[1])].sum(1) / p[:, (f >= fast[0]) & (f < fast[1])].sum(1))


def eog_slow_over_fast(eog: np.ndarray) -> np.ndarray:
    """Per 30-s epoch: log10 of the EOG's 0.3-2 Hz power over its 2-8 Hz power."""
    return slow_over_fast(eog, (0.3, 2), (2, 8))


@pytest.fixture(scope="module")
def real_recording():
    return open_recording(DATA / "SC4001E0-PSG-first300s.edf", eeg="EEG Fpz-Cz", eog="EOG horizontal")


@pytest.fixture(scope="module")
def real(real_recording) -> float:
    return float(np.median(slow_over_fast(real_recording.eeg)))


@lru_cache(maxsize=None)
def nights(family: str) -> tuple:
    return tuple(synth_night(LABELS, subject=s, night=1, seed=0, family=family) for s in SUBJECTS)


def family_ratio(family: str, channel: str = "EEG Fpz-Cz", measure=slow_over_fast) -> tuple[float, float]:
    """Median over subjects of each night's median W and REM slow-over-fast ratio on `channel`."""
    w, rem = [], []
    for night in nights(family):
        r = measure(night.signals[channel])
        w.append(np.median(r[LABELS == 0]))
        rem.append(np.median(r[LABELS == 4]))
    return float(np.median(w)), float(np.median(rem))


@pytest.fixture(scope="module")
def family_a() -> tuple[float, float]:
    return family_ratio("A")


@pytest.mark.parametrize("family", ["B", "C", "D", "E"])
def test_wake_frontal_slow_power_is_like_the_real_clip(family, real, family_a):
    w, rem = family_ratio(family)
    a_gap = abs(family_a[0] - real)
    gap = abs(w - real)
    # About as close as family A's wake (the control), not several times further.
    assert gap < 2 * a_gap + 0.05, (w, family_a[0], real)
    # The real wake looks like this family's wake, not like its REM.
    assert gap < abs(rem - real), (w, rem, real)


@pytest.mark.parametrize("family", ["B", "C", "D", "E"])
def test_waking_eog_is_as_slow_dominated_as_the_real_clip(family, real_recording):
    real_w = float(np.median(eog_slow_over_fast(real_recording.eog)))
    a_gap = abs(family_ratio("A", "EOG horizontal", eog_slow_over_fast)[0] - real_w)
    w, _ = family_ratio(family, "EOG horizontal", eog_slow_over_fast)
    # Family A (the control) has too fast a waking EOG; B and C must be well nearer the real clip than A.
    assert abs(w - real_w) < 0.5 * a_gap, (w, real_w, a_gap)


def theta_share(x: np.ndarray, fs: float = 100.0) -> np.ndarray:
    """Per 30-s epoch: the theta share of the 0.5-30 Hz power, as the workstation's epoch panel gives it."""
    spec = epoch_spectrogram(np.asarray(x, dtype=np.float64), fs)
    return np.array([spec.band_powers(i)["theta"] for i in range(spec.n_epochs)])


@pytest.mark.parametrize("family", ["B", "C", "D", "E"])
def test_waking_theta_spans_the_real_wake_minutes(family, real_recording):
    real_theta = float(np.median(theta_share(real_recording.eeg)))
    w, rem = [], []
    for night in nights(family):
        share = theta_share(night.signals["EEG Fpz-Cz"])
        w.append(np.median(share[LABELS == 0]))
        rem.append(np.median(share[LABELS == 4]))
    # Some subjects' wake has less theta than the real minutes and some more, not all less.
    assert np.percentile(w, 10) <= real_theta <= np.percentile(w, 90), (np.round(w, 3), real_theta)
    # REM keeps more theta than wake over the family.
    assert np.median(w) < np.median(rem), (np.median(w), np.median(rem))
