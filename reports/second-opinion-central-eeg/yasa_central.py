"""YASA's second opinion read from a lab's frontal EEG (the model's choice) or its central one (what YASA learned).

    python yasa_central.py A,B,D,E        # synthetic randomised labs whose montage has both; 8 test nights each
"""
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import bench_shift as bs  # noqa: E402
from sleepscope.data.synthetic import parse_night_name, real_hypnogram, synth_night  # noqa: E402
from sleepscope.io.channels import central_eeg, choose_channels  # noqa: E402
from sleepscope.io.hypnogram import trim_wake  # noqa: E402
from sleepscope.io.recording import Recording, resample_to_target  # noqa: E402
from sleepscope.scorers import YasaScorer  # noqa: E402
from sleepscope.scoring.agreement import agreement  # noqa: E402

yasa = YasaScorer()
for fam in sys.argv[1].split(","):
    t = time.perf_counter()
    got = {"frontal (the model's)": ([], []), "central": ([], [])}
    used = []
    for name in bs.TEST_NIGHTS[:8]:
        labels = real_hypnogram(name)
        labels = np.asarray(labels[trim_wake(labels, 60)])
        subject, night = parse_night_name(name)
        s = synth_night(labels, subject=subject, night=night, seed=0, family=fam, randomise=True)
        names = list(s.signals)
        choice, central = choose_channels(names), central_eeg(names)
        if central is None or central == choice.eeg or choice.eog is None:
            continue
        used.append(f"{name}:{choice.eeg}/{central}")
        chans = {k: resample_to_target(s.signals[k], s.fs) for k in (choice.eeg, central, choice.eog)}
        m = min(len(v) for v in chans.values())
        m -= m % 3000
        y = labels[: m // 3000].astype(np.int64)
        for key, eeg in (("frontal (the model's)", choice.eeg), ("central", central)):
            c = {k: np.ascontiguousarray(chans[k][:m]) for k in (eeg, choice.eog)}
            rec = Recording(path=None, start_time=s.start_time, fs=100.0, channels=c, eeg_name=eeg,
                            eog_name=choice.eog, source_rates={k: float(s.fs) for k in c})
            got[key][0].append(y)
            got[key][1].append(yasa.score(rec).stages)
    print(f"family {fam} random labs: {len(used)} of 8 nights with a frontal and a central EEG "
          f"({time.perf_counter() - t:.0f} s): {', '.join(used)}", flush=True)
    for key, (ys, sts) in got.items():
        if ys:
            y, st = np.concatenate(ys), np.concatenate(sts)
            keep = y >= 0
            a = agreement(np.where(keep, y, -1), np.where(keep, st, -1))
            print(f"  YASA on {key:22s} acc {a.accuracy:.3f}  macro-F1 {a.macro_f1:.3f}  kappa {a.kappa:.3f}")
