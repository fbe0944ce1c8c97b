"""Probe: a child read as fine-tuning keeps it (trained statistics) and read as its parent reads nights
(each night's own statistics averaged in), beside the parent's own reading of the corrected epochs both ways."""
import sys, tempfile
from pathlib import Path
import numpy as np
ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
import torch; torch.set_num_threads(1)
import bench_site as bsite
from sleepscope.model.checkpoint import default_model_path, load_model
from sleepscope.model.finetune import FineTuneOptions, finetune
from sleepscope.model.infer import predict
parent, card = load_model(default_model_path())
def with_(m, **kw):
    import copy
    c = copy.deepcopy(m); c.config = c.config.with_(**kw); return c
def acc_on(model, nights, cs):
    hit = tot = 0
    for n in nights:
        mine = cs.fingerprint == n.fingerprint
        if not mine.any(): continue
        st = predict(n.x, model).stages
        e = cs.epoch[mine]; hit += int((st[e] == cs.y[mine]).sum()); tot += int(mine.sum())
    return hit / tot
size = bsite.SIZES["reduced"]
for lab in sys.argv[1:]:
    with tempfile.TemporaryDirectory() as d:
        L = bsite.make_lab(Path(d), size, lab[0], False, int(lab[1:]), parent.config.normalisation)
        p_on = bsite.score(parent, L.test)["accuracy"]; p_off = bsite.score(with_(parent, night_statistics=False), L.test)["accuracy"]
        print(f"{lab} parent on test nights: night stats {p_on:.3f}, trained stats {p_off:.3f}", flush=True)
        for k in (100, 300):
            for s in range(3):
                cs = bsite.corrections(L.pool, k, s)
                c_on = acc_on(parent, L.pool, cs); c_off = acc_on(with_(parent, night_statistics=False), L.pool, cs)
                r = finetune(parent, card, cs, None, FineTuneOptions(epochs=size.finetune_epochs, seed=s))
                a = bsite.score(r.model, L.test)["accuracy"]
                b = bsite.score(with_(r.model, night_statistics=True), L.test)["accuracy"]
                print(f"{lab} k={k} seed={s}: parent on corrections {c_on:.3f} / {c_off:.3f}; child test {a:.3f}, "
                      f"with night stats {b:.3f}", flush=True)
