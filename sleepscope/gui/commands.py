"""`sleepscope gui [FILE]` and `sleepscope demo`: the workstation's sub-commands."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gui", help="open the scoring workstation",
        description="Open the scoring workstation, optionally with an EDF/EDF+/BDF recording.")
    p.add_argument("file", nargs="?", help="recording to open (EDF, EDF+ or BDF)")
    p.add_argument("--model", help="model to pre-score with: NAME.safetensors, or 'default' for the model shipped "
                                   "with SleepScope (without --model: the registry's active model, else the "
                                   "shipped one)")
    p.add_argument("--no-prescore", action="store_true", help="do not pre-score the recording on opening")
    p.set_defaults(func=_gui)

    d = subparsers.add_parser(
        "demo", help="open a synthetic demo night pre-scored by the shipped model",
        description="Create (once, in the user data folder) a synthetic night in Sleep-EDF format "
                    "and open it in the workstation, pre-scored by the active model.")
    d.add_argument("--model", help="model to pre-score with: NAME.safetensors or 'default' (the shipped model); "
                                   "without it the registry's active model, else the shipped one")
    d.set_defaults(func=_demo)


def _gui(args: argparse.Namespace) -> int:
    from sleepscope.gui.app import run_gui

    return run_gui(args.file, model_path=args.model, prescore=not args.no_prescore)


def _demo(args: argparse.Namespace) -> int:
    from sleepscope.gui.app import run_demo

    return run_demo(model_path=args.model)
