"""bench_shift's `A random` row with every subject's slow waves at a young adult's size (factor 1.0, as the plain
rows' Sleep-EDF-like acquisition has them), beside the row as drawn: how much of the row's loss and of its spread
over generation seeds the drawn age carries. A diagnostic of the benchmark, not a row of it.

    .venv/bin/python reports/slow-wave-age-synthetic/row_without_age.py young [--cache C] > row-without-age-young.log

Per seed: accuracy, macro-F1 and the N2/N3 bias (N2 read N3 minus N3 read N2, over N2 + N3 epochs) of the 8 nights
together, as drawn (from bench_shift's cache when given) and at factor 1.0 (generated here); then the mean and SD
over the seeds. SYNTHETIC nights, the shipped model.
"""
import numpy as np
from common import shipped


def main() -> None:
    args, model = shipped(lambda a: f"SYNTHETIC nights, family A, randomised labs, {a.night_set} night set; "
                          "the shipped model.",
                          lambda ap: ap.add_argument("night_set", choices=("young", "older")))
    import bench_shift as bs
    from sleepscope.data.synth import acquisition
    from sleepscope.model.infer import predict
    from sleepscope.scoring.agreement import agreement

    drawn = acquisition.slow_age_factor
    figures: dict = {"drawn": [], "x1.0": []}
    for seed in (0, 1, 2):
        for how in ("drawn", "x1.0"):
            ys, sts = [], []
            for n in bs.NIGHT_SETS[args.night_set]:
                if how == "drawn":
                    rec, y = bs.cached_recording(n, "A", True, seed, args.cache)
                else:
                    acquisition.slow_age_factor = lambda age: 1.0
                    try:
                        rec, y = bs.synth_recording(n, "A", randomise=True, seed=seed)
                    finally:
                        acquisition.slow_age_factor = drawn
                p = predict(rec, model)
                ys.append(np.where(p.artefact, -1, y))
                sts.append(np.where(p.artefact, -1, p.stages))
            y, st = np.concatenate(ys), np.concatenate(sts)
            a = agreement(y, st)
            n23 = np.isin(y, (2, 3)).sum()
            bias = (np.sum((y == 2) & (st == 3)) - np.sum((y == 3) & (st == 2))) / n23
            figures[how].append((a.accuracy, a.macro_f1))
            print(f"seed {seed} {how:<6} accuracy {a.accuracy:.3f} macro-F1 {a.macro_f1:.3f} N3 F1 {a.f1['N3']:.2f} "
                  f"N2/N3 bias {bias:+.3f}", flush=True)
    for how, f in figures.items():
        f = np.array(f)
        print(f"{how:<6} accuracy {f[:, 0].mean():.3f} ± {f[:, 0].std(ddof=1):.3f}, "
              f"macro-F1 {f[:, 1].mean():.3f} ± {f[:, 1].std(ddof=1):.3f} over seeds 0-2")


if __name__ == "__main__":
    main()
