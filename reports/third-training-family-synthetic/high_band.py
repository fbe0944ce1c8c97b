"""Share of EEG power at 35-50 Hz in wake and REM epochs: synthetic families A, C, E (one night each, plain
lab) against the real Sleep-EDF wake minutes. Why a low-pass at 35 Hz may turn real wake into REM."""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_shift import real_rows, synth_recording  # noqa: E402

from sleepscope.analysis.spectrogram import epoch_spectrogram  # noqa: E402


def shares(x: np.ndarray, fs: float) -> np.ndarray:
    """Per epoch, the share of the 0.5-50 Hz power at 35-50 Hz (the workstation's epoch spectra, to 50 Hz)."""
    spec = epoch_spectrogram(x, fs, fmax=50.0)
    p = 10.0 ** (spec.power_db.astype(np.float64) / 10.0)
    f = spec.freqs
    return p[:, f >= 35].sum(axis=1) / p[:, f >= 0.5].sum(axis=1)


def main() -> None:
    night = sys.argv[1] if len(sys.argv) > 1 else "SC4001E0"
    print(f"share of 0.5-50 Hz EEG power at 35-50 Hz, median (25th-75th percentile); synthetic night {night}")
    for family in ("A", "C", "E", "B", "D"):
        rec, y = synth_recording(night, family, False)
        x = rec.channels[rec.eeg_name].astype(np.float64)
        s = shares(x, rec.fs)
        for stage, name in ((0, "W"), (4, "REM")):
            v = s[: len(y)][y[: len(s)] == stage]
            print(f"  family {family} {name:3s}: {np.median(v):.3f} ({np.percentile(v, 25):.3f}-{np.percentile(v, 75):.3f})")
    for clip, rec, expected in real_rows():
        if rec.eeg_name is None or rec.eog_name is None:
            continue
        x = rec.channels[rec.eeg_name].astype(np.float64)
        v = shares(x, rec.fs)
        print(f"  REAL {clip}: {np.median(v):.3f} ({np.percentile(v, 25):.3f}-{np.percentile(v, 75):.3f})")


if __name__ == "__main__":
    main()
