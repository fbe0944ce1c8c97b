"""The shipped card against a candidate on synthetic nights no choice has seen (protocol-fresh-nights.md).

    .venv/bin/python reports/eog-opinion-synthetic/fresh_nights.py REFERENCE CANDIDATE [--cache DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

NIGHTS = ("SC4371F0", "SC4381F0", "SC4401E0", "SC4411E0", "SC4511E0", "SC4531E0", "SC4541F0", "SC4551F0")
ROWS = (("A", False), ("A", True), ("B", False), ("B", True), ("D", False), ("D", True), ("E", False), ("E", True))
SEED = 1


def main(argv=None) -> int:
    import torch

    from bench_shift import cached_recording, format_row, row_metrics, score_model
    from sleepscope.model.checkpoint import load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference", type=Path)
    ap.add_argument("candidate", type=Path)
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    models = {"reference": load_model(args.reference)[0], "candidate": load_model(args.candidate)[0]}
    print("SYNTHETIC SIGNALS (real hypnograms); nights " + ", ".join(NIGHTS) + f"; seed {SEED}")
    acc = {m: {} for m in models}
    f1 = {m: {} for m in models}
    for fam, rnd in ROWS:
        name = f"{fam}{' random' if rnd else ''}"
        items = [cached_recording(n, fam, rnd, SEED, args.cache) for n in NIGHTS]
        res = {m: row_metrics([score_model(model, r, y) for r, y in items]) for m, model in models.items()}
        print(format_row(name, res), flush=True)
        for m in models:
            acc[m][name], f1[m][name] = res[m]["accuracy"], res[m]["macro_f1"]
    held = [r for r in acc["reference"] if not r.startswith("A")]
    mean = {m: (sum(acc[m][r] for r in held) / len(held), sum(f1[m][r] for r in held) / len(held)) for m in models}
    for m in models:
        print(f"{m}: held-out rows mean accuracy {mean[m][0]:.4f}, macro-F1 {mean[m][1]:.4f}; "
              + ", ".join(f"{r} {acc[m][r]:.4f}" for r in ("A", "A random")))
    ok = (mean["candidate"][0] > mean["reference"][0] and mean["candidate"][1] >= mean["reference"][1]
          and all(acc["candidate"][r] >= max(0.93, acc["reference"][r] - 0.005) for r in ("A", "A random")))
    print("rule met: the candidate ships" if ok else "rule not met: the shipped card stays")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
