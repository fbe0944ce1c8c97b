"""Wake suggested where the EEG drifts, marked unsure (`eeg_band.drifting_wake`): what it adds to the review queue
on nights as recorded, and what it catches where a sway covers the middle third of a night.

    .venv/bin/python reports/slow-drift-night/drift_epochs.py CACHE_YOUNG CACHE_OLDER > drift-epochs.log

SYNTHETIC nights (bench_shift.py's cache, 8 per row), pre-scored by the shipped model; "before" is the same
prediction's unsure marks without this rule.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def middle_sway(rec, uv: float, hz: float = 0.05):
    n = len(rec.channels[rec.eeg_name])
    t = np.arange(n, dtype=np.float64) / rec.fs
    window = (t >= t[-1] / 3) & (t < 2 * t[-1] / 3)
    sway = np.where(window, uv * np.sin(2 * np.pi * hz * t), 0.0).astype(np.float32)
    swayed = replace(rec, channels={k: v + sway[: len(v)] if k in (rec.eeg_name, rec.eog_name) else v
                                    for k, v in rec.channels.items()})
    return swayed, window[:: int(30 * rec.fs)][: rec.n_epochs]


def main(cache_young: Path, cache_older: Path) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.eeg_band import unsure_epochs
    from sleepscope.model.infer import predict

    torch.set_num_threads(2)
    model = load_model(default_model_path())[0]

    def scored(rec, y, window=None):
        p = predict(rec, model)
        before = unsure_epochs(p.probs, model.calibration, rec, slow=np.zeros(p.n_epochs))[0] | p.artefact
        ok = (y >= 0) & ~p.artefact
        if window is not None:
            ok &= window
        bad = ok & (p.stages != y)
        return np.array([ok.sum(), bad.sum(), (before & ok).sum(), (p.unsure & ok).sum(),
                         (before & bad).sum(), (p.unsure & bad).sum()])

    print("nights as recorded: share of epochs marked unsure and share of errors among them, before -> after")
    for night_set, cache in (("young", cache_young), ("older", cache_older)):
        for fam in "ABDE":
            for rnd in (False, True):
                c = sum(scored(*bs.cached_recording(n, fam, rnd, 0, cache)) for n in bs.NIGHT_SETS[night_set])
                print(f"  {night_set} {fam + (' random' if rnd else ''):<9} flagged {c[2] / c[0]:.3f} -> {c[3] / c[0]:.3f}"
                      f"  errors caught {c[4] / c[1]:.2f} -> {c[5] / c[1]:.2f}", flush=True)
    print("young nights with a sway on EEG and EOG over their middle third (figures inside the third)")
    for fam, rnd in (("A", False), ("A", True), ("B", False), ("E", False)):
        for uv in (30.0, 50.0):
            c = 0
            for n in bs.TEST_NIGHTS:
                rec, y = bs.cached_recording(n, fam, rnd, 0, cache_young)
                swayed, window = middle_sway(rec, uv)
                c = c + scored(swayed, y, window)
            print(f"  {fam + (' random' if rnd else ''):<9} {uv:g} uV 0.05 Hz  accuracy {1 - c[1] / c[0]:.3f}  flagged "
                  f"{c[2] / c[0]:.2f} -> {c[3] / c[0]:.2f}  errors caught {c[4] / c[1]:.2f} -> {c[5] / c[1]:.2f}",
                  flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
