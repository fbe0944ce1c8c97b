"""Probe: a night read from its EOG alone, read through the drift high-pass always, against the night-level rule
(`drift.EOG_DRIFT_LIMIT`): what each costs on clean nights and gains under a mild sway.

    .venv/bin/python reports/slow-drift-night/eog_always_highpass.py CACHE_YOUNG CACHE_OLDER > eog-always-highpass.log

SYNTHETIC nights (bench_shift.py's cache, 8 per row; the EEG removed as in its "EOG only" rows) and the REAL clips
of tests/data read as bench_shift's real rows read them. "always" sets the limit to 0 for the run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "reports" / "slow-drift-night")]


def main(cache_young: Path, cache_older: Path) -> None:
    import torch

    import bench_shift as bs
    import sleepscope.model.drift as drift
    from drift_highpass import sway
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(2)
    model, card = load_model(default_model_path())
    rule = drift.EOG_DRIFT_LIMIT
    print(f"# {card.version}; EOG only; accuracy / share of epochs unsure, rule (limit {rule:g}) -> always")
    for name, rec, y in bs.real_rows():
        if rec.eog_name is None or rec.eeg_name is not None:
            continue
        cells = []
        for uv in (0, 150):
            out = []
            for limit in (rule, 0.0):
                drift.EOG_DRIFT_LIMIT = limit
                p = predict(sway(rec, uv) if uv else rec, model)
                out.append(f"{np.mean(p.stages == y):.2f} / {np.mean(p.unsure):.2f}")
            cells.append(f"{uv:>3} uV {out[0]} -> {out[1]}")
        print(f"REAL {name:<40} " + ";  ".join(cells), flush=True)
    for night_set, cache in (("young", cache_young), ("older", cache_older)):
        for fam, rnd in (("A", False), ("A", True), ("B", False), ("B", True), ("D", False), ("D", True),
                         ("E", False), ("E", True)):
            cells = []
            for uv in (0, 20, 50):
                out = []
                for limit in (rule, 0.0):
                    drift.EOG_DRIFT_LIMIT = limit
                    conf, unsure, n = np.zeros((5, 5), int), 0, 0
                    for night in bs.NIGHT_SETS[night_set]:
                        rec, y = bs.cached_recording(night, fam, rnd, 0, cache)
                        p = predict(bs.perturb(sway(rec, uv) if uv else rec, y, "EOG only"), model)
                        ok = (y >= 0) & ~p.artefact
                        np.add.at(conf, (y[ok], p.stages[ok]), 1)
                        unsure, n = unsure + int(np.count_nonzero(p.unsure[ok])), n + int(ok.sum())
                    out.append(f"{np.trace(conf) / conf.sum():.3f} / {unsure / n:.2f}")
                cells.append(f"{uv:>2} uV {out[0]} -> {out[1]}")
            print(f"{night_set} {fam + (' random' if rnd else ''):<9} " + ";  ".join(cells), flush=True)
    drift.EOG_DRIFT_LIMIT = rule


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
