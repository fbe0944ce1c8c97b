"""G2 of protocol-3: no clip/change with more silent errors than the shipped model; no fewer expert epochs overall."""
import json, sys
ref = {(r["clip"], r["change"]): r for r in json.load(open(sys.argv[1]))}
cand = {(r["clip"], r["change"]): r for r in json.load(open(sys.argv[2]))}
worse = [(k, ref[k]["silent_errors"], c["silent_errors"]) for k, c in cand.items() if c["silent_errors"] > ref[k]["silent_errors"]]
exp = lambda rows: sum(round(r["expert"] * r["epochs"]) for r in rows.values())
print(f"silent errors: shipped {sum(r['silent_errors'] for r in ref.values())}, candidate {sum(r['silent_errors'] for r in cand.values())}")
print(f"expert's stage: shipped {exp(ref)}, candidate {exp(cand)} of {sum(r['epochs'] for r in ref.values())}")
for k, a, b in worse:
    print(f"  more silent errors: {k[0]} | {k[1]}: {a} -> {b}")
ok = not worse and exp(cand) >= exp(ref)
print("G2", "passed" if ok else "FAILED")
