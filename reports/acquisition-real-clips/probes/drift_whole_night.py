"""Probe: a slow drift added to whole synthetic nights (families A, B, E); the shipped model's accuracy per stage.

SYNTHETIC. Run from the repository root: .venv/bin/python reports/acquisition-real-clips/probes/drift_whole_night.py
"""
import sys, numpy as np
from dataclasses import replace
sys.path.insert(0, "benchmarks")
from bench_shift import synth_recording
from sleepscope.model.checkpoint import load_model
from sleepscope.model.infer import predict
model, card = load_model("models/sleepscope-default.safetensors")
for fam in ("A", "B", "E"):
    rec, y = synth_recording("SC4001E0", family=fam)
    base = predict(rec, model)
    t = np.arange(rec.n_samples) / 100.0
    for uv in (50.0, 150.0):
        drift = (uv * np.sin(2 * np.pi * 0.05 * t)).astype(np.float32)
        ch = {k: v + drift for k, v in rec.channels.items()}
        p = predict(replace(rec, channels=ch), model)
        for st in (2, 3, 4):
            m = y == st
            print(fam, uv, "stage", st, "acc", round(float((base.stages[m] == st).mean()), 3), "->", round(float((p.stages[m] == st).mean()), 3),
                  "unsure", round(float(p.unsure[m].mean()), 2), "to W", round(float((p.stages[m] == 0).mean()), 3))
