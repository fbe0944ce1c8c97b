"""Below 35 Hz, do the real wake minutes look like the synthetic families' wake or their REM? The workstation's
band powers (share of the 0.5-30 Hz EEG power per band, ``sleepscope.analysis.spectrogram``; median over
epochs), one synthetic night per family (plain lab), and the distance of the real wake minutes' shares to each
family's W and REM."""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_shift import real_rows, synth_recording  # noqa: E402

from sleepscope.analysis.spectrogram import BANDS, epoch_spectrogram  # noqa: E402


def band_shares(x: np.ndarray, fs: float) -> np.ndarray:
    """(n_epochs, len(BANDS)) shares of the 0.5-30 Hz power, as the workstation's epoch panel gives them."""
    spec = epoch_spectrogram(x, fs)
    return np.array([list(spec.band_powers(i).values()) for i in range(spec.n_epochs)])


def main() -> None:
    night = sys.argv[1] if len(sys.argv) > 1 else "SC4001E0"
    real = next(rec for clip, rec, _ in real_rows() if clip.startswith("real Sleep-EDF"))
    r = np.median(band_shares(real.channels[real.eeg_name].astype(np.float64), real.fs), axis=0)
    print(f"EEG power shares within 0.5-30 Hz, median over epochs; synthetic night {night}, plain lab")
    print(f"{'':18s}" + "".join(f"{b + ' ' + '-'.join(f'{e:g}' for e in BANDS[b]):>13s}" for b in BANDS) + "   distance to the real wake")
    print(f"{'REAL wake minutes':18s}" + "".join(f"{v:13.3f}" for v in r))
    for family in ("A", "B", "C", "D", "E"):
        rec, y = synth_recording(night, family, False)
        s = band_shares(rec.channels[rec.eeg_name].astype(np.float64), rec.fs)
        y = np.asarray(y)[: len(s)]
        for stage, name in ((0, "W"), (4, "REM")):
            m = np.median(s[: len(y)][y == stage], axis=0)
            print(f"{family + ' ' + name:18s}" + "".join(f"{v:13.3f}" for v in m) + f"   {np.abs(m - r).sum():.3f}")


if __name__ == "__main__":
    main()
