"""Which randomised labs carry the loss of fresh_draws.py: per night of families B and E (randomised, young, seeds 1
and 2), each model's accuracy and the lab's draw (EEG derivation, sampling rate, filters, gains, EOG leakage).

    .venv/bin/python reports/fast-noise-synthetic/fresh_draws_nights.py OLD_MODEL CACHE > fresh-draws-nights.log

SYNTHETIC nights (the cache fresh_draws.py filled); the lab is drawn again by `synth_night` with the same seed.
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def main(old: Path, cache: Path) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.data.synthetic import parse_night_name, real_hypnogram, synth_night
    from sleepscope.io.hypnogram import trim_wake
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(1)
    models = [load_model(p) for p in (old, default_model_path())]
    print("night                 old    new    diff  W F1 old/new  | EEG, fs, high-pass, low-pass, EEG gain, EOG "
          "leakage, EOG noise, mains uV, ECG uV")
    for fam in ("B", "E"):
        for seed in (1, 2):
            for n in bs.NIGHT_SETS["young"]:
                rec, y = bs.cached_recording(n, fam, True, seed, cache)
                acc, wf1 = [], []
                for m, _ in models:
                    p = predict(rec, m)
                    ok = (y >= 0) & ~p.artefact
                    acc.append(float(np.mean(p.stages[ok] == y[ok])))
                    tp = np.sum((p.stages[ok] == 0) & (y[ok] == 0))
                    wf1.append(2 * tp / max(1, np.sum(p.stages[ok] == 0) + np.sum(y[ok] == 0)))
                labels = real_hypnogram(n)
                labels = np.asarray(labels[trim_wake(labels, 60)])
                subject, night = parse_night_name(n)
                a = synth_night(labels[:40], subject=subject, night=night, seed=seed, family=fam,
                                randomise=True).acquisition
                lp = a.get("lowpass_hz")
                print(f"{fam} r s{seed} {n}  {acc[0]:.3f}  {acc[1]:.3f}  {acc[1] - acc[0]:+.3f}  "
                      f"{wf1[0]:.2f}/{wf1[1]:.2f}  | {rec.eeg_name}, {a['fs']} Hz, {a['highpass_hz']:.2f} Hz "
                      f"order {a['highpass_order']}, {'none' if lp is None else f'{lp:.0f} Hz'}, "
                      f"x{a['eeg_gain_subject'] * a['eeg_gain_night']:.2f}, {a['leakage']:.2f}, "
                      f"{a['eog_noise_uv']:.1f}, {a['mains_uv']:.1f}, {a['ecg_uv']:.1f}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
