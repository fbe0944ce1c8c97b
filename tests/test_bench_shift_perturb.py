"""bench_shift's perturbation rows for a drifting or noisy night do what their names say (synthetic arrays)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np

from sleepscope.io import Recording

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_shift", ROOT / "benchmarks" / "bench_shift.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_shift"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_a_slow_sway_on_both_channels_and_fast_noise_on_the_eeg_alone():
    bench = _bench()
    rng = np.random.default_rng(1)
    rec = Recording.from_arrays(*(20.0 * rng.standard_normal((2, 40 * 3000))).astype(np.float32))
    y = np.zeros(40, np.int64)
    eeg, eog = rec.eeg_name, rec.eog_name
    t = np.arange(40 * 3000) / rec.fs
    swayed = bench.perturb(rec, y, "slow sway")
    for k in (eeg, eog):
        np.testing.assert_allclose(swayed.channels[k] - rec.channels[k], 50.0 * np.sin(2 * np.pi * 0.05 * t), atol=1e-3)
    noisy = bench.perturb(rec, y, "fast noise")
    added = noisy.channels[eeg] - rec.channels[eeg]
    assert np.array_equal(noisy.channels[eog], rec.channels[eog])
    assert abs(added.std() - 6.0) < 0.01
    p = np.abs(np.fft.rfft(added)) ** 2
    f = np.fft.rfftfreq(len(added), 1.0 / rec.fs)
    assert p[(f >= 18) & (f <= 47)].sum() > 0.97 * p.sum()
    # the recording itself is left as it was
    assert np.array_equal(rec.channels[eeg], Recording.from_arrays(*(20.0 * np.random.default_rng(1).standard_normal(
        (2, 40 * 3000))).astype(np.float32)).channels[eeg])
