"""Recording I/O figures: selective loading, fingerprint, dataset memory.

    .venv/bin/python benchmarks/bench_io.py [--hours 22] [--cache-nights 4]

1. A synthetic 22-h, 7-channel Sleep-EDF-like EDF (3 × 100 Hz, 4 × 1 Hz, 30-s
   records, as SC4001E0-PSG.edf): `open_recording` (EEG + EOG only, µV float32)
   against MNE loading every channel (`read_raw_edf(preload=True)`), same run.
2. `Recording.fingerprint()` on that file and on a 100-MB file.
   A recording's own annotations: a 24-h EDF+ of 1-s records with a note
   every 10 min, read by `sleepscope.io.annotations` against MNE's
   `read_annotations`, same run, same annotations; and asked again, as opening
   a night does (the parse is kept).
3. Peak RSS of a fresh process iterating a SequenceDataset (L = 20) through a
   DataLoader over an HDF5 cache of several such nights, against the cache size.
Figures are printed, not judged.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np


def write_night(path: Path, hours: float, seed: int) -> Path:
    from sleepscope.io.export import write_edf

    rng = np.random.default_rng(seed)
    seconds = int(hours * 3600) // 30 * 30
    n = seconds * 100

    def eeg(scale):  # white noise in µV: content does not matter for I/O timing
        return rng.normal(0, scale, n)

    signals = {
        "EEG Fpz-Cz": (eeg(20), 100), "EEG Pz-Oz": (eeg(15), 100), "EOG horizontal": (eeg(30), 100),
        "Resp oro-nasal": (rng.normal(0, 100, seconds), 1), "EMG submental": (rng.normal(0, 5, seconds), 1),
        "Temp rectal": (37 + rng.normal(0, 0.1, seconds), 1), "Event marker": (np.zeros(seconds), 1),
    }
    ranges = {"EEG Fpz-Cz": (-192, 192), "EEG Pz-Oz": (-197, 196), "EOG horizontal": (-1009, 1010),
              "Resp oro-nasal": (-2048, 2047), "EMG submental": (-5, 5), "Temp rectal": (34, 40),
              "Event marker": (-2048, 2047)}
    units = {"Resp oro-nasal": "", "Temp rectal": "DegC", "Event marker": ""}
    return write_edf(path, signals, datetime(1989, 4, 24, 16, 13), units=units, physical_ranges=ranges,
                     record_duration=30.0)


def write_annotated(path: Path) -> Path:
    import edfio

    n = 24 * 3600 * 100
    rng = np.random.default_rng(0)
    signals = [edfio.EdfSignal(rng.normal(0, 20, n), 100, label=label, physical_dimension="uV",
                               physical_range=(-500, 500)) for label in ("EEG C4-M1", "EOG E1-M2")]
    notes = [edfio.EdfAnnotation(float(t), None, f"note {i}") for i, t in enumerate(range(0, 86400, 600))]
    edfio.Edf(signals, annotations=notes, data_record_duration=1.0).write(path)
    return path


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


# VmHWM (not ru_maxrss, which Linux carries over from the parent across exec) is this
# process's own peak resident memory.
_ITERATE = r"""
import sys, time
from torch.utils.data import DataLoader
from sleepscope.data.datasets import SequenceDataset
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
base = hwm()
ds = SequenceDataset(sys.argv[1], seq_len=20, labelled_only=False)
t = time.perf_counter(); n = 0
for x, y in DataLoader(ds, batch_size=8, shuffle=True, num_workers=0):
    n += x.shape[0] * x.shape[1]
dt = time.perf_counter() - t
print(f"{n} {dt:.3f} {base:.0f} {hwm():.0f}")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=22.0)
    ap.add_argument("--cache-nights", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import mne

    from sleepscope.data.cohorts import Night
    from sleepscope.data.datasets import build_cache
    from sleepscope.io import open_recording
    from sleepscope.io.recording import file_fingerprint

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        psg = write_night(tmp / "SC4901E0-PSG.edf", args.hours, seed=0)
        size_mb = psg.stat().st_size / 1e6
        print(f"wrote {psg.name}: {args.hours:g} h, 7 channels, {size_mb:.1f} MB in {time.perf_counter() - t:.1f} s")

        open_recording(psg)  # page cache warm for both contenders
        t_ours = best_of(lambda: open_recording(psg), args.repeat)

        def mne_all():
            raw = mne.io.read_raw_edf(psg, preload=True, verbose="error")
            return raw.get_data()

        def mne_two():
            raw = mne.io.read_raw_edf(psg, include=["EEG Fpz-Cz", "EOG horizontal"], preload=True, verbose="error")
            return raw.get_data()

        t_mne = best_of(mne_all, args.repeat)
        t_two = best_of(mne_two, args.repeat)
        print(f"open_recording (EEG+EOG, 100 Hz µV float32): {t_ours:.2f} s")
        print(f"MNE read_raw_edf, all 7 channels preloaded:  {t_mne:.2f} s")
        print(f"MNE read_raw_edf, include= the 2 channels:   {t_two:.2f} s (ours adds checks, µV float32)")
        print(f"ratio MNE-all / ours: {t_mne / t_ours:.1f}x")

        rec = open_recording(psg)
        ref = mne.io.read_raw_edf(psg, include=["EEG Fpz-Cz"], preload=True, verbose="error").get_data()[0] * 1e6
        print(f"same samples as MNE: max |ours - MNE| = {np.abs(rec.eeg - ref).max():.2e} µV over {len(ref)} samples")
        del ref
        t_fp = best_of(lambda: file_fingerprint(psg), args.repeat)
        print(f"fingerprint {size_mb:.1f} MB file: {t_fp * 1000:.0f} ms "
              f"({size_mb / t_fp:.0f} MB/s); Recording.fingerprint() = {rec.fingerprint()[:23]}...")
        big = tmp / "big.bin"
        with open(big, "wb") as f:
            for _ in range(100):
                f.write(os.urandom(1 << 20))
        t_big = best_of(lambda: file_fingerprint(big), args.repeat)
        print(f"fingerprint 100 MiB file (page cache warm): {t_big * 1000:.0f} ms")
        big.unlink()
        annotated = write_annotated(tmp / "annotated.edf")
        from sleepscope.io.annotations import read_annotations
        from sleepscope.io.edfheader import _parsed_annotations

        def parse() -> None:  # a parse each time: opening a night keeps the last files parsed
            _parsed_annotations.cache_clear()
            read_annotations(annotated)

        t_ann = best_of(parse, args.repeat)
        t_kept = best_of(lambda: read_annotations(annotated), args.repeat)
        t_mne_ann = best_of(lambda: mne.read_annotations(annotated), args.repeat)
        ours, theirs = read_annotations(annotated)[0], mne.read_annotations(annotated)
        same = [(round(a.onset, 4), a.text) for a in ours] == [(round(float(o), 4), str(d)) for o, d in
                                                               zip(theirs.onset, theirs.description)]
        print(f"annotations of a 24-h EDF+ (86,400 records, {len(ours)} notes): ours {t_ann * 1000:.0f} ms, "
              f"MNE read_annotations {t_mne_ann * 1000:.0f} ms, ratio {t_mne_ann / t_ann:.1f}x; same: {same}; "
              f"asked again (kept) {t_kept * 1000:.1f} ms")
        annotated.unlink()

        nights = [Night("SC4901E0", 90, 1, psg, None)]
        for k in range(1, args.cache_nights):
            name = f"SC49{k + 1:02d}E0" if k < 9 else f"SC4{k + 90}1E0"
            p = tmp / f"{name}-PSG.edf"
            p.write_bytes(psg.read_bytes())
            nights.append(Night(name, 90 + k, 1, p, None))
        t = time.perf_counter()
        cache = build_cache(nights, tmp / "cache.h5")
        cache_mb = cache.stat().st_size / 1e6
        print(f"build_cache: {len(nights)} nights, {cache_mb:.0f} MB in {time.perf_counter() - t:.1f} s")
        out = subprocess.run([sys.executable, "-c", _ITERATE, str(cache)], capture_output=True, text=True,
                             check=True).stdout.split()
        n_epochs, dt, base_mb, peak_mb = int(out[0]), float(out[1]), float(out[2]), float(out[3])
        print(f"SequenceDataset L=20 over the cache: {n_epochs} epochs in {dt:.1f} s; "
              f"peak RSS {peak_mb:.0f} MB (after imports {base_mb:.0f} MB) for a {cache_mb:.0f} MB cache "
              f"-> iteration adds {peak_mb - base_mb:.0f} MB")


if __name__ == "__main__":
    main()
