"""bench_finetune's held-out subject (9, family A: the shipped model's own simulator) corrected on night 1 and
read on night 2, per stage: the product's budget, lr 3e-4 with at least 400 steps, and the same with class
weights, three seeds each, encoders fixed as the product fine-tunes the shipped model. SYNTHETIC nights.

    .venv/bin/python reports/site-learning-curve-new-parent-synthetic/in_distribution_n1.py [--without-chain]
        [--distill W [--agreed [--opinion keep|drop|choose]]] [--choose-opinion] [--night-agreed-drop]
        [--night-statistics]

Every budget names each fine-tuning option it stands for, so that a run reproduces after the product's
defaults change: "standard" is the product's budget before 2026-12-04 (no distillation, the EEG-alone opinion
kept); the product's since then is "--distill 1.0 --agreed --opinion drop".

--without-chain: each model is also read without its stage-transition chain.
--distill W: instead, the product's budget and lr 3e-4 with at least 400 steps, each with the parent's stage
probabilities in the loss at weight W (FineTuneOptions.distill); with --agreed, the product's budget with the
parent's probabilities only where its stage agrees with the correction (FineTuneOptions.distill_agreed).
--choose-opinion: the product's budget, the child keeping or dropping the EEG-alone opinion by its selection part
(FineTuneOptions.opinion "choose"). --night-agreed-drop: lr 3e-4 with at least 400 steps, the parent's
probabilities where it agrees at weight 1.0, the child's EEG-alone opinion dropped. --night-statistics: the
product's budget of 2026-12-04 (--distill 1.0 --agreed --opinion drop) with the kept child reading each night with
trained statistics and with its own, as the parent does (FineTuneOptions.reading "night").
"""
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
torch.set_num_threads(1)
from bench_finetune import NIGHT1, NIGHT2, SUBJECT, sleep_span, synth_array  # noqa: E402

from sleepscope.data.synthetic import real_hypnogram  # noqa: E402
from sleepscope.model.checkpoint import default_model_path, load_model  # noqa: E402
from sleepscope.model.finetune import FineTuneOptions, finetune  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402
from sleepscope.model.inputs import model_input  # noqa: E402
from sleepscope.scoring.agreement import agreement  # noqa: E402
from sleepscope.scoring.corrections import CorrectionSet  # noqa: E402
from sleepscope.stages import NAMES  # noqa: E402

BEFORE = dict(distill=0.0, opinion="keep")  # the product's fine-tuning until 2026-12-04
BUDGETS = {"standard": dict(lr=1e-4, min_steps=40, **BEFORE), "night": dict(lr=3e-4, min_steps=400, **BEFORE),
           "night+cw": dict(lr=3e-4, min_steps=400, class_weights=True, **BEFORE)}
if "--choose-opinion" in sys.argv:
    BUDGETS = {"standard, opinion chosen": dict(lr=1e-4, min_steps=40, distill=0.0, opinion="choose")}
if "--night-agreed-drop" in sys.argv:
    BUDGETS = {"night+distill 1.0 where agreed, opinion dropped": dict(lr=3e-4, min_steps=400, distill=1.0,
                                                                       distill_agreed=True, opinion="drop")}
if "--night-statistics" in sys.argv:
    PRODUCT = dict(lr=1e-4, min_steps=40, distill=1.0, distill_agreed=True, opinion="drop")
    BUDGETS = {"standard, distilled where agreed, opinion dropped": dict(**PRODUCT, reading="trained"),
               "the same, child reads with night statistics": dict(**PRODUCT, reading="night")}
if "--distill" in sys.argv:
    w = float(sys.argv[sys.argv.index("--distill") + 1])
    if "--agreed" in sys.argv and "--opinion" in sys.argv:
        o = sys.argv[sys.argv.index("--opinion") + 1]
        BUDGETS = {f"standard+distill {w} where agreed, opinion {o}": dict(lr=1e-4, min_steps=40, distill=w,
                                                                           distill_agreed=True, opinion=o)}
    elif "--agreed" in sys.argv:
        BUDGETS = {f"standard+distill {w} where agreed": dict(lr=1e-4, min_steps=40, distill=w, distill_agreed=True,
                                                              opinion="keep")}
    else:
        BUDGETS = {f"standard+distill {w}": dict(lr=1e-4, min_steps=40, distill=w, distill_agreed=False,
                                                 opinion="keep"),
                   f"night+distill {w}": dict(lr=3e-4, min_steps=400, distill=w, distill_agreed=False, opinion="keep")}

parent, card = load_model(default_model_path())
rec1, lab1 = synth_array(NIGHT1, SUBJECT, 1, sleep_span(real_hypnogram(NIGHT1), 1000))
keep = np.flatnonzero(lab1 >= 0)
# The model's own normalisation: until 2026-12-04 18:55 this read rec.model_input(), the plain z-score, so the
# shipped "epoch+amplitude" model saw every epoch at the reference amplitude (figures before then are of that).
cs = CorrectionSet(model_input(rec1, parent.config.normalisation)[keep], lab1[keep].astype(np.int64),
                   np.full(keep.size, NIGHT1, object), keep.astype(np.int64), np.full(keep.size, "technician", object),
                   {NIGHT1: "n1.edf"})
rec2, lab2 = synth_array(NIGHT2, SUBJECT, 2)
x2, k2 = model_input(rec2, parent.config.normalisation), lab2 >= 0


def show(name: str, model) -> None:
    stages = predict(x2, model).stages[k2]
    a = agreement(lab2[k2], stages)
    print(name, f"acc {a.accuracy:.3f} mF1 {a.macro_f1:.3f}", {n: round(float(a.f1[n]), 3) for n in NAMES},
          np.bincount(stages, minlength=5), flush=True)
    if "--without-chain" in sys.argv and "transitions" in (model.calibration or {}):
        model.calibration = {k: v for k, v in model.calibration.items() if k != "transitions"}
        show(name + " without the chain", model)


show("parent", parent)
print("truth", np.bincount(lab2[k2], minlength=5))
for seed in (0, 1, 2):
    for name, kw in BUDGETS.items():
        r = finetune(load_model(default_model_path())[0], card, cs, None, FineTuneOptions(seed=seed, **kw))
        ft = r.card.metrics["finetune"]
        show(f"{name} s{seed} ({ft['steps']} steps, freeze {ft['freeze_encoders']})", r.model)
