"""The one-night table of README's section from the results here: python table.py"""
import json
from pathlib import Path

HERE = Path(__file__).parent
LABS = ("B7", "B11", "B31", "D7", "D11", "D31", "E7", "E11", "E31")


def row(name: str):
    p = HERE / f"res-{name}.json"
    if not p.exists():
        return None
    s = {x["k"]: x for x in json.loads(p.read_text())["summary"]}
    return s[0]["accuracy"], s[-1]["accuracy"], s[-1]["accuracy_sd"], s[-1]["seconds"]


def cell(r, parent=True):
    return "-" if r is None else (f"{r[0]:.3f} | " if parent else "") + f"{r[1]:.3f} ± {r[2]:.3f}"


print("| lab | e6675eac: parent | child | feff147c: parent | child | feff147c, `--reading night` | `--opinion keep` |")
print("|---|---|---|---|---|---|---|")
sums = {}
for lab in LABS:
    rs = [row(f"e6675eac-{lab}"), row(f"feff147c-{lab}"), row(f"feff147c-night-reading-{lab}"),
          row(f"feff147c-opinion-keep-{lab}")]
    for i, r in enumerate(rs):
        if r is not None:
            sums.setdefault(i, []).append(r)
    print(f"| {lab} | {cell(rs[0])} | {cell(rs[1])} | {cell(rs[2], False)} | {cell(rs[3], False)} |")
for i, rs in sums.items():
    median_s = sorted(r[3] for r in rs)[len(rs) // 2]
    print(f"mean of {len(rs)} labs, column set {i}: parent {sum(r[0] for r in rs) / len(rs):.3f}, "
          f"child {sum(r[1] for r in rs) / len(rs):.3f}, median fine-tune {median_s:.0f} s")
