"""Members' predict() probabilities on bench_shift's rows, cached; single models and prediction ensembles.

    .venv/bin/python ensemble_eval.py --cache DIR --probs DIR name=MODEL ... [--ensemble E3=a,b,c ...]
SYNTHETIC nights (except the real clips).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_shift import TEST_NIGHTS, cached_recording, real_rows  # noqa: E402

from sleepscope.model.checkpoint import load_model  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402
from sleepscope.scoring.agreement import agreement  # noqa: E402

ROWS = [(f, r) for f in ("A", "B", "D") for r in (False, True)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--probs", type=Path, required=True)
    ap.add_argument("--ensemble", action="append", default=[])
    a = ap.parse_args()
    a.probs.mkdir(parents=True, exist_ok=True)
    models = dict(m.split("=", 1) for m in a.models)
    nights = {}
    for f, r in ROWS:
        for n in TEST_NIGHTS:
            nights[(f, r, n)] = None
    out = {}  # (model, row, night) -> (probs, stages, artefact)
    for name, path in models.items():
        model = None
        for f, r, n in nights:
            p = a.probs / f"{name}-{f}{'r' if r else ''}-{n}.npz"
            if not p.exists():
                if model is None:
                    model = load_model(path)[0]
                rec, y = cached_recording(n, f, r, 0, a.cache)
                pr = predict(rec, model)
                np.savez(p, probs=pr.probs, stages=pr.stages, artefact=pr.artefact, y=y,
                         unfamiliar=not (pr.familiarity is None or pr.familiarity.familiar))
            z = np.load(p)
            out[(name, f, r, n)] = z
        reals = a.probs / f"{name}-real.npz"
        if not reals.exists():
            if model is None:
                model = load_model(path)[0]
            got = {}
            for i, (rname, rec, y) in enumerate(real_rows()):
                pr = predict(rec, model)
                got[f"p{i}"], got[f"y{i}"] = pr.probs, y
            np.savez(reals, **got)
        print(f"# {name} done", file=sys.stderr, flush=True)
    ens = {e.split("=")[0]: e.split("=")[1].split(",") for e in a.ensemble}
    scorers = list(models) + list(ens)
    print(f"{'model':10s} " + " ".join(f"{f + (' rnd' if r else ''):>13s}" for f, r in ROWS) + "   real (right/total)")
    for s in scorers:
        members = ens.get(s, [s])
        cells = []
        for f, r in ROWS:
            ys, ss = [], []
            for n in TEST_NIGHTS:
                zs = [out[(m, f, r, n)] for m in members]
                probs = np.mean([z["probs"] for z in zs], axis=0)
                art = zs[0]["artefact"]
                st = np.where(art, -1, probs.argmax(1))
                ys.append(zs[0]["y"]); ss.append(st)
            y, st = np.concatenate(ys), np.concatenate(ss)
            k = (y >= 0) & (st >= 0)
            ag = agreement(y[k], st[k])
            cells.append(f"{ag.accuracy:.3f}/{ag.macro_f1:.3f}")
        right = total = 0
        for m in [members]:
            zs = [np.load(a.probs / f"{mm}-real.npz") for mm in members]
            i = 0
            while f"p{i}" in zs[0]:
                pr = np.mean([z[f"p{i}"] for z in zs], axis=0)
                right += int((pr.argmax(1) == zs[0][f"y{i}"]).sum()); total += len(pr)
                i += 1
        print(f"{s:10s} " + " ".join(f"{c:>13s}" for c in cells) + f"   {right}/{total}", flush=True)
    # members' disagreement per night, for the ensembles
    for s, members in ens.items():
        cells = []
        for f, r in ROWS:
            sh = []
            for n in TEST_NIGHTS:
                st = np.stack([out[(m, f, r, n)]["probs"].argmax(1) for m in members])
                art = out[(members[0], f, r, n)]["artefact"]
                sh.append(float(np.mean((st != st[0]).any(axis=0)[~art])))
            cells.append(f"{min(sh):.2f}-{max(sh):.2f}")
        print(f"{s + ' disagree':10s} " + " ".join(f"{c:>13s}" for c in cells))


main()
