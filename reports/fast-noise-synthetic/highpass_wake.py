"""The REAL wake minutes of tests/data behind a causal Butterworth high-pass (bench_acquisition's is 2nd order on
both channels): on which channel and from what cut-off does a model stop reading them as wake?

    .venv/bin/python reports/fast-noise-synthetic/highpass_wake.py MODEL... > highpass-wake.log
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def main(paths: list[str]) -> None:
    from scipy.signal import butter, sosfilt, sosfiltfilt

    import bench_shift as bs
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.infer import predict

    rec, _ = {n: (r, y) for n, r, y in bs.real_rows()}["real Sleep-EDF 5 min wake"]

    def hp(x, hz, order=2, causal=True):
        sos = butter(order, hz, "high", fs=100.0, output="sos")
        return (sosfilt(sos, x) if causal else sosfiltfilt(sos, x)).astype(np.float32)

    cases = {f"both, {hz} Hz": {k: hp(v, hz) for k, v in rec.channels.items()} for hz in (0.3, 0.4, 0.5, 0.7, 1.0)}
    cases["both, 0.5 Hz zero-phase"] = {k: hp(v, 0.5, causal=False) for k, v in rec.channels.items()}
    cases["both, 0.5 Hz 1st order"] = {k: hp(v, 0.5, order=1) for k, v in rec.channels.items()}
    cases["EEG only, 0.5 Hz"] = {**rec.channels, rec.eeg_name: hp(rec.channels[rec.eeg_name], 0.5)}
    cases["EOG only, 0.5 Hz"] = {**rec.channels, rec.eog_name: hp(rec.channels[rec.eog_name], 0.5)}
    models = [(Path(p).stem, load_model(Path(p))[0]) for p in paths]
    print("REAL Sleep-EDF wake minutes (10 epochs, all W): epochs per stage W N1 N2 N3 REM, mean P(W), mean P(REM)")
    for name, ch in cases.items():
        line = f"{name:<24}"
        for stem, model in models:
            p = predict(replace(rec, channels=ch), model)
            line += (f" | {stem}: {np.bincount(p.stages, minlength=5).tolist()} {p.probs[:, 0].mean():.2f} "
                     f"{p.probs[:, 4].mean():.2f}")
        print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
