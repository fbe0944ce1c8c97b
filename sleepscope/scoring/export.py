"""Hypnogram import into a scoring file, and export of the technician's labels.

Export formats: Sleep-EDF-style EDF+ annotations (MNE reads them back) with
the events, notes and lights markers beside the stages, a CSV with
provenance and the model's stage and confidence per epoch, a CSV of the
events and lights, and a sleep-statistics summary (text or JSON) over the
lights-off to lights-on period. `sleepscope.io.hypnogram` does the
file formats; this module adds what the scoring file knows.

The scoring file does not keep the recording's gaps (EDF+D: epochs without
signal): callers with the recording open pass `Recording.gap` as `no_signal`;
without it they are read from the header of the recording beside the scoring
file, and the summary says when that recording is not there.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, time as dtime, timedelta
from pathlib import Path

import numpy as np

from sleepscope.atomic import replacing, write_text_atomic
from sleepscope.errors import SleepScopeError
from sleepscope.scoring.agreement import agreement, kappa_text
from sleepscope.scoring.events import FROM_RECORDING, LIGHTS_OFF, LIGHTS_ON, arousal_onsets, count_text, untaken
from sleepscope.scoring.locations import output_path
from sleepscope.scoring.scoring_file import Edit, ScoringFile
from sleepscope.scoring.stats import SleepStats, partial_scoring_warning, reviewed_epochs, sleep_statistics
from sleepscope.stages import Stage

#: EDF+ needs a start date; 1985-01-01 is the EDF+ convention for an unknown one.
UNKNOWN_START = datetime(1985, 1, 1, 0, 0, 0)

CSV_COLUMNS = ("epoch", "onset_s", "clock_time", "stage", "source", "scorer", "model_stage", "model_confidence",
               "model_read_from")
EVENT_COLUMNS = ("kind", "onset_s", "duration_s", "clock_time", "text", "channel", "scorer", "marked_at", "source")


def import_hypnogram(sf: ScoringFile, path: str | Path, scorer_name: str | None = None,
                     apply: bool = False, codes: dict[str, int] | None = None) -> tuple[np.ndarray, Edit | None]:
    """Read a hypnogram file (EDF+, CSV, one stage per line) as the label set `scorer_name`.

    With `apply` the labels also become the technician's starting labels, source
    `import:<file name>` (one undoable edit); `codes` declares how a table's stage codes read
    (`io.hypnogram_tables.parse_codes`). Returns (labels, that edit or None).
    """
    from sleepscope.io.hypnogram import read_hypnogram, read_sleepedf_hypnogram

    path = Path(path)
    n = sf.n_epochs
    if not path.is_file():
        raise SleepScopeError(f"{path}: no such hypnogram file. Check the path.")
    with open(path, "rb") as f:
        head = f.read(8)
    if codes is None and (head == b"0       " or path.suffix.lower() in (".edf", ".bdf")):
        # An EDF+ hypnogram may start at another clock time than the recording: align it.
        labels = read_sleepedf_hypnogram(path, n_epochs=n, start_time=sf.identity.start_time)
    else:
        labels = read_hypnogram(path, n_epochs=n, start_time=sf.identity.start_time, codes=codes)
    if not (labels >= 0).any():
        raise SleepScopeError(f"{path} holds no scored epoch within this recording: check that it belongs to it.")
    name = scorer_name or path.stem
    edit = sf.add_scorer_labels(name, labels, source_file=str(path), apply=apply)
    return labels, edit


def import_annotations(sf: ScoringFile, annotations: list) -> list[tuple[str, float, float, str]]:
    """A recording's annotations (`sleepscope.io.annotations.Annotation`) as `sf`'s events, marked from the
    recording, in one undoable edit: arousals and artefacts by their words, the rest as notes; lights markers and
    those already taken are left out. Returns the (kind, start, end, text) taken."""
    from sleepscope.io.annotations import as_events

    new = untaken(as_events(annotations, sf.identity.duration_s), sf.events)
    sf.add_events(new, source=FROM_RECORDING)
    return new


def export_edf(sf: ScoringFile, out: str | Path) -> Path:
    """The technician's labels as Sleep-EDF-style EDF+ annotations (unscored: `Sleep stage ?`),
    with the events and notes (their spans) and the lights markers (instants)."""
    from sleepscope.io.hypnogram import write_edf_hypnogram

    out = Path(out)
    _check_labels(sf)
    write_edf_hypnogram(out, sf.labels, sf.identity.start_time or UNKNOWN_START, extra=mark_annotations(sf))
    return out


def mark_annotations(sf: ScoringFile) -> list[tuple[float, float | None, str]]:
    """(onset s, duration s or None, text) of the lights markers and events, in time order."""
    lights = sf.lights
    out: list[tuple[float, float | None, str]] = [
        (t, None, text) for t, text in ((lights.off, LIGHTS_OFF), (lights.on, LIGHTS_ON)) if t is not None]
    out += [(e.start, e.duration, e.label) for e in sf.events]
    return sorted(out, key=lambda a: a[0])


def export_events_csv(sf: ScoringFile, out: str | Path) -> Path:
    """One row per event or note, and one per lights marker: kind, onset and duration (s), clock time,
    text, channel, who marked it and when."""
    out = Path(out)
    ident = sf.identity
    lights = sf.lights
    if not sf.events and lights.off is None and lights.on is None:
        raise SleepScopeError(f"{sf.path} has no events, notes or lights markers to export: mark some first.")

    def clock(t: float) -> str:
        return (ident.start_time + timedelta(seconds=t)).isoformat(sep=" ") if ident.start_time else ""

    rows = [(t, ["lights off" if which == "off" else "lights on", f"{t:g}", "0", clock(t), "", "", "", "", ""])
            for which, t in (("off", lights.off), ("on", lights.on)) if t is not None]
    rows += [(e.start, [e.kind, f"{e.start:g}", f"{e.duration:g}", clock(e.start), e.text, e.channel, e.scorer,
                        datetime.fromtimestamp(e.time).isoformat(timespec="seconds") if e.time else "", e.source])
             for e in sf.events]
    with replacing(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(EVENT_COLUMNS)
        for _, row in sorted(rows, key=lambda r: r[0]):
            w.writerow(row)
    return out


def export_csv(sf: ScoringFile, out: str | Path) -> Path:
    """One row per epoch: epoch, onset_s, clock_time, stage, source, scorer, model_stage ("?" where the model gave
    no stage), model_confidence, model_read_from (`epoch_reading.read_from`: "backup EEG", "EEG alone", ...;
    empty where read as recorded or not kept)."""
    from sleepscope.model.epoch_reading import read_from

    out = Path(out)
    _check_labels(sf)
    ident = sf.identity
    pred = sf.latest_prediction()
    sources, scorers = sf.sources, sf.label_scorers
    with replacing(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for i, code in enumerate(sf.labels):
            onset = i * ident.epoch_seconds
            clock = (ident.start_time + timedelta(seconds=onset)).isoformat(sep=" ") if ident.start_time else ""
            row = [i, f"{onset:g}", clock, Stage(int(code)).label, sources[i], scorers[i]]
            if pred is not None:
                row += [Stage(int(pred.stages[i])).label, f"{float(pred.confidence[i]):.4f}",
                        "" if pred.reading is None else read_from(int(pred.reading[i]))]
            else:
                row += ["", "", ""]
            w.writerow(row)
    return out


def analysis_period(sf: ScoringFile, lights_off: int | None = None,
                    lights_on: int | None = None) -> tuple[int | None, int | None]:
    """Lights off/on as epochs: those given, else the scoring file's markers, else the recording's ends."""
    marked_off, marked_on = sf.lights_epochs()
    return (marked_off if lights_off is None else lights_off), (marked_on if lights_on is None else lights_on)


def recording_no_signal(sf: ScoringFile) -> tuple[np.ndarray | None, str | None]:
    """Per epoch, True where the recording holds no signal (EDF+D gaps), from the header of the recording
    beside the scoring file: (mask, None), or (None, why not) when that recording is not there."""
    from sleepscope.io import read_info

    ident = sf.identity
    name = ident.file_name or "the recording"
    unknown = (f"{name} was not available beside the scoring file: epochs without signal (gaps of an EDF+D "
               "recording), if any, count as unscored here. Export from the open recording to leave them out.")
    candidate = Path(sf.path).parent / ident.file_name if ident.file_name else None
    if candidate is None or not candidate.is_file():
        return None, unknown
    try:
        info = read_info(candidate)
    except (SleepScopeError, OSError, ValueError):
        return None, unknown
    same_start = ident.start_time is None or info.start_time == ident.start_time
    if info.n_epochs != ident.n_epochs or not same_start:
        return None, unknown
    gap = np.zeros(ident.n_epochs, dtype=bool)
    e = ident.epoch_seconds
    for start, end in info.gaps:  # an epoch lacking signal for any part of it is a gap epoch, as Recording.gap
        gap[int(np.floor(start / e + 1e-9)):int(np.ceil(end / e - 1e-9))] = True
    return gap, None


def resolve_no_signal(sf: ScoringFile, no_signal: np.ndarray | None) -> tuple[np.ndarray | None, str | None]:
    """`no_signal` (the open recording's gap mask) as a mask of the file's epochs, else `recording_no_signal`."""
    if no_signal is None:
        return recording_no_signal(sf)
    gap = np.zeros(sf.identity.n_epochs, dtype=bool)
    given = np.asarray(no_signal, dtype=bool).ravel()[: gap.size]
    gap[: given.size] = given
    return gap, None


def scoring_statistics(sf: ScoringFile, lights_off: int | None = None, lights_on: int | None = None,
                       no_signal: np.ndarray | None = None) -> SleepStats:
    """`no_signal`: the recording's gap mask (`Recording.gap`); None: read from the recording beside `sf`."""
    lights_off, lights_on = analysis_period(sf, lights_off, lights_on)
    no_signal, _ = resolve_no_signal(sf, no_signal)
    return sleep_statistics(sf.labels, epoch_s=sf.identity.epoch_seconds, lights_off=lights_off, lights_on=lights_on,
                            no_signal=no_signal, arousals=arousal_onsets(sf.events))


def statistics_summary(sf: ScoringFile, lights_off: int | None = None,
                       lights_on: int | None = None, no_signal: np.ndarray | None = None) -> dict:
    """Sleep statistics of the technician's labels, and their agreement with the latest model;
    `no_signal` as in `scoring_statistics`."""
    ident = sf.identity
    labels = sf.labels
    lights_off, lights_on = analysis_period(sf, lights_off, lights_on)
    no_signal, unknown = resolve_no_signal(sf, no_signal)
    gap = np.zeros(labels.size, dtype=bool) if no_signal is None else no_signal
    stats = scoring_statistics(sf, lights_off, lights_on, no_signal=gap)
    summary: dict = {
        "recording": ident.file_name,
        "fingerprint": ident.fingerprint,
        "start_time": ident.start_time.isoformat() if ident.start_time else None,
        "n_epochs": ident.n_epochs,
        # None: the recording was not available to tell (see "no_signal_note")
        "no_signal_epochs": None if no_signal is None else int(np.count_nonzero(gap)),
        "scored_epochs": int(((labels >= 0) & ~gap).sum()),
        "reviewed_epochs": int(reviewed_epochs(labels, sf.sources, sf.reviewed).sum()),
        "statistics": stats.to_dict(),
        "lights": {"off_s": sf.lights.off, "on_s": sf.lights.on},
        "events": {kind: sum(1 for e in sf.events if e.kind == kind) for kind in ("artefact", "arousal", "note")},
    }
    signed = sf.signed_off
    summary["sign_off"] = None if signed is None else {
        "scorer": signed.scorer, "time": datetime.fromtimestamp(signed.time).isoformat(timespec="seconds"),
        "changes_since": signed.changes_since}
    if unknown:
        summary["no_signal_note"] = unknown
    warning = partial_scoring_warning(labels, lights_off, lights_on, no_signal=gap)
    if warning:
        summary["warning"] = warning
    pred = sf.latest_prediction()
    if pred is not None and (labels >= 0).any():
        agr = agreement(labels, pred.stages)
        summary["model_agreement"] = {"model_version": pred.model_version, **agr.to_dict()}
    return summary


def format_summary(summary: dict, sf: ScoringFile, lights_off: int | None = None,
                   lights_on: int | None = None) -> str:
    ev = summary.get("events", {})
    gaps = summary.get("no_signal_epochs")
    lines = [f"Recording: {summary['recording'] or summary['fingerprint']}",
             f"Start: {summary['start_time'] or 'unknown'}",
             f"Lights off: {_marker(sf, sf.lights.off, 'start of recording')}; "
             f"lights on: {_marker(sf, sf.lights.on, 'end of recording')}",
             f"Events: {count_text([k for k, n in ev.items() for _ in range(n)]) or 'none'}",
             f"Epochs scored: {summary['scored_epochs']} of {summary['n_epochs'] - (gaps or 0)} "
             f"({summary['reviewed_epochs']} reviewed)"
             + (f"; {gaps} epochs without signal (gaps of the recording)" if gaps else ""),
             "Signed off: " + (f"{so['scorer']}, {so['time']}" + (f" ({so['changes_since']} label changes since)"
                                                                  if so["changes_since"] else "")
                               if (so := summary.get("sign_off")) else "no"), "",
             *([f"WARNING: {summary['warning']}", ""] if summary.get("warning") else []),
             *([f"NOTE: {summary['no_signal_note']}", ""] if summary.get("no_signal_note") else []),
             SleepStats(**summary["statistics"]).format_text()]
    agr = summary.get("model_agreement")
    if agr:
        lines += ["", f"Technician vs model {agr['model_version']}: accuracy {agr['accuracy']:.3f}, "
                      f"kappa {kappa_text(agr['kappa'])}, macro F1 {agr['macro_f1']:.3f} over {agr['n_epochs']} epochs"]
    return "\n".join(lines)


def export_stats(sf: ScoringFile, out: str | Path | None, as_json: bool | None = None,
                 lights_off: int | None = None, lights_on: int | None = None,
                 no_signal: np.ndarray | None = None) -> str:
    """Write the summary to `out` (JSON when it ends in .json or `as_json`); returns the text written.
    `no_signal`: the open recording's gap mask (`Recording.gap`); None: read from the recording beside `sf`."""
    summary = statistics_summary(sf, lights_off, lights_on, no_signal=no_signal)
    if as_json is None:
        as_json = out is not None and str(out).lower().endswith(".json")
    text = json.dumps(summary, indent=2) if as_json else format_summary(summary, sf, lights_off, lights_on)
    if out is not None:
        write_text_atomic(out, text + "\n")
    return text


def _marker(sf: ScoringFile, seconds: float | None, default: str) -> str:
    if seconds is None:
        return f"not marked ({default})"
    start = sf.identity.start_time
    at = (start + timedelta(seconds=seconds)).strftime("%H:%M:%S") if start else f"{seconds:g} s"
    return f"{at} (epoch {int(seconds // sf.identity.epoch_seconds) + 1})"


def epoch_at(sf: ScoringFile, when: str) -> int:
    """An epoch given as an index (`120`) or a clock time (`23:15` or `23:15:30`)."""
    when = when.strip()
    if when.isdigit():
        return int(when)
    start = sf.identity.start_time
    if start is None:
        raise SleepScopeError("This recording has no start time: give lights off/on as epoch numbers.")
    try:
        t = dtime.fromisoformat(when)
    except ValueError:
        raise SleepScopeError(f"{when!r} is neither an epoch number nor a clock time like 23:15.") from None
    moment = datetime.combine(start.date(), t)
    if moment < start:
        moment += timedelta(days=1)  # after midnight
    return int((moment - start).total_seconds() // sf.identity.epoch_seconds)


def default_export_path(scoring_path: Path, fmt: str, as_json: bool = False) -> Path:
    what = {"edf": "hypnogram.edf", "csv": "hypnogram.csv", "events": "events.csv",
            "stats": "statistics.json" if as_json else "statistics.txt"}
    return output_path(scoring_path, what[fmt])


def _check_labels(sf: ScoringFile) -> None:
    if not (sf.labels >= 0).any():
        raise SleepScopeError(
            f"{sf.path} has no technician labels yet: score or accept some epochs before exporting."
        )
