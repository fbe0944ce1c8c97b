"""How far each block's time-locked average stands out of its noise (`heartbeats.time_locked`'s z), on synthetic
nights of every family, randomised labs included, with an ECG lead beside them: beats of another heart than the
lead's (0 uV on the EEG; the randomised labs' EEG carries its own ECG of up to 25 uV), then 3-20 uV of the lead's
own beats. `heartbeats.MIN_Z` must stay above the first and under the larger of the second. Last, the REAL
signals of tests/data beside such a lead (they do not carry its beats).

    .venv/bin/python reports/ecg-beats/gate_z.py [--cache DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def block_z(x: np.ndarray, at: np.ndarray, fs: float = 100.0) -> np.ndarray:
    from scipy.ndimage import map_coordinates

    from sleepscope.model import heartbeats as hb

    pre, post = int(hb.BEFORE_S * fs), int(hb.AFTER_S * fs)
    per = int(30 * fs) * hb.BLOCK
    out = []
    for k in range(-(-len(x) // per)):
        m = at[(at >= max(pre + 1, k * per)) & (at < min(len(x) - post - 1, (k + 1) * per))]
        if len(m) < hb.MIN_BEATS:
            continue
        seg = map_coordinates(np.asarray(x, np.float64), (m[:, None] + np.arange(-pre, post)).reshape(1, -1),
                              order=3).reshape(len(m), -1)
        out.append(hb.time_locked(seg - seg.mean(axis=1, keepdims=True))[1])
    return np.array(out)


def main() -> int:
    from bench_shift import TEST_NIGHTS, cached_recording

    from sleepscope.data.synth.acquisition import _ecg
    from sleepscope.io.recording import resample_to_target
    from sleepscope.model import heartbeats as hb

    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path)
    args = ap.parse_args()
    worst = {}
    for family, randomise in (("A", False), ("A", True), ("B", False), ("B", True), ("D", True), ("E", True)):
        for name in TEST_NIGHTS[:4]:
            rec, _ = cached_recording(name, family, randomise, 0, args.cache)
            rng = np.random.default_rng(1)
            n = rec.n_samples
            heart = resample_to_target(_ecg(rng, int(n * 2.56), 256, 66.0), 256.0)[:n]
            at = hb.beats(1000 * heart + rng.normal(0, 15, n).astype(np.float32), 100.0)
            parts = []
            for uv in (0, 3, 5, 10, 20):
                for ch in (rec.eeg_name, rec.eog_name):
                    if ch is None:
                        continue
                    z = block_z(rec.channels[ch] + np.float32(uv) * heart, at)
                    parts.append(f"{uv}uV {ch}: {z.min():.1f}-{z.max():.1f}")
                    worst.setdefault(uv, []).append(z)
            print(f"{family}{' random' if randomise else ''} {name}: " + "; ".join(parts), flush=True)
    # REAL signals (tests/data): the Sleep-EDF wake minutes' EEG and EOG, the REM EOG clip; a lead of a simulated
    # heart beside them, whose beats they do not carry
    from bench_shift import real_rows

    for row, rec, _ in real_rows():
        if rec.n_epochs < 4:
            continue
        rng = np.random.default_rng(1)
        n = rec.n_samples
        heart = resample_to_target(_ecg(rng, int(n * 2.56), 256, 66.0), 256.0)[:n]
        at = hb.beats(1000 * heart + rng.normal(0, 15, n).astype(np.float32), 100.0)
        for ch in (rec.eeg_name, rec.eog_name):
            if ch is not None:
                z = block_z(rec.channels[ch], at)
                zs = ", ".join(f"{v:.1f}" for v in z)
                print(f"REAL {row}, {ch} ({rec.n_epochs} epochs, {len(at)} beats): z {zs}")
    for uv, zs in worst.items():
        z = np.concatenate(zs)
        print(f"{uv:2d} uV of the lead's beats: blocks {len(z)}, z max {z.max():.1f}, over MIN_Z={hb.MIN_Z:g}: "
              f"{np.mean(z >= hb.MIN_Z):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
