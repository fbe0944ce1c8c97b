"""`sleepscope report`: a night's scoring report as PDF or HTML."""

from __future__ import annotations

import argparse
from pathlib import Path

from sleepscope.scoring.commands import scoring_file_command, scoring_path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = scoring_file_command(
        subparsers, "report", help="write a scoring report (PDF or HTML) of a scoring file",
        description="Write a night's report: recording identity, scorers and sign-off, hypnogram, AASM sleep "
                    "statistics, agreement with the model and imported scorers, and notes. "
                    "The format follows the suffix of --out (.pdf or .html).",
    )
    p.add_argument("--out", type=Path, default=None, metavar="REPORT",
                   help="REPORT.pdf or REPORT.html (default: <recording>.sleepscope-report.pdf beside the scoring "
                        "file)")
    p.set_defaults(func=_report)


def default_report_path(scoring_path: Path, suffix: str = ".pdf") -> Path:
    from sleepscope.scoring.locations import output_path

    return output_path(scoring_path, "report" + suffix)


def _report(args: argparse.Namespace) -> int:
    from sleepscope.scoring.report import build_report, write_report
    from sleepscope.scoring.scoring_file import ScoringFile

    args.scoring_file = scoring_path(args.scoring_file)
    sf = ScoringFile.read(args.scoring_file)
    out = args.out or default_report_path(args.scoring_file)
    report = build_report(sf)
    write_report(report, out)
    for w in report.warnings():
        print(f"note: {w}")
    print(f"wrote {out}")
    return 0
