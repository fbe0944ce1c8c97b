"""The rule of protocol-uncorrected-epochs.md, last section: each (lab, k) cell without and with the parent's reading.

    python reading_fresh_decide.py B17 B19 D17 D19 E17 E19      # beside the results-reading-fresh-*.json
"""
import json, sys, numpy as np
cells = []
for lab in sys.argv[1:]:
    r = json.load(open(f"results-reading-fresh-{lab}.json"))["runs"]
    for k in (100, 300):
        plain = {x["seed"]: x["accuracy"] for x in r if x["k"] == k and not x["pseudo"]}
        withr = {s: next((x["accuracy"] for x in r if x["k"] == k and x["pseudo"] and x["seed"] == s), a) for s, a in plain.items()}
        a, b = np.array(list(plain.values())), np.array([withr[s] for s in plain])
        worse = b.mean() < a.mean() - max(a.std(ddof=1), b.std(ddof=1))
        cells.append((lab, k, a.mean(), b.mean(), a.std(ddof=1), b.std(ddof=1), worse))
        print(f"{lab} k={k}: without {a.mean():.3f} ± {a.std(ddof=1):.3f}  with {b.mean():.3f} ± {b.std(ddof=1):.3f}  diff {b.mean()-a.mean():+.3f}{'  LOWER beyond spread' if worse else ''}")
m0 = np.mean([c[2] for c in cells]); m1 = np.mean([c[3] for c in cells])
print(f"mean over {len(cells)} cells: without {m0:.4f}, with {m1:.4f} ({m1-m0:+.4f}); cells lower beyond spread: {sum(c[6] for c in cells)}")
