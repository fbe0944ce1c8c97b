"""Probe, not kept: high-pass the EOG too in the epochs whose EEG drifts (`sleepscope.model.drift`).

    .venv/bin/python reports/slow-drift-night/eog_with_eeg_drift.py CACHE_YOUNG CACHE_OLDER > eog-with-eeg-drift.log

SYNTHETIC nights (bench_shift.py's cache, 8 per row), shipped model; "eeg only" is the input as shipped.
"""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "reports" / "slow-drift-night")]
import numpy as np  # noqa: E402
from dataclasses import replace  # noqa: E402
import bench_shift as bs  # noqa: E402
from drift_highpass import sway  # noqa: E402
from sleepscope.model.checkpoint import load_model, default_model_path  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402
from sleepscope.model.drift import DriftRemover, drifting, slow_ratio  # noqa: E402

model = load_model(default_model_path())[0]


def eog_too(rec):
    if rec.eeg_name is None or rec.eog_name is None: return rec
    m = drifting(slow_ratio(rec), rec.n_epochs)
    if not m.any(): return rec
    per = int(rec.fs * 30); x = rec.channels[rec.eog_name]; n = rec.n_epochs
    y = x.copy(); y[: n * per] = DriftRemover(rec.fs)(x[: n * per].reshape(n, per), m).reshape(-1)
    return replace(rec, channels={**rec.channels, rec.eog_name: y})


def score(items):
    C = np.zeros((5, 5), int)
    for rec, y in items:
        p = predict(rec, model); ok = (y >= 0) & ~p.artefact
        np.add.at(C, (y[ok], p.stages[ok]), 1)
    f1 = [2 * C[i, i] / max(1, C[i].sum() + C[:, i].sum()) for i in range(5)]
    return "acc %.3f mF1 %.3f REM F1 %.2f" % (np.trace(C) / C.sum(), np.mean(f1), f1[4])
caches = {"young": pathlib.Path(sys.argv[1]), "older": pathlib.Path(sys.argv[2])}
rows = [("young", "D", True, 0), ("older", "D", True, 0), ("older", "E", True, 0), ("older", "B", True, 0),
        ("young", "B", True, 0), ("young", "E", True, 0), ("young", "E", False, 150), ("young", "E", False, 50),
        ("young", "A", True, 150), ("young", "E", True, 150)]
for ns, fam, rnd, uv in rows:
    items = [bs.cached_recording(n, fam, rnd, 0, caches[ns]) for n in bs.NIGHT_SETS[ns]]
    if uv: items = [(sway(r, uv), y) for r, y in items]
    a = score(items); b = score([(eog_too(r), y) for r, y in items])
    print(ns, fam, "random" if rnd else "", uv, "| eeg only:", a, "| eeg+eog:", b, flush=True)
