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


def changed(rec, highpassed: set, scaled: set, hp: float | None, gain: float):
    """`rec` with its channels in `highpassed` high-passed at `hp` Hz (second order, causal; None: none) and those
    in `scaled` times `gain`."""
    from scipy.signal import butter, sosfilt

    chans = {}
    for k, v in rec.channels.items():
        x = np.asarray(v, np.float64)
        if hp and k in highpassed:
            x = sosfilt(butter(2, hp, "highpass", fs=rec.fs, output="sos"), x)
        chans[k] = (x * (gain if k in scaled else 1.0)).astype(np.float32)
    return replace(rec, channels=chans)


def read_by(models, rec, summary) -> str:
    """Each model's reading of `rec`: its card's version, `summary(prediction)` and the mean probabilities."""
    from sleepscope.model.infer import predict

    out = []
    for model, card in models:
        p = predict(rec, model)
        out.append(f"{card.version[:8]} {summary(p)}{[round(float(v), 2) for v in p.probs.mean(0)]}")
    return " | ".join(out)


def main(old: Path) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model

    torch.set_num_threads(1)
    _, rec, _ = bs.real_rows()[0]
    models = [load_model(p) for p in (old, default_model_path())]
    for which in ("EEG", "EOG", "both"):
        for gain in (1.0, 0.5):
            filtered = {"EEG": {rec.eeg_name}, "EOG": {rec.eog_name}, "both": {rec.eeg_name, rec.eog_name}}[which]
            read = read_by(models, changed(rec, filtered, {rec.eeg_name}, 0.5, gain),
                           lambda p: f"W {int(np.sum(p.stages == 0))}/10, mean p(W, N1, N2, N3, REM) ")
            print(f"high-pass on {which:<4}, EEG x{gain}: {read}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
