"""`sleepscope train --recordings` from the shipped model on a synthetic lab archive, as a lab would run it.

    .venv/bin/python reports/archive-training-synthetic/run.py [--work DIR] [--steps 150] [--seeds 0,1,2]

The archive: 12 nights of family B (the family the shipped model never saw) following the real
Sleep-EDF hypnograms of subjects 42-47, written as EDF + EDF+ hypnogram pairs. For each seed
(it also draws the split by subject) and each --keep-parent share, the command trains, then
the new model is scored on its held-out nights with its own calibration, with the parent's
calibration copied over, and with none: accuracy, macro-F1 and ECE. Synthetic nights only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def held_out_scores(model, calibration, cache: Path, nights) -> tuple[float, float, float]:
    import h5py

    from sleepscope.model.calibration import ece
    from sleepscope.model.infer import predict
    from sleepscope.model.train import metrics_dict
    from sleepscope.scoring.agreement import agreement

    model.calibration = calibration
    ys, ps = [], []
    with h5py.File(cache, "r") as f:
        for name in nights:
            g = f["nights"][name]
            y = g["y"][:]
            probs = predict(g["x"][:], model, threads=1).probs
            ys.append(y[y >= 0])
            ps.append(probs[y >= 0])
    y, p = np.concatenate(ys), np.concatenate(ps)
    m = metrics_dict(agreement(y, p.argmax(axis=1)))
    return m["accuracy"], m["macro_f1"], ece(p, y)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("archive-training-work"))
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--shares", default="0.5,0", help="--keep-parent shares to run (each with --no-choose-share); "
                    "'choose': 0.5 with --choose-share")
    ap.add_argument("--family", default="B", help="the archive's physiology family (default B)")
    args = ap.parse_args(argv)
    from bench_site import night_names

    from sleepscope.data.synthetic import write_night
    from sleepscope.model.checkpoint import load_model, read_card

    shipped = ROOT / "models" / "sleepscope-default.safetensors"
    lab = args.work / "lab"
    if not lab.exists():
        for name in night_names(12):
            write_night(lab, name, seed=0, family=args.family, randomise=False)
    parent, parent_card = load_model(shipped)
    print(f"SYNTHETIC nights (family {args.family}, subjects 42-47); held-out nights of each split")
    print("seed  keep-parent  held out        parent acc/mF1/ECE    new: own calibration   parent's copied       none")
    for seed in (int(s) for s in args.seeds.split(",")):
        for share in args.shares.split(","):
            out = args.work / f"child-{seed}-{share}"
            subprocess.run([sys.executable, "-m", "sleepscope", "train", "--recordings", str(lab), "--init", str(shipped),
                            "--out", str(out), "--max-steps", str(args.steps), "--channel-dropout", "0.3",
                            "--seed", str(seed), "--cache", str(args.work / "cache.h5"), "--quiet",
                            *(["--keep-parent", "0.5", "--choose-share"] if share == "choose" else
                              ["--keep-parent", share, "--no-choose-share"])], check=True, stdout=subprocess.DEVNULL)
            card = read_card(out)
            held = card.metrics["heldout"]["nights"]
            child, _ = load_model(out)
            cells = [held_out_scores(parent, dict(parent_card.calibration), args.work / "cache.h5", held)]
            for cal in (dict(card.calibration), dict(parent_card.calibration), {}):
                cells.append(held_out_scores(child, cal, args.work / "cache.h5", held))
            subjects = sorted({n[3:5] for n in held})
            choice = card.metrics.get("share_choice")
            print(f"{seed:4d}  {share:>11s}  subject {','.join(subjects):6s}  "
                  + "  ".join(f"{a:.3f}/{f:.3f}/{e:.3f}" for a, f, e in cells)
                  + (f"  kept the {choice['kept']} (validation gap {choice['gap']:+.3f} ± {choice['standard_error']:.3f})"
                     if choice else ""), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
