"""Probe: sub-0.3-Hz RMS of the EEG per epoch and its ratio to the 0.5-30 Hz RMS, on the real clips and synthetic nights.

Run from the repository root: .venv/bin/python reports/acquisition-real-clips/probes/slow_content.py
"""
import sys, numpy as np
sys.path.insert(0, "benchmarks")
from bench_shift import real_rows, synth_recording
def stats(x):
    e = x[: len(x) // 3000 * 3000].reshape(-1, 3000).astype(float)
    e = e - e.mean(1, keepdims=True)
    f = np.fft.rfftfreq(3000, 0.01); S = np.abs(np.fft.rfft(e, axis=1)) ** 2
    low = np.sqrt(2 * S[:, (f > 0) & (f < 0.3)].sum(1)) / 3000
    band = np.sqrt(2 * S[:, (f >= 0.5) & (f <= 30)].sum(1)) / 3000
    return low, low / band
for name, rec, y in real_rows():
    if rec.eeg_name:
        low, r = stats(rec.channels[rec.eeg_name]); print("REAL", name, "low RMS max", low.max().round(1), "ratio max", r.max().round(2))
for fam in "ABCDE":
    for rnd in (False, True):
        for night in ("SC4001E0", "SC4091E0"):
            rec, y = synth_recording(night, family=fam, randomise=rnd)
            low, r = stats(rec.channels[rec.eeg_name])
            print(fam, rnd, night, "low RMS p99/max", np.percentile(low, 99).round(1), low.max().round(1), "ratio p99/max", np.percentile(r, 99).round(2), r.max().round(2), "share ratio>1", (r > 1).mean().round(4))
