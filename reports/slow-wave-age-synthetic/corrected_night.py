"""Do a lab's corrections move the N2/N3 boundary? The worst over-called subject of bench_shift's young `A random`
row (seed 2, SC4151E0, N2 read N3 on 181 of 354 epochs) corrected, the shipped model fine-tuned on it (the
product's defaults), then its second night (SC4152E0, same subject and lab, 230 of 438) read by parent and child,
and the row's other six nights (other subjects, other labs) as a check that nothing else moved.

    .venv/bin/python reports/slow-wave-age-synthetic/corrected_night.py [--cache CACHE] > corrected-night.log

Corrections: the first 300 scored epochs of the night, then the whole night; fine-tuning with the product's
defaults, then reading nights with their own statistics too (`reading="night"`), then keeping no share of the
parent (`keep_parent=0`), then both. SYNTHETIC nights.
"""
import time

import numpy as np
from common import confusion, shipped


def main() -> None:
    args, parent = shipped("SYNTHETIC nights, family A, randomised labs, generation seed 2; the shipped model and "
                           "its children fine-tuned on SC4151E0's corrections.")
    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.finetune import FineTuneOptions, finetune
    from sleepscope.model.infer import predict
    from sleepscope.model.inputs import model_input
    from sleepscope.scoring.corrections import CorrectionSet

    card = load_model(default_model_path())[1]
    nights = {n: bs.cached_recording(n, "A", True, 2, args.cache) for n in bs.NIGHT_SETS["young"]}

    def read(model, names) -> str:
        cms = [confusion(y, predict(rec, model).stages, np.zeros(len(y), bool)) for rec, y in
               (nights[n] for n in names)]
        cm = sum(cms)
        bias = (cm[2, 3] - cm[3, 2]) / max(1, cm[2].sum() + cm[3].sum())
        return f"accuracy {np.trace(cm) / cm.sum():.3f}, N2/N3 bias {bias:+.3f}"

    own, others = ["SC4152E0"], [n for n in bs.NIGHT_SETS["young"] if n not in ("SC4151E0", "SC4152E0")]
    print(f"parent          night 2: {read(parent, own)} | other six nights: {read(parent, others)}", flush=True)
    rec, y = nights["SC4151E0"]
    x = model_input(rec, parent.config.normalisation)
    scored = np.flatnonzero(y >= 0)
    # "defaults": fine-tuning's when this ran (the child read nights as trained; "night" is the default since)
    variants = (("defaults", {"reading": "trained"}), ("reading night", {"reading": "night"}),
                ("no parent share", {"keep_parent": 0.0, "reading": "trained"}),
                ("both", {"reading": "night", "keep_parent": 0.0}))
    for k in (300, len(scored)):
        keep = scored[:k]
        cs = CorrectionSet(x[keep], y[keep], np.full(keep.size, "SC4151E0", object), keep,
                           np.full(keep.size, "technician", object))
        for name, how in variants:
            t = time.perf_counter()
            child = finetune(parent, card, cs, None, FineTuneOptions(**how)).model
            print(f"child, {k:>4} epochs, {name:<15} ({time.perf_counter() - t:.0f} s) night 2: {read(child, own)} | "
                  f"other six nights: {read(child, others)}", flush=True)


if __name__ == "__main__":
    main()
