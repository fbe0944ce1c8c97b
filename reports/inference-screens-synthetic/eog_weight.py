"""Weights of the EOG-alone opinion beside the shipped card's two, on cached bench_shift nights: a screen.

The shipped card (weights, calibration, chain, chin EMG) with `network.mix_opinions` replaced by each variant:
a mixture of the three opinions' probabilities (whole / EEG alone / EOG alone) or their weighted geometric mean, or the
whole and EEG-alone mixture weighed by the EOG-alone opinion of W, NREM or REM (`group`);
the EOG-alone share goes to the whole input on epochs whose EOG input is zeros. Not recalibrated per variant.

    .venv/bin/python reports/inference-screens-synthetic/eog_weight.py young CACHE_YOUNG > eog-weight-young.log
"""
import dataclasses
import os
import pathlib
import sys
os.environ.setdefault("OMP_NUM_THREADS", "2")
ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
import torch
import bench_shift as bs
import sleepscope.model.network as net
from sleepscope.model.checkpoint import load_model, default_model_path
torch.set_num_threads(2)
orig = net.mix_opinions
VAR = {"shipped": ("mix", 0.5, 0.5, 0.0), "mix .4/.4/.2": ("mix", 0.4, 0.4, 0.2),
       "mix .5/.3/.2": ("mix", 0.5, 0.3, 0.2), "geo .4/.4/.2": ("geo", 0.4, 0.4, 0.2),
       "group ^0.5": ("group", 0.5, 0.5, 0.5), "group ^1": ("group", 0.5, 0.5, 1.0)}
#: W, NREM (N1-N3), REM: what eye movements tell apart; NREM depth in the EOG is the EEG's leakage.
GROUP = torch.tensor([0, 1, 1, 1, 2])
cur = ["shipped"]


def patched(whole, eeg, w, eog=None, v=0.0):
    if eog is None:
        return orig(whole, eeg, w)
    kind, a, b, c = VAR[cur[0]]
    live = (torch.as_tensor(v) > 0).to(torch.float32)  # (n, 1): 0 where the EOG input is zeros
    if kind == "group":
        # the whole and EEG-alone mixture, each stage weighed by the EOG-alone opinion of its group, to the power c
        g = torch.softmax(eog, -1)
        coarse = torch.stack([g[:, 0], g[:, 1:4].sum(-1), g[:, 4]], -1)[:, GROUP]
        p = (a * torch.softmax(whole, -1) + b * torch.softmax(eeg, -1)) * coarse.clamp(min=1e-6) ** (c * live)
        return torch.log((p / p.sum(-1, keepdim=True)).clamp(min=1e-12))
    if kind == "mix":
        cc = c * live
        p = (a + c - cc) * torch.softmax(whole, -1) + b * torch.softmax(eeg, -1) + cc * torch.softmax(eog, -1)
        return torch.log(p.clamp(min=1e-12))
    lw, le, lo = (torch.log_softmax(t, -1) for t in (whole, eeg, eog))
    z = (a + c * (1 - live)) * lw + b * le + c * live * lo
    return torch.log_softmax(z, -1)


net.mix_opinions = patched
model = load_model(default_model_path())[0]
model.config = dataclasses.replace(model.config, eog_opinion=0.2)
night_set, cache = sys.argv[1], pathlib.Path(sys.argv[2])
variants = sys.argv[3].split(",") if len(sys.argv) > 3 else list(VAR)
res = {}
for fam in ("A", "B", "D", "E"):
    for rnd in (False, True):
        row = f"{fam}{' random' if rnd else ''}"
        items = [bs.cached_recording(n, fam, rnd, 0, cache) for n in bs.NIGHT_SETS[night_set]]
        for var in variants:
            cur[0] = var
            parts = [bs.score_model(model, r, y) for r, y in items]
            m = bs.row_metrics(parts)
            res[(row, var)] = m
            print(f"{night_set} {row:<10} {var:<14} {m['accuracy']:.3f} {m['macro_f1']:.3f} "
                  + " ".join(f"{m['f1'][k]:.2f}" for k in ("W", "N1", "N2", "N3", "REM")) + f" ece {m['ece']:.3f}", flush=True)
