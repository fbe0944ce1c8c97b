"""Opening a long high-rate recording holds the 100-Hz result, not the file's signals at their own rate.

Whole channels used to be held at the file's rate (float32) and again in
float64 for scipy's resampler; the channels are now read and resampled an
hour-block at a time. Here blocks are made short so that a
20-minute file spans many of them, and the reader's peak Python-traced
allocation is compared with what it must keep: the result itself.
"""

from datetime import datetime

import mne
import numpy as np
import pytest
from scipy.signal import resample_poly

import sleepscope.io.recording as recording
from sleepscope.io import open_recording
from sleepscope.io.export import write_edf
from sleepscope.io.resampling import resample_stream

FS = 256
SECONDS = 20 * 60
NAMES = ["EEG C3-M2", "EEG C4-M1", "EOG E1-M2", "EOG E2-M1", "EMG Chin", "ECG"]


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    rng = np.random.default_rng(3)
    n = FS * SECONDS
    t = np.arange(n) / FS
    sig = {name: ((20 + 5 * i) * (rng.standard_normal(n) + np.sin(2 * np.pi * (1 + i) * t)), FS)
           for i, name in enumerate(NAMES)}
    return write_edf(tmp_path_factory.mktemp("mem") / "night256.edf", sig, datetime(2024, 1, 1, 22, 0),
                     record_duration=1.0)


def _peak_while_opening(path, **kw):
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        rec = open_recording(path, **kw)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return rec, peak


def test_peak_memory_of_opening_is_the_result_plus_a_block(night, monkeypatch):
    monkeypatch.setattr(recording, "_CHUNK_SECONDS", 30)
    open_recording(night, extra=["EMG Chin"])  # imports and MNE's first-use caches are not the reader's
    rec, peak = _peak_while_opening(night, extra=["EMG Chin"])
    kept = sum(v.nbytes for v in rec.channels.values())
    native = len(rec.channels) * FS * SECONDS * 4  # the three channels as float32 at 256 Hz
    # Control: what it must keep, 3 channels x 120,000 float32 samples (1.4 MB), against their
    # 256-Hz float32 size (3.7 MB). Reading whole channels peaked above kept + native + a float64 channel.
    assert kept == 3 * SECONDS * 100 * 4
    assert peak < kept + native / 2, (peak, kept, native)


def test_blocks_give_the_samples_of_a_whole_channel_resampling(night, monkeypatch):
    monkeypatch.setattr(recording, "_CHUNK_SECONDS", 7)  # blocks that do not divide the file evenly
    rec = open_recording(night, eeg="EEG C4-M1", eog="EOG E2-M1", extra=["ECG"])
    raw = mne.io.read_raw_edf(night, include=["EEG C4-M1", "EOG E2-M1", "ECG"], preload=True, verbose="error")
    whole = (raw.get_data(picks=["EEG C4-M1", "EOG E2-M1", "ECG"]) * 1e6).astype(np.float32)
    for i, name in enumerate(["EEG C4-M1", "EOG E2-M1", "ECG"]):
        want = resample_poly(whole[i].astype(np.float64), 25, 64, padtype="line")[: SECONDS * 100]
        got = rec.channels[name]
        assert got.shape == want.shape
        # float32 products: a few units of float32 rounding of the signal's scale
        assert np.max(np.abs(got - want)) < 1e-5 * np.max(np.abs(want)), name


@pytest.mark.parametrize("fs", [256, 200, 250, 500, 512, 128, 1, 133.33])
@pytest.mark.parametrize("n", [2, 5, 999, 4097])  # one sample: scipy gives NaN (0/0 slope)
def test_stream_matches_scipy_for_any_rate_length_and_block(fs, n):
    from fractions import Fraction

    x = np.random.default_rng(n).standard_normal(n).cumsum() + 40.0
    r = Fraction(100 / fs).limit_denominator(1000)
    want = resample_poly(x, r.numerator, r.denominator, padtype="line")
    for block in (3, 64, 1000, 10**6):
        out = np.full((1, len(want)), np.nan, dtype=np.float32)
        assert resample_stream(lambda a, b: x[None, a:b], n, fs, 100, out, block) == len(want)
        np.testing.assert_allclose(out[0], want, rtol=0, atol=2e-6 * np.max(np.abs(want)))
