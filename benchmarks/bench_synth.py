"""How fast the synthetic PSG generator is: one 1,000-epoch night per family, and the Sleep-EDF-78 cohort.

Targets (issue 2): one night <= 5 s; the 153-night cohort, EDF files included,
<= 10 min on the 2-core machine. Prints wall and CPU seconds, the ratio to
each target and, as a reference measured in the same run, the time the
machine takes for one 3-million-point float32 inverse FFT (the generator
does 16 per 1,000 epochs), and CPU seconds beside wall seconds, so figures
from a machine shared with other work can be judged.

    .venv/bin/python benchmarks/bench_synth.py                 # 1 night + all 153 nights
    .venv/bin/python benchmarks/bench_synth.py --nights 10     # 10 nights, extrapolated to 153
    .venv/bin/python benchmarks/bench_synth.py --nights 0 --separability 9
    .venv/bin/python benchmarks/bench_synth.py --nights 0 --families A,B,C --randomise

The one-night timing runs for every family in `--families` (default A,B,C),
Sleep-EDF-like and, with `--randomise`, recorded by a randomly drawn lab
(subjects 0-4: rates from 50 to 512 Hz are timed as they fall).

`--separability N` also measures how hard the synthetic stages are: a
logistic regression on per-epoch band powers (with both neighbours' as
context), trained on the first nights of N-1/3 of the subjects and tested on
the unseen rest, 3 folds. Real stagers reach ~75-90 %, so should this. With
two families it also trains on every subject of one family and tests on the
other's: how far apart the families are for a simple stager.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from sleepscope.data.synthetic import cohort_names, real_hypnogram, synth_night, write_cohort, write_night

NIGHT_TARGET_S = 5.0
COHORT_TARGET_S = 600.0


def _fft_reference() -> float:
    from scipy import fft as sfft

    z = np.ones(1_500_001, dtype=np.complex64)
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        sfft.irfft(z, n=3_000_000)
        best = min(best, time.perf_counter() - t)
    return best


def _thousand_epochs() -> np.ndarray:
    return np.concatenate([real_hypnogram("SC4001E0"), real_hypnogram("SC4002E0")])[:1000]


def _epoch_features(x: np.ndarray) -> np.ndarray:
    from scipy import signal

    bands = [(0.5, 2), (2, 4), (4, 8), (8, 12), (11, 16), (16, 30), (30, 49)]
    f, p = signal.welch(x, 100, nperseg=200, axis=-1)
    bp = np.stack([p[:, (f >= a) & (f < b)].sum(axis=1) for a, b in bands], axis=1)
    amp = np.percentile(np.abs(x), [50, 95, 99.5], axis=1).T
    slope = np.abs(np.diff(x, axis=1)).mean(axis=1, keepdims=True)
    return np.concatenate([np.log(bp + 1e-9), np.log(bp / bp.sum(axis=1, keepdims=True)),
                           np.log(amp + 1e-6), np.log(slope)], axis=1)


def _stager():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def _features(n_nights: int, seed: int, family: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    names = [n for n in cohort_names("sleep-edf-78") if n[5] == "1"][:n_nights]
    xs, ys, groups = [], [], []
    for i, name in enumerate(names):
        labels = real_hypnogram(name)
        night = synth_night(labels, subject=int(name[3:5]), night=1, seed=seed, family=family)
        feats = np.concatenate([_epoch_features(x.reshape(-1, 3000)) for x in night.signals.values()], axis=1)
        context = np.concatenate([feats, np.roll(feats, 1, axis=0), np.roll(feats, -1, axis=0)], axis=1)
        scored = labels >= 0
        xs.append(context[scored]), ys.append(labels[scored]), groups.append(np.full(scored.sum(), i))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(groups)


def separability(n_nights: int, seed: int, families: list[str]) -> None:
    data = {f: _features(n_nights, seed, f) for f in families}
    for family, (x, y, g) in data.items():
        accs, n1 = [], []
        for fold in range(3):
            test = g % 3 == fold
            pred = _stager().fit(x[~test], y[~test]).predict(x[test])
            accs.append(float((pred == y[test]).mean()))
            n1.append(float((pred[y[test] == 1] == 1).mean()))
        print(f"separability, family {family} ({n_nights} subjects, unseen-subject folds): accuracy "
              f"{' '.join(f'{a:.3f}' for a in accs)} (mean {np.mean(accs):.3f}); N1 recall {np.mean(n1):.2f}")
    for train in families:
        for test in families:
            if train != test:
                (xa, ya, _), (xb, yb, _) = data[train], data[test]
                acc = float((_stager().fit(xa, ya).predict(xb) == yb).mean())
                print(f"separability, trained on family {train}, tested on family {test}: accuracy {acc:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=153, help="cohort nights to write (default: all 153)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the one-night timing (best is kept)")
    ap.add_argument("--separability", type=int, default=0, metavar="N",
                    help="also fit a simple stager on N synthetic subjects and test on unseen ones")
    ap.add_argument("--families", default="A,B,C", help="families to time (and to compare with --separability)")
    ap.add_argument("--randomise", action="store_true", help="also time randomised acquisition per family")
    args = ap.parse_args()
    families = [f.strip().upper() for f in args.families.split(",") if f.strip()]
    if args.separability:
        separability(args.separability, args.seed, families)

    print(f"cpus: {os.cpu_count()}, load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    ref = _fft_reference()
    print(f"reference: one 3,000,000-point irfft {ref * 1e3:.0f} ms")

    labels = _thousand_epochs()
    for family in families:
        synth_night(labels[:20], subject=0, night=1, seed=args.seed, family=family)  # imports, caches
        setups = [(False, 0)] + ([(True, s) for s in range(5)] if args.randomise else [])
        for randomise, subject in setups:
            walls, cpus = [], []
            for _ in range(args.repeat):
                w, c = time.perf_counter(), time.process_time()
                night = synth_night(labels, subject=subject, night=1, seed=args.seed, family=family, randomise=randomise)
                walls.append(time.perf_counter() - w)
                cpus.append(time.process_time() - c)
            with tempfile.TemporaryDirectory() as tmp:
                w = time.perf_counter()
                write_night(tmp, f"SC4{subject:02d}1E0", seed=args.seed, labels=labels, family=family,
                            randomise=randomise)
                night_with_files = time.perf_counter() - w
                size = sum(p.stat().st_size for p in Path(tmp).iterdir())
            best = min(walls)
            how = (f"randomised, subject {subject}: {len(night.signals)} channels at {night.fs:.0f} Hz"
                   if randomise else "Sleep-EDF set-up")
            print(f"family {family}, {how}; one night, 1,000 epochs: generate {best:.2f} s wall (best of "
                  f"{args.repeat}; cpu {min(cpus):.2f} s), with EDF files {night_with_files:.2f} s, "
                  f"{size / 1e6:.1f} MB; ratio to the {NIGHT_TARGET_S:.0f}-s target {best / NIGHT_TARGET_S:.2f}; "
                  f"= {best / ref:.0f} reference FFTs")

    names = cohort_names("sleep-edf-78")
    if args.nights <= 0:
        return
    chosen = names[: max(1, min(args.nights, len(names)))]
    all_epochs = sum(len(real_hypnogram(n)) for n in names)
    chosen_epochs = sum(len(real_hypnogram(n)) for n in chosen)
    def cpu_all() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    with tempfile.TemporaryDirectory() as tmp:
        w, c = time.perf_counter(), cpu_all()
        write_cohort(tmp, chosen, seed=args.seed, workers=args.workers)
        elapsed = time.perf_counter() - w
        cpu = cpu_all() - c  # worker processes are reaped when the pool closes
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    full = elapsed * all_epochs / chosen_epochs
    full_cpu = cpu * all_epochs / chosen_epochs
    how = "measured" if len(chosen) == len(names) else f"extrapolated from {len(chosen)} nights by epochs"
    print(f"cohort: {len(chosen)} nights, {chosen_epochs:,} epochs, {args.workers} workers: {elapsed:.1f} s, "
          f"{size / 1e9:.2f} GB, cpu {cpu:.1f} s in all processes")
    print(f"Sleep-EDF-78 (153 nights, {all_epochs:,} epochs): {full:.0f} s ({how}); "
          f"ratio to the {COHORT_TARGET_S:.0f}-s target {full / COHORT_TARGET_S:.2f}; "
          f"cpu {full_cpu:.0f} s, i.e. {full_cpu / args.workers:.0f} s on {args.workers} otherwise idle cores")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
