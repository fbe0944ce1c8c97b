"""`sleepscope export` and `sleepscope import`: hypnograms in and out of a scoring file."""

from __future__ import annotations

import argparse
from pathlib import Path


def scoring_file_command(subparsers: argparse._SubParsersAction, name: str, help: str,
                         description: str) -> argparse.ArgumentParser:
    """A subcommand whose first argument is a scoring file, or a recording whose scoring file is meant."""
    p = subparsers.add_parser(name, help=help, description=description)
    p.add_argument("scoring_file", type=Path, metavar="SCORING_FILE",
                   help="a scoring file (NAME.sleepscope.h5), or the recording (EDF, EDF+, BDF) it scores")
    return p


def scoring_path(path: Path, create: bool = False) -> Path:
    """`path`, or when it names a recording, the recording's scoring file (beside it, or in the user's folder
    where its folder cannot be written), made when `create` and the recording has none yet."""
    from sleepscope.errors import SleepScopeError
    from sleepscope.io import open_recording
    from sleepscope.io.edfheader import RECORDING_SUFFIXES
    from sleepscope.scoring.scoring_file import ScoringFile

    if path.suffix.lower() not in RECORDING_SUFFIXES:
        if not path.exists():
            raise SleepScopeError(f"There is no scoring file {path}. Name the recording (EDF, EDF+, BDF) instead to "
                                  "use its scoring file" + (", made if it has none." if create else "."))
        return path
    recording = open_recording(path)
    try:
        with ScoringFile.open(recording, readonly=not create) as sf:
            return sf.path
    except SleepScopeError as e:
        if create or "There is no scoring file" not in str(e):
            raise
        raise SleepScopeError(f"{path} has no scoring file yet: open it in the workstation, pre-score it "
                              f"(sleepscope prescore {path.parent}) or import a hypnogram into it "
                              f"(sleepscope import {path} HYPNOGRAM).") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = scoring_file_command(
        subparsers, "export", help="export a scoring file's labels (EDF+, CSV), its events or its sleep statistics",
        description="Export the technician's labels of a scoring file as Sleep-EDF-style EDF+ annotations "
                    "(with the events, notes and lights markers), as CSV (with provenance and model confidence), "
                    "the events, notes and lights markers as CSV, or a sleep-statistics summary.",
    )
    p.add_argument("--format", choices=("edf", "csv", "events", "stats"), required=True)
    p.add_argument("--out", type=Path, default=None,
                   help="output file (default: beside the scoring file; stats: printed when not given)")
    p.add_argument("--json", action="store_true", help="stats as JSON (also when --out ends in .json)")
    p.add_argument("--lights-off", default=None, help="stats: epoch number or clock time (default: the lights-off marker, else the start)")
    p.add_argument("--lights-on", default=None, help="stats: epoch number or clock time (default: the lights-on marker, else the end)")
    p.set_defaults(func=_export)

    q = scoring_file_command(
        subparsers, "import", help="import a hypnogram into a scoring file as a named scorer's labels",
        description="Read a hypnogram (EDF+ annotations, NSRR or Profusion XML, Sleepware RML, CSV/TSV, or one stage per line) into a scoring file as the "
                    "label set of a named scorer; --apply also makes them the technician's starting labels.",
    )
    q.add_argument("hypnogram", type=Path, metavar="HYPNOGRAM", nargs="?")
    q.add_argument("--scorer", default=None, help="name of the label set (default: the hypnogram's file name)")
    q.add_argument("--apply", action="store_true",
                   help="also set the technician's labels (source import:<file>), as one undoable edit")
    q.add_argument("--codes", default=None, metavar="CODE=STAGE,...",
                   help="how the hypnogram's stage codes read, where its system numbers them its own way, e.g. "
                        "UCD's 0=W,1=REM,2=N1,3=N2,4=N3,5=N3,6=?,7=? (default: names, or codes 0-4 with 4 REM, "
                        "or R&K's 0-5 with 5 REM when 5 and above appear)")
    q.add_argument("--recording-events", action="store_true",
                   help="take the recording's own EDF+ annotations, and the events HYPNOGRAM scores besides the "
                        "stages (NSRR/Profusion XML, Sleepware RML, EDF+), as events (arousals and artefacts by their words, the "
                        "rest as notes; those already taken are not taken twice) and the lights markers where the "
                        "scoring has none; SCORING_FILE must then be the recording")
    q.set_defaults(func=_import)


def _export(args: argparse.Namespace) -> int:
    from sleepscope.scoring.export import (
        default_export_path,
        epoch_at,
        export_csv,
        export_edf,
        export_events_csv,
        export_stats,
    )
    from sleepscope.scoring.scoring_file import ScoringFile

    args.scoring_file = scoring_path(args.scoring_file)
    sf = ScoringFile.read(args.scoring_file)
    if args.format == "stats":
        off = epoch_at(sf, args.lights_off) if args.lights_off else None
        on = epoch_at(sf, args.lights_on) if args.lights_on else None
        as_json = args.json or (args.out is not None and args.out.suffix.lower() == ".json")
        text = export_stats(sf, args.out, as_json=as_json, lights_off=off, lights_on=on)
        if args.out is None:
            print(text)
        else:
            print(f"wrote {args.out}")
        return 0
    out = args.out or default_export_path(args.scoring_file, args.format)
    {"edf": export_edf, "csv": export_csv, "events": export_events_csv}[args.format](sf, out)
    print(f"wrote {out}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from sleepscope.errors import SleepScopeError
    from sleepscope.io.edfheader import RECORDING_SUFFIXES
    from sleepscope.io.hypnogram import notices_to_stderr
    from sleepscope.io.hypnogram_tables import parse_codes
    from sleepscope.scoring.export import import_hypnogram
    from sleepscope.scoring.scoring_file import ScoringFile
    from sleepscope.stages import mix_text, stage_counts

    if args.hypnogram is None and not args.recording_events:
        raise SleepScopeError("Name a hypnogram to import, or --recording-events to take the recording's own "
                              "annotations.")
    if args.recording_events and args.scoring_file.suffix.lower() not in RECORDING_SUFFIXES:
        raise SleepScopeError(f"--recording-events reads the recording's annotations: name the recording "
                              f"(EDF, EDF+, BDF) instead of {args.scoring_file}.")
    codes = parse_codes(args.codes) if args.codes is not None else None  # before any scoring file is made
    with ScoringFile.open_existing(scoring_path(args.scoring_file, create=True)) as sf, notices_to_stderr():
        if args.hypnogram is not None:
            labels, edit = import_hypnogram(sf, args.hypnogram, scorer_name=args.scorer, apply=args.apply,
                                            codes=codes)
            name = args.scorer or args.hypnogram.stem
            print(f"imported {int((labels >= 0).sum())} scored epochs of {sf.n_epochs} as scorer {name!r} "
                  f"({mix_text(stage_counts(labels))})"
                  + (f"; applied to {len(edit.epochs)} epochs as the technician's labels" if edit else ""))
        if args.recording_events:
            print(_take_recording_events(sf, args.scoring_file, args.hypnogram))
    return 0


def _take_recording_events(sf, recording: Path, hypnogram: Path | None = None) -> str:
    """The recording's annotations, and the events its `hypnogram` file scores besides the stages, as `sf`'s
    events, and its lights where `sf` has none; what was taken."""
    from sleepscope.errors import SleepScopeError
    from sleepscope.io.annotations import hypnogram_file_events, lights_of, read_annotations
    from sleepscope.scoring.events import clock_time, count_text
    from sleepscope.scoring.export import import_annotations

    annotations, problem = read_annotations(recording)
    if problem:
        raise SleepScopeError(f"{recording}: {problem}")
    if hypnogram is not None:
        scored, problem = hypnogram_file_events(hypnogram, sf.identity.start_time)
        if problem:
            raise SleepScopeError(f"{hypnogram}: {problem}")
        annotations = sorted(annotations + scored, key=lambda a: a.onset)
    new = import_annotations(sf, annotations)
    said = [f"took {len(new)} of the recording's annotations as events ({count_text([e[0] for e in new])})"
            if new else "no annotation of the recording to take as an event (none, lights only, or taken before)"]
    for which, t in zip(("off", "on"), lights_of(annotations)):
        if t is not None and getattr(sf.lights, which) is None:
            try:
                sf.set_lights(which, t)
                said.append(f"lights {which} at {clock_time(t, sf.identity.start_time)} as recorded")
            except SleepScopeError as exc:  # the events stay taken; the marker is said, not forced
                said.append(f"lights {which} as recorded not taken: {exc}")
    return "; ".join(said)
