"""Rows of two bench_shift JSONs side by side: accuracy / macro-F1, the change and the unfamiliar count; then the
mean accuracy of the held-out rows named (B, B random, D, ...).

    python compare_rows.py OLD.json OLD_SCORER NEW.json NEW_SCORER "A,A random,B,..."
"""
import json, sys
a, ka, b, kb = json.load(open(sys.argv[1])), sys.argv[2], json.load(open(sys.argv[3])), sys.argv[4]
rows = sys.argv[5].split(",")
held = []
for row in rows:
    x, y = a["results"][row][ka], b["results"][row][kb]
    print(f"| {row} | {x['accuracy']:.3f} / {x['macro_f1']:.3f} | {y['accuracy']:.3f} / {y['macro_f1']:.3f} | "
          f"{y['accuracy'] - x['accuracy']:+.3f} | {x.get('unfamiliar')} -> {y.get('unfamiliar')} |")
    if row[0] in "BDE" and len(row.split()) <= 2:
        held.append((x['accuracy'], y['accuracy']))
if held:
    print("held-out mean", *(round(sum(h[i] for h in held) / len(held), 4) for i in (0, 1)))
