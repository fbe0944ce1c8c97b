"""Errors caught among the k % most doubtful epochs, per row and score (protocol.md), from opinions.py's file.

    python analyse.py OPINIONS.pkl
"""
import json
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

from sleepscope.model.calibration import softmax  # noqa: E402

card = json.loads((ROOT / "models" / "sleepscope-default.json").read_text())
T = float(card["calibration"]["temperature"])
data = pickle.loads(Path(sys.argv[1]).read_bytes())
KS = (0.10, 0.15)


def scores(d):
    p = d["probs"].astype(np.float64)
    s = p.argmax(1)
    i = np.arange(len(s))
    top = 1 - p.max(1)
    second = np.sort(p, axis=1)[:, -2]
    q = [softmax(z, T) for z in d["opinions"]]
    support = 1 - np.minimum(p[i, s], np.min([qc[i, s] for qc in q], axis=0))
    dis = np.any([qc.argmax(1) != s for qc in q], axis=0)
    return {"top": top, "margin": 1 - (p[i, s] - second), "support": support, "disagree": top + 2.0 * dis}, dis


rows = {}
for (fam, rnd, how, n), d in data.items():
    rows.setdefault(f"{fam}{' random' if rnd else ''}{'' if how == 'both' else ' ' + how}", []).append(d)

names = ("top", "margin", "support", "disagree")
print("SYNTHETIC nights (bench_shift cache, seed 0), shipped model; caught = share of errors among the k % most doubtful")
print(f"{'row':18s} {'acc':>5s} {'disagree%':>9s}  " + "  ".join(f"{s}@{int(k * 100)}" for k in KS for s in names))
table = {}
for row, nights in rows.items():
    sc = {s: [] for s in names}
    wrong, dis_all = [], []
    for d in nights:
        keep = (d["y"] >= 0) & ~d["artefact"]
        s, dis = scores(d)
        for k in names:
            sc[k].append(s[k][keep])
        wrong.append(d["probs"].argmax(1)[keep] != d["y"][keep])
        dis_all.append(dis[keep])
    wrong = np.concatenate(wrong)
    out = {}
    for k in KS:
        m = int(round(k * len(wrong)))
        for s in names:
            v = np.concatenate(sc[s])
            order = np.argsort(-v, kind="stable")[:m]
            out[f"{s}@{int(k * 100)}"] = float(wrong[order].sum() / max(1, wrong.sum()))
    table[row] = out
    print(f"{row:18s} {1 - wrong.mean():5.3f} {np.concatenate(dis_all).mean():9.3f}  "
          + "  ".join(f"{out[f'{s}@{int(k * 100)}']:>{len(s) + 3}.3f}" for k in KS for s in names))

decide = ["B", "B random", "E", "E random"]
print("\nrule (protocol.md): mean over B, B random, E, E random >= top + 0.03 at both k; no decide or A row -0.01")
for s in names[1:]:
    ok = True
    for k in KS:
        key = f"@{int(k * 100)}"
        gain = np.mean([table[r][s + key] - table[r]["top" + key] for r in decide])
        worst = min(table[r][s + key] - table[r]["top" + key] for r in decide + ["A", "A random"])
        ok &= gain >= 0.03 and worst >= -0.01
        print(f"  {s:9s} k={key[1:]}%: mean gain {gain:+.3f}, worst row {worst:+.3f}")
    print(f"  {s:9s} {'PASSES' if ok else 'fails'}")
