"""Probe: the REAL wake minutes with their EEG high-passed (second order, causal) and made smaller, read by
e6675eac and the shipped model.

    .venv/bin/python reports/fast-noise-synthetic/wake_highpass_gain.py E6675EAC > wake-highpass-gain.log
"""
import sys
from dataclasses import replace
from pathlib import Path
import numpy as np
ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
import torch
from scipy.signal import butter, sosfilt
import bench_shift as bs
from sleepscope.model.checkpoint import load_model
from sleepscope.model.infer import predict
torch.set_num_threads(1)
name, rec, y = bs.real_rows()[0]
models = [load_model(Path(p)) for p in (sys.argv[1], ROOT / "models" / "sleepscope-default.safetensors")]
for hp in (None, 0.3, 0.5, 0.7):
    for gain in (1.0, 0.7, 0.5, 0.3):
        chans = {}
        for k, v in rec.channels.items():
            x = np.asarray(v, np.float64)
            if k in (rec.eeg_name, rec.eog_name):
                if hp:
                    x = sosfilt(butter(2, hp, "highpass", fs=rec.fs, output="sos"), x)
                x = x * (gain if k == rec.eeg_name else 1.0)
            chans[k] = x.astype(np.float32)
        r = replace(rec, channels=chans)
        out = []
        for m, card in models:
            p = predict(r, m)
            out.append(f"{card.version[:8]} W {int(np.sum(p.stages == 0))}/10 conf {p.probs.max(1).mean():.2f} "
                       f"unsure {int(p.unsure.sum())}")
        print(f"high-pass {hp}, EEG gain x{gain}: " + " | ".join(out), flush=True)
