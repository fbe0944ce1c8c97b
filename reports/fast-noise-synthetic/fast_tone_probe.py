"""Probe: the EEG's fast band read relative to its night, as the chin tone is (`sleepscope.model.chin_emg`), as
evidence beside the shipped model's probabilities. A noise floor is there all night; wake's fast activity comes and
goes with wake. Per epoch: log RMS of the EEG in 20-30 Hz, minus the night's median over its epochs without
artefact, over their interquartile range, clipped to +-2. Per-stage coefficients (N2 and N3 sharing theirs) fitted
by `chin_emg.fit_coefficients` on the card's 20 calibration nights (families A and C, every other one recorded by
a randomised lab), then applied to fresh draws (generation seed 1, young test nights) of the bench rows.

    .venv/bin/python reports/fast-noise-synthetic/fast_tone_probe.py CACHE > fast-tone-probe.log

SYNTHETIC nights only. Exploration before any protocol: the card's bench nights (seed 0) are not read here.
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "models")]
BAND_HZ = (20.0, 30.0)
CLIP = 2.0


def fast_tone(rec, artefact: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    x = np.asarray(rec.channels[rec.eeg_name], np.float64)
    n = min(len(artefact), len(x) // 3000)
    band = sosfiltfilt(butter(4, BAND_HZ, "bandpass", fs=rec.fs, output="sos"), x[: n * 3000])
    log_rms = 0.5 * np.log(np.maximum((band.reshape(n, 3000) ** 2).mean(1), 1e-12))
    ok = ~np.asarray(artefact[:n], bool)
    t = log_rms[ok]
    spread = max(float(np.percentile(t, 75) - np.percentile(t, 25)), 0.05)
    z = np.clip((log_rms - np.median(t)) / spread, -CLIP, CLIP)
    return np.where(ok, z, 0.0)


def main(cache: Path) -> None:
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.chin_emg import fit_coefficients, with_tone
    from sleepscope.model.infer import predict
    from train_robust import calibration_nights

    torch.set_num_threads(1)
    model, card = load_model(default_model_path())

    def read(rec, y):
        p = predict(rec, model)
        return p, fast_tone(rec, p.artefact), np.asarray(y)[: p.n_epochs]

    fit = []
    for i, name in enumerate(calibration_nights()):
        rec, y = bs.cached_recording(name, ("A", "C")[(i // 2) % 2], i % 2 == 0, 0, cache)
        p, z, y = read(rec, y)
        fit.append((p.probs, np.where(p.artefact, -1, y), z))
    w = fit_coefficients(fit)
    print(f"{card.version[:8]}: coefficients W, N1, N2, N3, REM {np.round(w, 2).tolist()} (20 calibration nights)")
    print("row (seed 1, 8 young nights)    without   with   wake F1 without/with  REM F1 without/with")
    rows = [("A", "A", False, None), ("A random", "A", True, None), ("A fast noise", "A", False, "fast noise"),
            ("A high-pass 0.5 Hz, x0.5", "A", False, "high-pass 0.5 Hz, x0.5"), ("B", "B", False, None),
            ("B random", "B", True, None), ("D", "D", False, None), ("D random", "D", True, None),
            ("E", "E", False, None), ("E random", "E", True, None)]
    for label, fam, rnd, how in rows:
        hits = [0, 0]
        ys, st = [], [[], []]
        for name in bs.TEST_NIGHTS:
            rec, y = bs.cached_recording(name, fam, rnd, 1, cache)
            if how:
                rec = bs.perturb(rec, y, how)
            p, z, y = read(rec, y)
            ok = (y >= 0) & ~p.artefact
            stages = [p.stages, np.argmax(with_tone(p.probs, z, w), axis=1)]
            for k in range(2):
                hits[k] += int(np.sum(stages[k][ok] == y[ok]))
                st[k].append(stages[k][ok])
            ys.append(y[ok])
        yy = np.concatenate(ys)

        def f1(s, c):
            tp = np.sum((s == c) & (yy == c))
            return 2 * tp / max(1, np.sum(s == c) + np.sum(yy == c))

        s0, s1 = np.concatenate(st[0]), np.concatenate(st[1])
        print(f"{label:<32} {hits[0] / len(yy):.3f}    {hits[1] / len(yy):.3f}   {f1(s0, 0):.2f}/{f1(s1, 0):.2f}"
              f"             {f1(s0, 4):.2f}/{f1(s1, 4):.2f}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
