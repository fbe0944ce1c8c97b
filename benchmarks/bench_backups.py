"""When the model's EEG or EOG fails for two hours of the night, what do its epochs get? SYNTHETIC nights.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_backups.py [--nights 6] [--families A,B] [--model PATH]
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_backups.py --fail eog     # the EOG fails instead

Each night (the REAL Sleep-EDF hypnograms of the shipped model's test subjects,
signals from a synthetic family: ``A`` recorded like Sleep-EDF, Fpz-Cz and
Pz-Oz and one bipolar EOG; ``B random``, a held-out family recorded by randomly
drawn labs) has the model's EEG (or EOG) flat, an electrode off, for 240 epochs
from a third of the way in. Over those epochs, through `predict` as the
workstation runs it:

* ``recorded``: the night as recorded, nothing failed (the ceiling);
* ``no backup`` (EEG failing): the product without a backup: artefact epochs,
  no stage (0 pre-scored);
* ``EOG alone`` (EEG failing): the failed epochs given the EEG as absent
  (zeros, as channel dropout trained): the other way one might score them;
* ``EEG alone`` (EOG failing): the product without the other eye: the EOG
  input zeroed there (before, artefact epochs without a stage);
* ``backup``: the product: the file's next EEG derivation, or the other eye,
  read there (`sleepscope.model.backups`).

With ``--yasa``, YASA's second opinion on the night as recorded, without the
backup and with it (it reads the channels as they are: a flat stretch is what
it stages). Nights without a backup for the failing channel (family A has one
EOG) give the rows they can. Prints the share of the stretch pre-scored, its accuracy on
what was pre-scored, and the mean top probability. Synthetic figures are not
evidence about real recordings.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

FAILED_EPOCHS = 240


def night(name: str, family: str, randomise: bool):
    """(Recording at 100 Hz with the model's EEG and EOG and their backups, stages), or None without an EOG."""
    from sleepscope.data.synthetic import parse_night_name, real_hypnogram, synth_night
    from sleepscope.io.channels import choose_channels
    from sleepscope.io.hypnogram import trim_wake
    from sleepscope.io.recording import Recording, resample_to_target

    labels = real_hypnogram(name)
    labels = np.asarray(labels[trim_wake(labels, 60)])
    subject, n = parse_night_name(name)
    kwargs = {"family": family, "randomise": randomise} if (family != "A" or randomise) else {}
    s = synth_night(labels, subject=subject, night=n, **kwargs)
    choice = choose_channels(list(s.signals))
    if choice.eeg is None or choice.eog is None:
        return None
    keep = [k for k in (choice.eeg, choice.eog, choice.backup_eeg, choice.backup_eog) if k is not None]
    chans = {k: resample_to_target(s.signals[k], s.fs) for k in keep}
    m = min(len(v) for v in chans.values())
    m -= m % 3000
    rec = Recording(path=None, start_time=s.start_time, fs=100.0, channels={k: v[:m] for k, v in chans.items()},
                    eeg_name=choice.eeg, eog_name=choice.eog, source_rates={k: float(s.fs) for k in chans},
                    channel_choice=choice)
    return rec, labels[: rec.n_epochs].astype(np.int64)


def ways_of(rec, model, fail: str, span: slice, yasa: bool = False) -> dict:
    """The predictions of one night, each way the failed stretch can be read (with `yasa`, YASA's second
    opinion beside them: "YASA ..." rows)."""
    from sleepscope.model.infer import predict
    from sleepscope.model.inputs import model_input

    name = rec.eeg_name if fail == "eeg" else rec.eog_name
    failed = dict(rec.channels)
    failed[name] = rec.channels[name].copy()
    failed[name][span.start * 3000:span.stop * 3000] = 0.0
    broken = replace(rec, channels=failed, _quality=None)
    choice = rec.channel_choice
    out = {"recorded": predict(rec, model)}
    if fail == "eeg":
        out["no backup"] = predict(replace(broken, channel_choice=replace(choice, backup_eeg=None)), model)
        x = model_input(broken, model.config.normalisation)
        x[span, 0] = 0.0  # the EEG absent in those epochs only
        out["EOG alone"] = predict(x, model)
    else:
        out["EEG alone"] = predict(replace(broken, channel_choice=replace(choice, backup_eog=None)), model)
    if getattr(choice, f"backup_{fail}") is not None:
        out["backup"] = predict(broken, model)
    if yasa:
        from sleepscope.scorers.yasa_scorer import YasaScorer

        out["YASA recorded"] = YasaScorer().score(rec)
        out["YASA no backup"] = YasaScorer().score(replace(broken, channel_choice=replace(choice, **{
            f"backup_{fail}": None})))
        if getattr(choice, f"backup_{fail}") is not None:
            out["YASA backup"] = YasaScorer().score(broken)
    return out


def main(argv=None) -> int:
    from bench_shift import TEST_NIGHTS

    from sleepscope.model.checkpoint import default_model_path, load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=6)
    ap.add_argument("--families", default="A,B", help="A (Sleep-EDF's recorder) and/or B (randomly drawn labs)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--fail", choices=("eeg", "eog"), default="eeg", help="the channel made flat (default eeg)")
    ap.add_argument("--yasa", action="store_true", help="YASA's second opinion too, as the workstation runs it")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    model, card = load_model(args.model or default_model_path())
    print(f"model {card.version}; {args.fail.upper()} flat for {FAILED_EPOCHS} epochs of each night; SYNTHETIC nights")
    for family in args.families.split(","):
        randomise = family != "A"
        row = f"{family}{' random' if randomise else ''}"
        got: dict[str, list] = {}
        for name in TEST_NIGHTS[: args.nights]:
            found = night(name, family, randomise)
            if found is None:
                print(f"  {row} {name}: no EEG and EOG, left out")
                continue
            rec, y = found
            a = len(y) // 3
            span = slice(a, a + FAILED_EPOCHS)
            this = {}
            for way, p in ways_of(rec, model, args.fail, span, args.yasa).items():
                stages, truth = p.stages[span], y[span]
                scored = (stages >= 0) & (truth >= 0)
                this[way] = (scored.mean(), (stages[scored] == truth[scored]).mean() if scored.any() else np.nan,
                             p.probs[span][scored].max(axis=1).mean() if scored.any() else np.nan)
                got.setdefault(way, []).append(this[way])
            backup = getattr(rec.channel_choice, f"backup_{args.fail}")
            print(f"  {row} {name} ({rec.eeg_name}, {rec.eog_name}; backup {backup}): "
                  + ", ".join(f"{w} {v[1]:.3f}" for w, v in this.items()), flush=True)
        for way, values in got.items():
            share, acc, conf = np.nanmean(np.array(values, dtype=float), axis=0)
            print(f"{row:9s} {way:14s} nights {len(values)}  pre-scored {share:.2f}  accuracy {acc:.3f}  "
                  f"mean top probability {conf:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
