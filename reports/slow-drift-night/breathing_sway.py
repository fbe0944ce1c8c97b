"""Probe: a sway on the EEG alone at 0.25-0.5 Hz (a breathing rhythm moving the head on the pillow), on 4 young
synthetic nights of family A: what the drift high-pass catches and what it leaves.

    .venv/bin/python reports/slow-drift-night/breathing_sway.py CACHE_YOUNG > breathing-sway.log
"""
import pathlib
import sys
from dataclasses import replace

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
import bench_shift as bs  # noqa: E402
from sleepscope.model.checkpoint import default_model_path, load_model  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402

model = load_model(default_model_path())[0]


def eeg_sway(rec, uv, hz):
    t = np.arange(rec.n_samples) / rec.fs
    s = (uv * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return replace(rec, channels={**rec.channels, rec.eeg_name: rec.channels[rec.eeg_name] + s[: len(rec.channels[rec.eeg_name])]})

items = [bs.cached_recording(n, "A", False, 0, pathlib.Path(sys.argv[1])) for n in bs.TEST_NIGHTS[:4]]
for uv, hz in ((0, 0), (30, 0.25), (30, 0.3), (30, 0.4), (50, 0.25), (50, 0.3), (50, 0.4), (50, 0.5)):
    C = np.zeros((5, 5), int); hp = []
    for rec, y in items:
        r = eeg_sway(rec, uv, hz) if uv else rec
        p = predict(r, model); ok = (y >= 0) & ~p.artefact
        np.add.at(C, (y[ok], p.stages[ok]), 1); hp.append(p.high_passed.mean())
    f1 = [2 * C[i, i] / max(1, C[i].sum() + C[:, i].sum()) for i in range(5)]
    print(uv, "uV", hz, "Hz on the EEG: acc %.3f" % (np.trace(C) / C.sum()), "F1", np.round(f1, 2), "high-passed %.2f" % np.mean(hp), flush=True)
