"""Waking frontal EEG of families B and C against the REAL 5-minute Sleep-EDF wake recording in tests/data.

The real clip's Fpz-Cz is dominated by slow (0.5-4 Hz) activity from the
eyes' vertical movements just below Fpz, with only a little 20-45 Hz (muscle)
power. A family whose wake lacks that slow part teaches a model that "slow
over fast" means REM, and the real wake is then called REM. Family A, pinned
by its hash, is the control: its wake is close to the real clip on this
measure, and B and C must be about as close, and closer to the real wake than
their own REM is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from sleepscope.data.synthetic import synth_night
from sleepscope.io import open_recording

DATA = Path(__file__).parent / "data"
EPOCH = 3000  # samples of a 30-s epoch at 100 Hz
LABELS = np.array([0] * 20 + [1] * 2 + [2] * 6 + [4] * 8 + [0] * 10, dtype=np.int8)
SUBJECTS = range(8)


def slow_over_fast(eeg: np.ndarray) -> np.ndarray:
    """Per 30-s epoch: log10 of the EEG's 0.5-4 Hz power over its 20-45 Hz power."""
    n = len(eeg) // EPOCH
    f, p = welch(eeg[: n * EPOCH].reshape(n, EPOCH).astype(np.float64), fs=100, nperseg=400, axis=-1)
    return np.log10(p[:, (f >= 0.5) & (f < 4)].sum(1) / p[:, (f >= 20) & (f < 45)].sum(1))


@pytest.fixture(scope="module")
def real() -> float:
    rec = open_recording(DATA / "SC4001E0-PSG-first300s.edf", eeg="EEG Fpz-Cz", eog="EOG horizontal")
    return float(np.median(slow_over_fast(rec.eeg)))


def family_ratio(family: str) -> tuple[float, float]:
    """Median over subjects of each night's median W and REM slow-over-fast ratio on Fpz-Cz."""
    w, rem = [], []
    for s in SUBJECTS:
        r = slow_over_fast(synth_night(LABELS, subject=s, night=1, seed=0, family=family).signals["EEG Fpz-Cz"])
        w.append(np.median(r[LABELS == 0]))
        rem.append(np.median(r[LABELS == 4]))
    return float(np.median(w)), float(np.median(rem))


@pytest.fixture(scope="module")
def family_a() -> tuple[float, float]:
    return family_ratio("A")


@pytest.mark.parametrize("family", ["B", "C"])
def test_wake_frontal_slow_power_is_like_the_real_clip(family, real, family_a):
    w, rem = family_ratio(family)
    a_gap = abs(family_a[0] - real)
    gap = abs(w - real)
    # About as close as family A's wake (the control), not several times further.
    assert gap < 2 * a_gap + 0.05, (w, family_a[0], real)
    # The real wake looks like this family's wake, not like its REM.
    assert gap < abs(rem - real), (w, rem, real)
