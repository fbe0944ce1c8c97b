"""What the scripts of this folder share: the command line's cache, the shipped model, a night's confusion."""
import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def shipped(description, extra=None):
    """(parsed arguments with .cache, the shipped model); prints `description` (or what it makes of the arguments)
    first. `extra(parser)` adds a script's own arguments."""
    import torch

    from sleepscope.model.checkpoint import default_model_path, load_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, help="bench_shift's --cache folder (filled when missing)")
    if extra:
        extra(ap)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, _ = load_model(default_model_path())
    print(description(args) if callable(description) else description)
    return args, model


def confusion(y: np.ndarray, stages: np.ndarray, artefact: np.ndarray) -> np.ndarray:
    """5 x 5 counts, true stage by row, over the epochs both label and the model did not call artefact."""
    ok = (y >= 0) & (stages >= 0) & ~artefact
    cm = np.zeros((5, 5), int)
    np.add.at(cm, (y[ok], stages[ok]), 1)
    return cm
