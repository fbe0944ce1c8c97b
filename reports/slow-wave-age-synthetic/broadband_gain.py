"""Does the EEG's broadband size move the shipped model's N2/N3 calls? Three seed-2 `A random` nights (the two
worst of bench_shift's young set and a control) read with their whole EEG scaled x0.33-x3.

    .venv/bin/python reports/slow-wave-age-synthetic/broadband_gain.py [--cache CACHE] > broadband-gain.log

Per night and factor: accuracy and the N2/N3 bias (N2 read N3 minus N3 read N2). SYNTHETIC nights.
"""
from dataclasses import replace

import numpy as np
from common import confusion, shipped


def main() -> None:
    args, model = shipped("SYNTHETIC nights, family A, randomised labs, generation seed 2; the shipped model.")
    import bench_shift as bs
    from sleepscope.model.infer import predict

    for n in ("SC4091E0", "SC4151E0", "SC4062E0"):
        rec, y = bs.cached_recording(n, "A", True, 2, args.cache)
        out = []
        for k in (0.33, 0.5, 0.7, 1.0, 1.4, 2.0, 3.0):
            ch = {c: v.copy() for c, v in rec.channels.items()}
            ch[rec.eeg_name] *= np.float32(k)
            p = predict(replace(rec, channels=ch), model)
            cm = confusion(y, p.stages, p.artefact)
            out.append(f"x{k}: {np.trace(cm) / cm.sum():.3f} {cm[2, 3] - cm[3, 2]:+d}")
        print(f"{n} ({rec.eeg_name}): " + " | ".join(out), flush=True)


if __name__ == "__main__":
    main()
