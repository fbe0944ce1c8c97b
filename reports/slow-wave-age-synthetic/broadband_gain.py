"""Does the EEG's broadband size move the shipped model's N2/N3 calls? Three seed-2 `A random` nights (the two
worst of bench_shift's young set and a control) read with their whole EEG scaled x0.33-x3.

    .venv/bin/python reports/slow-wave-age-synthetic/broadband_gain.py [--cache CACHE] > broadband-gain.log

Per night and factor: accuracy and the N2/N3 bias (N2 read N3 minus N3 read N2). SYNTHETIC nights.
"""
import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path)
    args = ap.parse_args()
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(1)
    model, _ = load_model(default_model_path())
    print("SYNTHETIC nights, family A, randomised labs, generation seed 2; the shipped model.")
    for n in ("SC4091E0", "SC4151E0", "SC4062E0"):
        rec, y = bs.cached_recording(n, "A", True, 2, args.cache)
        out = []
        for k in (0.33, 0.5, 0.7, 1.0, 1.4, 2.0, 3.0):
            ch = {c: v.copy() for c, v in rec.channels.items()}
            ch[rec.eeg_name] *= np.float32(k)
            p = predict(replace(rec, channels=ch), model)
            ok = (y >= 0) & ~p.artefact
            cm = np.zeros((5, 5), int)
            np.add.at(cm, (y[ok], p.stages[ok]), 1)
            out.append(f"x{k}: {np.trace(cm) / cm.sum():.3f} {cm[2, 3] - cm[3, 2]:+d}")
        print(f"{n} ({rec.eeg_name}): " + " | ".join(out), flush=True)


if __name__ == "__main__":
    main()
