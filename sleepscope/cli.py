"""The `sleepscope` command: one entry point, sub-commands registered by each package.

Each package keeps its commands in its own `commands.py` with a
`register(subparsers)` function; each sub-command sets `func(args) -> int`.
Heavy imports (torch, Qt) happen inside the command functions so that
`sleepscope info` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sleepscope import __version__
from sleepscope.errors import SleepScopeError, describe_os_error

# Order is the order of `sleepscope --help`.
_COMMAND_MODULES = (
    "sleepscope.io.commands",
    "sleepscope.data.commands",
    "sleepscope.model.commands",
    "sleepscope.model.train_commands",
    "sleepscope.model.calibrate_commands",
    "sleepscope.model.finetune_commands",
    "sleepscope.scoring.commands",
    "sleepscope.scoring.report_commands",
    "sleepscope.experiments.commands",
    "sleepscope.gui.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sleepscope",
        description="SleepScope: score polysomnography in 30-s epochs with a deep model's suggestions. "
        "Without a command, opens the scoring workstation.",
    )
    parser.add_argument("--version", action="version", version=f"sleepscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that package has no commands yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # A bare `sleepscope` opens the workstation when the GUI is installed.
        args = parser.parse_args(["gui"]) if "gui" in _subcommands(parser) else None
        if args is None:
            parser.print_help()
            return 0
    try:
        return int(args.func(args) or 0)
    except SleepScopeError as exc:
        print(f"sleepscope: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sleepscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `sleepscope cohort DIR | head`: the reader left; not an error of ours.
        sys.stderr.close()
        return 0
    except OSError as exc:
        # A folder that cannot be written, a full disk: the user's environment, not a bug.
        # Writers go through sleepscope.atomic, so nothing half-written stays behind.
        print(f"sleepscope: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


if __name__ == "__main__":
    sys.exit(main())
