"""The shipped model against the one it replaced on bench_shift's nights drawn with other generation seeds (the
card's rows use seed 0): held-out families B, D and E, plain and randomised labs, young and older night sets.

    .venv/bin/python reports/fast-noise-synthetic/fresh_draws.py OLD_MODEL CACHE [FAMILIES] > fresh-draws.log

SYNTHETIC nights following real Sleep-EDF hypnograms (8 per row). Accuracy and wake F1 per model.
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def main(old: Path, cache: Path, families: str) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(1)
    models = [load_model(p) for p in (old, default_model_path())]
    for fam in families.split(","):
        for rnd in (False, True):
            for night_set in ("older", "young"):
                for seed in (1, 2):
                    conf = [np.zeros((5, 5), int) for _ in models]
                    for n in bs.NIGHT_SETS[night_set]:
                        rec, y = bs.cached_recording(n, fam, rnd, seed, cache)
                        for c, (m, _) in zip(conf, models):
                            p = predict(rec, m)
                            ok = (y >= 0) & ~p.artefact
                            np.add.at(c, (y[ok], p.stages[ok]), 1)
                    print(f"{fam}{' random' if rnd else '':7} {night_set} seed {seed}: " + "  ".join(
                        f"{card.version[:8]} {np.trace(c) / c.sum():.3f} "
                        f"(W F1 {2 * c[0, 0] / (c[0].sum() + c[:, 0].sum()):.2f})"
                        for c, (_, card) in zip(conf, models)), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "E,B,D")
