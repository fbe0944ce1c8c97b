"""Which narrow EEG bands does a model still misread on the REAL wake minutes (tests/data/SC4001E0-PSG-first300s)?
Low-passes with the header naming them or silent, lower sampling rates, and gentle (first, second, fourth order)
low-passes stored at 256 Hz with a silent header: epochs read W and REM, and how many are marked unsure by the code
it runs at (whose WAKE_BAND_HZ it helped set).

    .venv/bin/python reports/fast-noise-synthetic/narrow_band.py MODEL... > narrow-band.log

Sets WAKE_BAND_HZ (sleepscope.model.eeg_band) and the bands tests/test_eeg_band.py holds.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main(paths: list[str]) -> None:
    import numpy as np
    from scipy.signal import butter, sosfilt
    from test_eeg_band import EEG, EOG, WAKE, _real_wake

    from sleepscope.io import open_recording
    from sleepscope.io.export import write_edf
    from sleepscope.io.recording import resample_to_target
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.infer import predict

    tmp = Path(tempfile.mkdtemp())
    rec = open_recording(WAKE)
    files = [("as recorded", _real_wake(tmp))]
    for lp in (20.0, 22.0, 25.0, 27.0, 30.0):
        files += [(f"256 Hz, low-pass {lp:g} Hz, header names it", _real_wake(tmp, 256.0, lp)),
                  (f"256 Hz, low-pass {lp:g} Hz, header silent", _real_wake(tmp, 256.0, lp, header=False))]
    files += [(f"sampled at {rate:g} Hz", _real_wake(tmp, rate)) for rate in (50.0, 56.0, 60.0, 64.0)]
    for order in (1, 2, 4):
        for cut in (20.0, 25.0, 30.0):
            sig = {n: (sosfilt(butter(order, cut, "low", fs=256.0, output="sos"),
                               resample_to_target(rec.channels[n].astype(np.float64), 100.0, 256.0)), 256.0)
                   for n in (EEG, EOG)}
            files.append((f"order-{order} low-pass {cut:g} Hz at 256 Hz, header silent",
                          write_edf(tmp / f"gentle-{order}-{cut:g}.edf", sig, rec.start_time, record_duration=30.0)))
    for path in paths:
        model, card = load_model(Path(path))
        print(f"# {Path(path).stem} ({card.version}); REAL wake minutes, 10 epochs, expert: all W")
        for name, f in files:
            p = predict(open_recording(f, eeg=EEG, eog=EOG), model, device="cpu", threads=1)
            print(f"{name:58s} W {int(np.sum(p.stages == 0)):2d}/10, REM {int(np.sum(p.stages == 4)):2d}, "
                  f"unsure {int(p.unsure.sum()):2d}, confidence {p.probs.max(1).mean():.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
