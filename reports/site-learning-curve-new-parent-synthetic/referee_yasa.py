"""Scratch: at one corrected night, does agreement with YASA on the lab's unlabelled nights (other subjects)
tell the child as trained from its average with the parent? Logs both, with their true accuracy there."""
import json, sys
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_site
from sleepscope.model.infer import predict
from sleepscope.model.paired_gap import paired_gap

state = {}
orig_make, orig_avg = bench_site.make_lab, bench_site.averaged_child

def make_lab(folder, size, family, randomise, seed, normalisation):
    lab = orig_make(folder, size, family, randomise, seed, normalisation)
    from sleepscope.io import open_recording
    from sleepscope.io.recording import file_fingerprint
    from sleepscope.model.inputs import model_input
    from sleepscope.scorers import YasaScorer
    nights = []
    for p in lab.unlabelled:
        rec = open_recording(p)
        ys = YasaScorer().score(rec).stages.astype(np.int64)
        sleep = np.flatnonzero(ys > 0)
        keep = np.zeros(len(ys), bool)
        keep[max(0, sleep[0] - 60): sleep[-1] + 61] = True
        nights.append((model_input(rec, normalisation), ys, lab.truth[file_fingerprint(p)], keep))
    state["nights"] = nights
    return lab

def averaged_child(start, child, weight):
    avg = orig_avg(start, child, weight)
    rc, ra, tc, ta, block = [], [], [], [], []
    for i, (x, ys, truth, keep) in enumerate(state["nights"]):
        sc = predict(x, child, threads=1).stages.astype(np.int64)
        sa = predict(x, avg, threads=1).stages.astype(np.int64)
        ok = keep & (sc >= 0) & (sa >= 0) & (truth >= 0)
        rc.append(sc[ok] == ys[ok]); ra.append(sa[ok] == ys[ok])
        tc.append(sc[ok] == truth[ok]); ta.append(sa[ok] == truth[ok])
        block.append(i * 100000 + np.flatnonzero(ok) // 40)
    rc, ra, tc, ta, block = map(np.concatenate, (rc, ra, tc, ta, block))
    g = paired_gap(rc, ra, block)
    rec = {"yasa_child": rc.mean(), "yasa_avg": ra.mean(), "gap": g["gap"], "se": g["standard_error"],
           "child_kept": g["a_ahead"], "true_child": tc.mean(), "true_avg": ta.mean(), "yasa_truth": None}
    print("# referee " + json.dumps({k: (round(float(v), 4) if isinstance(v, (float, np.floating)) else v) for k, v in rec.items()}),
          file=sys.stderr, flush=True)
    return avg

bench_site.make_lab, bench_site.averaged_child = make_lab, averaged_child
raise SystemExit(bench_site.main(sys.argv[1:]))
