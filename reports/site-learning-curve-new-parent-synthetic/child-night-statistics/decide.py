"""The rule of protocol-child-night-statistics.md: each (lab, k) cell without and with the child reading nights
with their own statistics (bench_site.py results-child-{no-night-statistics,night-statistics}-LAB.json).

    python decide.py B23 D23 E23          # in the folder of the results
    python decide.py --pair reading-trained reading-choose B29 D29 E29    # results-reading-{trained,choose}-LAB.json
"""
import json
import sys

import numpy as np

args = sys.argv[1:]
without, with_ = "child-no-night-statistics", "child-night-statistics"
if args[:1] == ["--pair"]:
    without, with_, args = args[1], args[2], args[3:]
cells = []
for lab in args:
    runs = {v: json.load(open(f"results-{v}-{lab}.json"))["runs"] for v in (without, with_)}
    parent = next(x["accuracy"] for x in runs[with_] if x["k"] == 0)
    for k in dict.fromkeys(x["k"] for x in runs[with_] if x["k"] != 0):
        a = np.array([x["accuracy"] for x in runs[without] if x["k"] == k])
        b = np.array([x["accuracy"] for x in runs[with_] if x["k"] == k])
        worse = b.mean() < a.mean() - max(a.std(ddof=1), b.std(ddof=1))
        cells.append((a.mean(), b.mean(), worse))
        name = {-1: "night", -3: "3 nights"}.get(k, f"night+{-10_000 - k}" if -100_000 < k < -10_000 else k)
        print(f"{lab} (parent {parent:.3f}) k={name}: without {a.mean():.3f} ± {a.std(ddof=1):.3f}  "
              f"with {b.mean():.3f} ± {b.std(ddof=1):.3f}  ({b.mean() - a.mean():+.3f})"
              + ("  LOWER beyond the spread" if worse else ""))
m0, m1 = np.mean([c[0] for c in cells]), np.mean([c[1] for c in cells])
print(f"mean over {len(cells)} cells: without {m0:.4f}, with {m1:.4f} ({m1 - m0:+.4f}); "
      f"cells lower beyond the spread: {sum(c[2] for c in cells)}")
