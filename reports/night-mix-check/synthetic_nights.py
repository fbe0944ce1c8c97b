"""The shipped model's suggested stages of whole SYNTHETIC nights, read by `stages.unusual_mix`: how often a
night's suggestions are called unlike any real night's, and how accurate the nights so called are.

    .venv/bin/python reports/night-mix-check/synthetic_nights.py    # about 4 min on the 2-core CPU

bench_shift's rows (its 8 test nights of families A, B, D, E, plain and randomised, its perturbations, the
cache of /work/shiftcache3 when present) and each family low-passed at 25 Hz (4th order, both channels).
"""
import sys, time
sys.path.insert(0, "benchmarks")
from pathlib import Path
import numpy as np, scipy.signal as ss, torch
from bench_shift import build_rows, TEST_NIGHTS
from sleepscope.model.checkpoint import load_model, default_model_path
from sleepscope.model.infer import predict
from sleepscope.stages import unusual_mix
from sleepscope.io.recording import Recording
torch.set_num_threads(2)
model, card = load_model(default_model_path())
rows = build_rows(list(TEST_NIGHTS), families=("A", "B", "D", "E"), cache=Path("/work/shiftcache3"), log=lambda *a: None)
def lowpass(rec, fc):
    import dataclasses
    b, a = ss.butter(4, fc / (rec.fs / 2))
    chans = {k: ss.filtfilt(b, a, v).astype(v.dtype) for k, v in rec.channels.items()}
    return dataclasses.replace(rec, channels=chans, _fingerprint=None, _quality=None)
extra = []
for name, items in rows:
    if name in ("A", "B", "D", "E"):
        extra.append((f"{name} lowpass 25 Hz", [(lowpass(r, 25), y) for r, y in items]))
for name, items in rows + extra:
    t = time.time()
    out = []
    for r, y in items:
        p = predict(r, model)
        st = np.asarray(p.stages); keep = (y >= 0) & (st >= 0)
        acc = float((st[keep] == y[keep]).mean())
        why = unusual_mix(st)
        truth = unusual_mix(y)
        out.append((acc, why, truth))
    fired = [o for o in out if o[1]]
    print(f"{name:28s} nights {len(out)} fired {len(fired)} | acc fired {np.mean([o[0] for o in fired]) if fired else float('nan'):.3f} "
          f"unfired {np.mean([o[0] for o in out if not o[1]]) if len(fired) < len(out) else float('nan'):.3f} | truth fired {sum(bool(o[2]) for o in out)} "
          f"| {'; '.join(o[1] for o in fired)[:150]} ({time.time()-t:.0f}s)", flush=True)
