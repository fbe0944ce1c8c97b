"""How the stage transitions were chosen: three forms on 16 synthetic nights that no SleepScope model
trained, validated or was calibrated on, and whose subjects' hypnograms the chain was not counted on.

    .venv/bin/python reports/stage-transitions-synthetic/choose_on_fresh_nights.py [--model M] [--json OUT]

Nights: the first nights of Sleep-EDF subjects 20-35 (``train_robust.CHAIN_CHOSEN_ON``; REAL hypnograms, SYNTHETIC signals), families A
and C alternating in pairs, every other night recorded by a randomised lab, as the recipe's validation
nights are. Forms, all from the model's own outputs (``night_outputs``) and card calibration:

* none: the card's calibration without its chain;
* chain before the map: the chain reads the tempered probabilities;
* chain after the map (shipped): the chain reads the fully calibrated probabilities.

A temperature after the chain changes no stage, so accuracy and macro-F1 compare the forms as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "models")]

import numpy as np  # noqa: E402


def nights():
    from train_robust import CHAIN_CHOSEN_ON

    from sleepscope.data.synthetic import hypnogram_names, parse_night_name

    names = [n for n in hypnogram_names() if n.startswith("SC") and parse_night_name(n)[0] in CHAIN_CHOSEN_ON
             and parse_night_name(n)[1] == 1]
    return [(n, ("A", "C")[(i // 2) % 2], i % 2 == 1) for i, n in enumerate(names)]


def main(argv=None) -> int:
    from bench_shift import synth_recording

    from sleepscope.model.calibration import apply_confidence_map, calibrated_probs, ece, softmax
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import has_both_channels, night_outputs
    from sleepscope.model.inputs import model_input
    from sleepscope.model.quality import epoch_quality
    from sleepscope.model.transitions import smooth
    from sleepscope.scoring.agreement import agreement

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    model, card = load_model(args.model or default_model_path())
    cal = dict(card.calibration)
    if "transitions" not in cal:
        raise SystemExit("the model's card has no stage transitions to compare")
    chain = np.asarray(cal["transitions"])
    plain = {k: v for k, v in cal.items() if k != "transitions"}
    forms = {"none": [], "chain before the map": [], "chain after the map (shipped)": []}
    ys = []
    for name, family, randomise in nights():
        rec, y = synth_recording(name, family, randomise)
        quality = epoch_quality(rec)
        x = model_input(rec, model.config.normalisation, absent=quality.absent)
        _, logits, _ = night_outputs(x, model, threads=1, artefact=quality.artefact)
        z, both, art = logits.numpy(), has_both_channels(x), quality.artefact
        tempered = softmax(z, cal["temperature"])
        before = smooth(tempered, chain, art)
        if both and cal.get("confidence_map"):
            before = apply_confidence_map(before, cal["confidence_map"])
        forms["none"].append(calibrated_probs(z, plain, both))
        forms["chain before the map"].append(before)
        forms["chain after the map (shipped)"].append(calibrated_probs(z, cal, both, uninformative=art))
        ys.append(np.where(art, -1, y))
        print(f"  {name} family {family}{' (randomised lab)' if randomise else ''}: {len(y)} epochs", flush=True)
    y = np.concatenate(ys)
    out = {"nights": [n for n, _, _ in nights()], "model": card.version, "forms": {}}
    for form, parts in forms.items():
        p = np.concatenate(parts)
        a = agreement(y, p.argmax(axis=1))
        per_night = [agreement(t, q.argmax(axis=1)).accuracy for t, q in zip(ys, parts)]
        out["forms"][form] = {"accuracy": a.accuracy, "macro_f1": a.macro_f1, "kappa": a.kappa, "f1": dict(a.f1),
                              "ece": ece(p[y >= 0], y[y >= 0]), "per_night_accuracy": per_night}
        f1 = " ".join(f"{k} {v:.3f}" for k, v in a.f1.items())
        print(f"{form:<32} accuracy {a.accuracy:.4f}  macro-F1 {a.macro_f1:.4f}  kappa {a.kappa:.4f}  {f1}  "
              f"ECE {out['forms'][form]['ece']:.3f}")
    base = np.array(out["forms"]["none"]["per_night_accuracy"])
    for form in list(forms)[1:]:
        gain = np.array(out["forms"][form]["per_night_accuracy"]) - base
        print(f"{form}: accuracy higher on {(gain > 0).sum()} of {len(gain)} nights (median {np.median(gain):+.3f})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
