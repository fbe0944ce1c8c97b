"""The learning curve of a new lab: how many corrected epochs the model needs, with and without site
pre-training on the lab's unlabelled nights and with and without pseudo-labels (issue 12 items 2 and 4).

SYNTHETIC DATA ONLY. A "new lab" is a physiology family the shipped model never saw (family B by
default, optionally with randomised acquisition), written as EDF files and read back through the
product's own readers. Its nights are split into three disjoint sets:

- unlabelled nights: site pre-training (`sleepscope pretrain --recordings`, here the same
  functions in-process) and pseudo-labels (our model and YASA agreeing with high confidence);
- a correction pool: k corrected epochs are drawn from it as blocks of 20 consecutive epochs at
  random places (a technician correcting stretches of a night), or whole nights;
- test nights: accuracy, macro-F1 and Cohen's kappa of every model on every epoch of them.

For every k (0, 100, 300, 1000, one night, three nights), every seed (the draw of the k epochs and
fine-tuning's own randomness), with and without site pre-training, with and without pseudo-labels,
the parent is fine-tuned with `sleepscope.model.finetune.finetune` (the GUI's defaults: 10 passes and
at least 40 optimiser steps, lr 1e-4, a held-out fifth of the k epochs, half of which chooses the kept
pass when it holds 100 epochs or more) and scored on the test nights. k = 0 is
the parent itself (a site pre-trained encoder cannot score without labels). Site pre-training runs
once per lab (seed 0): the spread reported is over fine-tuning seeds and draws.

Targets (issue 12): one corrected night -> accuracy >= 0.92 on the other nights; 300 epochs with
site pre-training -> >= 0.85; site pre-training better than none at 100 and 300 epochs by more
than the seed spread; site pre-training on 10 nights <= 5 min and fine-tuning on one night
<= 1 min on the 2-core CPU.

`--reference A,C` also scores the parent on the same test nights written by other families (the same
hypnograms and acquisition): what the parent reaches on these nights where it is in distribution, the
level against which the one-night figure is read.

Measured figures, with the commands that made them: reports/site-learning-curve-synthetic/README.md.

    .venv/bin/python benchmarks/bench_site.py --size full            # 10 + 3 + 4 nights, 3 seeds
    .venv/bin/python benchmarks/bench_site.py --size reduced         # 4 + 3 + 2 nights, 2 seeds
    .venv/bin/python benchmarks/bench_site.py --size toy --model M   # seconds: what the test runs
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BLOCK = 20  # a correction stretch, epochs
NIGHT, NIGHTS3 = -1, -3  # k codes: one whole night, three whole nights
#: k codes below this: one whole night plus the first (PLUS - k) corrected epochs of another subject's night
PLUS = -10_000
#: k codes below this: the first (FIRST - k) corrected epochs of one night (a partial night of one recording)
FIRST = -100_000
BN = "bn-only"  # the control start: the parent with its encoders' batch-norm statistics of the lab's nights
SITE_ORDER = {False: 0, True: 1, BN: 2}


@dataclass
class Size:
    unlabelled: int
    pool: int
    test: int
    seeds: int
    ks: tuple[int, ...]
    pretrain_epochs: int  # passes of site pre-training
    night_epochs: int | None = None  # None: the real hypnogram's length; else short nights (toy)
    finetune_epochs: int = 10
    finetune_steps: int | None = None  # cap on optimiser steps per fine-tuning (toy)


SIZES = {
    "full": Size(10, 3, 4, 3, (0, 100, 300, 1000, NIGHT, NIGHTS3), 3),
    "reduced": Size(4, 3, 2, 2, (0, 100, 300, 1000, NIGHT, NIGHTS3), 2),
    "toy": Size(1, 1, 1, 1, (0, 100, NIGHT), 1, night_epochs=120, finetune_epochs=1, finetune_steps=2),
}


def k_label(k: int) -> str:
    if k <= FIRST:
        return f"first {FIRST - k} of 1 night"
    if k <= PLUS:
        return f"1 night + {PLUS - k} of another subject"
    return {NIGHT: "1 night", NIGHTS3: "3 nights"}.get(k, str(k))


@dataclass
class Night:
    name: str
    path: Path
    x: np.ndarray  # model input (n, 2, 3000)
    y: np.ndarray  # true stages, -1 unscored
    fingerprint: str = ""


@dataclass
class Lab:
    unlabelled: list[Path]
    pool: list[Night]
    test: list[Night]
    truth: dict[str, np.ndarray] = field(default_factory=dict)  # fingerprint -> stages, unlabelled nights


def night_names(n: int) -> list[str]:
    """Sleep-EDF night names of subjects 42 and above: hypnograms no shipped model was trained with."""
    from sleepscope.data.synthetic import hypnogram_names

    names = [x for x in hypnogram_names() if x.startswith("SC4") and int(x[3:5]) >= 42]
    if n > len(names):
        raise SystemExit(f"at most {len(names)} nights")
    return names[:n]


def toy_labels(n: int, seed: int) -> np.ndarray:
    """A short night's stages in runs (toy size): every stage present."""
    rng = np.random.default_rng(seed)
    out: list[int] = []
    while len(out) < n:
        out += [int(rng.choice([0, 1, 2, 2, 3, 4]))] * int(rng.integers(4, 12))
    return np.asarray(out[:n], np.int8)


def write_lab(folder: Path, size: Size, family: str, randomise: bool, seed: int,
              first: int = 0) -> list[tuple[Path, Path]]:
    """(recording, hypnogram) files of the lab's nights from the `first`-th on (unlabelled, pool, test)."""
    from sleepscope.data.synthetic import write_night

    names = night_names(size.unlabelled + size.pool + size.test)
    return [write_night(folder, name, seed=seed, family=family, randomise=randomise,
                        labels=toy_labels(size.night_epochs, i) if size.night_epochs else None)
            for i, name in enumerate(names) if i >= first]


def read_night(psg: Path, hyp: Path, normalisation: str) -> Night:
    from sleepscope.io import open_recording
    from sleepscope.io.hypnogram import read_hypnogram
    from sleepscope.io.recording import file_fingerprint
    from sleepscope.model.inputs import model_input

    rec = open_recording(psg)
    y = read_hypnogram(hyp, n_epochs=rec.n_epochs).astype(np.int64)
    y[(y < 0) | (y > 4)] = -1
    return Night(psg.stem, psg, model_input(rec, normalisation), y, file_fingerprint(psg))


def reference_scores(folder: Path, size: Size, families: list[str], randomise: bool, seed: int, parent) -> dict:
    """{family: the parent's scores on the lab's test nights written by that family instead}: the same
    hypnograms and acquisition, so what the parent reaches on these nights where it is in distribution."""
    out = {}
    for family in families:
        files = write_lab(folder / family, size, family, randomise, seed, first=size.unlabelled + size.pool)
        out[family] = score(parent, [read_night(p, h, parent.config.normalisation) for p, h in files])
    return out


def make_lab(folder: Path, size: Size, family: str, randomise: bool, seed: int, normalisation: str) -> Lab:
    from sleepscope.io import open_recording
    from sleepscope.io.hypnogram import read_hypnogram
    from sleepscope.io.recording import file_fingerprint

    written = write_lab(folder, size, family, randomise, seed)
    u = size.unlabelled
    lab = Lab([p for p, _ in written[:u]], [read_night(*w, normalisation) for w in written[u : u + size.pool]],
              [read_night(*w, normalisation) for w in written[u + size.pool :]])
    for psg, hyp in written[:u]:
        rec = open_recording(psg)
        lab.truth[file_fingerprint(psg)] = read_hypnogram(hyp, n_epochs=rec.n_epochs).astype(np.int64)
    return lab


def corrections(pool: list[Night], k: int, seed: int):
    """k corrected epochs of the pool (blocks of BLOCK at random places), or whole nights, as a CorrectionSet."""
    from sleepscope.scoring.corrections import CorrectionSet

    rng = np.random.default_rng(1000 + seed)
    picks: list[tuple[Night, np.ndarray]] = []
    if k in (NIGHT, NIGHTS3):
        for n in pool[: 1 if k == NIGHT else 3]:
            picks.append((n, np.flatnonzero(n.y >= 0)))
    elif k <= FIRST:
        picks = [(pool[0], np.flatnonzero(pool[0].y >= 0)[: FIRST - k])]
    elif k <= PLUS:
        from sleepscope.io.archive import subject_of

        other = next(n for n in pool[1:] if subject_of(n.path.name) != subject_of(pool[0].path.name))
        picks = [(pool[0], np.flatnonzero(pool[0].y >= 0)), (other, np.flatnonzero(other.y >= 0)[: PLUS - k])]
    else:
        blocks = [(i, s) for i, n in enumerate(pool) for s in range(0, len(n.y) - BLOCK + 1, BLOCK)
                  if np.all(pool[i].y[s : s + BLOCK] >= 0)]
        chosen = rng.choice(len(blocks), size=min(len(blocks), max(1, k // BLOCK)), replace=False)
        by_night: dict[int, list[int]] = {}
        for c in chosen:
            i, s = blocks[c]
            by_night.setdefault(i, []).extend(range(s, s + BLOCK))
        for i, ep in sorted(by_night.items()):
            picks.append((pool[i], np.array(sorted(ep))))
    return CorrectionSet(
        x=np.concatenate([n.x[e] for n, e in picks]), y=np.concatenate([n.y[e] for n, e in picks]),
        fingerprint=np.concatenate([np.full(e.size, n.fingerprint) for n, e in picks]).astype(str),
        epoch=np.concatenate([e for _, e in picks]).astype(np.int64),
        source=np.full(sum(e.size for _, e in picks), "technician").astype(str),
        recording_files={n.fingerprint: n.path.name for n, _ in picks})


def score(model, test: list[Night]) -> dict:
    import torch

    from sleepscope.model.infer import predict
    from sleepscope.scoring.agreement import agreement

    ys, ps, per_night = [], [], {}
    for n in test:
        pred = predict(n.x, model, threads=torch.get_num_threads())
        keep = n.y >= 0
        ys.append(n.y[keep])
        ps.append(pred.stages[keep].astype(np.int64))
        one = agreement(ys[-1], ps[-1])
        per_night[n.name] = {"accuracy": one.accuracy, "macro_f1": one.macro_f1}
    a = agreement(np.concatenate(ys), np.concatenate(ps))
    # Each stage's F1 too: fine-tuning can lift accuracy while one stage (N1) falls.
    return {"accuracy": a.accuracy, "macro_f1": a.macro_f1, "kappa": a.kappa, "stage_f1": dict(a.f1),
            "per_night": per_night}


def subsample(cs, n: int):
    """n epochs of a CorrectionSet in stretches (whole contiguous runs, then cut), to bound fine-tuning time."""
    from sleepscope.model.correction_data import contiguous_runs

    rng = np.random.default_rng(0)
    runs = contiguous_runs(cs)
    keep: list[np.ndarray] = []
    for i in rng.permutation(len(runs)):
        keep.append(runs[i][: n - sum(r.size for r in keep)])
        if sum(r.size for r in keep) >= n:
            break
    return cs.rows(np.sort(np.concatenate(keep)))


def spread(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def share_line(choice: dict) -> str:
    """What FineTuneOptions.choose_share kept, and on which evidence (the card's metrics.finetune.share_choice)."""
    return (f"; kept the {choice['kept']} ({choice.get('method', 'selection-part')} gap {choice['gap']:+.3f}"
            f" ± {choice['standard_error']:.3f})")


def chain_line(verdict: dict) -> str:
    """What fine-tuning decided about the parent's stage-transition chain (metrics.finetune.chain_verdict)."""
    return (f"; chain {'kept' if verdict['kept'] else 'declined'} by the {verdict.get('by', 'parent')} "
            f"(gap without {verdict['gap_without']:+.3f} ± {verdict['standard_error']:.3f})")


def parse_ks(text: str) -> tuple[int, ...]:
    def one(k: str) -> int:
        k = k.strip()
        if k.startswith("night+"):  # a whole night and the first N corrected epochs of another subject's night
            return PLUS - int(k.removeprefix("night+"))
        if k.startswith("night:"):  # the first N corrected epochs of one night
            return FIRST - int(k.removeprefix("night:"))
        return {"night": NIGHT, "3nights": NIGHTS3}.get(k, None) or int(k)

    return tuple(one(k) for k in text.split(","))


def run(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.finetune import FineTuneOptions, finetune
    from sleepscope.model.pretrain import PretrainConfig
    from sleepscope.model.pseudo_labels import accuracy_of, pseudo_label_set
    from sleepscope.model.site_pretrain import read_unlabelled, site_card, site_pretrain

    size = SIZES[args.size]
    if args.seeds:
        size.seeds = args.seeds
    if args.ks:
        size.ks = parse_ks(args.ks)
    model_path = args.model or default_model_path()
    parent, parent_card = load_model(model_path)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if not args.quiet else (lambda *a: None)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    lab = make_lab(work / "lab", size, args.family, args.randomise, args.lab_seed, parent.config.normalisation)
    log(f"# lab written and read: {len(lab.unlabelled)} unlabelled, {len(lab.pool)} pool, {len(lab.test)} test "
        f"nights in {time.perf_counter() - t0:.0f} s")
    out: dict = {"synthetic": True, "size": args.size, "family": args.family, "randomise": args.randomise,
                 "freeze_encoders": args.freeze_encoders, "site_weight": args.site_weight,
                 "feature_anchor": args.feature_anchor,
                 "child_weight": args.child_weight, "child_anchor": args.child_anchor,
                 "keep_parent": args.keep_parent, "choose_share": args.choose_share, "lr": args.lr,
                 "min_steps": args.min_steps, "passes": args.passes,
                 "lab_seed": args.lab_seed, "parent": parent_card.version, "parent_data": parent_card.data[:120],
                 "nights": {"unlabelled": len(lab.unlabelled), "pool": len(lab.pool), "test": len(lab.test),
                            "test_epochs": int(sum((n.y >= 0).sum() for n in lab.test))},
                 "seeds": size.seeds, "runs": []}

    starts = {False: (parent, parent_card)}
    out["site_pretrain"] = None
    if args.site:
        # Site pre-training, once per lab (the product path: EDF files read as the GUI does).
        t = time.perf_counter()
        nights = read_unlabelled(lab.unlabelled, parent.config.normalisation)
        read_s = time.perf_counter() - t
        site, _ = load_model(model_path)
        t = time.perf_counter()
        cfg = PretrainConfig(method="clip", epochs=size.pretrain_epochs, batch_size=32, lr=args.pretrain_lr, seed=0,
                             checkpoint_every=10**9, feature_anchor=args.feature_anchor)
        result, site_metrics, site_data = site_pretrain(site, nights, cfg, parent_version=parent_card.version)
        if args.site_weight < 1.0:
            from sleepscope.model.weight_average import average_weights

            site.load_state_dict(average_weights(parent, site, args.site_weight))
        site.encoder_only = True
        # Fine-tuned as the product does: from the site card (encoders free), averaged with and compared
        # with the shipped parent (finetune's anchor).
        starts[True] = (site, site_card(parent_card, site_metrics, site_data))
        if args.bn_control:
            # Control: the same pass over the unlabelled epochs with a zero learning rate changes only the encoders'
            # batch-norm statistics; what site pre-training gains beyond it is the contrastive learning's.
            bn, _ = load_model(model_path)
            bn_cfg = PretrainConfig(method="clip", epochs=size.pretrain_epochs, batch_size=32, lr=0.0, seed=0,
                                    checkpoint_every=10**9)
            _, bn_metrics, bn_data = site_pretrain(bn, nights, bn_cfg, parent_version=parent_card.version)
            bn.encoder_only = True
            starts[BN] = (bn, site_card(parent_card, bn_metrics, bn_data))
        out["site_pretrain"] = {"epochs": len(nights), "passes": result.epochs, "steps": result.steps,
                                "read_s": round(read_s, 1), "train_s": round(time.perf_counter() - t, 1),
                                "loss_start": result.summary()["pretrain_loss_start"],
                                "loss_end": result.summary()["pretrain_loss_end"],
                                "feature_drift": site_drift(parent, site, nights.x)}
        log(f"# site pre-training: {out['site_pretrain']}")

    pseudo = None
    if args.pseudo:
        from sleepscope.scorers import StagerScorer, YasaScorer

        t = time.perf_counter()
        pseudo = pseudo_label_set(StagerScorer(parent, parent_card), YasaScorer(), lab.unlabelled,
                                  threshold=args.pseudo_threshold, normalisation=parent.config.normalisation)
        agreed, agreed_right = len(pseudo), accuracy_of(pseudo, lab.truth)
        if args.pseudo_max and len(pseudo) > args.pseudo_max:
            pseudo = subsample(pseudo, args.pseudo_max)
        out["pseudo"] = {"agreed": agreed, "agreed_accuracy": agreed_right,
                         "epochs": len(pseudo), "of": int(sum(len(v) for v in lab.truth.values())),
                         "accuracy": accuracy_of(pseudo, lab.truth),
                         "threshold": args.pseudo_threshold, "weight": args.pseudo_weight,
                         "balance": args.pseudo_balance,
                         "seconds": round(time.perf_counter() - t, 1), "per_stage": pseudo.counts_per_stage()}
        log(f"# pseudo-labels: {out['pseudo']}")

    pseudo_ks = parse_ks(args.pseudo_ks) if args.pseudo_ks else ()
    base = score(parent, lab.test)
    log(f"# the parent: acc {base['accuracy']:.3f}, stage F1 "
        + ", ".join(f"{n} {f:.3f}" for n, f in base["stage_f1"].items()))
    if args.reference:
        out["reference"] = reference_scores(work / "reference", size, args.reference.split(","), args.randomise,
                                            args.lab_seed, parent)
        log(f"# the parent on the test nights written by {args.reference}: {out['reference']}")
    for s in range(size.seeds):
        out["runs"].append({"k": 0, "site": False, "pseudo": False, "seed": s, **base, "seconds": 0.0})
    if BN in starts:  # the statistics alone, without labels (a site pre-trained encoder cannot score)
        bn_base = score(starts[BN][0], lab.test)
        for s in range(size.seeds):
            out["runs"].append({"k": 0, "site": BN, "pseudo": False, "seed": s, **bn_base, "seconds": 0.0})
    pool_probs = None
    if args.self_pseudo is not None:
        from sleepscope.model.infer import predict

        pool_probs = {n.fingerprint: predict(n.x, parent).probs for n in lab.pool}
    for k in [k for k in size.ks if k != 0]:
        for s in range(size.seeds):
            cs = corrections(lab.pool, k, s)
            if pool_probs is not None:
                from sleepscope.model.parent_reading import for_scarce_stages, in_stretches

                pseudo = uncorrected_confident(lab.pool, pool_probs, cs, args.self_pseudo)
                if args.scarce:  # the product's: only the stages the corrections hold fewer than --scarce epochs of
                    pseudo = for_scarce_stages(pseudo, cs, args.scarce, args.pseudo_max or 10**9, seed=s)
                elif args.pseudo_max and len(pseudo) > args.pseudo_max:
                    pseudo = in_stretches(pseudo, args.pseudo_max, seed=s)
                log(f"# k={k_label(k)} seed={s}: {len(pseudo)} confident uncorrected epochs of the corrected recordings")
            for use_site, (start, start_card) in starts.items():
                with_pseudo = (pseudo is not None and len(pseudo) and (args.pseudo_ks is None or k in pseudo_ks)
                               and use_site != BN)
                for use_pseudo in ((False, True) if with_pseudo else (False,)):
                    opts = FineTuneOptions(epochs=args.passes or size.finetune_epochs, seed=s,
                                           pseudo_weight=args.pseudo_weight,
                                           max_steps=size.finetune_steps, pseudo_balance=args.pseudo_balance,
                                           freeze_encoders=args.freeze_encoders,
                                           **({} if args.lr is None else {"lr": args.lr}),
                                           **({} if args.distill is None else {"distill": args.distill}),
                                           **({} if args.distill_agreed is None else
                                              {"distill_agreed": args.distill_agreed}),
                                           **({} if args.opinion is None else {"opinion": args.opinion}),
                                           **({} if args.reading is None else {"reading": args.reading}),
                                           **({} if args.min_steps is None else {"min_steps": args.min_steps}),
                                           **({} if args.keep_parent is None else {"keep_parent": args.keep_parent}),
                                           **({} if args.choose_share is None else {"choose_share": args.choose_share}))
                    t = time.perf_counter()
                    r = finetune(start, start_card, cs, None, opts, pseudo=pseudo if use_pseudo else None,
                                 anchor=None if start is parent else (parent, parent_card))
                    row = {"k": k, "n": len(cs), "site": use_site, "pseudo": use_pseudo, "seed": s,
                           **score(r.model, lab.test), "seconds": round(time.perf_counter() - t, 1),
                           "passes": r.card.metrics["finetune"]["epochs"],
                           "share_choice": r.card.metrics["finetune"].get("share_choice"),
                           "chain_verdict": r.card.metrics["finetune"].get("chain_verdict"),
                           "chain_verdicts": r.card.metrics["finetune"].get("chain_verdicts"),
                           "reading": r.card.metrics["finetune"].get("reading")}
                    other = r.card.metrics.get("other_recording")
                    if other:
                        # What the product's check on a left-out corrected night said, beside the test nights of
                        # subjects the corrections do not include (the question the check answers).
                        from sleepscope.io.archive import subject_of

                        seen = {subject_of(name) for name in cs.recording_files.values()}
                        unseen = [n for n in row["per_night"] if subject_of(n) not in seen]
                        row["other_recording"] = {
                            "recording": other["recording"], "by": other.get("by"), "n_epochs": other["n_epochs"],
                            "child_macro_f1": other["child"]["macro_f1"],
                            "parent_macro_f1": other["parent"]["macro_f1"], "verdict": other["verdict"],
                            "reading_choice": other.get("reading_choice"),
                            "difference": other["macro_f1_difference"], "unseen_test_nights": unseen,
                            "unseen_child_macro_f1": float(np.mean([row["per_night"][n]["macro_f1"] for n in unseen]))
                            if unseen else None,
                            "unseen_parent_macro_f1": float(np.mean([base["per_night"][n]["macro_f1"]
                                                                     for n in unseen])) if unseen else None}
                    if args.child_weight < 1.0:
                        anchor = parent if args.child_anchor == "parent" else start
                        row["averaged"] = score(averaged_child(anchor, r.model, args.child_weight), lab.test)
                    out["runs"].append(row)
                    log(f"k={k_label(k)} site={use_site} pseudo={use_pseudo} seed={s}: acc {row['accuracy']:.3f} "
                        f"F1 {row['macro_f1']:.3f} kappa {row['kappa']:.3f} N1 F1 {row['stage_f1']['N1']:.3f} "
                        f"({row['seconds']} s)"
                        + (f"; averaged with its {args.child_anchor}: acc {row['averaged']['accuracy']:.3f} "
                           f"F1 {row['averaged']['macro_f1']:.3f}" if "averaged" in row else "")
                        + (share_line(row["share_choice"]) if row.get("share_choice") else "")
                        + (chain_line(row["chain_verdict"]) if row.get("chain_verdict") else "")
                        + (f"; reads nights with {row['reading']} statistics" if row.get("reading") == "night" else ""))
                    if args.results:
                        Path(args.results).write_text(json.dumps(out, indent=1))
    out["summary"] = summarise(out)
    out["total_s"] = round(time.perf_counter() - t0, 1)
    return out


def uncorrected_confident(pool: list[Night], probs: dict, cs, threshold: float):
    """The parent's stages on the epochs of the corrected recordings that were not corrected (nor unscored) and that
    it reads at `threshold` or above (`sleepscope.model.parent_reading.of_night`)."""
    from sleepscope.model.parent_reading import of_night
    from sleepscope.model.pseudo_labels import merge

    return merge([of_night(n.x, probs[n.fingerprint], cs.epoch[cs.fingerprint == n.fingerprint], n.fingerprint,
                           n.path.name, threshold, exclude=n.y < 0)
                  for n in pool if np.any(cs.fingerprint == n.fingerprint)])


def site_drift(parent, site, x: np.ndarray, n: int = 256) -> float:
    """How far site pre-training moved the encoders' features (``pretrain.feature_drift``, both branches'
    mean) on `n` of the lab's unlabelled epochs `x`; labels unused."""
    import torch

    from sleepscope.model.pretrain import feature_drift, frozen_copy

    pick = np.random.default_rng(0).choice(len(x), size=min(n, len(x)), replace=False)
    xb = torch.from_numpy(np.asarray(x[np.sort(pick)], dtype=np.float32))
    with torch.no_grad():
        drift = [float(feature_drift(frozen_copy(getattr(site, b).encoder)(xb[:, c : c + 1]),
                                     frozen_copy(getattr(parent, b).encoder)(xb[:, c : c + 1])))
                 for c, b in ((0, "eeg_branch"), (1, "eog_branch"))]
    return round(float(np.mean(drift)), 4)


def averaged_child(start, child, weight: float):
    """A copy of `child` whose weights are `weight` of its own and the rest of `start`'s (WiSE-FT)."""
    import copy

    from sleepscope.model.weight_average import average_weights

    out = copy.deepcopy(child)
    out.load_state_dict(average_weights(start, child, weight))
    return out


def summarise(out: dict) -> list[dict]:
    rows = []
    keys = sorted({(r["k"], r["site"], r["pseudo"]) for r in out["runs"]},
                  key=lambda t: (t[0] if t[0] >= 0 else 10**6 - t[0], SITE_ORDER[t[1]], t[2]))
    for k, site, pseudo in keys:
        rs = [r for r in out["runs"] if (r["k"], r["site"], r["pseudo"]) == (k, site, pseudo)]
        row = {"k": k, "site": site, "pseudo": pseudo, "runs": len(rs),
               "n": rs[0].get("n", 0), "seconds": float(np.median([r["seconds"] for r in rs]))}
        for m in ("accuracy", "macro_f1", "kappa"):
            row[m], row[m + "_sd"] = spread([r[m] for r in rs])
            if all("averaged" in r for r in rs):
                row["averaged_" + m], row["averaged_" + m + "_sd"] = spread([r["averaged"][m] for r in rs])
        rows.append(row)
    return rows


def verdicts(out: dict) -> list[str]:
    """The issue's targets, each said as met or not, with its figures."""
    by = {(r["k"], r["site"], r["pseudo"]): r for r in out["summary"]}
    lines = []

    def get(k, site, pseudo=False):
        return by.get((k, site, pseudo))

    r = get(NIGHT, False)
    if r:
        lines.append(f"one corrected night -> accuracy {r['accuracy']:.3f} ± {r['accuracy_sd']:.3f} (target >= 0.92): "
                     f"{'met' if r['accuracy'] >= 0.92 else 'NOT met'}")
    for family, ref in out.get("reference", {}).items():
        lines.append(f"the parent on the same test nights written by family {family} (in distribution where it "
                     f"trained on {family}): accuracy {ref['accuracy']:.3f}, macro-F1 {ref['macro_f1']:.3f}")
    r = get(300, True)
    if r:
        lines.append(f"300 epochs with site pre-training -> {r['accuracy']:.3f} ± {r['accuracy_sd']:.3f} "
                     f"(target >= 0.85): {'met' if r['accuracy'] >= 0.85 else 'NOT met'}")
    for against, name, verdict in ((BN, "its batch-norm-statistics-only control", False), (False, "none", True)):
        for k in (100, 300):
            a, b = get(k, True), get(k, against)
            if a and b:
                gap, sd = a["accuracy"] - b["accuracy"], max(a["accuracy_sd"], b["accuracy_sd"])
                said = ("better by more than the spread" if gap > sd else "NOT better by more than the spread")
                lines.append(f"site pre-training vs {name} at {k}: {a['accuracy']:.3f} vs {b['accuracy']:.3f} "
                             f"(gap {gap:+.3f}, seed spread {sd:.3f})" + (f": {said}" if verdict else ""))
    sp = out["site_pretrain"]
    if sp:
        lines.append(f"site pre-training: {sp['epochs']} epochs of {out['nights']['unlabelled']} nights, "
                     f"{sp['passes']} passes in {sp['train_s']:.0f} s (+ {sp['read_s']:.0f} s reading); loss "
                     f"{sp['loss_start']:.3f} -> {sp['loss_end']:.3f}")
    checked = [r["other_recording"] for r in out["runs"]
               if r.get("other_recording", {}).get("unseen_child_macro_f1") is not None]
    if checked:
        # The check (a child without one subject's or recording's corrections, against the parent, there) is
        # right when the kept child is worse than the parent on the test nights of subjects the corrections do
        # not include exactly when the check said so.
        said = [o["verdict"] == "worse" for o in checked]
        lower = [o["child_macro_f1"] < o["parent_macro_f1"] for o in checked]
        truth = [o["unseen_child_macro_f1"] < o["unseen_parent_macro_f1"] for o in checked]
        lines.append(f"check on corrections left out (runs with corrections of several recordings): said worse in "
                     f"{sum(said)} of {len(checked)} runs (lower at all in {sum(lower)}); on test nights of subjects "
                     f"not corrected the kept child is worse in {sum(truth)}; the verdict agreed in "
                     f"{sum(a == b for a, b in zip(said, truth))}, the bare comparison in "
                     f"{sum(a == b for a, b in zip(lower, truth))}")
    r = get(NIGHT, False)
    if r:
        lines.append(f"fine-tuning on one night: median {r['seconds']:.0f} s (target <= 60 s)")
    if "pseudo" in out:
        p = out["pseudo"]
        lines.append(f"pseudo-labels: {p['agreed']} of {p['of']} unlabelled epochs agreed (threshold "
                     f"{p['threshold']}), {p['agreed_accuracy']:.3f} of them right; {p['epochs']} used "
                     f"({p['accuracy']:.3f} right), weight {p['weight']}"
                     + (", stage-balanced and weighted by stage" if p.get("balance") else ""))
        helps = []
        for (k, site, pseudo), r in by.items():
            if pseudo and (k, site, False) in by:
                helps.append(r["accuracy"] - by[(k, site, False)]["accuracy"])
        if helps:
            lines.append(f"pseudo-labels change accuracy by {np.mean(helps):+.3f} on average over {len(helps)} "
                         f"settings (min {min(helps):+.3f}, max {max(helps):+.3f})")
    return lines


def table(out: dict) -> str:
    head = "| k corrected | site pre-training | pseudo-labels | runs | accuracy | macro-F1 | kappa | fine-tune s |"
    lines = [head, "|" + "---|" * 8]
    for r in out["summary"]:
        site = {False: "no", True: "yes", BN: "control: batch-norm statistics only"}[r["site"]]
        lines.append(f"| {k_label(r['k'])} ({r['n']}) | {site} | "
                     f"{'yes' if r['pseudo'] else 'no'} | {r['runs']} | {r['accuracy']:.3f} ± {r['accuracy_sd']:.3f} | "
                     f"{r['macro_f1']:.3f} ± {r['macro_f1_sd']:.3f} | {r['kappa']:.3f} ± {r['kappa_sd']:.3f} | "
                     f"{r['seconds']:.0f} |")
        if "averaged_accuracy" in r:
            lines.append(f"| {k_label(r['k'])} ({r['n']}), child averaged with its {out['child_anchor']} "
                         f"({out['child_weight']:g} child) "
                         f"| {site} | {'yes' if r['pseudo'] else 'no'} | {r['runs']} | "
                         f"{r['averaged_accuracy']:.3f} ± {r['averaged_accuracy_sd']:.3f} | "
                         f"{r['averaged_macro_f1']:.3f} ± {r['averaged_macro_f1_sd']:.3f} | "
                         f"{r['averaged_kappa']:.3f} ± {r['averaged_kappa_sd']:.3f} | - |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="reduced")
    ap.add_argument("--model", type=Path, default=None, help="the parent (default: the shipped model)")
    ap.add_argument("--family", default="B", help="the new lab's physiology family (default B)")
    ap.add_argument("--randomise", action="store_true", help="randomised acquisition as well")
    ap.add_argument("--lab-seed", type=int, default=7)
    ap.add_argument("--seeds", type=int, default=None, help="fine-tuning seeds (default: the size's)")
    ap.add_argument("--ks", default=None, help="comma-separated k: numbers, 'night', '3nights', 'night+N' (a whole "
                                               "night and the first N scored epochs of another subject's night), "
                                               "'night:N' (the first N scored epochs of one night)")
    ap.add_argument("--pretrain-lr", type=float, default=1e-4)
    ap.add_argument("--scarce", type=int, default=None, metavar="N",
                    help="with --self-pseudo: only for the stages the corrections hold fewer than N epochs of "
                    "(--pseudo-max of each)")
    ap.add_argument("--self-pseudo", type=float, default=None, metavar="P",
                    help="also fine-tune on the parent's stages of the corrected recordings' uncorrected epochs that "
                    "it scores at P or above, as pseudo-labels (experiment)")
    ap.add_argument("--feature-anchor", type=float, default=0.0,
                    help="site pre-training's feature anchor (PretrainConfig.feature_anchor; default 0, none)")
    ap.add_argument("--site-weight", type=float, default=1.0,
                    help="keep this share of what site pre-training changed (weights averaged with the parent's; "
                         "default 1: all of it)")
    ap.add_argument("--choose-share", action=argparse.BooleanOptionalAction, default=None,
                    help="FineTuneOptions.choose_share: with corrections of two recordings or more, keep the child "
                         "as trained when the check child reads the recording it left out better than its average "
                         "(default: the product's)")
    ap.add_argument("--keep-parent", type=float, default=None,
                    help="FineTuneOptions.keep_parent (default: the product's)")
    ap.add_argument("--child-weight", type=float, default=1.0,
                    help="also score each fine-tuned child averaged with its start, this share of the child's "
                         "weights (default 1: not)")
    ap.add_argument("--child-anchor", choices=("start", "parent"), default="start",
                    help="--child-weight averages with the fine-tuning's start (default) or with the parent "
                         "(for a site pre-trained start: the model it was pre-trained from)")
    ap.add_argument("--site", action=argparse.BooleanOptionalAction, default=True,
                    help="also fine-tune from a site pre-trained start (default); --no-site: from the parent only")
    ap.add_argument("--no-pseudo", dest="pseudo", action="store_false", help="skip pseudo-labels (no YASA)")
    ap.add_argument("--pseudo-threshold", type=float, default=0.8)
    ap.add_argument("--pseudo-weight", type=float, default=0.5)
    ap.add_argument("--pseudo-ks", default=None, help="only these k also with pseudo-labels (default: every k)")
    ap.add_argument("--pseudo-max", type=int, default=None, help="use at most this many pseudo-labelled epochs")
    ap.add_argument("--pseudo-balance", action="store_true",
                    help="stage-balanced, inverse-frequency-weighted pseudo-labels (FineTuneOptions.pseudo_balance)")
    ap.add_argument("--freeze-encoders", action=argparse.BooleanOptionalAction, default=None,
                    help="fine-tune with the encoders fixed or free (default: as the parent's card says, "
                         "as the workstation does; FineTuneOptions.freeze_encoders)")
    ap.add_argument("--lr", type=float, default=None, help="FineTuneOptions.lr (default: the product's)")
    ap.add_argument("--distill", type=float, default=None,
                    help="FineTuneOptions.distill: the parent's stage probabilities in the loss (default: the "
                    "product's)")
    ap.add_argument("--reading", choices=("trained", "night", "choose"), default=None,
                    help="FineTuneOptions.reading: the kept child reads nights with its trained statistics, also "
                    "with each night's own as the parent does, or chooses by the check child (default: the "
                    "product's; --night-statistics / --no-night-statistics of commit 27968d3 are night / trained)")
    ap.add_argument("--opinion", choices=("keep", "drop", "choose"), default=None,
                    help="FineTuneOptions.opinion: the child keeps, drops or chooses (by its selection part) the "
                    "parent's EEG-alone opinion (default: the product's)")
    ap.add_argument("--distill-agreed", action=argparse.BooleanOptionalAction, default=None,
                    help="FineTuneOptions.distill_agreed: only where the parent's stage agrees with the correction "
                    "(default: the product's)")
    ap.add_argument("--passes", type=int, default=None,
                    help="FineTuneOptions.epochs, most passes over the corrections (default: the size's)")
    ap.add_argument("--min-steps", type=int, default=None,
                    help="FineTuneOptions.min_steps (default: the product's)")
    ap.add_argument("--bn-control", action="store_true",
                    help="also start from the parent with only its batch-norm statistics updated on the unlabelled "
                    "nights (a zero-learning-rate pass): what site pre-training adds beyond that")
    ap.add_argument("--reference", default=None, metavar="FAMILIES",
                    help="also score the parent on the lab's test nights written by these families (comma-separated;"
                         " e.g. its training families A,C): how far these nights can be scored in distribution")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1, so that two labs can run side by side; the product's fine-tuning "
                         "process takes one fewer than the physical cores)")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--results", default=None, help="write the results as JSON here (updated after every run)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.pseudo:
        from sleepscope.scorers import yasa_available

        if not yasa_available():
            print("# YASA is not installed: no pseudo-labels", file=sys.stderr)
            args.pseudo = False
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        args.work = args.work or tmp
        out = run(args)
    if args.results:
        Path(args.results).write_text(json.dumps(out, indent=1))
    print(f"# SYNTHETIC data (family {args.family}{', randomised acquisition' if args.randomise else ''}), size "
          f"{args.size}: {out['nights']}; parent {out['parent']}; {out['seeds']} seeds; {out['total_s']:.0f} s in all")
    print(table(out))
    for line in verdicts(out):
        print("- " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
