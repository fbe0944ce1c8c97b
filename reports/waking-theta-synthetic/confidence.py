"""Over- or under-confident in distribution? Mean top probability against accuracy on the first four cached
family-A test nights of bench_shift (`--cache DIR`, plain lab), per model.

    python reports/waking-theta-synthetic/confidence.py DIR MODEL...
"""
import pickle, sys, glob
from pathlib import Path
import numpy as np
from sleepscope.model.checkpoint import load_model
from sleepscope.model.infer import predict
files = sorted(glob.glob(f"{sys.argv[1]}/*-A-0-c.pickle"))[:4]
for m in sys.argv[2:]:
    model, card = load_model(Path(m))
    conf, acc = [], []
    for f in files:
        rec, y = pickle.load(open(f, "rb"))
        pr = predict(rec, model)
        y = np.asarray(y)[: len(pr.stages)]
        ok = y >= 0
        conf.append(pr.probs.max(1)[ok]); acc.append((pr.stages == y)[ok])
    c, a = np.concatenate(conf), np.concatenate(acc)
    print(f"{Path(m).stem:20s} mean confidence {c.mean():.3f} accuracy {a.mean():.3f} temperature {card.calibration.get('temperature')}", flush=True)
