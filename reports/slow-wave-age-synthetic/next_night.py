"""The corrected subject's next night: fine-tuning's defaults against the child as trained reading each night with
its own statistics too ("subject mode": `keep_parent=0, reading="night"`), over many subjects and labs.

    .venv/bin/python reports/slow-wave-age-synthetic/next_night.py --families A,B [--cache CACHE] > next-night-AB.log
    .venv/bin/python reports/slow-wave-age-synthetic/next_night.py --summarise next-night-AB.log next-night-DE.log
    .venv/bin/python reports/slow-wave-age-synthetic/next_night.py --families A,B --seeds 3,4 > next-night-AB-34.log
    .venv/bin/python reports/slow-wave-age-synthetic/next_night.py --alternative night --seeds 0,1,2,3,4 ...

For each family given (recorded by randomised labs: one lab per subject, both nights alike), generation seeds 0-2
and the young set's four subjects (0, 6, 9, 15), the subject's first night corrected in full and the shipped model
fine-tuned on it both ways (`finetune()`, seed 0); the subject's second night read by the parent and both children.

Written before the run (stop 57): subject mode is worth offering when, over all cases, its mean accuracy on the
next night is above the defaults' by more than 0.01 and above them in at least two thirds of the cases. Either way
the defaults are not changed by this (they serve a lab's other subjects; see the report). Each case line ends with
the parent's accuracy on the corrected night itself (what the corrections show of how well it reads the subject).

Written after seeds 0-2 and before seeds 3-4 (stop 57), the rule "subject mode where the parent's accuracy on the
corrected night is below 0.86, the defaults elsewhere" (0.86 read off seeds 0-2) is confirmed when, on the 32
cases of seeds 3-4, its mean next-night accuracy is above the defaults' by more than 0.01 and it leaves no more
cases below the parent by more than 0.02 than the defaults do.

Written after both and before its run (stop 57), `--alternative night` (the defaults but each night also read with
its own statistics, `reading="night"`, the parent's share kept) over the same 80 cases: worth proposing as
fine-tuning's default reading when its mean next-night accuracy is above the defaults' by more than 0.005 and it
leaves no more cases below the parent by more than 0.02 than the defaults do (what it does to a lab's other
subjects is in ../site-learning-curve-new-parent-synthetic/: +0.012 and +0.028 on the labs measured there).
SYNTHETIC nights (real hypnograms).
"""
import sys

import numpy as np
from common import confusion, shipped


RULE_BELOW = 0.86


#: "defaults" below are fine-tuning's defaults when these runs were made: the child read nights as trained
#: (FineTuneOptions.reading is "night" since, after this script's own figures).
DEFAULTS_THEN = {"reading": "trained"}
ALTERNATIVES = {"subject mode": {"keep_parent": 0.0, "reading": "night"}, "night": {"reading": "night"}}


def summary(rows, name: str = "subject mode") -> str:
    """rows: (parent, defaults, the alternative `name` on the next night, parent on the corrected night)."""
    r = np.array(rows)
    gap = r[:, 2] - r[:, 1]
    rule = np.where(r[:, 3] < RULE_BELOW, r[:, 2], r[:, 1])
    return (f"{len(r)} cases: parent {r[:, 0].mean():.3f}, defaults {r[:, 1].mean():.3f}, {name} "
            f"{r[:, 2].mean():.3f}; {name} - defaults {gap.mean():+.3f} "
            f"(SE {gap.std(ddof=1) / np.sqrt(len(r)):.3f}), above in {np.sum(gap > 0)} of {len(r)}; below the parent "
            f"by more than 0.02: defaults {np.sum(r[:, 1] < r[:, 0] - 0.02)}, {name} "
            f"{np.sum(r[:, 2] < r[:, 0] - 0.02)}\n"
            f"rule ({name} where the parent reads the corrected night below {RULE_BELOW}: "
            f"{np.sum(r[:, 3] < RULE_BELOW)} cases): {rule.mean():.3f}, "
            f"rule - defaults {np.mean(rule - r[:, 1]):+.3f}; "
            f"below the parent by more than 0.02: {np.sum(rule < r[:, 0] - 0.02)}")


def main() -> None:
    if sys.argv[1:2] == ["--summarise"]:  # the case lines of several logs, read together
        rows = [[float(v) for v in line.split(": ")[1].replace("|", " ").split()] for f in sys.argv[2:]
                for line in open(f) if " -> " in line]
        print(summary(rows, open(sys.argv[2]).readline().rsplit("defaults, ", 1)[1].strip()))
        return
    args, parent = shipped(lambda a: "SYNTHETIC nights, randomised labs; the shipped model and two children per "
                           "corrected night. accuracy of the subject's second night: parent, defaults, "
                           + a.alternative,
                           lambda ap: (ap.add_argument("--families", default="A,B,D,E"),
                                       ap.add_argument("--seeds", default="0,1,2"),
                                       ap.add_argument("--alternative", choices=sorted(ALTERNATIVES),
                                                       default="subject mode")))
    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.finetune import FineTuneOptions, finetune
    from sleepscope.model.infer import predict
    from sleepscope.model.inputs import model_input
    from sleepscope.scoring.corrections import CorrectionSet

    card = load_model(default_model_path())[1]
    young = bs.NIGHT_SETS["young"]
    pairs = list(zip(young[:4], young[4:]))

    def accuracy(model, rec, y) -> float:
        cm = confusion(y, predict(rec, model).stages, np.zeros(len(y), bool))
        return float(np.trace(cm) / cm.sum())

    rows = []
    for fam in args.families.split(","):
        for seed in (int(x) for x in args.seeds.split(",")):
            for first, second in pairs:
                rec1, y1 = bs.cached_recording(first, fam, True, seed, args.cache)
                rec2, y2 = bs.cached_recording(second, fam, True, seed, args.cache)
                if not (rec1.eeg_name and rec1.eog_name and rec2.eeg_name and rec2.eog_name):
                    print(f"{fam} seed {seed} {first}: a lab without one of the two channels, left out", flush=True)
                    continue
                keep = np.flatnonzero(y1 >= 0)
                cs = CorrectionSet(model_input(rec1, parent.config.normalisation)[keep], y1[keep],
                                   np.full(keep.size, first, object), keep, np.full(keep.size, "technician", object))
                got = [accuracy(parent, rec2, y2)]
                for how in (DEFAULTS_THEN, ALTERNATIVES[args.alternative]):
                    got.append(accuracy(finetune(parent, card, cs, None, FineTuneOptions(**how)).model, rec2, y2))
                got.append(accuracy(parent, rec1, y1))
                rows.append(got)
                print(f"{fam} seed {seed} {first} -> {second}: {got[0]:.3f} {got[1]:.3f} {got[2]:.3f} | {got[3]:.3f}",
                      flush=True)
    print(summary(rows))

if __name__ == "__main__":
    main()
