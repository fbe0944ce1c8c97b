"""Two forms of the atonia gate on the card's 20 calibration nights (families A and C, every other one a randomised
lab's raw chin EMG with its floor), with the EMG as drawn and with REM given N2's tone (REM sleep behaviour
disorder). SYNTHETIC nights; about 3 minutes on the 2-core CPU the first time, seconds from CACHE.

    OMP_NUM_THREADS=2 .venv/bin/python reports/chin-emg-synthetic/gate_forms.py [CACHE]

A form separates where the lowest share over nights with atonia lies above the highest over RBD nights.
"""

import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "models"))


def nights(cache: Path | None):
    """[(family, randomised, REM/NREM tone ratio, model stages, log tone, usable, RBD log tone)]."""
    import train_robust
    from bench_shift import synth_recording

    from sleepscope.model import chin_emg as ce
    from sleepscope.model.backups import channel_samples
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.chin_emg import _without_coefficients
    from sleepscope.model.infer import predict

    model = _without_coefficients(load_model(ROOT / "models" / "sleepscope-default.safetensors")[0])
    out = []
    for i, name in enumerate(train_robust.calibration_nights()):
        randomise, family = i % 2 == 0, "AC"[(i // 2) % 2]
        path = None if cache is None else cache / f"{name}-{family}-{int(randomise)}-{model.version}.pickle"
        if path is not None and path.exists():
            stages, y, lt, us = pickle.loads(path.read_bytes())
        else:
            rec, y = synth_recording(name, family, randomise)
            signal, source_hz = channel_samples(rec, ce.chin_channel(rec))
            stages = predict(rec, model).stages
            lt, us = ce.epoch_tone(signal, rec.fs, source_hz, rec.n_epochs, rec.gap)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(pickle.dumps((stages, y, lt, us)))
        rem, n2 = y == 4, (y == 2) & us
        rbd = lt.copy()
        rbd[rem] = np.median(lt[n2]) + np.random.default_rng(i).normal(0.0, lt[n2].std(), int(rem.sum()))
        ratio = float(np.exp(np.median(lt[rem & us]) - np.median(lt[np.isin(y, (2, 3)) & us])))
        out.append((family, randomise, ratio, stages, lt, us, rbd))
        print(f"{name} family {family}{' random lab' if randomise else ''}: REM / NREM tone {ratio:.2f}", flush=True)
    return out


def below_nrem_spread(stages, log_tone, usable, k: float) -> float:
    """The share of sleep whose tone lies k interquartile ranges of NREM's tone under its median."""
    t = log_tone[usable & np.isin(stages, (2, 3))]
    low = usable & (log_tone < np.median(t) - k * (np.percentile(t, 75) - np.percentile(t, 25)))
    return float(low.sum() / max(1, (usable & (stages >= 1)).sum()))


def main() -> int:
    from sleepscope.model import chin_emg as ce

    rows = nights(Path(sys.argv[1]) if len(sys.argv) > 1 else None)

    def line(label, share):
        clean = sorted(share(st, lt, us) for _, _, _, st, lt, us, _ in rows)
        rbd = sorted(share(st, rb, us) for _, _, _, st, _, us, rb in rows)
        print(f"| {label} | {' '.join(f'{v:.3f}' for v in clean[:4])} | {' '.join(f'{v:.3f}' for v in rbd[-3:])} |"
              f" {'yes' if clean[0] > rbd[-1] else 'no'} |")

    print("| form | lowest 4 shares, atonia | highest 3 shares, RBD | separates |\n|---|---|---|---|")
    for ratio in (0.5, 0.6, 0.7, 0.8):
        line(f"tone under {ratio} x NREM's median", lambda st, lt, us: ce.atonia_share(st, lt, us, ratio))
    for k in (1.0, 1.5, 2.0, 3.0):
        line(f"tone {k} IQR under NREM's median", lambda st, lt, us: below_nrem_spread(st, lt, us, k))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
