"""Per family: band shares of Fpz-Cz power (0.5-30 Hz) and the EOG's SD in N1, N2 and REM (SYNTHETIC nights).

    .venv/bin/python reports/fresh-family-d-synthetic/rem.py [--cache DIR]
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_shift import TEST_NIGHTS, cached_recording  # noqa: E402

BANDS = {"delta": (0.5, 4), "theta": (4, 8), "alpha": (8, 11), "sigma": (11, 16), "beta": (16, 30)}
ap = argparse.ArgumentParser()
ap.add_argument("--cache", type=Path, default=None, help="bench_shift.py's --cache folder")
args = ap.parse_args()
for fam in "ABCD":
    shares = {s: [] for s in (1, 2, 4)}
    eog = {s: [] for s in (1, 2, 4)}
    for n in TEST_NIGHTS[:4]:
        rec, y = cached_recording(n, fam, False, 0, args.cache)
        e = np.asarray(rec.epochs("eeg"), dtype=np.float64)
        o = np.asarray(rec.epochs("eog"), dtype=np.float64)
        f, p = signal.welch(e, rec.fs, nperseg=400, axis=-1)
        tot = p[:, (f >= 0.5) & (f < 30)].sum(1)
        sh = np.stack([p[:, (f >= lo) & (f < hi)].sum(1) / tot for lo, hi in BANDS.values()], 1)
        for s in shares:
            shares[s].append(sh[y == s])
            eog[s].append(o[y == s].std(1))
    for s, name in ((1, "N1"), (2, "N2"), (4, "REM")):
        m = np.concatenate(shares[s]).mean(0)
        print(fam, name, " ".join(f"{k} {v:.2f}" for k, v in zip(BANDS, m)),
              f"EOG sd {np.median(np.concatenate(eog[s])):.0f}")
