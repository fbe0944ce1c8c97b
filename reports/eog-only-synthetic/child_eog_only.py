"""The fine-tuned child's EOG-only temperature: fitted on its corrections, the parent's, or none (protocol file beside).

    .venv/bin/python reports/eog-only-synthetic/child_eog_only.py [--families A,B,D,E] [--cache DIR]

SYNTHETIC nights (real hypnograms). About 8 minutes on the 2-core CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_shift import cached_recording, perturb, row_metrics  # noqa: E402

CORRECTED = "SC4001E0"
OTHERS = ["SC4061E0", "SC4091E0", "SC4151E0", "SC4062E0", "SC4092E0", "SC4152E0"]
OWN = "SC4002E0"


def scored(model, items) -> dict:
    from sleepscope.model.infer import predict

    parts = []
    for rec, y in items:
        p = predict(rec, model)
        parts.append({"probs": p.probs, "stages": p.stages, "labels": y, "unsure": p.unsure,
                      "artefact": p.artefact, "unfamiliar": None})
    return row_metrics(parts)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="A,B,D,E")
    ap.add_argument("--cache", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.finetune import finetune
    from sleepscope.model.inputs import model_input
    from sleepscope.scoring.corrections import CorrectionSet

    parent, card = load_model(ROOT / "models" / "sleepscope-default.safetensors")
    print(f"parent {card.version}: EOG-only temperature {card.calibration.get('eog_only_temperature')}")
    print("SYNTHETIC nights (real hypnograms). EOG-only: the EEG removed from every test night.")
    print(f"{'family':<7}{'nights':<8}{'model':<22}{'acc':>6}{'ECE':>7}{'flag/caught':>13}")
    rows = {}
    for fam in args.families.split(","):
        t0 = time.perf_counter()
        rec, y = cached_recording(CORRECTED, fam, False, 0, args.cache)
        keep = np.flatnonzero(y >= 0)
        cs = CorrectionSet(model_input(rec, parent.config.normalisation)[keep], y[keep],
                           np.full(keep.size, CORRECTED, object), keep, np.full(keep.size, "technician", object),
                           {CORRECTED: f"{CORRECTED}.edf"})
        res = finetune(parent, card, cs, None)
        child = res.model
        fitted = dict(child.calibration)
        print(f"  {fam}: fine-tuned on {len(cs)} epochs in {time.perf_counter() - t0:.0f} s; child EOG-only "
              f"temperature {fitted.get('eog_only_temperature'):.3f}, its report-part ECE "
              f"{fitted.get('eog_only_report_ece', float('nan')):.3f}", flush=True)
        variants = {"fitted": fitted, "parent's": {**fitted, "eog_only_temperature": card.calibration["eog_only_temperature"]},
                    "none": {k: v for k, v in fitted.items() if not k.startswith("eog_only")}}
        for which, names in (("others", OTHERS), ("own", [OWN])):
            nights = [cached_recording(n, fam, False, 0, args.cache) for n in names]
            items = [(perturb(r, yy, "EOG only"), yy) for r, yy in nights]
            out = {"parent (shipped)": scored(parent, items)}
            for v, cal in variants.items():
                child.calibration = cal
                out[f"child, {v}"] = scored(child, items)
            child.calibration = fitted
            rows[(fam, which)] = out
            for name, m in out.items():
                print(f"{fam:<7}{which:<8}{name:<22}{m['accuracy']:6.3f}{m['ece']:7.3f}"
                      f"{m['flagged']:8.2f}/{m['caught']:.2f}", flush=True)
    print("\nmean over families, other subjects' nights:")
    for name in rows[next(iter(rows))]:
        vals = [rows[(f, "others")][name] for f in args.families.split(",")]
        print(f"  {name:<22} acc {np.mean([v['accuracy'] for v in vals]):.3f}  ECE {np.mean([v['ece'] for v in vals]):.3f}"
              f"  flagged {np.mean([v['flagged'] for v in vals]):.2f} caught {np.mean([v['caught'] for v in vals]):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
