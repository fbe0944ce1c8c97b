"""The control: the same lab, subject and night drawn again with only the slow-wave age factor changed.

    .venv/bin/python reports/slow-wave-age-synthetic/slow_factor_swap.py > slow-factor-swap.log

Four `A random` nights of bench_shift (the worst of each sign in the young and older sets) generated with the
factor their drawn age gives, and with it set to 0.45 (age 70 and over), 0.75 and 1.05 (age 30), every other draw
unchanged (each axis has its own random stream); the shipped model's accuracy and N2/N3 bias (N2 read N3 minus
N3 read N2). SYNTHETIC nights.
"""
import numpy as np
from common import confusion, shipped


def main() -> None:
    _, model = shipped("SYNTHETIC nights, family A, randomised labs; the shipped model. accuracy, N2/N3 bias per "
                       "slow-wave factor")
    import bench_shift as bs
    from sleepscope.data.synth import acquisition
    from sleepscope.model.infer import predict

    drawn = acquisition.slow_age_factor
    for seed, n in ((2, "SC4091E0"), (2, "SC4151E0"), (2, "SC4451F0"), (1, "SC4431E0")):
        out = []
        for factor in (None, 0.45, 0.75, 1.05):
            acquisition.slow_age_factor = drawn if factor is None else (lambda age, f=factor: f)
            try:
                rec, y = bs.synth_recording(n, "A", randomise=True, seed=seed)
            finally:
                acquisition.slow_age_factor = drawn
            p = predict(rec, model)
            cm = confusion(y, p.stages, p.artefact)
            out.append(f"{'drawn' if factor is None else f'x{factor}'}: {np.trace(cm) / cm.sum():.3f} "
                       f"{cm[2, 3] - cm[3, 2]:+d}")
        print(f"seed {seed} {n} ({rec.eeg_name}): " + " | ".join(out), flush=True)


if __name__ == "__main__":
    main()
