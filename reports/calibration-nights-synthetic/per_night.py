"""Per calibration night of the shipped card: accuracy of the stages `predict` gives, the share of outlying
epochs (the familiarity check's statistic) and the share on which YASA disagrees.

    .venv/bin/python reports/calibration-nights-synthetic/per_night.py [--model M] [--json OUT]

Synthetic nights (families A and C, half of them by randomised labs) following real Sleep-EDF
hypnograms: the figures say nothing about real recordings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "sleepscope-default.safetensors")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    import train_robust as recipe

    from sleepscope.model.calibration import calibrated_probs
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.familiarity import disagreeing_share, outlying_share
    from sleepscope.model.infer import has_both_channels, night_outputs

    model, card = load_model(args.model)
    second, _ = recipe.second_opinion()
    names = recipe.calibration_nights()
    rows = []
    nights = recipe.nights(names, model.config.normalisation, True, tuple(card.metrics["training_families"]),
                           second=second)
    print("night      lab     accuracy  outlying  YASA disagrees  YASA accuracy  N1 share")
    for i, ((night, y), name) in enumerate(zip(nights, names)):
        a = np.asarray(night["artefact"], bool)
        _, logits, _ = night_outputs(night["x"], model, threads=2, artefact=a)
        stages = calibrated_probs(logits.numpy(), card.calibration, has_both_channels(night["x"]),
                                  uninformative=a).argmax(axis=1)
        keep = ~a & (y >= 0)
        row = {"night": name, "randomised_lab": i % 2 == 0, "accuracy": float(np.mean(stages[keep] == y[keep])),
               "outlying": outlying_share(night["inputs"][~a], card.familiarity, stages[~a]),
               "yasa_disagrees": None if second is None else disagreeing_share(np.where(a, -1, stages),
                                                                                night["second_opinion"]),
               "yasa_accuracy": None if second is None else float(np.mean(night["second_opinion"][keep] == y[keep])),
               "n1_share": float(np.mean(y[keep] == 1))}
        rows.append(row)
        print(f"{name}  {'random' if row['randomised_lab'] else 'plain ':6s}  {row['accuracy']:8.3f}  "
              f"{row['outlying']:8.3f}  {row['yasa_disagrees'] or float('nan'):14.3f}  "
              f"{row['yasa_accuracy'] or float('nan'):13.3f}  {row['n1_share']:8.2f}", flush=True)
    acc = np.array([r["accuracy"] for r in rows])
    for key in ("outlying", "yasa_disagrees"):
        v = np.array([r[key] for r in rows if r[key] is not None], dtype=float)
        if len(v) == len(acc):
            print(f"Spearman correlation of accuracy with {key}: {spearman(acc, v):+.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


if __name__ == "__main__":
    raise SystemExit(main())
