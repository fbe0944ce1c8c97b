"""Hypnograms written as text: CSV/TSV tables of stages (by name or code, per epoch or placed by a time column),
event tables (onset, duration, event), one stage per line, SOMNOmedics DOMINO sleep profiles and DREAMS
hypnograms; stage codes and their declared numberings; clock times, dates and elapsed times in their locales'
forms. `sleepscope.io.hypnogram.load_hypnogram` reads every format through here or its own EDF+ and XML readers.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.io.recording import EPOCH_SECONDS
from sleepscope.stages import Stage, folded, parse_stage


@dataclass(frozen=True)
class TextHypnogram:
    """A text hypnogram's stage intervals, before they are made epochs and fitted to a recording."""

    format: str  # "csv", "tsv", "text", "domino", "dreams"
    onsets: np.ndarray
    durations: np.ndarray
    stages: np.ndarray
    coded: bool = False  # its cells are stage codes, read by the declared codes when given
    numbered: bool = False  # most cells are numbers, read by the default rules
    read_as: tuple[tuple[str, int], ...] = ()  # each code and the stage it was read as
    untimed: bool = False  # a row per epoch and no times: the file does not say how long its epochs are


def read_text_hypnogram(path: Path, start_time: datetime | None, codes: dict[str, int] | None,
                        notes: list[str]) -> TextHypnogram:
    """The stages of a text hypnogram, its notes appended to `notes` (`load_hypnogram` says what each format is)."""
    fmt, text, lines, delimiter = _text_table(path)
    if not lines:
        raise unreadable(path, "it holds no stages (the file is empty)")
    if lines[0].lower().startswith("signal id:"):
        return TextHypnogram("domino", *_domino_profile(path, lines, start_time))
    if _DREAMS_HEADER.fullmatch(lines[0].strip()):
        return TextHypnogram("dreams", *_dreams_hypnogram(path, lines, notes))
    if delimiter and (events := _event_table(path, lines, delimiter, start_time, notes)) is not None:
        return TextHypnogram(fmt, *events)
    cells, times = _parse_table(path, lines, delimiter, notes) if delimiter else (_parse_lines(path, text), None)
    numbered = codes is None and 2 * sum(bool(_NUMBER.fullmatch(c.strip())) for _, c in cells) > len(cells)
    labels = _decode_codes(path, cells, notes) if codes is None else _declared_codes(path, cells, codes)
    read_as = tuple(sorted({c.strip(): int(v) for (_, c), v in zip(cells, labels)}.items(),
                           key=lambda kv: _code_order(kv[0])))
    if times is None:
        onsets = np.arange(len(labels), dtype=np.float64) * EPOCH_SECONDS
    else:  # each row an epoch from its time (Philips Alice's "Start Time"): placed by the recording's start
        onsets = _table_onsets(path, [_event_time(path, t, n) for (n, _), t in zip(cells, times)], start_time, notes)
    return TextHypnogram(fmt, onsets, np.full(len(labels), float(EPOCH_SECONDS)), labels, coded=True,
                         numbered=numbered, read_as=read_as, untimed=times is None)


#: Stage codes of R&K-era software (Compumedics Profusion, NSRR XML, many CSV
#: exports): 4 is R&K stage 4 (N3 under AASM) and 5 is REM; 6 movement time,
#: 7-9 unscored. Our own (and YASA's) numbering has REM at 4.
RK_CODES: dict[int, Stage] = {0: Stage.W, 1: Stage.N1, 2: Stage.N2, 3: Stage.N3, 4: Stage.N3, 5: Stage.REM,
                              6: Stage.UNSCORED, 7: Stage.UNSCORED, 8: Stage.UNSCORED, 9: Stage.UNSCORED}


_STAGE_COLUMNS = ("stage", "sleep stage", "sleep_stage", "sleepstage", "label", "hypnogram", "annotation",
                  "stadium", "schlafstadium", "stade", "fase", "etapa", "stadio", "estagio")


_EPOCH_COLUMNS = ("epoch", "epoch number", "epoch no", "epoch nr", "epoche", "epoque", "epoca")


def _text_table(path: Path) -> tuple[str, str, list[str], str | None]:
    """(format, text, its non-blank non-comment lines, the column delimiter or None for one stage per line)."""
    text = _read_text(path)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    start = _event_table_start(lines)
    if start is not None:  # REMlogic and CAP exports: a block about the patient and the events above the table
        i, delimiter = start
        return ("tsv" if delimiter == "\t" else "csv"), text, lines[i:], delimiter
    first = lines[0] if lines else ""
    if "\t" in first or path.suffix.lower() == ".tsv":
        return "tsv", text, lines, "\t"
    if "," in first or ";" in first or path.suffix.lower() == ".csv":
        return "csv", text, lines, (";" if ";" in first and "," not in first else ",")
    return "text", text, lines, None


#: A row of a SOMNOmedics DOMINO export: "23:57:00,000; Wake" (clock time with milliseconds; value).
_DOMINO_ROW = re.compile(r"^\s*(\d{1,2}):(\d{2}):(\d{2})(?:[,.](\d+))?\s*;\s*(.*?)\s*$")


def _domino_profile(path: Path, lines: list[str], start_time: datetime | None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A SOMNOmedics DOMINO "Sleep profile" export: `Signal ID: SchlafProfil\\profil`, `Rate: 30 s` and other
    `key: value` lines, then one `hh:mm:ss,ms; Stage` row per epoch (Wake/Wach, N1-N4, REM/Rem; movement and
    artefacts, "A", unscored), placed by its clock times."""
    header: dict[str, str] = {}
    rows = []
    for i, line in enumerate(lines, start=1):
        m = _DOMINO_ROW.match(line)
        if m is None:
            if rows:
                raise unreadable(path, f"line {i}: {line.strip()[:40]!r} is not a 'hh:mm:ss,ms; stage' row")
            key, _, value = line.partition(":")
            header[key.strip().lower()] = value.strip()
            continue
        h, mi, sec, ms, value = m.groups()
        clock = int(h) * 3600 + int(mi) * 60 + int(sec) + (float(f"0.{ms}") if ms else 0.0)
        try:
            stage = Stage.UNSCORED if value.lower() == "a" else parse_stage(value)  # "A": DOMINO's artefact
        except ValueError:
            raise unreadable(path, f"line {i}: {value[:40]!r} is not a sleep stage") from None
        rows.append((clock, int(stage)))
    signal = header.get("signal id", "")
    if "schlafprofil" not in signal.lower().replace(" ", ""):
        raise unreadable(path, f"it is a DOMINO export of {signal!r}, not of the sleep profile (SchlafProfil)")
    if not rows:
        raise unreadable(path, "its sleep profile holds no epoch")
    rate = re.match(r"\s*([0-9]+(?:[.,][0-9]+)?)\s*s", header.get("rate", "30 s"))
    epoch_s = float(rate.group(1).replace(",", ".")) if rate else float(EPOCH_SECONDS)
    onsets = _onsets(path, [("clock", clock) for clock, _ in rows], start_time)
    return onsets, np.full(len(rows), epoch_s), np.array([stage for _, stage in rows], dtype=np.int8)


#: The DREAMS databases' hypnograms: `[HypnogramAASM]` (or `[HypnogramR&K]`), then a code every 5 s.
_DREAMS_HEADER = re.compile(r"\[hypnogram[^\]]*\]", re.IGNORECASE)


_DREAMS_STEP_S = 5


#: 5 wake, 4 REM, 3-1 stages 1-3, 0 R&K stage 4; -1 movement, -2 and -3 unknown.
_DREAMS_CODES = {5: Stage.W, 4: Stage.REM, 3: Stage.N1, 2: Stage.N2, 1: Stage.N3, 0: Stage.N3,
                 -1: Stage.UNSCORED, -2: Stage.UNSCORED, -3: Stage.UNSCORED}


def _dreams_hypnogram(path: Path, lines: list[str], notes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A DREAMS hypnogram, its 5-s steps gathered into 30-s epochs: each epoch takes the stage most of its steps
    hold (on a tie, the one at its middle, as stage annotations are placed), and a note says how many epochs
    had steps that disagree."""
    steps = []
    for i, line in enumerate(lines[1:], start=2):
        try:
            steps.append(int(_DREAMS_CODES[int(line.strip())]))
        except (ValueError, KeyError):
            raise unreadable(path, f"line {i}: {line.strip()[:40]!r} is not a DREAMS stage code "
                                    "(5 wake, 4 REM, 3-0 stages 1-4, -1 movement, -2 or -3 unknown)") from None
    if not steps:
        raise unreadable(path, "it holds no stages (a DREAMS header and nothing below it)")
    per_epoch = EPOCH_SECONDS // _DREAMS_STEP_S
    n = -(-len(steps) // per_epoch)
    padded = np.full(n * per_epoch, -2, dtype=np.int64)  # past the last step: no step, never counted
    padded[: len(steps)] = steps
    epochs = padded.reshape(n, per_epoch)
    labels = np.empty(n, dtype=np.int8)
    mixed = 0
    for e, row in enumerate(epochs):
        held = row[row > -2]
        counts = np.bincount(held + 1, minlength=len(Stage) + 1)
        best = np.flatnonzero(counts == counts.max()) - 1
        labels[e] = best[0] if len(best) == 1 else held[min(per_epoch // 2, len(held) - 1)]
        mixed += len(np.unique(held)) > 1
    if mixed:
        notes.append(f"{mixed} epoch{'s' if mixed != 1 else ''} of 30 s held 5-s steps of different stages; "
                     "each took the stage most of its steps hold")
    return np.arange(n, dtype=np.float64) * EPOCH_SECONDS, np.full(n, float(EPOCH_SECONDS)), labels


def _event_table_start(lines: list[str], within: int = 60) -> tuple[int, str] | None:
    """(line, delimiter) of an event table's header (onset, duration and event columns) below other lines of
    text; None when there is none, or it is the first line (a table as usual)."""
    for i, line in enumerate(lines[:within]):
        for delimiter in ("\t", ";", ","):
            if delimiter not in line:
                continue
            header = [_column_name(c) for c in next(csv.reader([line], delimiter=delimiter))]
            if (any(c in header for c in _DURATION_COLUMNS) and any(c in header for c in _ONSET_COLUMNS)
                    and any(c in header for c in _EVENT_COLUMNS)):
                return None if i == 0 else (i, delimiter)
    return None


def table_events(path: str | os.PathLike, start_time: datetime | None = None) -> list[tuple[float, float, str]]:
    """The rows of an event-table hypnogram (onset, duration and event columns: MNE's annotations CSV, REMlogic
    and CAP exports) whose event is no sleep stage, on the recording's clock: (onset s, duration s, text). Empty
    for a table of stages or a file that is no event table; SleepScopeError for one that cannot be read."""
    path = Path(path)
    _, _, lines, delimiter = _text_table(path)
    rows = _event_rows(path, lines, delimiter) if delimiter and lines else None
    if not rows:
        return []
    events = [(time, duration, text) for time, duration, text, stage in rows if stage is None]
    if not events:
        return []
    onsets = _table_onsets(path, [t for t, _, _ in events], start_time, [])
    return [(float(o), d, text) for o, (_, d, text) in zip(onsets, events)]


def _read_text(path: Path) -> str:
    """The file's text: UTF-8, UTF-16 with its byte-order mark (Excel's "Unicode text"), or Windows-1252, which
    European labs' exports use for their accented stage names ("Éveil")."""
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encodings = ("utf-16",)
    elif b"\x00" in raw:
        encodings = ()
    else:
        encodings = ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise unreadable(path, "it is neither an EDF+ file, XML nor text")


#: Columns of an event table (one row per annotation, not per epoch): MNE's annotations CSV (onset, duration,
#: description), CAP/REMlogic exports (Time [hh:mm:ss], Event, Duration[s]) and the like.
_ONSET_COLUMNS = ("onset", "start", "start time", "starttime", "time", "clock time", "time of day",
                  # as European labs' software heads them (German, French, Spanish, Italian, Dutch), accents dropped
                  "zeit", "uhrzeit", "startzeit", "beginn", "heure", "debut", "hora", "inicio", "ora", "inizio",
                  "tijd", "begintijd")


_DURATION_COLUMNS = ("duration", "dauer", "duree", "duracion", "durata", "duur")


_EVENT_COLUMNS = ("description", "annotation", "event", "event type", "trial_type", "stage", "sleep stage", "label",
                  "ereignis", "evenement", "evento", "gebeurtenis", *_STAGE_COLUMNS)


def _column_name(cell: str) -> str:
    """`Duration[s]` -> `duration`, `Time [hh:mm:ss]` -> `time`: a header cell without its unit."""
    return re.sub(r"\s*[\[(].*?[\])]\s*", "", folded(cell.strip())).strip()


def _event_rows(path: Path, lines: list[str], delimiter: str) -> list[tuple[tuple, float, str, int | None]] | None:
    """Every row of a CSV/TSV whose header names an onset, a duration and an event column: (onset as
    `_event_time` reads it, duration s (0 when blank), the event's text, its stage or None); None for any other
    table."""
    rows = [r for r in csv.reader(lines, delimiter=delimiter) if r and any(c.strip() for c in r)]
    if not rows:
        return None
    header = [_column_name(c) for c in rows[0]]
    onset = next((header.index(c) for c in _ONSET_COLUMNS if c in header), None)
    duration = next((header.index(c) for c in _DURATION_COLUMNS if c in header), None)
    event = next((header.index(c) for c in _EVENT_COLUMNS if c in header), None)
    if onset is None or duration is None or event is None:
        return None
    out = []
    for i, row in enumerate(rows[1:], start=2):
        if max(onset, duration, event) >= len(row):
            raise unreadable(path, f"line {i}: {delimiter.join(row)!r} has fewer columns than its header")
        try:
            stage = int(parse_stage(row[event]))
        except ValueError:
            stage = None  # arousals, lights, comments: events that are no stage
        text = row[duration].strip()
        text = "" if text.lower() == "n/a" else text  # BIDS's word for a value not given
        # a row that is no stage and has no time (a comment) is left out: no event to place, no stage lost
        try:
            seconds = float(text) if text else 0.0
        except ValueError:
            if stage is None:
                continue
            raise unreadable(path, f"line {i}: duration {text!r} is not a number of seconds") from None
        try:
            when = _event_time(path, row[onset].strip(), i)
        except SleepScopeError:
            if stage is None:
                continue
            raise
        out.append((when, seconds, row[event].strip(), stage))
    return out


def _event_table(path: Path, lines: list[str], delimiter: str, start_time: datetime | None,
                 notes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(onsets s, durations s, stages) of a CSV/TSV whose header names an onset, a duration and an event column,
    keeping the rows whose event is a sleep stage; None for any other table. Onsets are seconds, clock times
    (hh:mm:ss) or dates and times: these are placed from `start_time` (the recording's) when given, else from
    the first row's. A stage without a duration lasts one epoch."""
    rows = _event_rows(path, lines, delimiter)
    if rows is None:
        return None
    staged = [(time, duration or float(EPOCH_SECONDS), stage) for time, duration, _, stage in rows if stage is not None]
    if not staged:
        raise unreadable(path, f"none of its {len(rows)} events is a sleep stage")
    if len(staged) < len(rows):
        other = len(rows) - len(staged)
        notes.append(f"{other} event{'s that are' if other != 1 else ' that is'} no sleep stage "
                     f"{'were' if other != 1 else 'was'} left out")
    return (_table_onsets(path, [t for t, _, _ in staged], start_time, notes), np.array([d for _, d, _ in staged]),
            np.array([s for _, _, s in staged], dtype=np.int8))


#: A clock time, with a 12-hour clock's AM/PM when written (Philips Alice's "9:18:51 PM").
_CLOCK = r"(\d{1,2})[:.](\d{2})[:.](\d{2}(?:[.,]\d+)?)\s*(?:([AaPp])\.?[Mm]\.?)?"


def _clock_seconds(m: re.Match, at: int = 1) -> float:
    h, mi, sec = int(m.group(at)), int(m.group(at + 1)), float(m.group(at + 2).replace(",", "."))
    if m.group(at + 3):  # 12 AM is midnight, 12 PM noon
        h = h % 12 + (12 if m.group(at + 3) in "Pp" else 0)
    return h * 3600 + mi * 60 + sec


def _event_time(path: Path, text: str, line: int) -> tuple[str, float | datetime]:
    """("seconds", s), ("clock", seconds since midnight) or ("date", datetime) from an onset cell. A date written
    day.month.year is European; one with slashes and the year last ("03/05/2019", month or day first by the
    writer's locale) gives its time of day only, which places the night as well."""
    try:
        return "seconds", float(text)
    except ValueError:
        pass
    if m := re.fullmatch(_CLOCK, text):
        return "clock", _clock_seconds(m)
    if m := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})[ T]+" + _CLOCK, text):
        try:
            day = datetime(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError:
            raise unreadable(path, f"line {line}: {text!r} is no date") from None
        return "date", day + timedelta(seconds=_clock_seconds(m, 4))
    try:
        return "date", datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        pass
    if m := re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2,4}[ T]+" + _CLOCK, text):
        return "clock", _clock_seconds(m)
    raise unreadable(path, f"line {line}: onset {text!r} is neither seconds, a clock time nor a date and time")


def _table_onsets(path: Path, times: list, start_time: datetime | None, notes: list[str]) -> np.ndarray:
    """`_onsets` of a table's times; hh:mm:ss from 00:00:00 are the time since the recording's start, as exports
    often write it, not the clock from midnight (which would place the night hours off, or refuse it)."""
    kinds = {kind for kind, _ in times}
    if times and kinds == {"clock"} and times[0][1] == 0:
        if start_time is not None and (start_time.hour, start_time.minute, start_time.second) != (0, 0, 0):
            notes.append("its times start at 00:00:00: read as the time since the recording's start")
        return _onsets(path, [("seconds", v) for _, v in times], start_time)
    if times and kinds == {"date"} and start_time is not None:
        first = times[0][1].replace(tzinfo=None)
        if abs((first - start_time).total_seconds()) > 86400:
            # an anonymised header (EDF's 1985-01-01) or a scoring dated otherwise: the time of day still places it
            notes.append(f"its dates ({first:%Y-%m-%d}) are not the recording's ({start_time:%Y-%m-%d}): placed "
                         "by the time of day")
            return _onsets(path, [("clock", t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6)
                                  for _, t in times], start_time)
    return _onsets(path, times, start_time)


def _onsets(path: Path, times: list, start_time: datetime | None) -> np.ndarray:
    """Event times as seconds from the recording's start (`start_time`) or, without it, from the first event."""
    kinds = {kind for kind, _ in times}
    if len(kinds) > 1:
        raise unreadable(path, "its onsets mix seconds, clock times and dates")
    values = [v for _, v in times]
    if kinds == {"seconds"}:
        return np.array(values, dtype=np.float64)
    if kinds == {"date"}:
        origin = start_time if start_time is not None else min(values)
        return np.array([(t.replace(tzinfo=None) - origin).total_seconds() for t in values])
    secs = np.array(values, dtype=np.float64)
    # Clock times run past midnight: each step back of more than 12 h is the next day.
    secs = secs + 86400.0 * np.concatenate([[0], np.cumsum(np.diff(secs) < -43200)])
    if start_time is None:
        return secs - secs[0]
    origin = start_time.hour * 3600 + start_time.minute * 60 + start_time.second + start_time.microsecond / 1e6
    first = secs[0] - origin
    shift = 86400.0 if first < -43200 else (-86400.0 if first > 43200 else 0.0)
    return secs - origin + shift


def _parse_table(path: Path, lines: list[str], delimiter: str, notes: list[str] | None = None
                 ) -> tuple[list[tuple[int, str]], list[str] | None]:
    """(line number, stage cell) of each row of a CSV/TSV: the stage column by its header, else the last column;
    one row of stages alone is a row of epochs. With them, each row's time where the header names a time column
    (the epoch's start), else None."""
    rows = [r for r in csv.reader(lines, delimiter=delimiter) if r and any(c.strip() for c in r)]
    if not rows:
        raise unreadable(path, "it holds no stages (only delimiters)")
    if len(rows) == 1 and len(rows[0]) > 1 and all(_looks_like_stage(c) for c in rows[0] if c.strip()):
        return [(1, c) for c in rows[0] if c.strip()], None
    header = [folded(c.strip()) for c in rows[0]]
    col = next((header.index(name) for name in _STAGE_COLUMNS if name in header), None)
    has_header = col is not None or not any(_looks_like_stage(c) for c in rows[0])
    if has_header and col is None:
        if len(rows) == 1 or len(header) > 1:
            raise unreadable(path, f"its header {delimiter.join(rows[0])!r} has no 'stage' column")
        col = 0
    body = rows[1:] if has_header else rows
    if not body:
        raise unreadable(path, "it has a header but no rows: it holds no stages")
    epoch_col = next((header.index(name) for name in _EPOCH_COLUMNS if name in header), None) if has_header else None
    names = [_column_name(c) for c in rows[0]]
    time_col = next((names.index(c) for c in _ONSET_COLUMNS if c in names), None) if has_header else None
    first_epoch = 0
    if epoch_col is not None and epoch_col < len(body[0]) and body[0][epoch_col].strip() in ("1", "1.0"):
        first_epoch = 1  # numbered from 1, as most scoring software counts
        if notes is not None and time_col is None:
            notes.append("epochs numbered from 1: the first row is the recording's first epoch")
    cells, times = [], []
    for i, row in enumerate(body):
        lineno = i + (2 if has_header else 1)
        cell_col = col if col is not None else len(row) - 1
        if cell_col >= len(row):
            raise unreadable(path, f"line {lineno}: {delimiter.join(row)!r} has no stage column")
        if epoch_col is not None and epoch_col < len(row) and row[epoch_col].strip():
            try:
                epoch = int(float(row[epoch_col]))
            except (ValueError, OverflowError):
                raise unreadable(path, f"line {lineno}: epoch {row[epoch_col]!r} is not a number") from None
            if epoch != i + first_epoch:
                raise unreadable(path, f"line {lineno}: epoch {row[epoch_col]} is out of order "
                                        f"(expected {i + first_epoch}); one row per epoch from {first_epoch}")
        cells.append((lineno, row[cell_col]))
        if time_col is not None:
            if time_col >= len(row) or not row[time_col].strip():
                raise unreadable(path, f"line {lineno}: {delimiter.join(row)!r} has no time, as its header says")
            times.append(row[time_col].strip())
    return cells, (times if time_col is not None else None)


_NUMBER = re.compile(r"-?\d+(\.0+)?")


def _looks_like_stage(cell: str) -> bool:
    t = cell.strip()
    if _NUMBER.fullmatch(t):
        return True
    try:
        parse_stage(t)
    except ValueError:
        return False
    return True


def _parse_lines(path: Path, text: str) -> list[tuple[int, str]]:
    return [(i, line.strip()) for i, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.strip().startswith("#")]


def _decode_codes(path: Path, cells: list[tuple[int, str]], notes: list[str]) -> np.ndarray:
    """Stage names or codes to our codes; numbers follow R&K (5 REM) when any 5..9 appears, else ours (4 REM)."""
    if not cells:
        raise unreadable(path, "it holds no stages")
    numbers = {}
    for lineno, cell in cells:
        t = cell.strip()
        if _NUMBER.fullmatch(t):
            numbers[lineno] = int(float(t))
    rk = any(5 <= v <= 9 for v in numbers.values())
    if rk:
        notes.append("stage codes read in R&K numbering (0 wake, 1-3 N1-N3, 4 R&K stage 4 = N3, 5 REM, "
                     "6 movement and 9 unscored), because codes 5 and above appear")
    labels = []
    for lineno, cell in cells:
        try:
            if lineno in numbers:
                code = numbers[lineno]
                # YASA writes -1 (artefact) and -2 (unscored): both are epochs a model must skip.
                labels.append(int(Stage.UNSCORED) if code < 0 else int(RK_CODES[code] if rk else Stage(code)))
            else:
                labels.append(int(parse_stage(cell)))
        except (ValueError, KeyError):
            raise unreadable(path, f"line {lineno}: {cell.strip()[:40]!r} is not a stage (names W, N1, N2, N3, "
                                    "REM, ?, or codes: -1..4 with 4 REM, or R&K 0..5 with 5 REM)") from None
    return np.array(labels, dtype=np.int8)


def parse_codes(text: str) -> dict[str, int]:
    """A declared code table, "0=W,1=REM,2=N1,3=N2,4=N3,5=N3,6=?" -> {"0": 0, "1": 4, ...}; SleepScopeError when
    a stage is not one."""
    out: dict[str, int] = {}
    for item in filter(None, (i.strip() for i in text.split(","))):
        cell, sep, stage = item.partition("=")
        try:
            if not sep or not cell.strip():
                raise ValueError
            out[cell.strip()] = int(parse_stage(stage.strip()))
        except ValueError:
            raise SleepScopeError(f"stage codes {text!r}: {item!r} is not CODE=STAGE (a stage W, N1, N2, N3, REM "
                                  "or ?), as in 0=W,1=REM,2=N1,3=N2,4=N3") from None
    if not out:
        raise SleepScopeError(f"stage codes {text!r}: none given; write them as 0=W,1=REM,2=N1,3=N2,4=N3")
    return out


def codes_text(codes) -> str:
    """A code table as `parse_codes` reads it: {"0": 0, "1": 4} or its items -> "0=W,1=REM"."""
    items = codes.items() if isinstance(codes, dict) else codes
    ordered = sorted(items, key=lambda kv: _code_order(kv[0]))
    return ",".join(f"{cell}={Stage(int(stage)).label}" for cell, stage in ordered)


def _code_order(cell: str) -> tuple:
    return (0, float(cell), "") if _NUMBER.fullmatch(cell) else (1, 0.0, cell)


def _declared_codes(path: Path, cells: list[tuple[int, str]], codes: dict[str, int]) -> np.ndarray:
    if not cells:
        raise unreadable(path, "it holds no stages")
    labels = []
    for lineno, cell in cells:
        t = cell.strip()
        if t not in codes:
            raise unreadable(path, f"line {lineno}: {t[:40]!r} is none of the declared codes "
                                    f"({', '.join(codes)})")
        labels.append(codes[t])
    return np.array(labels, dtype=np.int8)


def unreadable(path: Path, why: str) -> SleepScopeError:
    return SleepScopeError(
        f"cannot read the hypnogram {path}: {why}. Give an EDF+ hypnogram, NSRR or Profusion XML, Sleepware RML, "
        "a CSV/TSV with a 'stage' column (or onset, duration and description columns), or a text file with one "
        "stage per line."
    )
