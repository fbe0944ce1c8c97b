"""`sleepscope calibrate`: fit a model's calibration and familiarity statistics into its card."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate", help="fit a model's probability calibration, unsure threshold and familiarity check",
        description="Temperature scaling and the unsure threshold from the validation nights, familiarity "
        "statistics from the training nights (limit set on the validation nights); written into the model card "
        "(the weights are unchanged). `predict`, the CLI and the GUI then apply them.")
    p.add_argument("model", type=Path, help="model file (.safetensors or .json)")
    p.add_argument("--data", type=Path, required=True, help="a Sleep-EDF sleep-cassette folder (real or synthetic)")
    p.add_argument("--train-subjects", required=True, help="subjects the model was trained on, e.g. 1,2,3")
    p.add_argument("--val-subjects", required=True, help="held-back subjects to calibrate on, e.g. 5,7")
    p.add_argument("--out", type=Path, default=None, help="write the calibrated model here (default: in place)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_calibrate)


def _subjects(text: str) -> list[int]:
    from sleepscope.errors import SleepScopeError

    try:
        out = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise SleepScopeError(f"{text!r} is not a comma-separated list of subject numbers") from None
    if not out:
        raise SleepScopeError("give at least one subject number")
    return out


def labelled_nights(data: Path, subjects: list[int], normalisation: str, role: str):
    """[(night_arrays, stages)] of the scored nights of `subjects`, trimmed to the sleep as in training."""
    from sleepscope.data.cohorts import nights_of, scan_sleep_cassette
    from sleepscope.errors import SleepScopeError
    from sleepscope.model.reliability import scored_nights

    found = [n for n in nights_of(scan_sleep_cassette(data), subjects) if n.hypnogram is not None]
    if not found:
        raise SleepScopeError(f"no scored night of the {role} subjects {subjects} in {data}")
    return list(scored_nights(found, normalisation))


def _calibrate(args: argparse.Namespace) -> int:
    from sleepscope.errors import SleepScopeError
    from sleepscope.model.checkpoint import load_model, save_model
    from sleepscope.model.reliability import fit_reliability

    train_s, val_s = _subjects(args.train_subjects), _subjects(args.val_subjects)
    if set(train_s) & set(val_s):
        raise SleepScopeError("calibrate on subjects the model was not trained on: --val-subjects overlaps "
                              "--train-subjects")
    model, card = load_model(args.model)
    norm = model.config.normalisation
    train = labelled_nights(args.data, train_s, norm, "training")
    val = labelled_nights(args.data, val_s, norm, "validation")
    dropout = float(card.familiarity.get("channel_dropout", 0.0))
    # The stage transitions are real nights', not the model's: a refit weighs them again, declined or not.
    before = card.calibration or {}
    chain = before.get("transitions")
    card.calibration, card.familiarity = fit_reliability(
        model, train, val, channel_dropout=dropout,
        transitions=chain if chain is not None else before.get("transitions_declined"))
    if "transitions_from" in before:
        card.calibration["transitions_from"] = before["transitions_from"]
    out = args.out or args.model
    save_model(model, out, card)
    c, f = card.calibration, card.familiarity
    print(f"calibrated {out}: temperature {c['temperature']:.3f}, ECE {c['ece_before']:.3f} -> {c['ece']:.3f} on "
          f"{c['n_epochs']} validation epochs; unsure under {c['unsure_threshold']:.2f}; familiarity limit "
          f"{f['night_limit']:.0%} of epochs (validation nights: "
          f"{', '.join(f'{s:.1%}' for s in f['validation_shares'])})", file=sys.stderr)
    return 0
