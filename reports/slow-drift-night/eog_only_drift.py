"""A night read from its EOG alone under a slow drift: the reason `drift.eog_drift` gives, where it stays as
recorded, and what the model makes of such nights.

    .venv/bin/python reports/slow-drift-night/eog_only_drift.py CACHE_YOUNG CACHE_OLDER > eog-only-drift.log

REAL clips of tests/data and SYNTHETIC nights (bench_shift.py's cache, 8 per row); the EEG removed as in
bench_shift's "EOG only" rows.
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
    from drift_highpass import sway
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.drift import EOG_DRIFT_LIMIT, eog_drift
    from sleepscope.model.infer import predict

    torch.set_num_threads(2)
    model = load_model(default_model_path())[0]
    print(f"limit {EOG_DRIFT_LIMIT:g}: the median EOG epoch's RMS under 0.3 Hz over its RMS in 0.5-30 Hz")
    print("REAL clips: the figure as recorded and with a 0.05-Hz sway of 20 / 30 / 50 / 150 uV")
    for name, rec, _ in bs.real_rows():
        if rec.eog_name is not None:
            print(f"  {name:<42} " + " / ".join(f"{eog_drift(sway(rec, uv) if uv else rec):.2f}"
                                               for uv in (0, 20, 30, 50, 150)))
    print("SYNTHETIC nights as recorded: smallest and largest figure of a row's nights, nights over the limit")
    for night_set, cache in (("young", cache_young), ("older", cache_older)):
        for fam in "ABDE":
            for rnd in (False, True):
                v = [eog_drift(bs.cached_recording(n, fam, rnd, 0, cache)[0]) for n in bs.NIGHT_SETS[night_set]]
                print(f"  {night_set} {fam + (' random' if rnd else ''):<9} {min(v):.2f}-{max(v):.2f}, "
                      f"{sum(x > EOG_DRIFT_LIMIT for x in v)}/{len(v)}", flush=True)
    print("SYNTHETIC young nights, EOG only, with a 0.05-Hz sway: accuracy, share read W, nights unfamiliar, and "
          "of them by this reason")
    for fam, rnd in (("A", False), ("A", True), ("E", False)):
        for uv in (0, 20, 30, 50, 150):
            conf, unfamiliar, named = np.zeros((5, 5), int), 0, 0
            for n in bs.TEST_NIGHTS:
                rec, y = bs.cached_recording(n, fam, rnd, 0, cache_young)
                p = predict(bs.perturb(sway(rec, uv) if uv else rec, y, "EOG only"), model)
                ok = (y >= 0) & ~p.artefact
                np.add.at(conf, (y[ok], p.stages[ok]), 1)
                unfamiliar += not p.familiarity.familiar
                named += any(r.startswith("a slow drift dominates its EOG") for r in p.familiarity.reasons)
            print(f"  {fam + (' random' if rnd else ''):<9} {uv:>3} uV  accuracy {np.trace(conf) / conf.sum():.3f}  "
                  f"W {conf[:, 0].sum() / conf.sum():.2f}  unfamiliar {unfamiliar}/8, by this reason {named}/8",
                  flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
