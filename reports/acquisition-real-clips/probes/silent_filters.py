"""The REAL wake minutes behind low-pass filters of every order, with and without the header naming them.

    .venv/bin/python reports/acquisition-real-clips/probes/silent_filters.py [MODEL]

Each EEG and EOG is resampled to the stored rate, low-passed there (Butterworth, causal, as an
amplifier or an export filter would), written to EDF with or without "LP:..Hz" in its prefiltering field
and read back through the product's reader. Printed per row: epochs read W (the expert's stage), mean
confidence, epochs marked unsure, silent errors, and how much the filter moved the EEG's 35-45 Hz power
against its 20-30 Hz power (dB, median over epochs) -- how small a change of the fast band it takes.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt, welch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from sleepscope.io import open_recording  # noqa: E402
from sleepscope.io.export import write_edf  # noqa: E402
from sleepscope.io.recording import resample_to_target  # noqa: E402
from sleepscope.model.checkpoint import load_model  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402

WAKE = ROOT / "tests" / "data" / "SC4001E0-PSG-first300s.edf"
EEG, EOG = "EEG Fpz-Cz", "EOG horizontal"


def fast_band_db(x: np.ndarray) -> float:
    f, p = welch(x[: len(x) // 3000 * 3000].reshape(-1, 3000).astype(np.float64), 100.0, nperseg=400, axis=-1)
    ratio = p[:, (f >= 35) & (f < 45)].sum(1) / p[:, (f >= 20) & (f < 30)].sum(1)
    return float(np.median(10 * np.log10(ratio)))


def main() -> None:
    model_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models" / "sleepscope-default.safetensors"
    model, card = load_model(model_path)
    rec = open_recording(WAKE)
    base = fast_band_db(rec.channels[EEG])
    print(f"model {card.version}; the real wake minutes as recorded: 35-45 Hz against 20-30 Hz {base:.1f} dB")
    with tempfile.TemporaryDirectory() as tmp:
        for said in (False, True):
            for fs in ((100.0, 256.0, 512.0) if not said else (256.0,)):
                for hz in (30.0, 35.0, 40.0):
                    for order in (1, 2, 4):
                        signals = {}
                        for name in (EEG, EOG):
                            x = rec.channels[name].astype(np.float64)
                            if fs != 100.0:
                                x = resample_to_target(x, 100.0, fs)
                            signals[name] = (sosfilt(butter(order, hz, "low", fs=fs, output="sos"), x), fs)
                        fields = {k: (f"HP:0.5Hz LP:{hz:g}Hz" if said else "") for k in signals}
                        path = write_edf(Path(tmp) / "w.edf", signals, rec.start_time, prefilters=fields,
                                         record_duration=30.0)
                        got = open_recording(path, eeg=EEG, eog=EOG)
                        pred = predict(got, model, device="cpu", threads=1)
                        wrong = pred.stages != 0
                        print(f"{'header says' if said else 'header silent'} | stored at {fs:g} Hz | low-pass {hz:g} Hz "
                              f"order {order}: W {int((~wrong).sum())}/10, confidence {pred.probs.max(1).mean():.2f}, "
                              f"unsure {int(pred.unsure.sum())}, silent errors {int((wrong & ~pred.unsure).sum())}, "
                              f"fast band {fast_band_db(got.channels[EEG]) - base:+.1f} dB", flush=True)


if __name__ == "__main__":
    main()
