"""Probe: QRS-like ECG spikes (66 a minute, as bench_acquisition.py's ECG change) of 30-100 uV on the EEG and EOG of
4 young synthetic nights of family A, and on the REAL wake minutes; the shipped model's reading.

SYNTHETIC nights except the REAL row. .venv/bin/python reports/acquisition-real-clips/probes/ecg_whole_night.py CACHE
(CACHE: bench_shift.py --nights 8 --cache CACHE writes the nights)
"""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
import numpy as np  # noqa: E402
from dataclasses import replace  # noqa: E402

import bench_shift as bs  # noqa: E402
from sleepscope.model.checkpoint import default_model_path, load_model  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402

model = load_model(default_model_path())[0]


def ecg(rec, uv, hz=1.1, which=("eeg",)):
    t = np.arange(rec.n_samples) / rec.fs
    phase = (t * hz) % 1.0
    s = (uv * np.exp(-0.5 * ((phase - 0.5) / 0.012) ** 2)).astype(np.float32)
    names = [rec.eeg_name if k == "eeg" else rec.eog_name for k in which]
    return replace(rec, channels={k: v + s[: len(v)] if k in names else v for k, v in rec.channels.items()})

for name, rec, y in bs.real_rows():
    if rec.eeg_name and rec.n_epochs > 2:
        print("REAL", name, [(uv, predict(ecg(rec, uv, which=("eeg", "eog")), model).stages.tolist()) for uv in (0, 50, 100)])
items = [bs.cached_recording(n, "A", False, 0, pathlib.Path(sys.argv[1])) for n in bs.TEST_NIGHTS[:4]]
for uv in (0, 30, 60, 100):
    C = np.zeros((5, 5), int); unf = 0; uns = []
    for rec, y in items:
        p = predict(ecg(rec, uv, which=("eeg", "eog")) if uv else rec, model); ok = (y >= 0) & ~p.artefact
        np.add.at(C, (y[ok], p.stages[ok]), 1); unf += not p.familiarity.familiar; uns.append(p.unsure[ok].mean())
    f1 = [2 * C[i, i] / max(1, C[i].sum() + C[:, i].sum()) for i in range(5)]
    print("A, ECG", uv, "uV on EEG and EOG: acc %.3f" % (np.trace(C) / C.sum()), "F1", np.round(f1, 2), "unfamiliar", unf, "unsure %.2f" % np.mean(uns), flush=True)
