"""Offline figures from bench_second_opinion.py --save files: accuracy and errors left after review, by weight.

    python analyse.py A.npz B.npz ...   (SYNTHETIC nights; test subjects only)
"""
import sys

import numpy as np

from sleepscope.scorers import disagreement, review_queue
from sleepscope.scoring.agreement import agreement

VALIDATION_SUBJECTS = {10, 17, 5, 13}
SHARE = 0.2


def load(path):
    z = np.load(path, allow_pickle=False)
    names = [n for n, s in z["subjects"] if int(s) not in VALIDATION_SUBJECTS]
    return [np.concatenate([z[f"{n}__{i}"] for n in names]) for i in (1, 2, 3)]


def left(y, stages, probs, second=None, first=None):
    keep = y >= 0
    if first is None:
        q = review_queue(probs, SHARE, second)
    else:
        order = np.lexsort((probs.max(1), ~first))
        q = np.zeros(len(y), bool)
        q[order[:int(round(SHARE * len(y)))]] = True
    return float(np.sum(keep & (stages != y) & ~q) / keep.sum())


def best_left(y, stages, probs, other):
    dis = disagreement(stages, other)
    return min(left(y, stages, probs), left(y, stages, probs, second=other), left(y, stages, probs, first=dis))


for path in sys.argv[1:]:
    y, pa, pb = load(path)
    keep = y >= 0
    sa, sb = pa.argmax(1), pb.argmax(1)
    print(f"{path}: {keep.sum()} epochs; ours {agreement(y[keep], sa[keep]).accuracy:.3f}, "
          f"YASA {agreement(y[keep], sb[keep]).accuracy:.3f}; ours left after review "
          f"{best_left(y, sa, pa, sb):.3f}")
    for w in (0.3, 0.4, 0.5, 0.6, 0.7):
        pc = w * pa + (1 - w) * pb
        sc = pc.argmax(1)
        a = agreement(y[keep], sc[keep])
        print(f"  w={w:.1f}: acc {a.accuracy:.3f} mF1 {a.macro_f1:.3f} kappa {a.kappa:.3f}  "
              f"left {best_left(y, sc, pc, sb):.3f} (queue of disagreements between ours and YASA first: "
              f"{left(y, sc, pc, first=disagreement(sa, sb)):.3f})")
