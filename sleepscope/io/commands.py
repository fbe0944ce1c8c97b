"""`sleepscope info` and `sleepscope cohort`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="show the channels, rates, start time, duration and epochs of a recording")
    p.add_argument("file", help="EDF, EDF+ or BDF recording")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--eeg", metavar="NAME", help="EEG channel the stager would use (default: chosen by name)")
    p.add_argument("--eog", metavar="NAME", help="EOG channel the stager would use (default: chosen by name)")
    p.add_argument("--ecg", metavar="NAME", help="ECG lead whose beats the stager would subtract (default: found by "
                   "name; 'none': none)")
    p.add_argument("--codes", default=None, metavar="CODE=STAGE,...",
                   help="how the lab's scoring beside it numbers its stages, where its system numbers them its own "
                        "way (as for `sleepscope import`)")
    p.set_defaults(func=_info)

    p = subparsers.add_parser("cohort", help="list the Sleep-EDF nights of a sleep-cassette folder and the paper's split")
    p.add_argument("folder", help="PhysioNet sleep-cassette folder (searched recursively)")
    p.add_argument("--download", action="store_true",
                   help="first download the Sleep-EDF-20 nights from PhysioNet into the folder (needs network)")
    p.add_argument("--subjects", default="0-19", help="subjects to download, e.g. 0-19 or 0,1,5 (default 0-19)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_cohort)


def _info(args: argparse.Namespace) -> int:
    from sleepscope.errors import SleepScopeError
    from sleepscope.io.annotations import lights_of, read_annotations
    from sleepscope.io.channels import choose_channels
    from sleepscope.io.hypnogram_tables import parse_codes
    from sleepscope.io.pairing import read_lab_scoring
    from sleepscope.io.recording import check_channel_units, read_info
    from sleepscope.scoring.events import clock_time
    from sleepscope.stages import NAMES, mix_text, stage_counts

    codes = parse_codes(args.codes) if args.codes else None
    info = read_info(args.file)
    annotations, unread = read_annotations(args.file)
    scoring, stages, unreadable, notes, offset = read_lab_scoring(args.file, info.n_epochs, info.start_time,
                                                                 codes=codes)
    own = stages if scoring is not None and scoring == Path(args.file) else None
    names = [c.name for c in info.channels]
    try:
        choice = choose_channels(names, args.eeg, args.eog, args.ecg)
    except SleepScopeError as exc:  # still show the header: it helps the user choose
        choice, problem = None, exc
    eeg, eog = (choice.eeg, choice.eog) if choice else (None, None)
    if args.json:
        d = info.to_dict()
        d["eeg"], d["eog"] = eeg, eog
        d["channel_choice"] = choice.to_dict() if choice else None
        d["annotations"] = [{"onset_s": a.onset, "duration_s": a.duration, "text": a.text} for a in annotations]
        d["own_stages"] = None if own is None else {"scored_epochs": int((own >= 0).sum())}
        d["scoring"] = None if scoring is None else {
            "file": str(scoring), "own": own is not None, "problem": unreadable,
            "scored_epochs": None if stages is None else int((stages >= 0).sum()),
            "stage_epochs": None if stages is None else dict(zip(NAMES, stage_counts(stages))), "notes": list(notes),
            "grid_offset_s": offset}
        print(json.dumps(d, indent=2))
    else:
        _print_info(info, eeg, eog)
        if annotations:
            off, on = lights_of(annotations)
            marks = [f"lights {w} {clock_time(t, info.start_time)}" for w, t in (("off", off), ("on", on))
                     if t is not None]
            print(f"annotations: {len(annotations)} of its own, besides sleep stages"
                  + (f" ({', '.join(marks)})" if marks else ""))
        elif unread:
            print(f"annotations: not read ({unread})")
        if own is not None:
            print(f"sleep stages: {int((own >= 0).sum())} of {info.n_epochs} epochs scored in its annotations "
                  "(the workstation shows them as the reference scorer)")
        elif scoring is not None and stages is not None:
            print(f"scoring: {scoring.name} beside it, {int((stages >= 0).sum())} of {info.n_epochs} epochs scored "
                  f"({mix_text(stage_counts(stages))}; the workstation shows it as the reference scorer)")
        elif scoring is not None:
            print(f"scoring: {scoring.name} beside it, not read: {unreadable}")
        for note in notes:
            print(f"  note: {note}")
        if choice:
            print("the model reads:")
            for line in choice.lines():
                print(f"  {line}")
    if choice is None:
        raise problem
    check_channel_units(args.file, (choice.eeg, choice.eog))  # after the listing: it helps to see the units
    return 0


def _print_info(info, eeg: str | None, eog: str | None) -> None:
    print(f"file:       {info.path}")
    print(f"format:     {info.format}")
    print(f"start:      {info.start_time.isoformat(sep=' ')}")
    h, rem = divmod(int(round(info.duration_s)), 3600)
    print(f"duration:   {info.duration_s:.0f} s ({h} h {rem // 60:02d} min {rem % 60:02d} s)")
    print(f"epochs:     {info.n_epochs} complete 30-s epochs")
    for start, end in info.gaps:  # EDF+D: stretches without signal keep their place on the clock
        print(f"gap:        {start:.0f} s to {end:.0f} s after the start ({(end - start) / 60:.1f} min without signal)")
    print(f"EEG / EOG:  {eeg or 'not found'} / {eog or 'not found'}")
    print("channels:")
    width = max(len(c.name) for c in info.channels)
    for c in info.channels:
        mark = "  <- EEG" if c.name == eeg else "  <- EOG" if c.name == eog else ""
        print(f"  {c.name:<{width}}  {c.fs:g} Hz  {c.unit or '-'}{mark}")
    from sleepscope.io.channels import derived_channels

    derived = derived_channels([c.name for c in info.channels])
    if derived:  # what --eeg and --eog may also name in a referential recording
        print("derivations computed from the channels above (name them with --eeg or --eog):")
        for name, (active, reference) in derived.items():
            mark = "  <- EEG" if name == eeg else "  <- EOG" if name == eog else ""
            print(f"  {name:<{width}}  {active} - {reference}{mark}")


def _parse_subjects(text: str) -> list[int]:
    from sleepscope.errors import SleepScopeError

    out: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                a, b = part.split("-")
                out.extend(range(int(a), int(b) + 1))
            elif part.strip():
                out.append(int(part))
    except ValueError:
        raise SleepScopeError(f"--subjects {text!r}: write subject numbers like 0-19 or 0,1,5") from None
    return out


def _cohort(args: argparse.Namespace) -> int:
    from sleepscope.data import cohorts
    from sleepscope.tasks import TqdmProgress

    if args.download:
        with TqdmProgress("download", disable=args.json) as bar:
            cohorts.download_sleep_cassette(args.folder, _parse_subjects(args.subjects), progress=bar)
    nights = cohorts.scan_sleep_cassette(args.folder)
    edf20 = cohorts.sleep_edf_20(nights)
    pre = cohorts.pretraining_nights(nights)
    split = cohorts.PAPER_SPLIT
    if args.json:
        print(json.dumps({
            "folder": str(args.folder),
            "sleep_edf_20": [n.to_dict() for n in edf20],
            "pretraining": [n.to_dict() for n in pre],
            "split": split.to_dict(),
        }, indent=2))
        return 0
    print(f"{args.folder}: {len(nights)} nights found")
    print(f"Sleep-EDF-20: {len(edf20)} nights of {len({n.subject for n in edf20})} subjects "
          f"({sum(n.hypnogram is not None for n in edf20)} with hypnogram)")
    for n in edf20:
        print(f"  {n.name}  subject {n.subject:2d} night {n.night}  {n.hypnogram.name if n.hypnogram else 'NO HYPNOGRAM'}")
    print(f"pre-training (other subjects): {len(pre)} nights of {len({n.subject for n in pre})} subjects")
    print(f"split: validation {list(split.validation)}, test {list(split.test)}, "
          f"train (nested order) {list(split.train)}")
    missing = cohorts.missing_nights(nights)
    if missing:
        print(f"missing Sleep-EDF-20 nights: {', '.join(missing)}")
    return 0
