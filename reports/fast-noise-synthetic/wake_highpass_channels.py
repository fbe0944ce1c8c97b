"""Probe: the REAL wake minutes with the EEG, the EOG or both high-passed at 0.5 Hz (second order, causal), the
EEG at its gain or halved, read by e6675eac and the shipped model: epochs read W of 10 and the mean probabilities.

    .venv/bin/python reports/fast-noise-synthetic/wake_highpass_channels.py E6675EAC > wake-highpass-channels.log
"""
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def main(old: Path) -> None:
    import torch
    from scipy.signal import butter, sosfilt

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(1)
    _, rec, _ = bs.real_rows()[0]
    models = [load_model(p) for p in (old, default_model_path())]
    sos = butter(2, 0.5, "highpass", fs=rec.fs, output="sos")
    for which in ("EEG", "EOG", "both"):
        for gain in (1.0, 0.5):
            chans = {}
            for k, v in rec.channels.items():
                x = np.asarray(v, np.float64)
                if (k == rec.eeg_name and which != "EOG") or (k == rec.eog_name and which != "EEG"):
                    x = sosfilt(sos, x)
                chans[k] = (x * (gain if k == rec.eeg_name else 1.0)).astype(np.float32)
            out = []
            for model, card in models:
                p = predict(replace(rec, channels=chans), model)
                out.append(f"{card.version[:8]} W {int(np.sum(p.stages == 0))}/10, mean p(W, N1, N2, N3, REM) "
                           f"{[round(float(v), 2) for v in p.probs.mean(0)]}")
            print(f"high-pass on {which:<4}, EEG x{gain}: " + " | ".join(out), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
