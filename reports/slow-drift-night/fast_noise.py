"""Probe: noise in the EEG's fast band (20-45 Hz, a tense muscle or a noisy electrode) all night; what the shipped
model reads, and whether a night statistic could tell such a night from the nights the model reads well.

    .venv/bin/python reports/slow-drift-night/fast_noise.py CACHE_YOUNG CACHE_OLDER > fast-noise.log

SYNTHETIC nights (bench_shift.py's cache, 8 per row), except the last lines (the real clips in tests/data).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def fast_ratio(rec) -> np.ndarray:
    """Per EEG epoch, its RMS in 25-45 Hz over its RMS in 0.5-25 Hz."""
    e = np.asarray(rec.epochs("eeg"), dtype=np.float64)
    p = np.abs(np.fft.rfft(e - e.mean(axis=1, keepdims=True), axis=1)) ** 2
    f = np.fft.rfftfreq(e.shape[1], 1.0 / rec.fs)
    return np.sqrt(p[:, (f >= 25) & (f < 45)].sum(axis=1) / (p[:, (f >= 0.5) & (f < 25)].sum(axis=1) + 1e-12))


def noisy(rec, uv: float, seed: int = 0):
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [20.0, 45.0], "bandpass", fs=rec.fs, output="sos")
    n = sosfiltfilt(sos, np.random.default_rng(seed).normal(size=len(rec.channels[rec.eeg_name])))
    return replace(rec, channels={**rec.channels, rec.eeg_name: (rec.channels[rec.eeg_name] + uv * n / n.std())
                                  .astype(np.float32)})


def main(cache_young: Path, cache_older: Path) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(2)
    model = load_model(default_model_path())[0]
    print("the shipped model on young nights with 20-45 Hz noise added to the EEG all night")
    for fam, rnd in (("A", False), ("A", True), ("B", False), ("E", False)):
        items = [bs.cached_recording(n, fam, rnd, 0, cache_young) for n in bs.TEST_NIGHTS]
        for uv in (0.0, 3.0, 6.0, 12.0):
            hit = tot = w = unfamiliar = wrong = caught = 0
            for rec, y in items:
                p = predict(rec if uv == 0 else noisy(rec, uv), model)
                ok = (y >= 0) & ~p.artefact
                bad = ok & (p.stages != y)
                hit, tot, w = hit + int((ok & ~bad).sum()), tot + int(ok.sum()), w + int((p.stages[ok] == 0).sum())
                wrong, caught = wrong + int(bad.sum()), caught + int((bad & p.unsure).sum())
                unfamiliar += not p.familiarity.familiar
            print(f"  {fam + (' random' if rnd else ''):<9} {uv:4g} uV RMS  accuracy {hit / tot:.3f}  W share "
                  f"{w / tot:.2f}  errors marked unsure {caught / max(1, wrong):.2f}  unfamiliar {unfamiliar}/8",
                  flush=True)
    print("the quietest tenth of a night's epochs (10th percentile of 25-45 Hz RMS over 0.5-25 Hz RMS)")
    for night_set, cache in (("young", cache_young), ("older", cache_older)):
        for fam in "ABDE":
            for rnd in (False, True):
                v = [np.percentile(fast_ratio(bs.cached_recording(n, fam, rnd, 0, cache)[0]), 10)
                     for n in bs.NIGHT_SETS[night_set]]
                print(f"  as recorded, {night_set} {fam + (' random' if rnd else ''):<9} largest {max(v):.3f}")
    for fam, rnd in (("A", False), ("A", True), ("B", False), ("E", False)):
        for uv in (3.0, 6.0):
            v = [np.percentile(fast_ratio(noisy(bs.cached_recording(n, fam, rnd, 0, cache_young)[0], uv)), 10)
                 for n in bs.TEST_NIGHTS]
            print(f"  with {uv:g} uV, young {fam + (' random' if rnd else ''):<9} smallest {min(v):.3f}")
    for name, rec, _ in bs.real_rows():
        if rec.eeg_name is not None:
            print(f"  REAL {name}: per epoch {np.round(fast_ratio(rec), 3).tolist()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
