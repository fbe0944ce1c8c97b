"""Each archive child of a `run.py --work DIR` run scored with its own calibration, without its stage-transition
chain, with the chain mixed towards uniform, and with no calibration, on its held-out and validation nights.

    .venv/bin/python reports/archive-training-synthetic/ablation_chain.py DIR DIR/child-0-0 [...]

Accuracy / macro-F1. Synthetic nights only.
"""

import sys
from pathlib import Path

import numpy as np

from sleepscope.model.checkpoint import load_model, read_card

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import held_out_scores  # noqa: E402


def scores(model, calibration, cache, nights) -> str:
    accuracy, macro_f1, _ = held_out_scores(model, calibration, Path(cache), nights)
    return f"{accuracy:.3f}/{macro_f1:.3f}"


def main(work: str, children: list[str]) -> None:
    for child in children:
        card = read_card(child)
        model, _ = load_model(child)
        held, val = card.metrics["heldout"]["nights"], card.metrics["validation_nights"]
        own = dict(card.calibration)
        chain = np.asarray(own["transitions"])
        variants = {"none": {}, "own": own,
                    "own-no-chain": {k: v for k, v in own.items() if k not in ("transitions", "smoothed_temperature")}}
        for lam in (0.25, 0.5, 0.75):
            variants[f"lam{lam}"] = {**own, "transitions": ((1 - lam) * chain + lam / len(chain)).tolist()}
        for name, cal in variants.items():
            print(child.split("/")[-1], f"{name:14s}", "held", scores(model, cal, f"{work}/cache.h5", held),
                  "val", scores(model, cal, f"{work}/cache.h5", val), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
