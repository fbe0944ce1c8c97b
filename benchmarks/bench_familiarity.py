"""How often does the familiarity check fire, and would other statistics separate the held-out family better?

    .venv/bin/python benchmarks/bench_familiarity.py [--model PATH] [--cache DIR] [--held-out B,D]

The check (``sleepscope.model.familiarity``) fits one Gaussian per stage on
input statistics of the training nights. This benchmark refits it four ways
on the same training nights as ``models/train_robust.py`` (the families the
card names as training families, A and C where it names none; half of them
recorded by randomised labs), sets each night limit on the
card's calibration nights (``train_robust.calibration_nights``) the way
``fit_familiarity`` does (``familiarity.night_limit``), and counts the nights it
calls unfamiliar among the 8 test nights per row of ``bench_shift.py`` (the
training families: in distribution; B: the held-out family, and any other in ``--held-out``
such as D, built after the shipped model; each plain and by random labs):

* ``inputs pooled``: what ships (the card's statistics are refitted the same way);
* ``inputs per family``: one Gaussian set per training family, an epoch
  outlying only when it is beyond the cutoff of every family;
* ``deep pooled`` / ``deep per family``: the same on the model's per-epoch
  features (the input of its sequence head), as Lee et al. (2018) do;
* ``opinions disagree``: the share of a night's epochs on which the model's
  opinion on EEG + EOG and its opinion on the EEG alone name different stages
  (the EOG being the channel that differs most between labs);
* ``YASA disagrees``: the share on which the model and YASA (trained on real
  nights, with no part in ours) name different stages: two scorers trained
  apart disagree more where either is out of its depth (needs ``yasa``). This
  one ships: ``familiarity.with_second_opinion``, limit fitted the same way;
* ``hypnogram implausible``: the suggested night's REM share of sleep outside
  what real scored nights show (``sleepscope.model.plausibility``; fixed
  bounds, no fit), with how often it fires on the calibration nights.

Synthetic nights only: the figures say nothing about real recordings.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "models"))


def night_parts(model, cache: Path | None, held_out=("B",), families=("A", "C")):
    """{(part, family, lab): [per-night dict of inputs, deep features, predicted and true stages, artefact]}."""
    from bench_shift import TEST_NIGHTS, synth_recording, yasa_probs
    from train_robust import TRAIN, calibration_nights

    from sleepscope.model.calibration import calibrated_probs
    from sleepscope.model.infer import has_both_channels, night_outputs
    from sleepscope.model.reliability import night_arrays

    # Family and lab by position, as train_robust.nights() gives them (calibration nights indexed from 0, as
    # --recalibrate does).
    k = len(families)
    jobs = [(n, families[(i // 2) % k], i % 2 == 1, "train") for i, n in enumerate(TRAIN)]
    jobs += [(n, families[(i // 2) % k], i % 2 == 0, "val") for i, n in enumerate(calibration_nights())]
    jobs += [(n, f, r, "test") for f in (*families, *held_out) for r in (False, True) for n in TEST_NIGHTS]
    parts: dict = {}
    for name, family, randomise, part in jobs:
        lab = "random" if randomise else "plain"
        path = cache / f"{part}-{name}-{family}-{lab}-{model.version}-{calibration_key(model)}.pickle" if cache else None
        if path is not None and path.exists():
            night = pickle.loads(path.read_bytes())
        else:
            rec, y = synth_recording(name, family, randomise)
            a = night_arrays(rec, model.config.normalisation)
            deep, logits, _ = night_outputs(a["x"], model)
            # The stages predict gives: the card's calibration, stage transitions included, can change them.
            pred = calibrated_probs(logits.numpy(), getattr(model, "calibration", None), has_both_channels(a["x"]),
                                    uninformative=a["artefact"]).argmax(axis=1)
            night = {"inputs": a["inputs"], "deep": deep.numpy(), "pred": pred,
                     "y": y, "artefact": np.asarray(a["artefact"], bool), "disagree": disagree(model, a["x"])}
            if part != "train":
                second = yasa_probs(rec)
                night["yasa"] = None if second is None else second.argmax(axis=1)
            if path is not None:
                path.write_bytes(pickle.dumps(night))
        parts.setdefault((part, family, lab), []).append(night)
        print(f"  {part} {name} {family} {lab}", file=sys.stderr, flush=True)
    return parts


def calibration_key(model) -> str:
    """A short digest of the card's calibration: the cached stages depend on it as well as on the weights."""
    import hashlib
    import json

    text = json.dumps(getattr(model, "calibration", None) or {}, sort_keys=True, default=float)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def disagree(model, x: np.ndarray) -> np.ndarray:
    """Per epoch: do the model's opinions on EEG + EOG and on the EEG alone name different stages?"""
    from sleepscope.model.infer import night_outputs

    config = model.config
    try:
        model.config = config.with_(eeg_opinion=0.0, eog_opinion=0.0)
        whole = night_outputs(x, model)[1].numpy().argmax(axis=1)
        eeg_alone = x.copy()
        eeg_alone[:, 1] = 0
        alone = night_outputs(eeg_alone, model)[1].numpy().argmax(axis=1)
    finally:
        model.config = config
    return whole != alone


def disagreeing_share(night, key: str) -> float:
    from sleepscope.model import familiarity

    k = ~night["artefact"]
    if key == "yasa":  # as the card's limit is fitted and applied: artefact epochs are the model's -1
        return familiarity.disagreeing_share(np.where(k, night["pred"], -1), night["yasa"]) or 0.0
    return float(np.mean(night[key][k])) if k.any() else 0.0


def fit(nights, key: str) -> dict:
    from sleepscope.model.familiarity import _precision, distances

    keep = [~n["artefact"] & (n["y"] >= 0) for n in nights]
    x = np.concatenate([n[key][k] for n, k in zip(nights, keep)]).astype(np.float64)
    y = np.concatenate([n["y"][k] for n, k in zip(nights, keep)])
    means, prec = _precision(x, y, 5)
    stats = {"means": means.tolist(), "precision": prec.tolist()}
    stats["epoch_cutoff"] = float(np.percentile(distances(x, stats, y), 99))
    return stats


def outlying(night, groups: list[dict], key: str) -> float:
    from sleepscope.model.familiarity import distances

    k = ~night["artefact"]
    scaled = [distances(night[key][k], g, night["pred"][k]) / g["epoch_cutoff"] for g in groups]
    return float(np.mean(np.min(scaled, axis=0) > 1)) if k.any() else 0.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "sleepscope-default.safetensors")
    ap.add_argument("--cache", type=Path, help="keep each night's statistics here and reuse them")
    ap.add_argument("--held-out", default="B", help="families no training night came from (default B)")
    args = ap.parse_args(argv)
    held_out = tuple(f.strip().upper() for f in args.held_out.split(",") if f.strip())
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.familiarity import MIN_NIGHT_LIMIT, MIN_SECOND_OPINION_LIMIT, night_limit

    model, card = load_model(args.model)
    families = tuple(card.metrics.get("training_families") or ("A", "C"))
    if set(held_out) & set(families):
        ap.error(f"{', '.join(sorted(set(held_out) & set(families)))}: trained the model, not held out")
    columns = (*families, *held_out)
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    parts = night_parts(model, args.cache, held_out, families)
    train = {f: parts[("train", f, "plain")] + parts[("train", f, "random")] for f in families}
    val = [n for k, v in parts.items() if k[0] == "val" for n in v]
    print(f"model {card.version}; nights called unfamiliar of 8 per row (SYNTHETIC nights)")
    print(f"{'statistics':22s} {'limit':>6s}  "
          + "  ".join(f"{f + ' ' + lab:>18s}" for f in columns for lab in ("plain", "random")))
    for key in ("inputs", "deep"):
        for mode in ("pooled", "per family"):
            groups = ([fit([n for f in families for n in train[f]], key)] if mode == "pooled"
                      else [fit(train[f], key) for f in families])
            limit = night_limit([outlying(n, groups, key) for n in val], MIN_NIGHT_LIMIT)
            cells = []
            for f in columns:
                for lab in ("plain", "random"):
                    shares = [outlying(n, groups, key) for n in parts[("test", f, lab)]]
                    cells.append(f"{sum(s > limit for s in shares)}/{len(shares)} ({min(shares):.2f}-{max(shares):.2f})")
            print(f"{key + ' ' + mode:22s} {limit:6.2f}  " + "  ".join(f"{c:>18s}" for c in cells), flush=True)
    for key, name in (("disagree", "opinions disagree"), ("yasa", "YASA disagrees")):
        if key == "yasa" and any(n.get("yasa") is None for n in val):
            print(f"{name:22s} (YASA is not installed, or could not stage a night)")
            continue
        floor = MIN_SECOND_OPINION_LIMIT if key == "yasa" else MIN_NIGHT_LIMIT
        limit = night_limit([disagreeing_share(n, key) for n in val], floor)
        cells = []
        for f in columns:
            for lab in ("plain", "random"):
                shares = [disagreeing_share(n, key) for n in parts[("test", f, lab)]]
                cells.append(f"{sum(s > limit for s in shares)}/{len(shares)} ({min(shares):.2f}-{max(shares):.2f})")
        print(f"{name:22s} {limit:6.2f}  " + "  ".join(f"{c:>18s}" for c in cells), flush=True)
    from sleepscope.model.plausibility import REM_SHARE, implausible_night, rem_share

    cells = []
    for f in ("val", *columns):
        for lab in ("plain", "random") if f != "val" else ("",):
            nights = val if f == "val" else parts[("test", f, lab)]
            staged = [n["pred"][~n["artefact"]] for n in nights]  # as predict gives them to the check
            rem = [rem_share(st)[0] for st in staged]
            flagged = sum(implausible_night(st) is not None for st in staged)
            cells.append(f"{flagged}/{len(nights)} ({min(rem):.2f}-{max(rem):.2f})")
    print(f"{'hypnogram implausible':22s} {'fixed':>6s}  " + "  ".join(f"{c:>18s}" for c in cells[1:])
          + f"   validation nights: {cells[0]}", flush=True)
    print("cell: nights over the limit (smallest-largest share of outlying epochs; next two rows: of disagreeing "
          f"epochs; last row: the suggested REM share of sleep, plausible within {REM_SHARE[0]:.2f}-{REM_SHARE[1]:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
