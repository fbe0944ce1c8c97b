"""Which way do the sharp deflections of waking Fpz-Cz go? Peaks of the 0.5-8 Hz band beyond 4 robust standard
deviations, positive and negative, in the real wake minutes and in each family's W and REM (subjects 0-3)."""
import sys
from pathlib import Path

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_shift import real_rows  # noqa: E402

from sleepscope.data.synthetic import synth_night  # noqa: E402

LABELS = np.array([0] * 20 + [1] * 2 + [2] * 6 + [4] * 8 + [0] * 10, dtype=np.int8)
BAND = butter(2, [0.5, 8], "band", fs=100, output="sos")


def peaks(x: np.ndarray, keep: np.ndarray | None = None) -> tuple[int, int]:
    y = sosfiltfilt(BAND, np.asarray(x, dtype=np.float64))
    if keep is not None:
        y = y.reshape(-1, 3000)[keep].ravel()
    sd = np.median(np.abs(y)) / 0.6745
    return len(find_peaks(y, height=4 * sd, distance=30)[0]), len(find_peaks(-y, height=4 * sd, distance=30)[0])


def main() -> None:
    _, rec, _ = next(r for r in real_rows() if r[0].startswith("real Sleep-EDF"))
    print("(positive, negative) sharp 0.5-8 Hz deflections on Fpz-Cz")
    print(f"REAL wake minutes (10 epochs, 100 Hz): {peaks(rec.channels[rec.eeg_name])}")
    for family in "ABCDE":
        for stage, name in ((0, "W"), (4, "REM")):
            got = [peaks(synth_night(LABELS, subject=s, night=1, seed=0, family=family).signals["EEG Fpz-Cz"],
                         LABELS == stage) for s in range(4)]
            print(f"{family} {name:3s} (subjects 0-3; {int((LABELS == stage).sum())} epochs each): {got}")


if __name__ == "__main__":
    main()
