"""The fine-tuned child's EOG-only temperature: fitted on its corrections, the parent's, or none (protocol file beside).

    .venv/bin/python reports/eog-only-synthetic/child_eog_only.py [--families A,B,D,E] [--cache DIR]

SYNTHETIC nights (real hypnograms). About 20 minutes on the 2-core CPU.
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


def scored(model, items) -> dict:
    from sleepscope.model.infer import predict

    parts = []
    for rec, y in items:
        p = predict(rec, model)
        parts.append({"probs": p.probs, "stages": p.stages, "labels": y, "unsure": p.unsure,
                      "artefact": p.artefact, "unfamiliar": None})
    return row_metrics(parts)


SETTINGS = {"one night": [CORRECTED], "two nights": [CORRECTED, "SC4011E0"]}


def corrections(names, fam, normalisation, cache):
    from sleepscope.model.inputs import model_input
    from sleepscope.scoring.corrections import CorrectionSet

    parts = []
    for name in names:
        rec, y = cached_recording(name, fam, False, 0, cache)
        keep = np.flatnonzero(y >= 0)
        parts.append(CorrectionSet(model_input(rec, normalisation)[keep], y[keep], np.full(keep.size, name, object),
                                   keep, np.full(keep.size, "technician", object), {name: f"{name}.edf"}))
    return CorrectionSet(*(np.concatenate([getattr(c, k) for c in parts]) for k in ("x", "y", "fingerprint", "epoch",
                                                                                       "source")),
                         {k: v for c in parts for k, v in c.recording_files.items()})


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="A,B,D,E")
    ap.add_argument("--settings", default="one night,two nights")
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--inputs", default="as recorded,EOG only", help="also: EEG only")
    ap.add_argument("--product-only", action="store_true", help="score only the child as fine-tuning writes it")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.finetune import finetune

    parent, card = load_model(ROOT / "models" / "sleepscope-default.safetensors")
    pc = card.calibration
    print(f"parent {card.version}: temperature {pc['temperature']:.3f}, EOG-only temperature {pc['eog_only_temperature']:.3f}")
    print("SYNTHETIC nights (real hypnograms). Test nights: the other subjects' six nights of the family, as recorded "
          "and with the EEG removed.")
    print(f"{'family':<7}{'corrected':<11}{'input':<10}{'model':<24}{'acc':>6}{'ECE':>7}{'flag/caught':>13}")
    families, settings = args.families.split(","), args.settings.split(",")
    rows = {}
    for fam in families:
        nights = [cached_recording(n, fam, False, 0, args.cache) for n in OTHERS]
        tests = {how: nights if how == "as recorded" else [(perturb(r, y, how), y) for r, y in nights]
                 for how in args.inputs.split(",")}
        for setting in settings:
            t0 = time.perf_counter()
            cs = corrections(SETTINGS[setting], fam, parent.config.normalisation, args.cache)
            res = finetune(parent, card, cs, None)
            child = res.model
            product = dict(child.calibration)
            for name, m in (res.card.metrics.get("heldout_one_channel") or {}).items():
                print(f"  {fam}, {setting}: the corrections' reported epochs, {name}: child {m['child']['accuracy']:.3f}"
                      f" / parent {m['parent']['accuracy']:.3f}", flush=True)
            print(f"  {fam}, {setting}: fine-tuned on {len(cs)} epochs in {time.perf_counter() - t0:.0f} s; child "
                  f"temperature {product.get('temperature', 1.0):.3f}, EOG-only {product.get('eog_only_temperature')}, "
                  f"fitted on {product.get('fitted_on', 'nothing (too few selection epochs)')}", flush=True)
            variants = {"child, product": product,
                        "child, before 04930b1": {k: v for k, v in product.items() if not k.startswith("eog_only")},
                        "child, parent's scaling": {**product, "temperature": product.get("temperature", pc["temperature"])
                                                    if "fitted_on" in product else pc["temperature"],
                                                    "eog_only_temperature": pc["eog_only_temperature"]}}
            if args.product_only:
                variants = {"child, product": product}
            for test, items in tests.items():
                out = {"parent (shipped)": scored(parent, items)} if setting == settings[0] else {}
                for v, cal in variants.items():
                    child.calibration = cal
                    out[v] = scored(child, items)
                child.calibration = product
                rows[(fam, setting, test)] = out
                for name, m in out.items():
                    print(f"{fam:<7}{setting:<11}{test:<12}{name:<24}{m['accuracy']:6.3f}{m['ece']:7.3f}"
                          f"{m['flagged']:8.2f}/{m['caught']:.2f}", flush=True)
    print("\nmean over families:")
    for setting in settings:
        for test in args.inputs.split(","):
            for name in rows[(families[0], setting, test)]:
                vals = [rows[(f, setting, test)][name] for f in families]
                print(f"  {setting:<11}{test:<12}{name:<24} acc {np.mean([v['accuracy'] for v in vals]):.3f}  "
                      f"ECE {np.mean([v['ece'] for v in vals]):.3f}  flagged {np.mean([v['flagged'] for v in vals]):.2f}"
                      f" caught {np.mean([v['caught'] for v in vals]):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
