"""How the crude amplitude rule of n3_by_slow_waves.py splits N2 from N3, and what the shipped model calls N3, on
four over-called nights of `A random` (N2 read N3) and two controls.

    .venv/bin/python reports/slow-wave-age-synthetic/n2_n3_amplitude_rule.py [--cache CACHE] > n2-n3-amplitude-rule.log

Per night and true stage: the share of epochs meeting the rule (>= 20 % in 0.5-2 Hz waves of >= 75 uV peak to
peak, on the recorded derivation), the share the model calls N3, among epochs meeting the rule and not. SYNTHETIC.
"""
import numpy as np
from common import shipped
from n3_by_slow_waves import aasm_slow_share


def main() -> None:
    args, m = shipped("SYNTHETIC nights, family A, randomised labs; the shipped model.")
    import bench_shift as bs
    from sleepscope.model.infer import predict

    for seed, n in ((2, "SC4151E0"), (2, "SC4152E0"), (1, "SC4431E0"), (1, "SC4441E0"), (0, "SC4151E0"),
                    (2, "SC4062E0")):
        rec, y = bs.cached_recording(n, "A", True, seed, args.cache)
        p = predict(rec, m)
        eeg = rec.channels[rec.eeg_name]
        per = 3000
        for stage in (2, 3):
            idx = [i for i in np.flatnonzero(y == stage) if (i + 1) * per <= len(eeg)]
            meets = np.array([aasm_slow_share(eeg[i * per:(i + 1) * per], 100.0) >= 0.2 for i in idx])
            called3 = p.stages[idx] == 3
            among = [f"{called3[k].mean():.2f}" if k.any() else "-" for k in (meets, ~meets)]
            print(f"s{seed} {n} {rec.eeg_name} true {stage}: {len(idx)} epochs, meet 75uV {meets.mean():.2f}; "
                  f"called N3 {called3.mean():.2f}; called N3 among meeting {among[0]}, among not {among[1]}",
                  flush=True)


if __name__ == "__main__":
    main()
