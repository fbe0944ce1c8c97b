"""Probe: the REAL REM EOG's left eye read alone (EOG-only, 28 epochs, expert: all REM), high-passed at 0.5 Hz
(second order, causal) and/or halved, read by e6675eac, the shipped model and any candidates given: epochs read
W, N1, N2, N3, REM and the mean probabilities.

    .venv/bin/python reports/fast-noise-synthetic/left_eye_highpass.py E6675EAC [CANDIDATE...] > left-eye-highpass.log
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(Path(__file__).resolve().parent)]


def main(paths: list[Path]) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from wake_highpass_channels import changed, read_by

    torch.set_num_threads(1)
    _, rec, _ = [r for r in bs.real_rows() if "left eye" in r[0]][0]
    models = [load_model(p) for p in (paths[0], default_model_path(), *paths[1:])]
    for hp, gain in ((None, 1.0), (None, 0.5), (0.5, 1.0), (0.5, 0.5)):
        read = read_by(models, changed(rec, set(rec.channels), set(rec.channels), hp, gain),
                       lambda p: f"{np.bincount(p.stages[p.stages >= 0], minlength=5).tolist()} p ")
        print(f"high-pass {hp}, x{gain}: {read}", flush=True)


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]])
