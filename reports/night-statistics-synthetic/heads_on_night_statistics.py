"""Experiment (not shipped): the shipped card's heads trained with each training night's own encoder statistics.

    .venv/bin/python reports/night-statistics-synthetic/heads_on_night_statistics.py train P OUT [--steps 600]
    .venv/bin/python reports/night-statistics-synthetic/heads_on_night_statistics.py soup A B OUT
    .venv/bin/python reports/night-statistics-synthetic/heads_on_night_statistics.py evaluate MODEL... [--nights 8]

"train": the shipped card's 12 training and 4 validation nights of families A and C (``models/train_robust.py``'s,
every other one from a randomised lab). Its encoders stay frozen; each step draws 8 sequences of 20 epochs from
ONE night and, with probability P, loads that night's encoder statistics (``night_norm.with_statistics`` on its
sleep period, found from its true stages) into the encoders' batch norms, else the trained ones, so that the
heads learn on what they read when a night is scored with its own statistics. Adam lr 3e-4, channel dropout 0.3,
validation macro-F1 of the 4 nights scored as the product does (``infer.night_outputs``) every 100 steps, the best
kept. P = 0 is the control: the same steps, one night per batch, the trained statistics only.

"soup": the weights of A and B averaged half and half (``weight_average``), A's card.

"evaluate": accuracy / macro-F1 / N1 F1 of each model on ``bench_shift.py``'s test nights of families A and B,
plain and randomised labs (SYNTHETIC), through ``infer.predict``. Family B is held out: it decides nothing here.
"""

from __future__ import annotations

import argparse
import copy
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "models"), str(ROOT / "benchmarks")]
SHIPPED = ROOT / "models" / "sleepscope-default.safetensors"


def f1_scores(y: np.ndarray, s: np.ndarray) -> tuple[float, float, list[float]]:
    """(accuracy, macro-F1, per-stage F1) over scored epochs."""
    from sleepscope.scoring.agreement import agreement
    from sleepscope.stages import NAMES

    ok = (y >= 0) & (s >= 0)
    a = agreement(y[ok], s[ok])
    return a.accuracy, a.macro_f1, [a.f1[n] for n in NAMES]


def encoder_statistics(model) -> dict:
    import torch

    return {n: (b.running_mean.clone(), b.running_var.clone()) for n, b in model.named_modules()
            if isinstance(b, torch.nn.BatchNorm1d) and ".encoder." in f".{n}"}


def load_statistics(model, stats: dict) -> None:
    modules = dict(model.named_modules())
    for n, (mean, var) in stats.items():
        modules[n].running_mean.copy_(mean)
        modules[n].running_var.copy_(var)


def train(args) -> None:
    import torch
    import torch.nn.functional as F
    from train_robust import TRAIN, VALIDATION, nights

    from sleepscope.model.checkpoint import load_model, save_model
    from sleepscope.model.infer import night_outputs
    from sleepscope.model.inputs import drop_channels
    from sleepscope.model.night_norm import sample_epochs, with_statistics
    from sleepscope.model.train import encoder_modules, set_trainable

    torch.set_num_threads(2)
    model, card = load_model(SHIPPED)
    cache = Path(args.cache) if args.cache else Path(tempfile.gettempdir()) / "heads-on-night-statistics.pickle"
    if cache.exists():
        tr, va = pickle.loads(cache.read_bytes())
    else:
        norm = model.config.normalisation
        tr = nights(TRAIN, norm, first_randomised=False, families=("A", "C"))
        va = nights(VALIDATION, norm, first_randomised=True, families=("A", "C"))
        cache.write_bytes(pickle.dumps((tr, va), protocol=4))
    trained = encoder_statistics(model)
    per_night = [encoder_statistics(with_statistics(model, d["x"][sample_epochs(np.where(d["artefact"], -1, y))]))
                 for d, y in tr]

    def validate() -> tuple[float, float, list[float]]:
        model.eval()
        model.config = model.config.with_(night_statistics=True)
        ys, ss = [], []
        for d, y in va:
            ys.append(y)
            ss.append(night_outputs(d["x"], model, artefact=d["artefact"])[1].numpy().argmax(1))
        return f1_scores(np.concatenate(ys), np.concatenate(ss))

    t0 = time.time()
    print(f"start: validation accuracy / macro-F1 {validate()[:2]}", flush=True)
    set_trainable(model, True)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    rng = np.random.default_rng(0)
    best = (-1.0, None, 0)
    for step in range(1, args.steps + 1):
        model.train()
        for enc in encoder_modules(model):
            enc.eval()
        i = rng.integers(len(tr))
        d, y = tr[i]
        load_statistics(model, per_night[i] if rng.random() < args.p else trained)
        starts = rng.integers(0, len(y) - 20, 8)
        x = torch.from_numpy(np.stack([d["x"][s:s + 20] for s in starts]).astype(np.float32))
        yy = torch.from_numpy(np.stack([y[s:s + 20] for s in starts]).astype(np.int64))
        x = drop_channels(x, 0.3, torch.Generator().manual_seed(step))
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, 5), yy.reshape(-1), ignore_index=-1)
        if torch.isfinite(loss):
            loss.backward()
            opt.step()
        if step % 100 == 0:
            load_statistics(model, trained)
            acc, macro, f1 = validate()
            print(f"step {step}: validation accuracy {acc:.3f}, macro-F1 {macro:.3f}, N1 F1 {f1[1]:.3f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
            if macro > best[0]:
                best = (macro, copy.deepcopy(model.state_dict()), step)
    load_statistics(model, trained)
    model.load_state_dict(best[1])
    model.eval()
    model.config = model.config.with_(night_statistics=True)
    card.parent = card.version
    card.notes = (f"EXPERIMENT, not shipped: heads of {card.version} trained {args.steps} steps with each night's "
                  f"encoder statistics on {args.p:.0%} of steps; step {best[2]} kept by validation macro-F1")
    save_model(model, args.out, card)
    print(f"kept step {best[2]} (validation macro-F1 {best[0]:.3f}); wrote {args.out}", flush=True)


def soup(args) -> None:
    from sleepscope.model.checkpoint import load_model, save_model
    from sleepscope.model.weight_average import average_weights

    a, card = load_model(Path(args.a))
    b, _ = load_model(Path(args.b))
    a.load_state_dict(average_weights(b, a, 0.5))
    save_model(a, args.out, card)


def evaluate(args) -> None:
    import torch
    from bench_shift import TEST_NIGHTS, cached_recording

    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(1)
    models = [load_model(Path(p))[0] for p in args.models]
    cache = Path(args.cache) if args.cache else None
    print("SYNTHETIC nights; accuracy / macro-F1 (N1 F1) per model: " + " | ".join(args.models))
    for family, randomise in (("A", False), ("B", False), ("A", True), ("B", True)):
        items = [cached_recording(n, family, randomise, 0, cache) for n in TEST_NIGHTS[:args.nights]]
        cells = []
        for m in models:
            ys, ss = zip(*((y, predict(rec, m).stages) for rec, y in items))
            acc, macro, f1 = f1_scores(np.concatenate(ys), np.concatenate(ss))
            cells.append(f"{acc:.3f} / {macro:.3f} ({f1[1]:.2f})")
        print(f"{family}{' random lab' if randomise else '':<11} " + " | ".join(cells), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train")
    t.add_argument("p", type=float, help="share of steps on the night's own statistics")
    t.add_argument("out")
    t.add_argument("--steps", type=int, default=600)
    t.add_argument("--lr", type=float, default=3e-4)
    t.add_argument("--cache", default=None, help="pickle of the synthesised nights (default: in the temp folder)")
    s = sub.add_parser("soup")
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("out")
    e = sub.add_parser("evaluate")
    e.add_argument("models", nargs="+")
    e.add_argument("--nights", type=int, default=8)
    e.add_argument("--cache", default=None, help="bench_shift's night cache folder")
    args = ap.parse_args()
    {"train": train, "soup": soup, "evaluate": evaluate}[args.what](args)


if __name__ == "__main__":
    main()
