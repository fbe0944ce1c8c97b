"""Exploratory: the shipped model with its probabilities averaged over gains or polarity (README beside)."""
import pickle, sys, time
from dataclasses import replace
from pathlib import Path
import numpy as np, torch
from sleepscope.model.checkpoint import load_model
from sleepscope.model.infer import predict
torch.set_num_threads(2)
model, _ = load_model(Path("models/sleepscope-default.safetensors"))
cache = Path(sys.argv[3] if len(sys.argv) > 3 else "/work/shiftcache3")
nights = sorted({p.name.split("-")[0] for p in cache.glob("*-A-0-c.pickle")})[:8]
gains = [float(g) for g in sys.argv[1].split(",")]
for fam in sys.argv[2].split(","):
    for rnd in ("", "-random"):
        acc = {"plain": [], "tta": []}
        for n in nights:
            rec, y = pickle.loads((cache / f"{n}-{fam}{rnd}-0-c.pickle").read_bytes())
            y = np.asarray(y)
            p0 = predict(rec, model).probs
            ps = [p0]
            for g in gains:
                chans = {k: (v * g if k in (rec.eeg_name, rec.eog_name) else v) for k, v in rec.channels.items()}
                ps.append(predict(replace(rec, channels=chans, _quality=None), model).probs)
            pt = np.mean(ps, axis=0)
            m = y >= 0
            acc["plain"].append((p0.argmax(1)[m] == y[m]).mean()); acc["tta"].append((pt.argmax(1)[m] == y[m]).mean())
        print(fam + rnd, {k: round(float(np.mean(v)), 4) for k, v in acc.items()}, flush=True)
