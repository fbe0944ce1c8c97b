"""Read the EOG as the left eye against its mastoid (today) or as left minus right eye (a computed bipolar EOG).

    python eog_pair.py A,B,D,E          # prints one block per family; synthetic nights, randomised labs

Nights whose lab recorded both eyes against mastoids only (the generator's acquisition says which channel is
which eye). Also the real REM EOG clip (LOC, ROC), EOG only.
"""
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import torch  # noqa: E402

import bench_shift as bs  # noqa: E402
from sleepscope.data.synthetic import parse_night_name, real_hypnogram, synth_night  # noqa: E402
from sleepscope.io.channels import choose_channels  # noqa: E402
from sleepscope.io.hypnogram import trim_wake  # noqa: E402
from sleepscope.io.recording import Recording, resample_to_target  # noqa: E402
from sleepscope.model.checkpoint import default_model_path, load_model  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402
from sleepscope.scoring.agreement import agreement  # noqa: E402

torch.set_num_threads(1)
model = load_model(default_model_path())[0]


def night(name, family):
    labels = real_hypnogram(name)
    window = trim_wake(labels, 60)
    labels = np.asarray(labels[window])
    subject, n = parse_night_name(name)
    s = synth_night(labels, subject=subject, night=n, seed=0, family=family, randomise=True)
    eyes = {c.derivation.split("-")[0]: c.label for c in s.recording.channels if c.kind == "eog"}
    if set(eyes) != {"E1", "E2"}:
        return None
    choice = choose_channels(list(s.signals))
    chans = {k: resample_to_target(s.signals[k], s.fs) for k in (choice.eeg, eyes["E1"], eyes["E2"])}
    m = min(len(v) for v in chans.values())
    m -= m % 3000
    chans = {k: v[:m] for k, v in chans.items()}
    return choice, eyes, chans, labels[: m // 3000].astype(np.int64), float(s.fs), s.start_time


def score(chans, eeg, eog, start, fs):
    c = {k: np.ascontiguousarray(v) for k, v in chans.items() if k in (eeg, eog)}
    rec = Recording(path=None, start_time=start, fs=100.0, channels=c, eeg_name=eeg, eog_name=eog,
                    source_rates={k: fs for k in c})
    return predict(rec, model).stages


def figures(y, st):
    keep = (y >= 0) & (st >= 0)
    a = agreement(np.where(keep, y, -1), np.where(keep, st, -1))
    return a.accuracy, a.macro_f1


for fam in sys.argv[1].split(","):
    t = time.perf_counter()
    out = {k: ([], []) for k in ("left eye", "left - right", "EOG only: left eye", "EOG only: left - right")}
    used = []
    for name in bs.TEST_NIGHTS[:8]:
        got = night(name, fam)
        if got is None:
            continue
        choice, eyes, chans, y, fs, start = got
        used.append(f"{name}:{choice.eog}/{eyes['E2']}")
        chans["computed E1-E2"] = chans[eyes["E1"]] - chans[eyes["E2"]]
        left = eyes["E1"]
        for key, eeg, eog in (("left eye", choice.eeg, left), ("left - right", choice.eeg, "computed E1-E2"),
                              ("EOG only: left eye", None, left), ("EOG only: left - right", None, "computed E1-E2")):
            st = score(chans, eeg, eog, start, fs)
            out[key][0].append(y)
            out[key][1].append(st)
    print(f"family {fam} random labs: {len(used)} of 8 nights with both eyes ({time.perf_counter() - t:.0f} s): "
          + ", ".join(used))
    for key, (ys, sts) in out.items():
        if ys:
            acc, mf1 = figures(np.concatenate(ys), np.concatenate(sts))
            print(f"  {key:24s} acc {acc:.3f}  macro-F1 {mf1:.3f}")

z = np.load(ROOT / "tests" / "data" / "data_EOGs_REM_256Hz.npz")
data, sf = z["data"], float(z["sf"])
loc, roc = (resample_to_target(data[i], sf) for i in range(2))
m = len(loc) - len(loc) % 3000
for key, eog in (("LOC", loc[:m]), ("LOC - ROC", (loc - roc)[:m])):
    rec = Recording.from_arrays(np.zeros(m, np.float32), eog.astype(np.float32))
    rec = Recording(path=None, start_time=rec.start_time, fs=100.0, channels={key: np.ascontiguousarray(eog, np.float32)},
                    eeg_name=None, eog_name=key, source_rates={key: sf})
    st = predict(rec, model).stages
    print(f"real REM EOG clip, EOG only, {key:10s}: REM {int(np.sum(st == 4))} of {len(st)}  (stages {np.bincount(st[st >= 0], minlength=5).tolist()})")
