"""How much 20-45 Hz activity the REAL clips of tests/data carry per epoch, beside the synthetic families' stages.

    .venv/bin/python reports/fast-noise-synthetic/fast_band.py CACHE > fast-band.log

CACHE: bench_shift.py's young cache (SC4001E0 of A, A random, D random, E random).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def main(cache: Path) -> None:
    from scipy.signal import butter, sosfiltfilt

    import bench_shift as bs

    sos = butter(4, [20.0, 45.0], "bandpass", fs=100.0, output="sos")

    def band(x) -> np.ndarray:
        e = sosfiltfilt(sos, np.asarray(x, np.float64))
        return e[: len(e) // 3000 * 3000].reshape(-1, 3000).std(axis=1)

    rows = {n: r for n, r, _ in bs.real_rows()}
    wake = rows["real Sleep-EDF 5 min wake"]
    print("20-45 Hz RMS (uV) per 30-s epoch")
    print(f"REAL wake minutes, EEG Fpz-Cz:   {np.round(band(wake.channels[wake.eeg_name]), 1).tolist()}")
    print(f"REAL wake minutes, EOG:          {np.round(band(wake.channels[wake.eog_name]), 1).tolist()}")
    n3 = rows["real N3 EEG 30 s (EEG only)"]
    print(f"REAL N3 clip, EEG:               {np.round(band(n3.channels[n3.eeg_name]), 2).tolist()}")
    print("SYNTHETIC SC4001E0, EEG, median per stage:")
    for fam, rnd in (("A", False), ("A", True), ("D", True), ("E", True)):
        rec, y = bs.cached_recording("SC4001E0", fam, rnd, 0, cache)
        b = band(rec.channels[rec.eeg_name])[: len(y)]
        print(f"  {fam + (' random' if rnd else ''):<9} " +
              "  ".join(f"{s} {np.median(b[y == k]):.1f}" for k, s in enumerate(("W", "N1", "N2", "N3", "REM"))))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
