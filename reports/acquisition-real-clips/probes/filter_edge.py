"""Could a filter the header does not name be found in the EEG itself? A filter-edge test, tried and not kept.

    .venv/bin/python reports/acquisition-real-clips/probes/filter_edge.py

The test: on the 10 % most muscle-laden epochs (largest 20-30 Hz share of 1-30 Hz power, at least 3), the
median spectrum falls by >= 6 dB over the 5 Hz above some frequency below 35 Hz and by >= 10 dB 5-10 Hz above
it (a filter's skirt). Applied to the REAL wake minutes behind silent low-passes (see silent_filters.py)
and to unfiltered nights of synthetic family A (the pinned simulator, as Sleep-EDF records it).
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from sleepscope.analysis.spectrogram import FLOOR_DB, epoch_spectrogram  # noqa: E402
from sleepscope.data.synthetic import real_hypnogram, synth_night  # noqa: E402
from sleepscope.io import open_recording  # noqa: E402
from sleepscope.io.export import write_edf  # noqa: E402
from sleepscope.io.recording import resample_to_target  # noqa: E402


def edge_hz(eeg: np.ndarray, fs: float = 100.0, below: float = 35.0) -> float | None:
    spec = epoch_spectrogram(eeg, fs, fmax=below + 10.0)
    f, p = spec.freqs, 10.0 ** (spec.power_db.astype(np.float64) / 10.0)
    signal = spec.power_db.max(axis=1) > FLOOR_DB
    if signal.sum() < 3:
        return None
    total = p[:, (f >= 1) & (f < 30)].sum(1)
    share = np.where(signal, p[:, (f >= 20) & (f < 30)].sum(1) / np.where(total > 0, total, 1.0), -1.0)
    s = np.median(p[np.argsort(-share)[:max(3, int(np.ceil(0.1 * signal.sum())))]], axis=0)

    def level(lo, hi):
        return s[(f >= lo) & (f < hi)].mean()

    for x in np.arange(20.0, below, 0.5):
        under = level(x - 5, x)
        if 10 * np.log10(under / level(x, x + 5)) >= 6 and 10 * np.log10(under / level(x + 5, x + 10)) >= 10:
            return float(x)
    return None


def main() -> None:
    rec = open_recording(ROOT / "tests" / "data" / "SC4001E0-PSG-first300s.edf")
    with tempfile.TemporaryDirectory() as tmp:
        for fs, order in ((100.0, 4), (100.0, 2), (256.0, 4), (256.0, 2), (256.0, 1)):
            x = rec.channels["EEG Fpz-Cz"].astype(np.float64)
            x = x if fs == 100.0 else resample_to_target(x, 100.0, fs)
            x = sosfilt(butter(order, 30.0, "low", fs=fs, output="sos"), x)
            path = write_edf(Path(tmp) / "w.edf", {"EEG Fpz-Cz": (x, fs)}, rec.start_time, record_duration=30.0)
            got = open_recording(path, eeg="EEG Fpz-Cz", eog=None)
            print(f"REAL wake, low-pass 30 Hz order {order} stored at {fs:g} Hz: edge {edge_hz(got.channels['EEG Fpz-Cz'])}")
    print(f"REAL wake as recorded: edge {edge_hz(rec.channels['EEG Fpz-Cz'])}")
    labels = np.asarray(real_hypnogram("SC4001E0"))
    for seed in range(4):
        night = synth_night(labels, subject=0, night=1, seed=seed)
        print(f"synthetic family A, SC4001E0, seed {seed}, no filter: edge {edge_hz(night.signals['EEG Fpz-Cz'])}")


if __name__ == "__main__":
    main()
