"""How much does the chin EMG add to the model's stages? A measurement on SYNTHETIC nights.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_chin_emg.py [--nights 8] [--card] [--rbd] [--no-gate]
                                                                     [--degrade 1.0 [--fit-clean]] [--snore 0.5]

The network reads EEG and EOG; pre-scoring adds the chin EMG's tone with one
coefficient per stage (`sleepscope.model.chin_emg`), on nights that show
atonia. This weighs that term on its own, against the model alone:

* each night (the REAL Sleep-EDF hypnograms of the benchmark's test subjects,
  signals from a synthetic family, as in `bench_shift.py`) is pre-scored by the
  shipped model without the EMG (`predict`);
* the chin EMG's tone per epoch (the lower quartile of its 1-Hz envelope, as
  Sleep-EDF records it, in log; the physiology's envelope also for randomised labs, which
  write a raw EMG: `bench_shift.py` reads that one) is made night-relative and clipped as pre-scoring does
  (`chin_emg.relative_tone`): no gain, unit or electrode impedance carries over;
* the five coefficients are the card's (`--card`) or fitted (cross-entropy) on
  nights of the training families A and C only, validation and calibration
  subjects (never a test subject); families B, D and E are held out;
* the term is weighed in only on nights that show atonia
  (`chin_emg.atonia_share`), unless `--no-gate`.

`--rbd` gives the test nights' REM the tone of their N2 (REM sleep behaviour
disorder: REM without atonia), the fit unchanged. `--snore S` makes the test
nights' sleeper a snorer in a share S of their NREM sleep (each breath lifts
the envelope), the fit unchanged. `--degrade F` adds to every
night's EMG a noise floor of F times its median tone (ECG, electrode noise)
and a log-normal jitter of 0.5 per second; with `--fit-clean` the
coefficients are still fitted on clean EMG.

Synthetic EMG follows the textbook rule in every family and carries no
artefact but the perturbations above, and no real night with chin EMG is on
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


def log_tone(envelope: np.ndarray) -> np.ndarray:
    """`(n_epochs, 30)` 1-Hz chin-EMG envelope -> each epoch's log tone, as pre-scoring reads it."""
    from sleepscope.model.chin_emg import epoch_tone

    return epoch_tone(np.ravel(envelope), 1.0, 1.0, len(envelope))[0]


def emg_tone(envelope: np.ndarray) -> np.ndarray:
    """Each epoch's tone relative to the night, clipped as pre-scoring clips it (`chin_emg.relative_tone`)."""
    from sleepscope.model.chin_emg import CLIP, relative_tone

    t = log_tone(envelope)
    return relative_tone(t, np.ones(len(t), bool), CLIP)


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


def snoring(envelope: np.ndarray, labels: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A snorer's night: episodes of 2-10 minutes covering `share` of its NREM sleep (N1-N3), in which each breath
    (every 3-5 s) lifts the chin's envelope 2-6 times over 1-1.5 s of inspiration, as the submental muscles and the
    vibration of the airway do."""
    rng = np.random.default_rng(seed)
    out = np.array(envelope, dtype=np.float64, copy=True)
    n_epochs, per_epoch = out.shape
    nrem = np.flatnonzero(np.isin(labels, (1, 2, 3)))
    want, snored = int(share * len(nrem)), np.zeros(n_epochs, bool)
    while want > 0 and snored[nrem].sum() < want:
        start = int(rng.choice(nrem))
        run = np.arange(start, min(n_epochs, start + int(rng.integers(4, 21))))
        snored[run[np.isin(labels[run], (1, 2, 3))]] = True
    # each 1-s sample's share of inspiration, from a 10-Hz breathing rhythm
    tenths = np.arange(n_epochs * per_epoch * 10) / 10.0
    period, width = rng.uniform(3.0, 5.0), rng.uniform(1.0, 1.5)
    inside = (np.mod(tenths + rng.uniform(0.0, period), period) < width).reshape(-1, 10).mean(axis=1)
    lift = 1.0 + rng.uniform(1.0, 5.0) * inside
    flat = out.reshape(-1)
    on = np.repeat(snored, per_epoch)
    flat[on] *= lift[on]
    return out


def fit_weights(nights) -> np.ndarray:
    """Per-stage coefficients over `nights` ([(probs, labels, tone, ...)]), as the card's are fitted."""
    from sleepscope.model.chin_emg import fit_coefficients

    return fit_coefficients([n[:3] for n in nights])


def with_emg(probs: np.ndarray, tone: np.ndarray, weights: np.ndarray, log_tones: np.ndarray | None = None):
    """The stages once the tone is added to the log probabilities; with `log_tones`, only on a night that shows
    atonia (`chin_emg.atonia_share`), as pre-scoring does."""
    from sleepscope.model.chin_emg import ATONIA_SHARE, atonia_share, with_tone
    from sleepscope.stages import most_likely

    if log_tones is not None:
        share = atonia_share(most_likely(probs), log_tones, np.ones(len(tone), bool))
        if share is None or share < ATONIA_SHARE:
            return most_likely(probs)
    return most_likely(with_tone(probs, tone, weights))


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
    from sleepscope.stages import most_likely

    y = np.concatenate([n[1] for n in nights])
    before = agreement(y, np.concatenate([most_likely(n[0]) for n in nights]))
    after = agreement(y, np.concatenate([with_emg(p, t, weights, g) for p, _, t, g in nights]))
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
    ap.add_argument("--snore", type=float, default=0.0,
                    help="test nights of a snorer: episodes in this share of their NREM sleep (the fit unchanged)")
    ap.add_argument("--card", action="store_true",
                    help="the model card's own coefficients (calibration['chin_emg']) instead of a fit on FIT_NIGHTS")
    ap.add_argument("--no-gate", dest="gate", action="store_false",
                    help="weigh the EMG in on every night, also those that show no atonia")
    ap.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "models"
                    / "sleepscope-default.safetensors")
    ap.add_argument("--cache", type=Path, default=None, help="keep the scored nights in this folder")
    args = ap.parse_args(argv)
    model, _ = load_model(args.model)

    def nights(names, family_of, randomised_of, degrade_by, rbd=False, snore=0.0):
        out = []
        for i, name in enumerate(names):
            family, randomise = family_of(i), randomised_of(i)
            probs, labels, envelope = scored_night(name, family, randomise, model, args.cache)
            seed = zlib.crc32(f"{name}-{family}-{randomise}".encode())
            if rbd:
                envelope = without_atonia(envelope, labels, seed)
            if snore:
                envelope = snoring(envelope, labels, snore, seed)
            envelope = degrade(envelope, degrade_by, seed)
            out.append((probs, labels, emg_tone(envelope), log_tone(envelope) if args.gate else None))
        return out

    fit = nights(FIT_NIGHTS, lambda i: "AC"[(i // 2) % 2], lambda i: i % 2 == 1,
                 0.0 if args.fit_clean else args.degrade)
    weights = (np.asarray(model.calibration["chin_emg"]["coefficients"]) if args.card else fit_weights(fit))
    print("SYNTHETIC SIGNALS (real hypnograms): not evidence about real recordings.")
    print(f"model {model.version}; EMG degraded by {args.degrade:g}"
          f"{' (coefficients fitted on clean EMG)' if args.fit_clean and args.degrade else ''}"
          f"{'; test nights without REM atonia' if args.rbd else ''}"
          f"{f'; test nights snore in {args.snore:.0%} of NREM sleep' if args.snore else ''}"
          f"{'' if args.gate else '; every night, atonia or not'}; coefficients ({'card' if args.card else 'fitted'}) "
          f"W N1 N2 N3 REM: {' '.join(f'{w:+.2f}' for w in weights)}")
    print("| row | model: acc / macro-F1 | N1 F1 | REM F1 | + chin EMG: acc / macro-F1 | N1 F1 | REM F1 |")
    print("|---|---|---|---|---|---|---|")
    print(line("fit nights (A, C)", fit, weights))
    for family, randomise in ROWS:
        test = nights(TEST_NIGHTS[: args.nights], lambda i: family, lambda i: randomise, args.degrade, args.rbd,
                      args.snore)
        print(line(f"{family}{' random' if randomise else ''}", test, weights), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
