"""When the model's EEG (or EOG) fails for two hours of the night, what do its epochs get? SYNTHETIC nights.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_backup_eeg.py [--nights 6] [--families A,B] [--model PATH]
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_backup_eeg.py --fail eog     # the EOG fails instead

Each night (the REAL Sleep-EDF hypnograms of the shipped model's test subjects,
signals from a synthetic family: ``A`` recorded like Sleep-EDF, Fpz-Cz and
Pz-Oz; ``B random``, a held-out family recorded by randomly drawn labs with two
or more EEG derivations) has its model EEG flat (an electrode off) for 240
epochs from a third of the way in. Over those epochs, through `predict` as the
workstation runs it:

* ``recorded``: the night as recorded, nothing failed (the ceiling);
* ``no backup``: the product before the backup EEG: artefact epochs, no stage
  (counted as 0 pre-scored);
* ``EOG alone``: the failed epochs given the EEG as absent (zeros, as channel
  dropout trained): the other way one might score them;
* ``backup EEG``: the product: the file's next EEG derivation read there
  (`sleepscope.model.backup_eeg`).

With ``--fail eog`` the EOG is flat instead, and the rows are ``recorded`` and
``EEG alone``, what the product does there now (its EOG input zeroed; before,
those epochs were artefact epochs without a stage).

Prints the share of the stretch pre-scored, its accuracy on what was pre-scored,
and the mean top probability. Synthetic figures are not evidence about real
recordings.
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
    """(Recording at 100 Hz with the model's EEG and EOG and the backup EEG, stages), or None without a backup."""
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
    if choice.backup_eeg is None or choice.eog is None:  # every row reads a night with a backup EEG
        return None
    chans = {k: resample_to_target(s.signals[k], s.fs) for k in (choice.eeg, choice.eog, choice.backup_eeg)}
    m = min(len(v) for v in chans.values())
    m -= m % 3000
    rec = Recording(path=None, start_time=s.start_time, fs=100.0, channels={k: v[:m] for k, v in chans.items()},
                    eeg_name=choice.eeg, eog_name=choice.eog, source_rates={k: float(s.fs) for k in chans},
                    channel_choice=choice)
    return rec, labels[: rec.n_epochs].astype(np.int64)


def main(argv=None) -> int:
    from bench_shift import TEST_NIGHTS

    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict
    from sleepscope.model.inputs import model_input

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=6)
    ap.add_argument("--families", default="A,B", help="A (Sleep-EDF's recorder) and/or B (randomly drawn labs)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--fail", choices=("eeg", "eog"), default="eeg", help="the channel made flat (default eeg)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    model, card = load_model(args.model or default_model_path())
    print(f"model {card.version}; {args.fail.upper()} flat for {FAILED_EPOCHS} epochs of each night; SYNTHETIC nights")
    ways = ("recorded", "no backup", "EOG alone", "backup EEG") if args.fail == "eeg" else ("recorded", "EEG alone")
    for family in args.families.split(","):
        randomise = family != "A"
        row = f"{family}{' random' if randomise else ''}"
        got = {w: [] for w in ways}
        for name in TEST_NIGHTS[: args.nights]:
            found = night(name, family, randomise)
            if found is None:
                print(f"  {row} {name}: no second EEG derivation, left out")
                continue
            rec, y = found
            a = len(y) // 3
            span = slice(a, a + FAILED_EPOCHS)
            failed = dict(rec.channels)
            name = rec.eeg_name if args.fail == "eeg" else rec.eog_name
            failed[name] = rec.channels[name].copy()
            failed[name][a * 3000:(a + FAILED_EPOCHS) * 3000] = 0.0
            broken = replace(rec, channels=failed, _quality=None)
            if args.fail == "eog":
                preds = {"recorded": predict(rec, model), "EEG alone": predict(broken, model)}
            else:
                x = model_input(broken, model.config.normalisation)
                x[span, 0] = 0.0  # the EEG absent in those epochs only
                no_backup = replace(broken, channel_choice=replace(rec.channel_choice, backup_eeg=None))
                preds = {"recorded": predict(rec, model), "no backup": predict(no_backup, model),
                         "EOG alone": predict(x, model), "backup EEG": predict(broken, model)}
            for way, p in preds.items():
                stages, truth = p.stages[span], y[span]
                scored = (stages >= 0) & (truth >= 0)
                got[way].append((scored.mean(), (stages[scored] == truth[scored]).mean() if scored.any() else np.nan,
                                 p.probs[span][scored].max(axis=1).mean() if scored.any() else np.nan))
            print(f"  {row} {name} ({rec.eeg_name}, backup {rec.channel_choice.backup_eeg}): "
                  + ", ".join(f"{w} {got[w][-1][1]:.3f}" for w in ways), flush=True)
        for way in ways:
            if got[way]:
                share, acc, conf = np.nanmean(np.array(got[way], dtype=float), axis=0)
                print(f"{row:9s} {way:11s} pre-scored {share:.2f}  accuracy {acc:.3f}  mean top probability {conf:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
