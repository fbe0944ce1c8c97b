"""Screen: models side by side on 4 young test nights per row (bench_shift's cache), as recorded, with 20-45 Hz
noise on the EEG all night, and with bench_shift's 60-uV beats (no ECG lead); then the REAL clips of tests/data.

    .venv/bin/python reports/fast-noise-synthetic/screen.py CACHE MODEL... > screen.log

SYNTHETIC nights, except the rows marked REAL. These are benchmark test nights: the recipe was chosen on the
calibration nights instead (choose_recipe.py); this screen is kept because it was seen before that choice.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def noisy(rec, uv: float, seed: int = 0):
    """`rec` with `uv` µV RMS of 20-45 Hz Gaussian noise added to its EEG (bench_shift's 'fast noise' at any size)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [20.0, 45.0], "bandpass", fs=rec.fs, output="sos")
    n = sosfiltfilt(sos, np.random.default_rng(seed).normal(size=len(rec.channels[rec.eeg_name])))
    return replace(rec, channels={**rec.channels, rec.eeg_name: (rec.channels[rec.eeg_name] + uv * n / n.std())
                                  .astype(np.float32)})


def changed(rec, y, how):
    import bench_shift as bs

    return bs.perturb(rec, y, how) if isinstance(how, str) else rec if how == 0 else noisy(rec, how)


ROWS = (("A", False, 0), ("A", True, 0), ("B", False, 0), ("D", True, 0), ("E", True, 0),
        ("A", False, 3), ("A", False, 6), ("E", True, 6), ("B", False, 6), ("A", False, 12),
        ("A", False, "ECG beats"), ("E", True, "ECG beats"), ("D", True, "ECG beats"))


def main(cache: Path, paths: list[str]) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(2)
    models = [load_model(Path(p))[0] for p in paths]
    print("accuracy (share scored W) per model: " + " | ".join(Path(p).stem for p in paths))
    for fam, rnd, how in ROWS:
        items = [bs.cached_recording(n, fam, rnd, 0, cache) for n in bs.TEST_NIGHTS[:4]]
        line = f"{fam + (' random' if rnd else ''):<9} {how if isinstance(how, str) else f'{how:g} uV':>9}"
        for model in models:
            hit = tot = w = 0
            for rec, y in items:
                p = predict(changed(rec, y, how), model)
                ok = (y >= 0) & ~p.artefact
                hit += int((ok & (p.stages == y)).sum())
                tot += int(ok.sum())
                w += int((p.stages[ok] == 0).sum())
            line += f" | {hit / tot:.3f} W{w / tot:.2f}"
        print(line, flush=True)
    for name, rec, y in bs.real_rows():
        line = f"REAL {name[:30]:<30}"
        for model in models:
            p = predict(rec, model)
            line += f" | {int((p.stages == y).sum())}/{len(y)} {np.bincount(p.stages, minlength=5).tolist()}"
        print(line, flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
