"""How far expert scorers agree with each other on the same nights: the yardstick for the model's agreement with a
lab's own scoring (`sleepscope.scoring.lab_scoring.EXPERT_KAPPA_P10`).

Reads the five AASM scorers of the Dreem Open Datasets (DOD-H: healthy nights; DOD-O: patients with obstructive
sleep apnea), one JSON list of stage codes per night and scorer (`scorer_1` ... `scorer_5` folders, -1 unscored),
and prints the pairwise Cohen's kappa and accuracy over nights: median and 5th/10th percentiles. REAL expert
scorings, no model involved.

    .venv/bin/python benchmarks/bench_inter_scorer.py [SCORERS_DIR]   # default ../shared/data/scorers
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from sleepscope.scoring.agreement import agreement


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "data" / "scorers")
    args = ap.parse_args(argv)
    for dataset in sorted(p for p in args.folder.iterdir() if p.is_dir()):
        scorers = sorted(p for p in dataset.iterdir() if p.is_dir())
        nights = sorted(p.name for p in scorers[0].glob("*.json"))
        kappas, accuracies = [], []
        for night in nights:
            sets = [np.asarray(json.loads((s / night).read_text())) for s in scorers]
            for a, b in itertools.combinations(sets, 2):
                agr = agreement(a, b)
                kappas.append(agr.kappa)
                accuracies.append(agr.accuracy)
        k, acc = np.asarray(kappas), np.asarray(accuracies)
        print(f"{dataset.name}: {len(nights)} nights, {len(scorers)} scorers, {len(k)} pairs; Cohen's kappa median "
              f"{np.median(k):.3f}, 10th percentile {np.percentile(k, 10):.3f}, 5th {np.percentile(k, 5):.3f}; "
              f"accuracy median {np.median(acc):.3f}, 10th percentile {np.percentile(acc, 10):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
