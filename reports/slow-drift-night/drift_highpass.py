"""The drift high-pass (`sleepscope.model.drift`): what it costs on nights as recorded and what it gives back
where a sway covers a night or part of one.

    .venv/bin/python reports/slow-drift-night/drift_highpass.py CACHE_YOUNG CACHE_OLDER > drift-highpass.log

SYNTHETIC nights (bench_shift.py's cache, 8 per row) and the two REAL EEG clips of tests/data, pre-scored by the
shipped model twice in the same process: "off" with no epoch over the limit (the input as before the high-pass),
"on" as shipped. Per row: accuracy, macro-F1, the share of epochs marked unsure and of the errors among them,
nights called unfamiliar, and the share of epochs read high-passed with the accuracy on them.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def sway(rec, uv: float, hz: float = 0.05, part: tuple[float, float] = (0.0, 1.0)):
    """`rec` with a sine of `uv` at `hz` on its EEG and EOG over the fraction `part` of the night."""
    n = rec.n_samples
    t = np.arange(n, dtype=np.float64) / rec.fs
    s = uv * np.sin(2 * np.pi * hz * t)
    s[: int(part[0] * n)] = 0.0
    s[int(part[1] * n):] = 0.0
    return replace(rec, channels={k: v + s[: len(v)].astype(np.float32) if k in (rec.eeg_name, rec.eog_name) else v
                                  for k, v in rec.channels.items()})


def main(cache_young: Path, cache_older: Path) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.model import drift
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(2)
    model = load_model(default_model_path())[0]
    limit = drift.SLOW_DRIFT_LIMIT

    def scored(items, on: bool, window=None):
        drift.SLOW_DRIFT_LIMIT = limit if on else np.inf
        try:
            conf, c, unfamiliar = np.zeros((5, 5), int), np.zeros(6), 0
            for rec, y in items:
                p = predict(rec, model)
                ok = (y >= 0) & ~p.artefact
                if window is not None:
                    ok &= window(rec)
                bad = ok & (p.stages != y)
                np.add.at(conf, (y[ok], p.stages[ok]), 1)
                hp = p.high_passed & ok
                c += [ok.sum(), (p.unsure & ok).sum(), (p.unsure & bad).sum(), bad.sum(), hp.sum(), (hp & ~bad).sum()]
                unfamiliar += not p.familiarity.familiar
        finally:
            drift.SLOW_DRIFT_LIMIT = limit
        f1 = [2 * conf[i, i] / max(1, conf[i].sum() + conf[:, i].sum()) for i in range(5)]
        return (f"acc {np.trace(conf) / conf.sum():.3f} mF1 {np.mean(f1):.3f} unsure {c[1] / c[0]:.3f} "
                f"catching {c[2] / max(1, c[3]):.2f} unfamiliar {unfamiliar}/{len(items)} high-passed "
                f"{c[4] / c[0]:.3f}" + (f" (acc {c[5] / c[4]:.3f})" if c[4] else ""))

    def row(name, items, window=None):
        for on in (False, True):
            print(f"  {name:<34} {'on ' if on else 'off'} {scored(items, on, window)}", flush=True)

    print("REAL clips (tests/data), expected stage throughout")
    real = {name: (rec, y) for name, rec, y in bs.real_rows() if rec.eeg_name is not None}
    for name, (rec, y) in real.items():
        for uv in (0.0, 50.0, 150.0):
            row(f"{name[:22]} + {uv:g} uV", [(sway(rec, uv) if uv else rec, y)])
    print("SYNTHETIC nights as recorded")
    for night_set, cache in (("young", cache_young), ("older", cache_older)):
        for fam in "ABDE":
            for rnd in (False, True):
                items = [bs.cached_recording(n, fam, rnd, 0, cache) for n in bs.NIGHT_SETS[night_set]]
                row(f"{night_set} {fam}{' random' if rnd else ''}", items)
    print("SYNTHETIC young nights with a sway on EEG and EOG (figures over the swayed part)")
    for fam, rnd in (("A", False), ("A", True), ("E", False), ("E", True)):
        nights = [bs.cached_recording(n, fam, rnd, 0, cache_young) for n in bs.TEST_NIGHTS]
        for uv, hz, part in ((20, 0.05, (0, 1)), (30, 0.05, (0, 1)), (50, 0.05, (0, 1)), (150, 0.05, (0, 1)),
                             (50, 0.2, (0, 1)), (50, 0.05, (1 / 3, 2 / 3))):
            def window(rec, part=part):
                i = np.arange(rec.n_epochs) / rec.n_epochs
                return (i >= part[0]) & (i < part[1])

            label = f"{fam}{' random' if rnd else ''} {uv} uV {hz:g} Hz" + (" middle third" if part[0] else "")
            row(label, [(sway(r, uv, hz, part), y) for r, y in nights], window)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
