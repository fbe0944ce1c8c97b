"""Does YASA's second opinion help? Our model, YASA, their combination, and the review queue.

On synthetic nights of a physiology family the shipped model never saw
(`sleepscope synth --family B`; nothing here is real-data evidence):

1. Every night is pre-scored by the shipped model and by YASA's SleepStaging
   (EEG + EOG), wake trimmed to 30 min around sleep as the paper scores.
2. The combination's weight (probability average w·ours + (1−w)·YASA) is
   chosen on the validation nights only (Sleep-EDF-20's validation subjects
   10, 17, 5, 13 of the paper split), then reported on the other nights
   (the test subjects 0, 15, 9, 6).
3. The review queue at a fixed share of epochs: the most doubtful epochs of
   a suggestion alone (1 − top probability), or with the second opinion
   (`sleepscope.scorers.doubt`: where YASA picks another stage, 1 − the gap
   between our top probability and ours for YASA's stage), or with every
   disagreement put first. "Errors caught" is the share of the suggestion's
   wrong epochs that the queue puts before the technician; "left", the share
   of epochs still wrong once the queue is reviewed (what compares
   suggestions of different accuracy). ``--weight`` fixes the combination's
   weight instead (a default has to be fixed before a lab's nights are seen).

A combination is worth making the default only if it beats each scorer alone.

    .venv/bin/python -m sleepscope synth --family B --out /tmp/famB \
        --nights SC4001E0,SC4151E0,SC4091E0,SC4061E0,SC4101E0,SC4171E0,SC4051E0,SC4131E0
    .venv/bin/python benchmarks/bench_second_opinion.py /tmp/famB [--share 0.2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

VALIDATION_SUBJECTS = {10, 17, 5, 13}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="a folder of synthetic nights (sleepscope synth)")
    ap.add_argument("--model", type=Path, default=None, help="our model (default: the shipped one)")
    ap.add_argument("--share", type=float, default=0.2, help="share of epochs in the review queue (default 0.2)")
    ap.add_argument("--save", type=Path, default=None, help="also write every night's labels and probabilities (npz)")
    ap.add_argument("--weight", type=float, default=None,
                    help="our weight in the combination, fixed (default: chosen on the validation nights)")
    args = ap.parse_args(argv)

    from sleepscope.data.cohorts import scan_sleep_cassette
    from sleepscope.io import open_recording
    from sleepscope.io.hypnogram import read_hypnogram, trim_wake
    from sleepscope.scorers import StagerScorer, YasaScorer, choose_weight, disagreement, errors_caught, review_queue
    from sleepscope.scoring.agreement import agreement

    ours, yasa = StagerScorer.load(args.model), YasaScorer()
    nights = [n for n in scan_sleep_cassette(args.folder) if n.hypnogram is not None]
    marker = args.folder / "sleepscope-synthetic.json"
    print(f"# {len(nights)} nights from {args.folder}" + (f" ({marker.read_text().strip()})" if marker.exists() else
                                                          " (NOT marked synthetic)"))
    print(f"# ours: {ours.version} ({ours.card.data[:80] if ours.card else ''}...); YASA {yasa.version}")
    per_night = {}
    for n in nights:
        t0 = time.perf_counter()
        rec = open_recording(n.psg)
        y = read_hypnogram(n.hypnogram, n_epochs=rec.n_epochs)
        w = trim_wake(y)
        a, b = ours.score(rec), yasa.score(rec)
        per_night[n.name] = (n.subject, y[w], a.probs[w], b.probs[w], a.stages[w], b.stages[w])
        print(f"# {n.name}: {w.stop - w.start} epochs scored window, {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    def pooled(names):
        parts = [per_night[k] for k in names]
        return [np.concatenate([p[i] for p in parts]) for i in range(1, 6)]

    if args.save:
        np.savez_compressed(args.save, **{f"{k}__{i}": v[i] for k, v in per_night.items() for i in range(1, 4)},
                            subjects=np.array([[k, v[0]] for k, v in per_night.items()], dtype=object).astype(str))
    val = [k for k, v in per_night.items() if v[0] in VALIDATION_SUBJECTS]
    test = [k for k, v in per_night.items() if v[0] not in VALIDATION_SUBJECTS]
    if not val or not test:
        print("need nights of validation subjects (10, 17, 5, 13) and of others", file=sys.stderr)
        return 2
    yv, pav, pbv, _, _ = pooled(val)
    if args.weight is None:
        weight, val_acc = choose_weight(pav, pbv, yv)
        print(f"# combination weight of ours chosen on {len(val)} validation nights ({', '.join(val)}): "
              f"w = {weight:.2f} (validation accuracy {val_acc:.3f})")
    else:
        weight = args.weight
        print(f"# combination weight of ours fixed: w = {weight:.2f}")

    def row(label, y, stages, queue_probs, second=None, first=None):
        keep = y >= 0
        agr = agreement(y[keep], stages[keep])
        q = review_queue(queue_probs, args.share, second)
        if first is not None:  # every disagreement first, then the least confident
            order = np.lexsort((queue_probs.max(1), ~first))
            q = np.zeros(len(y), bool)
            q[order[:int(round(args.share * len(y)))]] = True
        left = float(np.mean(keep & (stages != y) & ~q) / max(keep.mean(), 1e-12))
        return (f"{label:<34} {agr.accuracy:>8.3f} {agr.macro_f1:>8.3f} {agr.kappa:>7.3f} "
                f"{errors_caught(q, stages, y):>8.3f} {left:>7.3f}")

    for title, names in ([(f"validation nights ({', '.join(val)})", val), (f"test nights ({', '.join(test)})", test)]
                         + [(k, [k]) for k in test]):
        y, pa, pb, sa, sb = pooled(names)
        pc = weight * pa + (1 - weight) * pb
        sc = pc.argmax(1)
        dis = disagreement(sa, sb)
        print(f"\n{title}: {int((y >= 0).sum())} scored epochs; YASA disagrees with ours on {dis.mean():.1%}")
        print(f"{'suggestion / review queue':<34} {'accuracy':>8} {'macroF1':>8} {'kappa':>7} "
              f"{'caught@' + format(args.share, '.0%'):>8} {'left':>7}")
        print(row("ours, queue: unsure", y, sa, pa))
        print(row("ours, queue: with YASA (doubt)", y, sa, pa, second=sb))
        print(row("ours, queue: disagreements first", y, sa, pa, first=dis))
        print(row("YASA, queue: unsure", y, sb, pb))
        print(row(f"combined w={weight:.2f}, queue: unsure", y, sc, pc))
        print(row("combined, queue: with YASA (doubt)", y, sc, pc, second=sb))
        print(row("combined, queue: disagreements first", y, sc, pc, first=dis))
    print(f"\ncaught: the share of the suggestion's errors in the review queue ({args.share:.0%} of the epochs); "
          "left: the share of scored epochs still wrong once the queue is reviewed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
