"""`sleepscope synth`: write a synthetic Sleep-EDF sleep-cassette folder."""

from __future__ import annotations

import argparse

from sleepscope.data.synth.families import family_names
from sleepscope.errors import SleepScopeError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth",
        help="write synthetic PSG nights laid out like PhysioNet's Sleep-EDF sleep-cassette folder",
        description=(
            "Write synthetic PSG nights (SC4ssNE0-PSG.edf + EDF+ hypnogram) that follow the real "
            "Sleep-EDF hypnograms of the same names. Choose a cohort or a list of nights."
        ),
    )
    p.add_argument("--out", required=True, help="folder to write the EDF files into (created if missing)")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--cohort",
        choices=("sleep-edf-20", "sleep-edf-78"),
        help="sleep-edf-20 (default): subjects 0-19, 39 nights; sleep-edf-78: all 153 sleep-cassette nights",
    )
    which.add_argument("--nights", help="comma-separated night names, e.g. SC4001E0,SC4002E0")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed writes identical files (default 0)")
    p.add_argument("--workers", type=int, default=2, help="processes generating nights in parallel (default 2)")
    p.add_argument("--family", default="A", type=str.upper, choices=family_names(),
                   help="physiology family: A (the original generator, default), B, C, D or E (each built independently)")
    p.add_argument("--randomise", "--randomize", action="store_true",
                   help="record each subject as a randomly drawn lab would (derivations, EOG montage and leakage, "
                        "gains, sampling rate, filters, mains, artefacts, labels); see docs/synthetic-axes.md")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_synth)


def _synth(args: argparse.Namespace) -> int:
    from sleepscope.data.synthetic import cohort_names, write_cohort
    from sleepscope.tasks import TqdmProgress

    if args.nights:
        names = [n.strip() for n in args.nights.split(",") if n.strip()]
        if not names:
            raise SleepScopeError("--nights is empty; give night names like SC4001E0,SC4002E0")
    else:
        names = cohort_names(args.cohort or "sleep-edf-20")
    if args.seed < 0:
        raise SleepScopeError("--seed must be a non-negative integer")
    if args.workers < 1:
        raise SleepScopeError("--workers must be at least 1")
    with TqdmProgress("synthetic nights", disable=args.quiet) as bar:
        pairs = write_cohort(args.out, names, seed=args.seed, progress=bar, workers=args.workers,
                             family=args.family, randomise=args.randomise)
    how = f"family {args.family}" + (", randomised acquisition" if args.randomise else "")
    print(f"wrote {len(pairs)} nights ({2 * len(pairs)} EDF files, {how}) to {args.out}")
    return 0
