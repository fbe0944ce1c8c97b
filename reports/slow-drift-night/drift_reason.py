"""The slow-drift reason of the familiarity check (`familiarity.slow_drift`): what it reads on nights the model reads
well, on the real clips, and on nights with a sway added.

    .venv/bin/python reports/slow-drift-night/drift_reason.py CACHE_YOUNG CACHE_OLDER > drift-reason.log

REAL rows: the clips in tests/data (no model needed). SYNTHETIC rows: bench_shift.py's cached nights (as
`bench_shift.py --nights 8 --cache CACHE [--night-set older]` writes them), pre-scored by the shipped model, as
recorded and with a sinusoidal sway added to the EEG and EOG for the whole night.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def swayed(rec, uv: float, hz: float):
    t = np.arange(rec.n_samples, dtype=np.float64) / rec.fs
    sway = (uv * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return replace(rec, channels={k: v + sway[: len(v)] if k in (rec.eeg_name, rec.eog_name) else v
                                  for k, v in rec.channels.items()})


def main(cache_young: Path, cache_older: Path) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.familiarity import SLOW_DRIFT_LIMIT, slow_drift
    from sleepscope.model.infer import predict

    torch.set_num_threads(2)
    model = load_model(default_model_path())[0]
    named = lambda p: any("slow drift" in r for r in p.familiarity.reasons)  # noqa: E731
    print(f"limit {SLOW_DRIFT_LIMIT:g}: the median EEG epoch's RMS under 0.3 Hz over its RMS in 0.5-30 Hz")
    print("REAL clips (EEG):")
    for name, rec, _ in bs.real_rows():
        if rec.eeg_name is not None:
            print(f"  {name:<34} {slow_drift(rec):.2f}; with a 50-uV 0.05-Hz sway {slow_drift(swayed(rec, 50, 0.05)):.2f}")
    print("SYNTHETIC nights as recorded: the largest figure per row, nights named")
    for night_set, cache in (("young", cache_young), ("older", cache_older)):
        for fam in "ABDE":
            for rnd in (False, True):
                preds = [(predict(r, model), r) for r, _ in
                         (bs.cached_recording(n, fam, rnd, 0, cache) for n in bs.NIGHT_SETS[night_set])]
                top = max(slow_drift(r, ~p.artefact) for p, r in preds)
                print(f"  {night_set} {fam + (' random' if rnd else ''):<10} largest {top:.2f}  named "
                      f"{sum(named(p) for p, _ in preds)}/{len(preds)}", flush=True)
    print("SYNTHETIC young nights with a sway on EEG and EOG all night: accuracy, nights named, nights unfamiliar")
    for fam, rnd in (("A", False), ("A", True), ("B", False), ("D", False), ("E", False)):
        items = [bs.cached_recording(n, fam, rnd, 0, cache_young) for n in bs.TEST_NIGHTS]
        for uv, hz in ((20.0, 0.05), (30.0, 0.05), (50.0, 0.05), (50.0, 0.2), (150.0, 0.05)):
            hit = tot = n_named = unfamiliar = 0
            smallest = np.inf
            for rec, y in items:
                r = swayed(rec, uv, hz)
                p = predict(r, model)
                ok = (y >= 0) & ~p.artefact
                hit += int((p.stages[ok] == y[ok]).sum())
                tot += int(ok.sum())
                n_named += named(p)
                unfamiliar += not p.familiarity.familiar
                smallest = min(smallest, slow_drift(r, ~p.artefact))
            print(f"  {fam + (' random' if rnd else ''):<10} {uv:g} uV {hz:g} Hz  accuracy {hit / tot:.3f}  smallest "
                  f"{smallest:.2f}  named {n_named}/{len(items)}  unfamiliar {unfamiliar}/{len(items)}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
