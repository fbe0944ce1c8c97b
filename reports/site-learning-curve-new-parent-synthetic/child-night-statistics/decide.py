"""The rule of protocol-child-night-statistics.md: each (lab, k) cell without and with the child reading nights
with their own statistics (bench_site.py results-child-{no-night-statistics,night-statistics}-LAB.json).

    python decide.py B23 D23 E23          # in the folder of the results
"""
import json
import sys

import numpy as np

cells = []
for lab in sys.argv[1:]:
    runs = {v: json.load(open(f"results-child-{v}-{lab}.json"))["runs"] for v in ("no-night-statistics", "night-statistics")}
    parent = next(x["accuracy"] for x in runs["night-statistics"] if x["k"] == 0)
    for k in dict.fromkeys(x["k"] for x in runs["night-statistics"] if x["k"] != 0):
        a = np.array([x["accuracy"] for x in runs["no-night-statistics"] if x["k"] == k])
        b = np.array([x["accuracy"] for x in runs["night-statistics"] if x["k"] == k])
        worse = b.mean() < a.mean() - max(a.std(ddof=1), b.std(ddof=1))
        cells.append((a.mean(), b.mean(), worse))
        name = {-1: "night", -3: "3 nights"}.get(k, k)
        print(f"{lab} (parent {parent:.3f}) k={name}: without {a.mean():.3f} ± {a.std(ddof=1):.3f}  "
              f"with {b.mean():.3f} ± {b.std(ddof=1):.3f}  ({b.mean() - a.mean():+.3f})"
              + ("  LOWER beyond the spread" if worse else ""))
m0, m1 = np.mean([c[0] for c in cells]), np.mean([c[1] for c in cells])
print(f"mean over {len(cells)} cells: without {m0:.4f}, with {m1:.4f} ({m1 - m0:+.4f}); "
      f"cells lower beyond the spread: {sum(c[2] for c in cells)}")
