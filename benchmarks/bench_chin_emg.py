"""Would the chin EMG help the model tell REM from NREM? A measurement on SYNTHETIC nights; nothing ships from it.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_chin_emg.py [--nights 8] [--degrade 1.0 [--fit-clean]]

The model reads EEG and EOG only. The AASM scores REM on low chin EMG as well
(atonia: the lowest tone of the night), and the held-out family D loses most
of its accuracy calling REM N2 (`bench_shift.py`). This asks how much the
chin EMG could add, before anything is built into the product:

* each night (the REAL Sleep-EDF hypnograms of the benchmark's test subjects,
  signals from a synthetic family, as in `bench_shift.py`) is pre-scored by the
  shipped model as the workstation does (`predict`);
* the chin EMG's tone per epoch (the mean of its 1-Hz envelope, as Sleep-EDF
  records it, in log) is made night-relative, (tone - the night's median) / its
  interquartile range, clipped to ±4: no gain, unit or electrode impedance
  carries over;
* five coefficients, one per stage, add that tone to the model's log
  probabilities; they are fitted (cross-entropy) on nights of the training
  families A and C only, validation and calibration subjects (never a test
  subject), and the held-out families B, D and E are scored with them.

`--degrade F` adds to every night's EMG a noise floor of F times its median
tone (ECG, electrode noise) and a log-normal jitter of 0.5 per second: an
EMG worse than the synthetic one, whose atonia every family draws cleanly;
with `--fit-clean` the coefficients are still fitted on clean EMG (a lab
whose EMG is worse than what the coefficients were fitted on).

Synthetic EMG follows the textbook rule in every family and carries no
artefact (snoring, ECG, movement), and no real night with chin EMG is on
this machine: the figures bound what the EMG could add, they are not
evidence about real recordings.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Nights the coefficients are fitted on: the shipped model's validation nights and calibration subjects 20-23,
#: families A and C alternating in pairs, every other one recorded by a randomised lab (as models/train_robust.py).
FIT_NIGHTS = ("SC4161E0", "SC4011E0", "SC4051E0", "SC4131E0", "SC4201E0", "SC4211E0", "SC4221E0", "SC4231E0")
ROWS = (("A", False), ("B", False), ("B", True), ("D", False), ("D", True), ("E", False))
CLIP = 4.0


def emg_tone(envelope: np.ndarray) -> np.ndarray:
    """`(n_epochs, samples)` chin-EMG envelope -> each epoch's tone relative to the night, clipped to ±CLIP."""
    tone = np.log(np.maximum(np.asarray(envelope, np.float64).mean(axis=1), 1e-3))
    spread = np.percentile(tone, 75) - np.percentile(tone, 25)
    return np.clip((tone - np.median(tone)) / max(spread, 1e-3), -CLIP, CLIP)


def degrade(envelope: np.ndarray, factor: float, seed: int) -> np.ndarray:
    """A noise floor of `factor` x the night's median tone and a log-normal jitter of 0.5 per sample."""
    if not factor:
        return envelope
    rng = np.random.default_rng(seed)
    floor = factor * np.median(envelope)
    return np.sqrt(envelope ** 2 + floor ** 2) * rng.lognormal(0.0, 0.5, envelope.shape)


def without_atonia(envelope: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """REM sleep behaviour disorder: REM epochs keep the tone of the night's N2 (its median there, with the same
    per-sample jitter as the rest of the night), no atonia."""
    rng = np.random.default_rng(seed)
    out = np.array(envelope, dtype=np.float64, copy=True)
    rem, n2 = labels == 4, labels == 2
    if rem.any() and n2.any():
        out[rem] = np.median(envelope[n2]) * rng.lognormal(0.0, 0.3, out[rem].shape)
    return out


def fit_weights(nights) -> np.ndarray:
    """Per-stage coefficients of the tone added to log probabilities, by cross-entropy over `nights`
    ([(probs, labels, tone)]); labels -1 are left out."""
    import torch

    logp = torch.tensor(np.concatenate([np.log(np.maximum(p, 1e-6)) for p, _, _ in nights]), dtype=torch.float64)
    tone = torch.tensor(np.concatenate([t for _, _, t in nights]), dtype=torch.float64)
    y = torch.tensor(np.concatenate([y for _, y, _ in nights]), dtype=torch.int64)
    keep = y >= 0
    w = torch.zeros(logp.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy((logp + tone[:, None] * w)[keep], y[keep])
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy()


def with_emg(probs: np.ndarray, tone: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The stages once the tone is added to the log probabilities."""
    return (np.log(np.maximum(probs, 1e-6)) + tone[:, None] * weights).argmax(axis=1)


def scored_night(name: str, family: str, randomise: bool, model, cache: Path | None):
    """(the shipped model's probabilities, stages, the EMG envelope per epoch (n, 30)) of a synthetic night."""
    from sleepscope.data.synthetic import parse_night_name, real_hypnogram, synth_night
    from sleepscope.io.channels import choose_channels
    from sleepscope.io.hypnogram import trim_wake
    from sleepscope.io.recording import Recording, resample_to_target
    from sleepscope.model.infer import predict

    path = None if cache is None else cache / f"{name}-{family}-{int(randomise)}-{model.version}.pickle"
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    labels = real_hypnogram(name)
    labels = np.asarray(labels[trim_wake(labels, 60)])
    subject, night = parse_night_name(name)
    kwargs = {"family": family, "randomise": randomise} if (family != "A" or randomise) else {}
    s = synth_night(labels, subject=subject, night=night, seed=0, **kwargs)
    choice = choose_channels(list(s.signals))
    chans = {k: resample_to_target(s.signals[k], s.fs) for k in (choice.eeg, choice.eog) if k is not None}
    n = min(len(v) for v in chans.values())
    n -= n % 3000
    chans = {k: np.ascontiguousarray(v[:n]) for k, v in chans.items()}
    rec = Recording(path=None, start_time=s.start_time, fs=100.0, channels=chans, eeg_name=choice.eeg,
                    eog_name=choice.eog, source_rates={k: float(s.fs) for k in chans}, channel_choice=choice)
    ne = rec.n_epochs
    out = (predict(rec, model).probs, labels[:ne].astype(np.int64), s.aux["EMG submental"][: ne * 30].reshape(ne, 30))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(out))
    return out


def line(label: str, nights, weights) -> str:
    from sleepscope.scoring.agreement import agreement

    y = np.concatenate([n[1] for n in nights])
    before = agreement(y, np.concatenate([n[0].argmax(axis=1) for n in nights]))
    after = agreement(y, np.concatenate([with_emg(p, t, weights) for p, _, t in nights]))
    cells = [f"{a.accuracy:.3f} / {a.macro_f1:.3f} | {a.f1['N1']:.2f} | {a.f1['REM']:.2f}" for a in (before, after)]
    return f"| {label} | {cells[0]} | {cells[1]} |"


def main(argv=None) -> int:
    from bench_shift import TEST_NIGHTS

    from sleepscope.model.checkpoint import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nights", type=int, default=8, help="test nights per row (of bench_shift's 8)")
    ap.add_argument("--degrade", type=float, default=0.0, help="noise floor, in units of the night's median tone")
    ap.add_argument("--fit-clean", action="store_true", help="fit the coefficients on clean EMG even when degraded")
    ap.add_argument("--rbd", action="store_true",
                    help="test nights without REM atonia (REM sleep behaviour disorder); the fit is unchanged")
    ap.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "models"
                    / "sleepscope-default.safetensors")
    ap.add_argument("--cache", type=Path, default=None, help="keep the scored nights in this folder")
    args = ap.parse_args(argv)
    model, _ = load_model(args.model)

    def nights(names, family_of, randomised_of, degrade_by, rbd=False):
        out = []
        for i, name in enumerate(names):
            family, randomise = family_of(i), randomised_of(i)
            probs, labels, envelope = scored_night(name, family, randomise, model, args.cache)
            seed = zlib.crc32(f"{name}-{family}-{randomise}".encode())
            if rbd:
                envelope = without_atonia(envelope, labels, seed)
            out.append((probs, labels, emg_tone(degrade(envelope, degrade_by, seed))))
        return out

    fit = nights(FIT_NIGHTS, lambda i: "AC"[(i // 2) % 2], lambda i: i % 2 == 1,
                 0.0 if args.fit_clean else args.degrade)
    weights = fit_weights(fit)
    print("SYNTHETIC SIGNALS (real hypnograms): not evidence about real recordings.")
    print(f"model {model.version}; EMG degraded by {args.degrade:g}"
          f"{' (coefficients fitted on clean EMG)' if args.fit_clean and args.degrade else ''}"
          f"{'; test nights without REM atonia' if args.rbd else ''}; coefficients "
          f"W N1 N2 N3 REM: {' '.join(f'{w:+.2f}' for w in weights)}")
    print("| row | model: acc / macro-F1 | N1 F1 | REM F1 | + chin EMG: acc / macro-F1 | N1 F1 | REM F1 |")
    print("|---|---|---|---|---|---|---|")
    print(line("fit nights (A, C)", fit, weights))
    for family, randomise in ROWS:
        test = nights(TEST_NIGHTS[: args.nights], lambda i: family, lambda i: randomise, args.degrade, args.rbd)
        print(line(f"{family}{' random' if randomise else ''}", test, weights), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
