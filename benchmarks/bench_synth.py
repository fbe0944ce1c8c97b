"""How fast the synthetic PSG generator is: one 1,000-epoch night, and the Sleep-EDF-78 cohort.

Targets (issue 2): one night <= 5 s; the 153-night cohort, EDF files included,
<= 10 min on the 2-core machine. Prints wall and CPU seconds, the ratio to
each target and, as a reference measured in the same run, the time the
machine takes for one 3-million-point float32 inverse FFT (the generator
does 16 per 1,000 epochs), and CPU seconds beside wall seconds, so figures
from a machine shared with other work can be judged.

    .venv/bin/python benchmarks/bench_synth.py                 # 1 night + all 153 nights
    .venv/bin/python benchmarks/bench_synth.py --nights 10     # 10 nights, extrapolated to 153
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=153, help="cohort nights to write (default: all 153)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the one-night timing (best is kept)")
    args = ap.parse_args()

    print(f"cpus: {os.cpu_count()}, load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    ref = _fft_reference()
    print(f"reference: one 3,000,000-point irfft {ref * 1e3:.0f} ms")

    labels = _thousand_epochs()
    synth_night(labels[:20], subject=0, night=1, seed=args.seed)  # imports, caches
    walls, cpus = [], []
    for _ in range(args.repeat):
        w, c = time.perf_counter(), time.process_time()
        synth_night(labels, subject=0, night=1, seed=args.seed)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    with tempfile.TemporaryDirectory() as tmp:
        w = time.perf_counter()
        write_night(tmp, "SC4001E0", seed=args.seed, labels=labels)
        night_with_files = time.perf_counter() - w
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    best = min(walls)
    print(f"one night, 1,000 epochs: generate {best:.2f} s wall (best of {args.repeat}; "
          f"cpu {min(cpus):.2f} s), with EDF files {night_with_files:.2f} s, {size / 1e6:.1f} MB; "
          f"ratio to the {NIGHT_TARGET_S:.0f}-s target {best / NIGHT_TARGET_S:.2f}; "
          f"= {best / ref:.0f} reference FFTs")

    names = cohort_names("sleep-edf-78")
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
