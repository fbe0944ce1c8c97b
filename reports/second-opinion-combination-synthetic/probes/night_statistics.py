"""Per night: accuracy of ours, YASA and their 0.5 average, and label-free statistics of each.

    python night_statistics.py A,B,E AB.pkl ED.pkl     # the families to print, then night_probabilities.py's files
"""
import pickle
import sys

import numpy as np

nights = {k: v for f in sys.argv[2:] for k, v in pickle.loads(open(f, "rb").read()).items()}
print("fam rnd night   acc_o acc_y acc_c  dis  conf_o conf_y  rem_o rem_y rem_t  n3_o n3_y n1_o n1_y")
for (fam, rnd, name), v in nights.items():
    if fam not in sys.argv[1].split(","):
        continue
    y, o, ya = v["y"], v["ours"], v["yasa"]
    ok = (y >= 0) & ~v["artefact"]
    so, sy, sc = o.argmax(1), ya.argmax(1), (0.5 * o + 0.5 * ya).argmax(1)

    def share(st, stage):
        return (st == stage)[st > 0].mean()

    print(f"{fam} {int(rnd)} {name}  {(so == y)[ok].mean():.3f} {(sy == y)[ok].mean():.3f} {(sc == y)[ok].mean():.3f}"
          f"  {(so != sy)[ok].mean():.3f}  {o.max(1)[ok].mean():.3f} {ya.max(1)[ok].mean():.3f}"
          f"  {share(so, 4):.3f} {share(sy, 4):.3f} {(y == 4)[y > 0].mean():.3f}"
          f"  {share(so, 3):.3f} {share(sy, 3):.3f} {share(so, 1):.3f} {share(sy, 1):.3f}")
