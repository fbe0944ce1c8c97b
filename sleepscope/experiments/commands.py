"""`sleepscope experiment paper`: the paper's comparison, reproducible with one command."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("experiment", help="reproduce the paper's experiment (tables and figures)",
                              description="Experiments of the paper.")
    sub = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    e = sub.add_parser(
        "paper",
        help="pre-train (CLIP, SimCLR, TS-TCC), fine-tune at N = 3, 6, 9, 12 subjects, test; write tables and plots",
        description="The paper's protocol on a Sleep-EDF sleep-cassette folder (real or `sleepscope synth`): "
        "pre-training on the 58 subjects outside Sleep-EDF-20, fine-tuning on N = 3, 6, 9, 12 of its 12 "
        "training subjects with 4 methods and K seeds, early stopping on 4 validation subjects, testing on 4 "
        "test subjects. Writes OUT/results.json, OUT/tables.md, OUT/accuracy.png, OUT/macro_f1.png. "
        "Run it again with the same arguments to resume after an interruption.",
    )
    e.add_argument("--data", type=Path, required=True, help="Sleep-EDF sleep-cassette folder (SC4*-PSG.edf + hypnograms)")
    e.add_argument("--out", type=Path, required=True, help="output folder (results, tables, plots, runs/, pretrained/)")
    e.add_argument("--budget", choices=("smoke", "quick", "cpu", "full"), default="quick",
                   help="quick: ≤ 45 min on a 2-core CPU, decides nothing; cpu: one working session on a 2-core "
                   "CPU, every labelled epoch seen several times at each N, 3 seeds; full: a GPU; smoke: seconds, "
                   "for tests (default quick)")
    e.add_argument("--seeds", type=int, default=None, help="seeds per (method, N) (default: the budget's)")
    e.add_argument("--config", default=None, help="network size: tiny, default or paper (default: the budget's)")
    e.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    e.add_argument("--split-file", type=Path, default=None,
                   help='JSON {"validation": [...], "test": [...], "train": [...], "ns": [...]} instead of the '
                   "paper's fixed split")
    e.add_argument("--synthetic", action="store_true",
                   help="mark the results as synthetic data (detected anyway when the folder has the synth marker)")
    e.add_argument("--cache", type=Path, default=None, help="folder for the HDF5 caches (default: user data folder)")
    e.add_argument("--shift-data", type=Path, default=None,
                   help="beyond the paper: a folder with the test subjects' nights from a synthetic family held out "
                   "from pre-training and fine-tuning (`sleepscope synth --family B`); every run is also tested there")
    e.add_argument("--threads", type=int, default=None,
                   help="torch threads for training (default: torch's, one per core); 1 on a machine shared "
                   "with other work, where spinning threads slow everything down")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.set_defaults(func=_paper)

    t = sub.add_parser(
        "time-pieces",
        help="time the pieces of a budget (cache, pre-training, fine-tuning, scoring) and predict its duration",
        description="Write a few synthetic nights to a temporary folder, time one cache build, pre-training "
        "steps of each method, fine-tuning steps and scoring, in wall and CPU seconds, and predict the "
        "budget's longest duration on the synthetic Sleep-EDF-78 cohort from them.",
    )
    t.add_argument("--budget", choices=("smoke", "quick", "cpu", "full"), default="quick")
    t.add_argument("--config", default=None, help="network size (default: the budget's)")
    t.add_argument("--steps", type=int, default=5, help="steps timed per piece (default 5)")
    t.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=_time_pieces)


def _paper(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sleepscope.data.cohorts import PAPER_SPLIT
    from sleepscope.experiments.paper import Events, read_split_file, run_paper
    from sleepscope.errors import SleepScopeError
    from sleepscope.tasks import CancelToken, Cancelled

    if args.threads is not None:
        if args.threads < 1:
            raise SleepScopeError("--threads must be at least 1")
        import torch

        torch.set_num_threads(args.threads)
    split, ns = (PAPER_SPLIT, None)
    if args.split_file is not None:
        split, ns = read_split_file(args.split_file)
    command = _reconstruct(args)
    overall = tqdm(total=0, desc="experiment", position=0, disable=args.quiet, dynamic_ncols=True)
    steps = tqdm(total=0, desc="", position=1, leave=False, disable=args.quiet, dynamic_ncols=True)

    def on_overall(done: int, total: int, message: str) -> None:
        overall.total = total
        overall.n = done
        overall.set_description_str(message, refresh=False)
        overall.refresh()
        steps.reset(total=0)

    def on_step(done: int, total: int, message: str) -> None:
        if steps.total != total:
            steps.reset(total=total)
        steps.n = done
        steps.set_description_str(message, refresh=False)
        steps.refresh()

    # The first Ctrl-C asks the running job to stop at its next step (a pre-training then saves
    # its state for the rerun); a second one interrupts at once.
    cancel = CancelToken()

    def on_sigint(signum, frame) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()

    import threading

    main_thread = threading.current_thread() is threading.main_thread()  # signals need the main thread
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    try:
        payload = run_paper(args.data, args.out, budget=args.budget, seeds=args.seeds, config=args.config,
                            device=args.device, split=split, ns=ns, synthetic=True if args.synthetic else None,
                            cache_dir=args.cache, shift_data=args.shift_data, command=command, progress=on_overall,
                            events=Events(step_progress=on_step), cancel=cancel)
    except Cancelled:
        steps.close()
        overall.close()
        print(f"stopped; finished runs are kept in {args.out / 'runs'}. Run the same command again to resume.",
              file=sys.stderr)
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
        steps.close()
        overall.close()
    print(f"{len(payload['runs'])} runs; tables in {args.out / 'tables.md'}, plots accuracy.png and macro_f1.png")
    return 0


def _reconstruct(args: argparse.Namespace) -> str:
    """The command line equivalent to `args` (when called through the Python `main(argv)`)."""
    parts = ["sleepscope", "experiment", "paper", "--data", str(args.data), "--out", str(args.out),
             "--budget", args.budget]
    for flag, value in (("--seeds", args.seeds), ("--config", args.config), ("--split-file", args.split_file),
                        ("--cache", args.cache), ("--shift-data", args.shift_data)):
        if value is not None:
            parts += [flag, str(value)]
    if args.device != "auto":
        parts += ["--device", args.device]
    if args.threads is not None:
        parts += ["--threads", str(args.threads)]
    if args.synthetic:
        parts.append("--synthetic")
    return " ".join(shlex.quote(p) for p in parts)


def _time_pieces(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from sleepscope.errors import SleepScopeError
    from sleepscope.experiments.budgets import get_budget
    from sleepscope.experiments.timing import estimate, time_pieces
    from sleepscope.tasks import TqdmProgress

    if args.steps < 1 or args.threads < 1:
        raise SleepScopeError("--steps and --threads must be at least 1")
    b = get_budget(args.budget)
    if args.config:
        b = replace(b, config=args.config)
    with TqdmProgress("timing") as bar:
        t = time_pieces(b.config, steps=args.steps, pretrain_batch=32, batch_size=4, threads=args.threads,
                        progress=bar)
    est = {use: estimate(b, t, use=use) for use in ("cpu_s", "wall_s")}
    if args.json:
        print(json.dumps({"timings": t.to_dict(), "budget": b.to_dict(),
                          "estimate": {k: {**vars(v), "total_s": v.total_s} for k, v in est.items()}}, indent=2))
        return 0
    print(f"config {t.config}, {t.threads} thread(s), load average {t.load_average}")
    for p in t.pieces:
        print(f"  {p.name:<28} wall {p.wall_s:8.4f} s   cpu {p.cpu_s:8.4f} s   per {p.unit}")
    for use, e in est.items():
        print(f"budget {b.name} from {use}: cache {e.cache_s:.0f} s, pre-training {e.pretrain_s:.0f} s, "
              f"fine-tuning {e.finetune_s:.0f} s, validation {e.validation_s:.0f} s, test {e.test_s:.0f} s "
              f"= {e.total_s / 60:.1f} min")
    return 0
