"""Recipe: the robust default model, fine-tuned from the paper-recipe model on randomised labs, family B held out.

    .venv/bin/python models/train_robust.py [--out models/sleepscope-default] [--steps 1200] [--init MODEL]

1. Nights of the shipped model's 16 training subjects (real Sleep-EDF
   hypnograms), synthesised by the training families (``--families``,
   default A and C, alternating in pairs), every other one recorded by a
   randomly drawn lab (``synth_night(..., randomise=True)``: derivation, EOG
   montage and leakage, gains, sampling rate, filters, mains, artefacts).
   Family B (built independently) is never used: it is the held-out family
   that ``benchmarks/bench_shift.py`` judges the model on.
2. Inputs: ``--normalisation`` (default "epoch+amplitude": the paper's
   per-epoch z-score, which keeps a short all-wake clip right, plus each
   epoch's log amplitude; ``sleepscope.model.inputs``).
3. Fine-tuning of ``--init`` (default: the shipped paper-recipe model) with
   ``sleepscope.model.train.train``. With "epoch+amplitude" the amplitude
   layer (``SleepStager.amplitude``) is new and starts as the identity, so the
   run starts exactly at ``--init`` and learns how far to use amplitude.
   Channel dropout 0.3 (EEG-only and EOG-only sequences), Adam lr 3e-4, 8
   sequences of 20 epochs per step, validation on 4 nights of other subjects
   (training families only) every ``--val-every`` steps, the best kept.
4. With ``--eeg-opinion W``, the model's probabilities become a mixture of
   its opinion on the whole input and, weighted W, on the EEG alone
   (``ModelConfig.eeg_opinion``; ``sleepscope.model.infer.night_outputs``); with
   ``--eog-opinion V``, also of its opinion on the EOG alone, weighted V
   (``ModelConfig.eog_opinion``). With ``--recalibrate``, either changes the card's weight.
   With ``--night-statistics``, each night is scored with batch-norm
   statistics re-estimated on its own sleep period
   (``ModelConfig.night_statistics``; ``sleepscope.model.night_norm``).
5. With ``--runs K``, K runs (seeds ``--seed`` to ``--seed`` + K-1) are trained from ``--init`` and
   their weights averaged (a "model soup": one run's luck, good or bad, on
   data it never saw weighs 1/K). With ``--average-with MODEL``, the trained
   weights are then averaged with
   MODEL's (``sleepscope.model.weight_average``; weight ``--average-weight``
   on the trained ones), MODEL being another fine-tune of the same ``--init``.
6. With ``--transitions``, each scored night is read through the stage transitions of real
   hypnograms (``sleepscope.model.transitions``; Sleep-EDF's, all ages, but no subject a
   benchmark tests on or the form was chosen on), fitted with the calibration.
7. Calibration (temperature, confidence map, unsure threshold) and the familiarity limits
   on those validation nights and the first nights of subjects 20-35 (``calibration_nights``),
   familiarity statistics from the training nights
   (``sleepscope.model.reliability``), written into the card with the wall
   time and ``--trained-on``. ``--recalibrate MODEL`` does only this, for a
   model already trained (its weights and the rest of its card stay); with
   ``--eog-only`` it fits only the EOG-only temperature (a recording without
   EEG, ``calibration.fit_eog_only``) and keeps the rest of the calibration.
8. The chin EMG's coefficients (``sleepscope.model.chin_emg``): the calibrated model's
   probabilities on the calibration nights plus each epoch's relative chin-EMG tone, one
   coefficient per stage, by cross-entropy; ``--recalibrate MODEL --chin-emg`` fits only these.

On the 2-core CPU, generating the nights takes minutes and each step about
a second; on a GPU (``--device cuda``) the steps are far cheaper than the
synthesis. The card's figures come from ``benchmarks/bench_shift.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ("SC4111E0", "SC4121E0", "SC4141E0", "SC4191E0", "SC4071E0", "SC4021E0", "SC4031E0", "SC4181E0",
         "SC4041E0", "SC4081E0", "SC4101E0", "SC4171E0")
VALIDATION = ("SC4161E0", "SC4011E0", "SC4051E0", "SC4131E0")
HELD_OUT_FAMILY = "B"
#: Subjects whose first nights chose how the chain is read (reports/stage-transitions-synthetic/).
CHAIN_CHOSEN_ON = tuple(range(20, 36))


def calibration_nights() -> tuple[str, ...]:
    """The validation nights and the first night of each CHAIN_CHOSEN_ON subject.

    Four nights are too few to know how far an in-distribution night goes (``familiarity.night_limit``).
    None of them is a benchmark's test night.
    """
    from sleepscope.data.synthetic import hypnogram_names, parse_night_name

    first = {}
    for n in hypnogram_names():
        subject, night = parse_night_name(n)
        if n.startswith("SC") and subject in CHAIN_CHOSEN_ON and night == 1:
            first.setdefault(subject, n)
    return VALIDATION + tuple(first[s] for s in sorted(first))


class Windows:
    """Sequences of 20 epochs every 5 epochs of in-memory nights, as `(x (L, 2, 3000), y (L,))`."""

    def __init__(self, nights, seq_len: int = 20, stride: int = 5) -> None:
        self.nights = nights
        self.seq_len = seq_len
        self.index = [(i, s) for i, (d, y) in enumerate(nights) for s in range(0, len(y) - seq_len + 1, stride)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int):
        import torch

        i, s = self.index[k]
        d, y = self.nights[i]
        return (torch.from_numpy(np.ascontiguousarray(d["x"][s:s + self.seq_len])),
                torch.from_numpy(np.asarray(y[s:s + self.seq_len], dtype=np.int64)))


def nights(names, normalisation: str, first_randomised: bool, families=("A",), log=print, second=None, start=0):
    """[(night_arrays, stages)]; with `second` (a Scorer) each night also carries its stages.

    Family and lab follow each night's position, counted from `start`: a list continued in a second call
    passes the length of the first, so that both calls give what one call over the whole list would.
    """
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_shift import synth_recording

    from sleepscope.model.reliability import night_arrays

    out = []
    for i, name in enumerate(names, start):
        randomise = (i % 2 == 1) != first_randomised
        # Families alternate in pairs so that each family meets plain and randomised labs.
        family = families[(i // 2) % len(families)]
        rec, y = synth_recording(name, family, randomise)
        night = night_arrays(rec, normalisation)
        if second is not None:
            night["second_opinion"] = second.score(rec).stages
        out.append((night, y))
        log(f"  {name} family {family}{' (randomised lab)' if randomise else ''}: {len(y)} epochs")
    return out


def load_init(path: Path, normalisation: str):
    """(model with `normalisation`, card of `path`): the weights of `path` (a new amplitude layer starts as the identity)."""
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.network import with_normalisation

    init, init_card = load_model(path)
    return with_normalisation(init, normalisation), init_card


def second_opinion():
    """(YASA's scorer, its name in the familiarity reason), or (None, None) without yasa."""
    from sleepscope.scorers.yasa_scorer import YasaScorer, yasa_available

    if not yasa_available():
        print("yasa is not installed: the card gets no second-opinion limit")
        return None, None
    scorer = YasaScorer()
    return scorer, f"{scorer.version}, trained on real nights"


def benchmark_subjects() -> set[int]:
    """The subjects whose nights a benchmark tests on (bench_shift's night sets, bench_site's labs)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_shift import NIGHT_SETS
    from bench_site import SIZES, night_names

    from sleepscope.data.synthetic import parse_night_name

    tested = [*(n for nights in NIGHT_SETS.values() for n in nights),
              *night_names(max(s.unlabelled + s.pool + s.test for s in SIZES.values()))]
    return {parse_night_name(n)[0] for n in tested}


def transition_chain():
    """(chain, the nights it was counted in): stage transitions of the real Sleep-EDF (SC) hypnograms of
    every subject, of all ages, except those whose nights a benchmark tests on or the chain was chosen on."""
    from sleepscope.data.synthetic import hypnogram_names, parse_night_name, real_hypnogram
    from sleepscope.model.transitions import count_transitions

    left_out = benchmark_subjects() | set(CHAIN_CHOSEN_ON)
    names = [n for n in hypnogram_names() if n.startswith("SC") and parse_night_name(n)[0] not in left_out]
    return count_transitions(real_hypnogram(n) for n in names), names


def calibration_set(normalisation: str, families, second=None, validation=()):
    """[(night_arrays, stages)] of calibration_nights(); `validation`: the validation nights, already made,
    which open that list. The rest continue from their positions, so that a training run and --recalibrate
    calibrate on the same family and lab for each night whatever the number of families."""
    names = calibration_nights()
    done = list(validation)
    return done + nights(names[len(done):], normalisation, first_randomised=True, families=families, second=second,
                         start=len(done))


def calibrated_on(names) -> str:
    return f"validated on {', '.join(VALIDATION)}; calibrated on {', '.join(names)}"


def transitions_source(names) -> str:
    return f"the real Sleep-EDF hypnograms of {len(names)} nights: {', '.join(names)}"


def chin_emg_entry(model, families) -> dict:
    """The card's chin-EMG coefficients (``sleepscope.model.chin_emg``) for `model` as calibrated, fitted on the
    calibration nights (same families and labs as `calibration_set`) with their chin EMG."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_shift import synth_recording

    from sleepscope.model.chin_emg import fit_card_entry

    names = calibration_nights()
    recordings = []
    for i, name in enumerate(names):
        randomise = i % 2 == 0
        family = families[(i // 2) % len(families)]
        recordings.append(synth_recording(name, family, randomise))
        print(f"  {name} family {family}{' (randomised lab)' if randomise else ''}: chin EMG", flush=True)
    return fit_card_entry(model, recordings, fitted_on=f"the chin EMG of the nights {calibrated_on(names)}")


def recalibrate(args) -> int:
    """Refit a trained model's card calibration and familiarity on the recipe's nights; the weights stay."""
    from sleepscope.model.checkpoint import load_model, save_model
    from sleepscope.model.lineage import trained_channel_dropout
    from sleepscope.model.reliability import eog_only_calibration, fit_reliability

    t0 = time.perf_counter()
    model, card = load_model(args.recalibrate)
    if args.night_statistics:
        model.config = card.config = model.config.with_(night_statistics=True)
    opinions = {k: v for k, v in (("eeg_opinion", args.eeg_opinion), ("eog_opinion", args.eog_opinion))
                if v is not None}
    if opinions:  # the weights stay; the probabilities they give change, so the calibration below is refitted
        model.config = card.config = model.config.with_(**opinions)
    families = tuple(card.metrics.get("training_families") or ("A", "C"))
    norm = model.config.normalisation
    if args.chin_emg:
        print("calibration nights:")
        card.calibration["chin_emg"] = chin_emg_entry(model, families)
    elif args.eog_only:
        print("calibration nights:")
        card.calibration.update(eog_only_calibration(model, calibration_set(norm, families), card.calibration))
        card.calibration["eog_only_calibrated_on"] = f"{calibrated_on(calibration_nights())}, their EEG removed"
    else:
        print("training nights:")
        # the nights it was trained on (a --more-train run's card lists them), in their order: same family and lab
        train_nights = nights(tuple(card.metrics.get("training_nights") or TRAIN), norm, first_randomised=False,
                              families=families)
        print("calibration nights:")
        second, second_name = second_opinion()
        names = calibration_nights()
        cal_nights = calibration_set(norm, families, second)
        dropout = trained_channel_dropout(card.familiarity, card.metrics)
        chain, chain_nights = transition_chain() if args.transitions else (None, [])
        card.calibration, card.familiarity = fit_reliability(model, train_nights, cal_nights, channel_dropout=dropout,
                                                             second_opinion=second_name, transitions=chain)
        card.data = card.data.replace(f"validated and calibrated on {', '.join(VALIDATION)}", calibrated_on(names))
        if chain is not None:
            card.calibration["transitions_from"] = transitions_source(chain_nights)
        model.calibration = dict(card.calibration)
        card.calibration["chin_emg"] = chin_emg_entry(model, families)
    version = card.version
    card = save_model(model, args.out, card)
    if card.version != version:
        raise SystemExit(f"the weights changed ({version} -> {card.version}): not a recalibration")
    c = card.calibration
    minutes = (time.perf_counter() - t0) / 60
    if args.chin_emg:
        e = c["chin_emg"]
        print(f"chin-EMG coefficients of {card.version} in {args.out} (W N1 N2 N3 REM): "
              f"{' '.join(f'{w:+.2f}' for w in e['coefficients'])}, clip {e['clip']:g}; cross-entropy "
              f"{e['nll_without']:.3f} -> {e['nll_with']:.3f} on {e['n_epochs']} epochs ({minutes:.0f} min)")
    elif args.eog_only:
        print(f"EOG-only temperature of {card.version} in {args.out}: {c['eog_only_temperature']:.3f}, ECE "
              f"{c['eog_only_ece_before']:.3f} -> {c['eog_only_ece']:.3f} ({minutes:.0f} min)")
    else:
        print(f"recalibrated {card.version} into {args.out} in {minutes:.0f} min: temperature "
              f"{c['temperature']:.3f}, ECE {c['ece_before']:.3f} -> {c['ece']:.3f}, unsure under {c['unsure_threshold']}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--init", type=Path, default=ROOT / "models" / "sleepscope-default.safetensors")
    ap.add_argument("--out", type=Path, default=None,
                    help="where to write the model (default: models/sleepscope-default; with --recalibrate, MODEL "
                         "itself)")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--val-every", type=int, default=200)
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="end the training at the first validation after this many minutes (wall, from the start)")
    ap.add_argument("--channel-dropout", type=float, default=0.3)
    ap.add_argument("--gain", type=float, default=0.0,
                    help="share of sequences scaled by one broadband gain per channel per step (x0.33-x3; "
                         "sleepscope.model.band_gains.random_gain)")
    ap.add_argument("--band-gain", type=float, default=0.0,
                    help="share of sequences reshaped by random band gains per step (sleepscope.model.band_gains)")
    ap.add_argument("--lowpass", type=float, default=0.0,
                    help="share of sequences low-passed at random per step (20-45 Hz; sleepscope.model.band_gains)")
    ap.add_argument("--highpass", type=float, default=0.0,
                    help="share of sequences high-passed at random per step (0.15-1 Hz; sleepscope.model.band_gains)")
    ap.add_argument("--highpass-shared", action="store_true",
                    help="one high-pass cut-off and order per sequence for both channels, as one amplifier setting "
                         "gives (default: drawn per channel)")
    ap.add_argument("--drift", type=float, default=0.0,
                    help="share of sequences given a random slow drift per step (sleepscope.model.band_gains)")
    ap.add_argument("--fast-noise", type=float, default=0.0,
                    help="share of sequences given broadband fast noise per step (sleepscope.model.band_gains)")
    ap.add_argument("--fast-noise-uv", default=None, metavar="LO,HI",
                    help="RMS range (µV) of that noise (default: sleepscope.model.band_gains.FAST_NOISE_UV)")
    ap.add_argument("--heartbeats", type=float, default=0.0,
                    help="share of sequences given one heart's beats per step (sleepscope.model.band_gains)")
    ap.add_argument("--polarity", type=float, default=0.0,
                    help="share of channels reversed in polarity per sequence and step (sleepscope.model.polarity)")
    ap.add_argument("--eeg-opinion", type=float, default=None,
                    help="weight of the EEG-alone opinion in the shipped probabilities (ModelConfig.eeg_opinion); "
                         "set after training, before the calibration (default 0; with --recalibrate: MODEL's)")
    ap.add_argument("--eog-opinion", type=float, default=None,
                    help="weight of the EOG-alone opinion (ModelConfig.eog_opinion), as --eeg-opinion")
    ap.add_argument("--night-statistics", action="store_true",
                    help="re-estimate the batch norms' statistics on each night's sleep period at inference "
                         "(ModelConfig.night_statistics); set after training, before the calibration")
    ap.add_argument("--transitions", action="store_true",
                    help="read each scored night through real nights' stage transitions (sleepscope.model.transitions),"
                         " counted in Sleep-EDF's real hypnograms but no benchmark's subjects; fitted with the calibration")
    ap.add_argument("--runs", type=int, default=1,
                    help="train this many runs (seeds --seed, --seed + 1, ...) from --init and average their weights "
                         "(default 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the first run (default 0)")
    ap.add_argument("--average-with", type=Path, default=None,
                    help="average the trained weights with this model's (a fine-tune of the same --init)")
    ap.add_argument("--average-weight", type=float, default=0.5,
                    help="the trained weights' share in the average (default 0.5)")
    ap.add_argument("--freeze-encoders", action="store_true",
                    help="keep --init's encoders (the down-sampling paths), train the rest")
    ap.add_argument("--encoder-lr-scale", type=float, default=1.0,
                    help="the encoders' learning rate as a share of the rest's (default 1; ignored when frozen)")
    ap.add_argument("--normalisation", default="epoch+amplitude", choices=("epoch", "night", "epoch+amplitude"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--families", default="A,C",
                    help=f"comma-separated training families (never {HELD_OUT_FAMILY}, the held-out one)")
    ap.add_argument("--trained-on", default="the 2-core CPU of the development machine",
                    help="where it runs, for the card")
    ap.add_argument("--recalibrate", type=Path, default=None, metavar="MODEL",
                    help="train nothing: refit MODEL's calibration and familiarity statistics on this recipe's "
                         "nights (after a change to how they are fitted) and write MODEL's weights with them to --out")
    ap.add_argument("--eog-only", action="store_true",
                    help="with --recalibrate: fit only the EOG-only temperature on those nights and keep the rest "
                         "of MODEL's card (a card calibrated before the temperature existed)")
    ap.add_argument("--more-train", default="",
                    help="comma-separated Sleep-EDF night names trained on after the recipe's own (TRAIN), e.g. nights "
                         "of older subjects, whose sleep holds more N1 and shorter N3 bouts; never a benchmark's night")
    ap.add_argument("--chin-emg", action="store_true",
                    help="with --recalibrate: fit only the chin-EMG coefficients (sleepscope.model.chin_emg) on those "
                         "nights and keep the rest of MODEL's card")
    args = ap.parse_args(argv)
    if args.out is None:
        # Recalibrating a candidate must not overwrite the shipped model unless asked to.
        args.out = (args.recalibrate.with_suffix("") if args.recalibrate is not None
                    else ROOT / "models" / "sleepscope-default")
    if args.recalibrate is not None:
        return recalibrate(args)
    import torch

    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.distributed import DistInfo
    from sleepscope.model.reliability import fit_reliability
    from sleepscope.model.train import TrainConfig, train

    t0 = time.perf_counter()
    from sleepscope.model.band_gains import FAST_NOISE_UV

    fast_noise_uv = (tuple(float(v) for v in args.fast_noise_uv.split(",")) if args.fast_noise_uv
                     else FAST_NOISE_UV)
    families = tuple(f.strip().upper() for f in args.families.split(",") if f.strip())
    if HELD_OUT_FAMILY in families:
        ap.error(f"family {HELD_OUT_FAMILY} is the held-out family: it must not train the model")
    model, init_card = load_init(args.init, args.normalisation)
    norm = model.config.normalisation
    train_names = TRAIN + tuple(n.strip() for n in args.more_train.split(",") if n.strip())
    from sleepscope.data.synthetic import parse_night_name

    clash = set(train_names) & (set(VALIDATION) | set(calibration_nights()))
    tested = benchmark_subjects()
    clash |= {n for n in train_names[len(TRAIN):] if parse_night_name(n)[0] in tested}
    if clash:
        ap.error(f"{', '.join(sorted(clash))}: a night that validates or calibrates the model, or of a subject a "
                 "benchmark tests on, is not a training night")
    print("training nights:")
    train_nights = nights(train_names, norm, first_randomised=False, families=families)
    print("validation nights:")
    second, second_name = second_opinion()
    val_nights = nights(VALIDATION, norm, first_randomised=True, families=families, second=second)
    names = calibration_nights()
    print("more calibration nights:")
    cal_nights = calibration_set(norm, families, second, val_nights)

    def on_validation(v) -> bool:
        print(f"  step {v.step}: validation macro-F1 {v.metrics['macro_f1']:.3f}, accuracy "
              f"{v.metrics.get('accuracy', float('nan')):.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
        return args.max_minutes is not None and time.perf_counter() - t0 > 60 * args.max_minutes

    from sleepscope.model.weight_average import average_weights

    results, soup = [], None
    for run, seed in enumerate(range(args.seed, args.seed + args.runs)):
        torch.manual_seed(seed)
        model, _ = load_init(args.init, args.normalisation)
        cfg = TrainConfig(epochs=1000, batch_size=8, lr=3e-4, max_steps=args.steps, seed=seed, patience=1000,
                          val_every=args.val_every, channel_dropout=args.channel_dropout,
                          freeze_encoders=args.freeze_encoders, gain=args.gain, band_gain=args.band_gain,
                          lowpass=args.lowpass, highpass=args.highpass, highpass_shared=args.highpass_shared,
                          drift=args.drift, fast_noise=args.fast_noise, fast_noise_uv=fast_noise_uv,
                          heartbeats=args.heartbeats, polarity=args.polarity,
                          encoder_lr_scale=args.encoder_lr_scale)
        if args.runs > 1:
            print(f"run {run + 1} of {args.runs} (seed {seed}):")
        results.append(train(model, Windows(train_nights), Windows(val_nights, stride=20), cfg,
                             on_validation=on_validation, info=DistInfo(device=torch.device(args.device))))
        model.cpu().eval()
        # A running mean: the soup of runs 1..k+1 is the soup of 1..k moved 1/(k+1) of the way to run k+1.
        soup = model.state_dict() if soup is None else average_weights(soup, model, 1.0 / (run + 1))
    model.load_state_dict(soup)
    model.cpu().eval()
    averaged = None
    if args.average_with is not None:
        from sleepscope.model.checkpoint import load_model

        other, other_card = load_model(args.average_with)
        model.load_state_dict(average_weights(other, model, args.average_weight))
        averaged = {"with": other_card.version, "weight_of_trained": args.average_weight}
        print(f"averaged with {other_card.version}: {args.average_weight:g} of the trained weights")
    runs_note = (f"{len(results)} runs of seeds {args.seed}-{args.seed + len(results) - 1}, their weights averaged"
                 if len(results) > 1 else f"seed {args.seed}")
    averaged_note = (f"averaged with {averaged['with']} ({1 - args.average_weight:g} of its weights), "
                     if averaged else "")
    model.config = model.config.with_(eeg_opinion=args.eeg_opinion or 0.0, eog_opinion=args.eog_opinion or 0.0,
                                      night_statistics=args.night_statistics)
    chain, chain_nights = transition_chain() if args.transitions else (None, [])
    calibration, familiarity = fit_reliability(model, train_nights, cal_nights, channel_dropout=args.channel_dropout,
                                               second_opinion=second_name, transitions=chain)
    if chain is not None:
        calibration["transitions_from"] = transitions_source(chain_nights)
    model.calibration = dict(calibration)
    print("chin EMG of the calibration nights:")
    calibration["chin_emg"] = chin_emg_entry(model, families)
    minutes = (time.perf_counter() - t0) / 60
    fast_note = (f"random fast noise of {fast_noise_uv[0]:g}-{fast_noise_uv[1]:g} uV on {args.fast_noise:.0%} of "
                 "sequences, " if args.fast_noise else "")
    slow_encoders = args.encoder_lr_scale != 1 and not args.freeze_encoders
    card = ModelCard(
        config=model.config, parent=init_card.version,
        data=(f"fine-tuned from {init_card.version} on {len(train_names)} synthetic nights of families "
              f"{'+'.join(families)} following the real "
              f"Sleep-EDF hypnograms of {', '.join(train_names)} (every other one recorded by a randomised lab); "
              f"family {HELD_OUT_FAMILY} held out; {calibrated_on(names)}"),
        metrics={"steps": results[0].steps, "best_step": [r.best_step for r in results] if len(results) > 1
                 else results[0].best_step, "validation": [r.validation for r in results] if len(results) > 1
                 else results[0].validation, "runs": len(results),
                 "held_out_family": HELD_OUT_FAMILY, "training_families": list(families),
                 "training_nights": list(train_names), "seed": args.seed,
                 "trained_on": args.trained_on, "freeze_encoders": args.freeze_encoders,
                 "gain": args.gain, "band_gain": args.band_gain, "lowpass": args.lowpass, "highpass": args.highpass,
                 "highpass_shared": args.highpass_shared, "drift": args.drift, "fast_noise": args.fast_noise,
                 "fast_noise_uv": list(fast_noise_uv),
                 "heartbeats": args.heartbeats, "polarity": args.polarity,
                 "encoder_lr_scale": args.encoder_lr_scale,
                 "averaged": averaged,
                 "minutes": round(minutes, 1)},
        notes=(f"TRAINED ON SYNTHETIC SIGNALS. Recipe: models/train_robust.py ({norm} normalisation, "
               f"{'encoders frozen, ' if args.freeze_encoders else ''}"
               f"{f'encoders at {args.encoder_lr_scale:g} of the learning rate, ' if slow_encoders else ''}"
               f"{f'broadband gains on {args.gain:.0%} of sequences, ' if args.gain else ''}"
               f"{f'band gains on {args.band_gain:.0%} of sequences, ' if args.band_gain else ''}"
               f"{f'random low-passes on {args.lowpass:.0%} of sequences, ' if args.lowpass else ''}"
               f"{f'random high-passes on {args.highpass:.0%} of sequences, ' if args.highpass else ''}"
               f"{'one high-pass for both channels, ' if args.highpass and args.highpass_shared else ''}"
               f"{f'random slow drifts on {args.drift:.0%} of sequences, ' if args.drift else ''}"
               f"{fast_note}"
               f"{f'random heartbeats on {args.heartbeats:.0%} of sequences, ' if args.heartbeats else ''}"
               f"{f'each channel reversed in polarity with probability {args.polarity:g}, ' if args.polarity else ''}"
               f"{f'EEG-alone opinion weighted {args.eeg_opinion:g} at inference, ' if args.eeg_opinion else ''}"
               f"{f'EOG-alone opinion weighted {args.eog_opinion:g} at inference, ' if args.eog_opinion else ''}"
               f"{'batch-norm statistics of each night at inference, ' if args.night_statistics else ''}"
               f"{averaged_note}channel dropout {args.channel_dropout}, Adam lr 3e-4, 8 x 20 epochs per step, "
               f"{results[0].steps} steps, the weights of step {', '.join(str(r.best_step) for r in results)} "
               f"kept by validation macro-F1, {runs_note}), on {args.trained_on}, "
               f"{minutes:.0f} min including the synthesis and the calibration."),
        calibration=calibration, familiarity=familiarity)
    card = save_model(model, args.out, card)
    print(f"wrote {args.out} (version {card.version}) in {minutes:.0f} min; temperature "
          f"{calibration['temperature']:.3f}, ECE {calibration['ece_before']:.3f} -> {calibration['ece']:.3f}, "
          f"unsure under {calibration['unsure_threshold']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
