"""Confusion matrix of a model on bench_shift's 8 test nights of one family (SYNTHETIC nights).

    .venv/bin/python reports/fresh-family-d-synthetic/confusion.py MODEL FAMILY [--random] [--cache DIR]
        [--eeg-opinion W]
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_shift import TEST_NIGHTS, cached_recording  # noqa: E402

from sleepscope.model.checkpoint import load_model  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("model", type=Path)
ap.add_argument("family")
ap.add_argument("--random", action="store_true", help="the nights recorded by randomised labs")
ap.add_argument("--cache", type=Path, default=None, help="bench_shift.py's --cache folder")
ap.add_argument("--eeg-opinion", type=float, default=None, help="override the card's EEG-alone opinion weight")
args = ap.parse_args()
torch.set_num_threads(1)
model = load_model(args.model)[0]
if args.eeg_opinion is not None:
    model.config = model.config.with_(eeg_opinion=args.eeg_opinion)
cm = np.zeros((5, 5), int)
for n in TEST_NIGHTS:
    rec, y = cached_recording(n, args.family.upper(), args.random, 0, args.cache)
    st = np.asarray(predict(rec, model).stages)
    k = (y >= 0) & (st >= 0)
    np.add.at(cm, (y[k], st[k]), 1)
print("rows: true W N1 N2 N3 REM; columns: predicted")
print(cm)
print("recall", np.round(cm.diagonal() / cm.sum(1), 2))
