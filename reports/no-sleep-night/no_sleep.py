"""The no-sleep rule of `sleepscope.model.plausibility`: false alarms on real scorings, and what it catches.

    .venv/bin/python reports/no-sleep-night/no_sleep.py ../shared/data CACHE > no-sleep.log

Part 1 reads REAL hypnograms (Sleep-EDF, DOD-H/O's five scorers, YASA's night) and published stagers'
predictions of real nights (../shared/data). Part 2 is SYNTHETIC: bench_shift.py's cached young nights (CACHE,
as `bench_shift.py --nights 8 --cache CACHE` writes them) with a slow sinusoidal sway added to the EEG and EOG
for the whole night, pre-scored by the shipped model.
"""

from __future__ import annotations

import glob
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from sleepscope.model.plausibility import MIN_NIGHT_SLEEP_EPOCHS, MIN_STAGED_EPOCHS, implausible_night  # noqa: E402


def no_sleep(stages) -> bool:
    return "min of sleep" in (implausible_night(stages) or "")


def real(root: str) -> None:
    sets = {"Sleep-EDF (consensus)": glob.glob(f"{root}/hypnograms/sleep-edf-78-30s/*.json"),
            "DOD-H (5 scorers)": glob.glob(f"{root}/scorers/dodh/scorer_*/*.json"),
            "DOD-O (5 scorers)": glob.glob(f"{root}/scorers/dodo/scorer_*/*.json"),
            "published stagers' predictions": glob.glob(f"{root}/predictions/**/*.json", recursive=True)}
    nights = {k: [np.array(json.load(open(f))) for f in sorted(v)] for k, v in sets.items()}
    nights["YASA's night"] = [np.loadtxt(f"{root}/hypnograms/data_full_6hrs_100Hz_hypno_30s.txt").astype(int)]
    print(f"REAL: rule = under {MIN_NIGHT_SLEEP_EPOCHS / 2:g} min of sleep in {MIN_STAGED_EPOCHS / 120:g} h or more "
          "of staged epochs")
    for name, group in nights.items():
        long = [y for y in group if (y >= 0).sum() >= MIN_STAGED_EPOCHS]
        sleep_h = sorted(((y >= 1) & (y <= 4)).sum() / 120 for y in long)
        share = sorted(((y >= 1) & (y <= 4)).sum() / (y >= 0).sum() for y in long)
        print(f"  {name}: {sum(no_sleep(y) for y in long)} of {len(long)} recordings of 4 h or more called "
              f"no-sleep; least sleep {sleep_h[0]:.1f} h, least share of sleep {share[0]:.2f}")


def synthetic(cache: Path) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(2)
    model = load_model(default_model_path())[0]
    print("SYNTHETIC: shipped model, bench_shift's 8 young nights per row, a sway on EEG and EOG all night")
    print(f"  {'row':<10} {'sway':<14} {'accuracy':>8} {'W share':>8} {'no-sleep nights':>16} {'unfamiliar':>11}")
    for fam, rnd in (("A", False), ("A", True), ("B", False), ("E", False)):
        items = [bs.cached_recording(n, fam, rnd, 0, cache) for n in bs.TEST_NIGHTS]
        for uv, hz in ((0.0, 0.0), (50.0, 0.05), (150.0, 0.05), (50.0, 0.2), (150.0, 0.2)):
            hit = tot = w = fired = unfamiliar = 0
            for rec, y in items:
                t = np.arange(len(rec.channels[rec.eeg_name]), dtype=np.float64) / rec.fs
                sway = (uv * np.sin(2 * np.pi * hz * t)).astype(np.float32)
                r = replace(rec, channels={k: v + sway if k in (rec.eeg_name, rec.eog_name) else v
                                           for k, v in rec.channels.items()})
                p = predict(r, model)
                ok = (y >= 0) & ~p.artefact
                hit += int((p.stages[ok] == y[ok]).sum())
                tot += int(ok.sum())
                w += int((p.stages[ok] == 0).sum())
                fired += no_sleep(p.stages)
                unfamiliar += not p.familiarity.familiar
            label = "none" if uv == 0 else f"{uv:g} uV {hz:g} Hz"
            print(f"  {fam + (' random' if rnd else ''):<10} {label:<14} {hit / tot:8.3f} {w / tot:8.2f} "
                  f"{fired:>13}/{len(items)} {unfamiliar:>9}/{len(items)}", flush=True)


if __name__ == "__main__":
    real(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    if len(sys.argv) > 2:
        synthetic(Path(sys.argv[2]))
