"""Probe: the two fresh-draw nights whose wake feff147c reads as REM (randomised labs that high-pass at 0.5 Hz and
record a small EEG; `fresh-draws-nights.log`), changed one way at a time, read by e6675eac and the shipped model.
Per change: accuracy, and what the wake epochs are read as (W, N1, N2, N3, REM).

    .venv/bin/python reports/fast-noise-synthetic/wake_fast_band.py E6675EAC CACHE > wake-fast-band.log

SYNTHETIC nights (families B and E, generation seed 1; held-out families, not the card's seed-0 nights).
"""
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
NIGHTS = (("B", "SC4092E0"), ("E", "SC4062E0"))
CHANGES = ("as drawn", "EEG low-passed at 20 Hz", "EEG x2", "EEG and EOG x2", "EOG x0.5",
           "EEG + 4 uV of 20-45 Hz noise", "chin EMG removed")


def changed(rec, how: str):
    from scipy.signal import butter, sosfiltfilt

    ch = {k: v.copy() for k, v in rec.channels.items()}
    eeg, eog = rec.eeg_name, rec.eog_name
    if how == "EEG low-passed at 20 Hz":
        ch[eeg] = sosfiltfilt(butter(4, 20, "low", fs=rec.fs, output="sos"), ch[eeg]).astype(np.float32)
    elif how == "EEG x2":
        ch[eeg] = ch[eeg] * 2
    elif how == "EEG and EOG x2":
        ch[eeg], ch[eog] = ch[eeg] * 2, ch[eog] * 2
    elif how == "EOG x0.5":
        ch[eog] = ch[eog] * 0.5
    elif how == "EEG + 4 uV of 20-45 Hz noise":
        z = sosfiltfilt(butter(4, [20, 45], "bandpass", fs=rec.fs, output="sos"),
                        np.random.default_rng(0).normal(size=len(ch[eeg])))
        ch[eeg] = ch[eeg] + (4 * z / z.std()).astype(np.float32)
    elif how == "chin EMG removed":
        ch.pop(rec.channel_choice.emg, None)
    return replace(rec, channels=ch)


def main(old: Path, cache: Path) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(1)
    models = [load_model(p) for p in (old, default_model_path())]
    for fam, name in NIGHTS:
        rec, y = bs.cached_recording(name, fam, True, 1, cache)
        print(f"{fam} random lab (seed 1) {name}: EEG {rec.eeg_name}, EOG {rec.eog_name}, chin "
              f"{rec.channel_choice.emg}; wake epochs {int(np.sum(y == 0))}")
        for how in CHANGES:
            out = []
            for model, card in models:
                p = predict(changed(rec, how), model)
                ok = (y >= 0) & ~p.artefact
                wake = (y == 0) & ok
                out.append(f"{card.version[:8]} {np.mean(p.stages[ok] == y[ok]):.3f} wake read as "
                           f"{np.bincount(p.stages[wake], minlength=5).tolist()}")
            print(f"  {how:<30} " + " | ".join(out), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
