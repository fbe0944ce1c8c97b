"""Hypnograms: EDF+ annotations, NSRR and Profusion XML, Philips Sleepware RML, CSV/TSV and one-stage-per-line
text.

Codes are `sleepscope.stages.Stage` values stored as int8, one per 30-s epoch
from the recording start (-1 unscored).
"""

from __future__ import annotations

import csv
import os
import re
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.io.recording import EPOCH_SECONDS
from sleepscope.stages import AASM_TO_RK, RK_TO_AASM, SCORED, Stage, folded, parse_stage, stage_worded, unusual_mix

_SLEEP = np.array([int(s) for s in SCORED if s is not Stage.W], dtype=np.int8)


# ---------------------------------------------------------------- reading
#: A hypnogram may differ from its recording by this many epochs (a last partial
#: epoch, clocks rounded to the minute) and still be taken as the recording's.
LENGTH_TOLERANCE_EPOCHS = 2

#: Stage codes of R&K-era software (Compumedics Profusion, NSRR XML, many CSV
#: exports): 4 is R&K stage 4 (N3 under AASM) and 5 is REM; 6 movement time,
#: 7-9 unscored. Our own (and YASA's) numbering has REM at 4.
RK_CODES: dict[int, Stage] = {0: Stage.W, 1: Stage.N1, 2: Stage.N2, 3: Stage.N3, 4: Stage.N3, 5: Stage.REM,
                              6: Stage.UNSCORED, 7: Stage.UNSCORED, 8: Stage.UNSCORED, 9: Stage.UNSCORED}

_STAGE_COLUMNS = ("stage", "sleep stage", "sleep_stage", "sleepstage", "label", "hypnogram", "annotation",
                  "stadium", "schlafstadium", "stade", "fase", "etapa", "stadio", "estagio")
_EPOCH_COLUMNS = ("epoch", "epoch number", "epoch no", "epoch nr", "epoche", "epoque", "epoca")


#: What to do about stage codes that read as no real night's.
DECLARE_CODES = ("if its system numbers its stages otherwise than 0 W, 1-3 N1-N3, 4 REM (or R&K's 0-5, 5 REM), "
                 "declare its codes (--codes, as 0=W,1=REM,2=N1,3=N2,4=N3; codes declared are read as said)")


class HypnogramNotice(UserWarning):
    """Something about a hypnogram a user should know: padded, cut, overlapping annotations, numbering."""


@dataclass(frozen=True)
class Hypnogram:
    """A hypnogram read from a file: int8 stage codes per 30-s epoch (-1 unscored) and what was noticed."""

    labels: np.ndarray
    format: str  # "edf+", "nsrr-xml", "profusion-xml", "rml", "domino", "dreams", "csv", "tsv", "text"
    source_epochs: int  # epochs the file itself covers, before fitting to a recording
    notes: tuple[str, ...] = ()
    doubt: str = ""  # why its stage codes may have been read by the wrong numbering (`doubt_note` among the notes)
    read_as: tuple[tuple[str, int], ...] = ()  # a code file's codes and the stage each was read as

    @property
    def doubt_note(self) -> str:
        """The doubt and what to do about it, for the command line."""
        return f"{self.doubt}: {DECLARE_CODES}" if self.doubt else ""


def load_hypnogram(path: str | os.PathLike, n_epochs: int | None = None, start_time: datetime | None = None,
                   *, strict: bool = False, codes: dict[str, int] | None = None) -> Hypnogram:
    """Read a hypnogram, choosing the format by content and extension, and fit it to a recording.

    Formats: EDF+ annotations (Sleep-EDF hypnograms, or a recording's own stage
    annotations), NSRR XML (`PSGAnnotation` / `ScoredEvent`), Compumedics
    Profusion XML (`CMPStudyConfig` / `SleepStages`), Philips Sleepware (Alice) RML
    (`PatientStudy`, the technician's `UserStaging`), SOMNOmedics DOMINO's sleep
    profile (`Signal ID: SchlafProfil`), DREAMS hypnograms (`[HypnogramAASM]`, a code
    every 5 s), CSV or TSV (a stage column
    of names or codes, or the last column; or an event table with onset,
    duration and description columns, as MNE and CAP/REMlogic exports write,
    its clock times placed from `start_time`), and text with one stage per line.
    R&K stages become AASM (S3 and S4 → N3; `Sleep stage ?` and movement time
    unscored).

    With `n_epochs` (the recording's length) the labels are cut or padded with
    UNSCORED, and `notes` says so with both lengths. A hypnogram whose scored
    epochs run more than `LENGTH_TOLERANCE_EPOCHS` past the recording's end
    cannot be the recording's and is refused; with `strict` (training data),
    one that stops more than that short of the end is refused too.
    `start_time`, the recording's start, aligns an EDF+ hypnogram that starts
    at another clock time. `codes` ({cell text: stage code}, `parse_codes`) reads a table or one-stage-per-line
    text whose system numbers its stages its own way (UCD's REM = 1): every cell must be one of them.
    """
    path = Path(path)
    if not path.is_file():
        raise SleepScopeError(f"{path}: no such hypnogram file. Check the path.")
    notes: list[str] = []
    coded = False  # the cells are stage codes, read by the declared `codes` when given
    numbered = False  # most cells are numbers, read by the default rules
    read_as: tuple[tuple[str, int], ...] = ()
    kind = file_kind(path)
    if kind == "edf":
        fmt = "edf+"
        onsets, durations, stages = _edf_annotations(path, start_time)
    elif kind == "xml":
        fmt, onsets, durations, stages = _xml_annotations(path, start_time)
    else:
        fmt, text, lines, delimiter = _text_table(path)
        if not lines:
            raise _unreadable(path, "it holds no stages (the file is empty)")
        if lines[0].lower().startswith("signal id:"):
            fmt = "domino"
            onsets, durations, stages = _domino_profile(path, lines, start_time)
        elif _DREAMS_HEADER.fullmatch(lines[0].strip()):
            fmt = "dreams"
            onsets, durations, stages = _dreams_hypnogram(path, lines, notes)
        elif delimiter and (events := _event_table(path, lines, delimiter, start_time, notes)) is not None:
            onsets, durations, stages = events
        else:
            cells, times = _parse_table(path, lines, delimiter, notes) if delimiter else (_parse_lines(path, text), None)
            coded = True
            numbered = codes is None and 2 * sum(bool(_NUMBER.fullmatch(c.strip())) for _, c in cells) > len(cells)
            labels = _decode_codes(path, cells, notes) if codes is None else _declared_codes(path, cells, codes)
            read_as = tuple(sorted({c.strip(): int(v) for (_, c), v in zip(cells, labels)}.items(),
                                   key=lambda kv: _code_order(kv[0])))
            if times is None:
                onsets = np.arange(len(labels), dtype=np.float64) * EPOCH_SECONDS
            else:  # each row an epoch from its time (Philips Alice's "Start Time"): placed by the recording's start
                onsets = _table_onsets(path, [_event_time(path, t, n) for (n, _), t in zip(cells, times)],
                                       start_time, notes)
            durations = np.full(len(labels), float(EPOCH_SECONDS))
            stages = labels
    if codes is not None and not coded:
        raise _unreadable(path, f"stage codes were declared, but its stages are named or its format's own ({fmt} file)")
    _check_span(path, onsets, durations)
    labels, expand_notes = _expand(onsets, durations, stages)
    notes += expand_notes
    source_epochs = len(labels)
    doubt = ""
    if numbered and (why := unusual_mix(labels)):
        doubt = f"{why}, unlike any real night's scoring"
        notes.append(f"{doubt}: {DECLARE_CODES}")
    if n_epochs is not None:
        labels = _fit(path, labels, int(n_epochs), strict, notes)
    return Hypnogram(labels=labels, format=fmt, source_epochs=source_epochs, notes=tuple(notes), doubt=doubt,
                     read_as=read_as)


def file_kind(path: Path) -> str:
    """'edf' (EDF+/BDF+ annotations), 'xml' (NSRR, Profusion) or 'text' (tables, one stage per line), by content
    first and name second."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:8] == b"0       " or path.suffix.lower() in (".edf", ".bdf"):
        return "edf"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") or path.suffix.lower() == ".xml":
        return "xml"
    return "text"


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
                raise _unreadable(path, f"line {i}: {line.strip()[:40]!r} is not a 'hh:mm:ss,ms; stage' row")
            key, _, value = line.partition(":")
            header[key.strip().lower()] = value.strip()
            continue
        h, mi, sec, ms, value = m.groups()
        clock = int(h) * 3600 + int(mi) * 60 + int(sec) + (float(f"0.{ms}") if ms else 0.0)
        try:
            stage = Stage.UNSCORED if value.lower() == "a" else parse_stage(value)  # "A": DOMINO's artefact
        except ValueError:
            raise _unreadable(path, f"line {i}: {value[:40]!r} is not a sleep stage") from None
        rows.append((clock, int(stage)))
    signal = header.get("signal id", "")
    if "schlafprofil" not in signal.lower().replace(" ", ""):
        raise _unreadable(path, f"it is a DOMINO export of {signal!r}, not of the sleep profile (SchlafProfil)")
    if not rows:
        raise _unreadable(path, "its sleep profile holds no epoch")
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
            raise _unreadable(path, f"line {i}: {line.strip()[:40]!r} is not a DREAMS stage code "
                                    "(5 wake, 4 REM, 3-0 stages 1-4, -1 movement, -2 or -3 unknown)") from None
    if not steps:
        raise _unreadable(path, "it holds no stages (a DREAMS header and nothing below it)")
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
    raise _unreadable(path, "it is neither an EDF+ file, XML nor text")


def read_hypnogram(path: str | os.PathLike, n_epochs: int | None = None,
                   start_time: datetime | None = None, codes: dict[str, int] | None = None) -> np.ndarray:
    """The labels of `load_hypnogram`; its notes (padded, cut, overlaps) are issued as `HypnogramNotice` warnings.
    Codes whose night reads as no real night's (`Hypnogram.doubt`) are refused until declared: imported or
    trained on, a misread numbering becomes stages."""
    hyp = load_hypnogram(path, n_epochs, start_time, codes=codes)
    if hyp.doubt:
        raise SleepScopeError(f"{Path(path).name} was not read: {hyp.doubt_note}")
    for note in hyp.notes:
        warnings.warn(note, HypnogramNotice, stacklevel=2)
    return hyp.labels


def read_sleepedf_hypnogram(
    path: str | os.PathLike, n_epochs: int | None = None, start_time: datetime | None = None
) -> np.ndarray:
    """Read an EDF+ annotation hypnogram (Sleep-EDF's R&K texts with durations) into 30-s epochs.

    Each epoch takes the stage whose annotation covers the epoch's middle; where
    annotations overlap, the one that starts later wins (a notice says so).
    R&K S3 and S4 become N3, `Sleep stage ?` and `Movement time` UNSCORED
    (RK_TO_AASM). Texts that are not stages (lights off, events) are ignored.
    `start_time`, the recording's start, shifts the annotations when the
    hypnogram file starts at another clock time.
    """
    path = Path(path)
    if not path.is_file():
        raise SleepScopeError(f"{path}: no such hypnogram file. Check the path.")
    onsets, durations, stages = _edf_annotations(path, start_time)
    _check_span(path, onsets, durations)
    labels, notes = _expand(onsets, durations, stages)
    if n_epochs is not None:
        labels = _fit(path, labels, int(n_epochs), False, notes)
    for note in notes:
        warnings.warn(note, HypnogramNotice, stacklevel=2)
    return labels


def has_stage_annotations(path: str | os.PathLike) -> bool:
    """Whether a recording carries sleep-stage annotations of its own: an EDF+/BDF+ annotation channel, also in a
    file whose header does not say EDF+ (exporters that add the channel to a plain EDF), as its annotations are
    read."""
    try:
        _edf_annotations(Path(path), None)
    except SleepScopeError:
        return False
    return True


def _edf_annotations(path: Path, start_time: datetime | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sleepscope.io.edfheader import annotations, read_header

    try:
        found = annotations(read_header(path))
    except SleepScopeError as exc:
        raise _unreadable(path, str(exc)) from None
    except (OSError, ValueError) as exc:
        raise _unreadable(path, f"its EDF+ annotations cannot be read ({exc})") from exc
    onsets, durations, stages = [], [], []
    for onset, duration, text in found:
        stage = annotation_stage(text)
        if stage is None:
            continue
        onsets.append(float(onset))
        durations.append(float(duration))
        stages.append(int(stage))
    if not stages:
        raise _unreadable(path, f"it has no sleep-stage annotations ({len(found)} annotations, none like "
                                "'Sleep stage W')")
    onsets_a, durations_a = np.array(onsets), np.array(durations)
    if (durations_a <= 0).all():
        # Stages written as instants (no duration: where each stage begins, per epoch or at each change) last
        # until the next one; the last one, one epoch. Only when every stage is so written: an instant among
        # stages with durations (a "Wake" note) must not overwrite them.
        order = np.argsort(onsets_a, kind="stable")
        following = np.append(onsets_a[order][1:], onsets_a[order][-1] + EPOCH_SECONDS)
        durations_a = np.empty_like(durations_a)
        durations_a[order] = following - onsets_a[order]
    return onsets_a + edf_clock_shift(path, start_time), durations_a, np.array(stages, dtype=np.int8)


def edf_clock_shift(path: Path, start_time: datetime | None) -> float:
    """Seconds to add to an EDF+ hypnogram's onsets to put them on its recording's clock (`start_time`): the two
    files may start at different times; 0 when either start is unknown."""
    own = _edf_start(path) if start_time is not None else None
    return 0.0 if own is None else (own - start_time).total_seconds()


#: An NSRR event concept as converters write it into EDF+ ("Stage 2 sleep|2", "Wake|0", "REM sleep|5").
_CONCEPT = re.compile(r"(?P<name>.*(?:wake|sleep|stage|rem|unscored|movement).*?)\s*\|\s*(?P<code>\d)", re.IGNORECASE)


def annotation_stage(text: str) -> Stage | None:
    """The stage an EDF+ annotation names, or None when it names none: "Sleep stage 2" (Sleep-EDF, HMC),
    "Stage - W", "Stage N3", "SLEEP-S2", NSRR's "Stage 2 sleep|2", or a bare stage name ("N2", "REM", "Wake").
    A bare name counts only when it is a scored stage ("Movement" alone is an event, not movement time)."""
    text = text.strip()
    if text in RK_TO_AASM:
        return RK_TO_AASM[text]
    low = text.lower()
    if low.startswith(("sleep stage", "sleep_stage")):
        try:
            return parse_stage(text.replace("_", " "))
        except ValueError:
            return Stage.UNSCORED
    concept = _CONCEPT.fullmatch(text)
    if concept:
        return RK_CODES.get(int(concept["code"]))
    try:
        stage = parse_stage(text)
    except ValueError:
        return None
    if stage_worded(text):  # "Stage - W", "Stage N3", REMlogic's "SLEEP-S2", "Stadium 2"
        return stage
    return stage if stage in SCORED and not text.isdigit() else None


def _xml_annotations(path: Path, start_time: datetime | None = None) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """NSRR `PSGAnnotation` (stage events with start and duration), Profusion `CMPStudyConfig` (one code per
    epoch) or Philips Sleepware RML `PatientStudy` (`_rml_stages`)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, ValueError, LookupError) as exc:  # LookupError: an encoding Python does not know
        raise _unreadable(path, f"it is not well-formed XML ({exc})") from None
    tag = xml_local_name(root.tag)
    if tag == "PatientStudy":
        onsets, durations, stages = _rml_stages(path, root, start_time)
        return "rml", onsets, durations, stages
    if tag == "CMPStudyConfig" or root.find(".//SleepStages") is not None:
        epoch_s = _xml_float(path, root.findtext(".//EpochLength") or str(EPOCH_SECONDS), "EpochLength")
        if epoch_s <= 0:
            raise _unreadable(path, f"its EpochLength is {epoch_s:g} s")
        codes = [(el.text or "").strip() for el in root.iter() if xml_local_name(el.tag) == "SleepStage"]
        if not codes:
            raise _unreadable(path, "its <SleepStages> element holds no <SleepStage> entries")
        stages = [_rk_code(path, c, f"SleepStage {i + 1}") for i, c in enumerate(codes)]
        onsets = np.arange(len(stages), dtype=np.float64) * epoch_s
        return "profusion-xml", onsets, np.full(len(stages), epoch_s), np.array(stages, dtype=np.int8)
    onsets, durations, stages = [], [], []
    events = [el for el in root.iter() if xml_local_name(el.tag) == "ScoredEvent"]
    for i, ev in enumerate(events):
        fields = {xml_local_name(c.tag): (c.text or "").strip() for c in ev}
        kind, concept = fields.get("EventType", ""), fields.get("EventConcept", "")
        if "stage" not in kind.lower() and not re.search(r"\|\s*\d\s*$", concept):
            continue
        name, _, code = concept.rpartition("|")
        stage = _rk_code(path, code, f"ScoredEvent {i + 1} ({concept!r})") if code.strip().isdigit() else None
        if stage is None:
            try:
                stage = int(parse_stage(_NSRR_NAMES.get((name or concept).strip().lower(), name or concept)))
            except ValueError:
                raise _unreadable(path, f"ScoredEvent {i + 1}: {concept!r} is not a sleep stage we know") from None
        onsets.append(_xml_float(path, fields.get("Start", ""), f"ScoredEvent {i + 1} Start"))
        durations.append(_xml_float(path, fields.get("Duration", ""), f"ScoredEvent {i + 1} Duration"))
        stages.append(stage)
    if not stages:
        raise _unreadable(path, f"it has no sleep-stage events ({len(events)} ScoredEvent elements, none of type "
                                "'Stages'; root element <{tag}>)")
    return "nsrr-xml", np.array(onsets), np.array(durations), np.array(stages, dtype=np.int8)


#: The stage types of a Sleepware RML staging (AASM; NonREM4 where R&K was scored).
_RML_TYPES = {"wake": Stage.W, "nonrem1": Stage.N1, "nonrem2": Stage.N2, "nonrem3": Stage.N3, "nonrem4": Stage.N3,
              "rem": Stage.REM, "notscored": Stage.UNSCORED}


def _xml_child(el, *names: str):
    """The element reached from `el` through children of these local names (any namespace), or None."""
    for name in names:
        el = next((c for c in el if xml_local_name(c.tag) == name), None)
        if el is None:
            return None
    return el


def _xml_text(el, *names: str) -> str:
    found = _xml_child(el, *names)
    return (found.text or "").strip() if found is not None else ""


def rml_start_shift(root, start_time: datetime | None) -> float:
    """Seconds from the recording's start (`start_time`) to the RML session's `RecordingStart`; 0 when either
    is unknown."""
    try:
        own = datetime.fromisoformat(_xml_text(root, "Acquisition", "Sessions", "Session", "RecordingStart"))
    except ValueError:
        return 0.0
    return 0.0 if start_time is None else (own.replace(tzinfo=None) - start_time).total_seconds()


def _rml_stages(path: Path, root, start_time: datetime | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The technician's staging of a Philips Sleepware (Alice) RML file: `ScoringData/StagingData/UserStaging/
    NeuroAdultAASMStaging` holds a `Stage` (Type, Start in seconds) at each change, lasting until the next and the
    last until the session's end. The machine's staging beside it (`MachineStaging`, Somnolyzer) is no lab's."""
    staging = _xml_child(root, "ScoringData", "StagingData", "UserStaging", "NeuroAdultAASMStaging")
    marks = [] if staging is None else [el for el in staging if xml_local_name(el.tag) == "Stage"]
    if not marks:
        machine = _xml_child(root, "ScoringData", "StagingData", "MachineStaging") is not None
        raise _unreadable(path, "it holds no technician's staging (UserStaging)"
                          + (", only the machine's (MachineStaging)" if machine else ""))
    starts, stages = [], []
    for i, el in enumerate(marks):
        kind = (el.get("Type") or "").strip()
        if kind.lower() not in _RML_TYPES:
            raise _unreadable(path, f"Stage {i + 1}: {kind!r} is not a sleep stage we know")
        starts.append(_xml_float(path, el.get("Start", ""), f"Stage {i + 1} Start"))
        stages.append(int(_RML_TYPES[kind.lower()]))
    order = np.argsort(starts, kind="stable")
    starts_a, stages_a = np.asarray(starts)[order], np.asarray(stages, dtype=np.int8)[order]
    try:
        end = float(_xml_text(root, "Acquisition", "Sessions", "Session", "Duration"))
    except ValueError:
        end = float(starts_a[-1] + EPOCH_SECONDS)
    ends = np.append(starts_a[1:], max(end, starts_a[-1] + EPOCH_SECONDS))
    return starts_a + rml_start_shift(root, start_time), ends - starts_a, stages_a


_NSRR_NAMES = {"wake": "W", "stage 1 sleep": "N1", "stage 2 sleep": "N2", "stage 3 sleep": "N3",
               "stage 4 sleep": "N3", "rem sleep": "REM", "movement": "?", "unscored": "?"}


def xml_local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_float(path: Path, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _unreadable(path, f"{what} is {text!r}, not a number of seconds") from None
    if not np.isfinite(value):
        raise _unreadable(path, f"{what} is {text!r}, not a number of seconds")
    return value


def _rk_code(path: Path, text: str, where: str) -> int:
    try:
        return int(RK_CODES[int(text)])
    except (ValueError, KeyError):
        raise _unreadable(path, f"{where}: {text!r} is not a stage code (0 wake, 1-4 R&K stages 1-4, 5 REM, "
                                "6 movement, 9 unscored)") from None


#: Two weeks: stages placed further from the recording's start are no stages of one recording (times in
#: milliseconds, or dates of another year), and their epochs would not fit in memory.
_MAX_SPAN_S = 14 * 86400.0


def _check_span(path: Path, onsets: np.ndarray, durations: np.ndarray) -> None:
    if len(onsets) == 0:
        return
    ends = np.asarray(onsets, np.float64) + np.asarray(durations, np.float64)
    if not np.isfinite(ends).all() or ends.max() > _MAX_SPAN_S:
        far = float(np.nanmax(np.where(np.isfinite(ends), ends, np.nan))) if np.isfinite(ends).any() else np.inf
        raise _unreadable(path, f"its stages run to {far / 86400:,.0f} days after the recording's start: its times "
                                "are not those of one recording (seconds, clock times or dates of the night)")


def _expand(onsets: np.ndarray, durations: np.ndarray, stages: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Stage intervals to 30-s epochs, and notes: where annotations of different stages overlap, and how many
    scored epochs lie before the recording's start (a scoring placed by clock times that began earlier).

    Epoch i (middle at 30 i + 15) belongs to an annotation when onset <= middle
    < onset + duration. Overlaps are resolved in favour of the annotation that
    starts later (for equal starts, the one written later), and the note names
    the first clash and how many epochs were affected.
    """
    onsets, durations = np.asarray(onsets, np.float64), np.asarray(durations, np.float64)
    stages = np.asarray(stages, np.int8)
    order = np.argsort(onsets, kind="stable")
    onsets, durations, stages = onsets[order], durations[order], stages[order]
    half = EPOCH_SECONDS / 2
    first = np.ceil((onsets - half) / EPOCH_SECONDS).astype(np.int64)
    stop = np.ceil((onsets + durations - half) / EPOCH_SECONDS).astype(np.int64)
    total = max(int(stop.max()) if stop.size else 0, 0)
    labels = np.full(total, int(Stage.UNSCORED), dtype=np.int8)
    owner = np.full(total, -1, dtype=np.int64)
    clashes, example, before = 0, "", 0
    for k, (a, b, s) in enumerate(zip(first, stop, stages)):
        if s >= 0:
            before += max(0, min(int(b), 0) - int(a))
        a, b = max(int(a), 0), min(int(b), total)
        if b <= a:
            continue
        prev = owner[a:b]
        clash = (prev >= 0) & (labels[a:b] != s)
        if clash.any():
            clashes += int(clash.sum())
            if not example:
                j = int(prev[np.flatnonzero(clash)[0]])
                e = a + int(np.flatnonzero(clash)[0])
                example = (f"at epoch {e}, {Stage(int(stages[j])).label} (from {onsets[j]:g} s, {durations[j]:g} s) "
                           f"and {Stage(int(s)).label} (from {onsets[k]:g} s, {durations[k]:g} s) overlap")
        labels[a:b] = s
        owner[a:b] = k
    notes = []
    if clashes:
        notes.append(f"stage annotations overlap on {clashes} epoch{'s' if clashes != 1 else ''} "
                     f"({example}); the annotation that starts later was kept")
    if before:
        notes.append(f"{before} scored epoch{'s of the hypnogram lie' if before != 1 else ' of the hypnogram lies'} "
                     f"before the recording's start and {'were' if before != 1 else 'was'} left out")
    return labels, notes


def _edf_start(path: Path) -> datetime | None:
    from sleepscope.io.edfheader import read_header

    try:
        return read_header(path).start_time
    except SleepScopeError:
        return None


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
            raise _unreadable(path, f"line {i}: {delimiter.join(row)!r} has fewer columns than its header")
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
            raise _unreadable(path, f"line {i}: duration {text!r} is not a number of seconds") from None
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
        raise _unreadable(path, f"none of its {len(rows)} events is a sleep stage")
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
            raise _unreadable(path, f"line {line}: {text!r} is no date") from None
        return "date", day + timedelta(seconds=_clock_seconds(m, 4))
    try:
        return "date", datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        pass
    if m := re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2,4}[ T]+" + _CLOCK, text):
        return "clock", _clock_seconds(m)
    raise _unreadable(path, f"line {line}: onset {text!r} is neither seconds, a clock time nor a date and time")


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
        raise _unreadable(path, "its onsets mix seconds, clock times and dates")
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
        raise _unreadable(path, "it holds no stages (only delimiters)")
    if len(rows) == 1 and len(rows[0]) > 1 and all(_looks_like_stage(c) for c in rows[0] if c.strip()):
        return [(1, c) for c in rows[0] if c.strip()], None
    header = [folded(c.strip()) for c in rows[0]]
    col = next((header.index(name) for name in _STAGE_COLUMNS if name in header), None)
    has_header = col is not None or not any(_looks_like_stage(c) for c in rows[0])
    if has_header and col is None:
        if len(rows) == 1 or len(header) > 1:
            raise _unreadable(path, f"its header {delimiter.join(rows[0])!r} has no 'stage' column")
        col = 0
    body = rows[1:] if has_header else rows
    if not body:
        raise _unreadable(path, "it has a header but no rows: it holds no stages")
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
            raise _unreadable(path, f"line {lineno}: {delimiter.join(row)!r} has no stage column")
        if epoch_col is not None and epoch_col < len(row) and row[epoch_col].strip():
            try:
                epoch = int(float(row[epoch_col]))
            except (ValueError, OverflowError):
                raise _unreadable(path, f"line {lineno}: epoch {row[epoch_col]!r} is not a number") from None
            if epoch != i + first_epoch:
                raise _unreadable(path, f"line {lineno}: epoch {row[epoch_col]} is out of order "
                                        f"(expected {i + first_epoch}); one row per epoch from {first_epoch}")
        cells.append((lineno, row[cell_col]))
        if time_col is not None:
            if time_col >= len(row) or not row[time_col].strip():
                raise _unreadable(path, f"line {lineno}: {delimiter.join(row)!r} has no time, as its header says")
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
        raise _unreadable(path, "it holds no stages")
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
            raise _unreadable(path, f"line {lineno}: {cell.strip()[:40]!r} is not a stage (names W, N1, N2, N3, "
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
    return ",".join(f"{cell}={Stage(int(stage)).label}" for cell, stage in sorted(items, key=lambda kv: _code_order(kv[0])))


def _code_order(cell: str) -> tuple:
    return (0, float(cell), "") if _NUMBER.fullmatch(cell) else (1, 0.0, cell)


def _declared_codes(path: Path, cells: list[tuple[int, str]], codes: dict[str, int]) -> np.ndarray:
    if not cells:
        raise _unreadable(path, "it holds no stages")
    labels = []
    for lineno, cell in cells:
        t = cell.strip()
        if t not in codes:
            raise _unreadable(path, f"line {lineno}: {t[:40]!r} is none of the declared codes "
                                    f"({', '.join(codes)})")
        labels.append(codes[t])
    return np.array(labels, dtype=np.int8)


def _fit(path: Path, labels: np.ndarray, n_epochs: int, strict: bool, notes: list[str]) -> np.ndarray:
    """Cut or pad `labels` to the recording's `n_epochs`, saying so; refuse what cannot be the recording's."""
    n_hyp = len(labels)
    if n_hyp == n_epochs:
        return labels
    scored = np.flatnonzero(labels >= 0)
    extent = int(scored[-1]) + 1 if scored.size else 0  # up to the last scored epoch
    both = (f"the hypnogram {path.name} covers {_epochs_text(n_hyp)}, the recording "
            f"{_epochs_text(n_epochs)}")
    if extent > n_epochs + LENGTH_TOLERANCE_EPOCHS:
        raise SleepScopeError(
            f"{both}: its scored epochs run {extent - n_epochs} epochs past the recording's end, so it cannot be "
            "this recording's hypnogram. Check that both files are of the same night.")
    if strict and n_hyp < n_epochs - LENGTH_TOLERANCE_EPOCHS:
        raise SleepScopeError(
            f"{both}: it stops {n_epochs - n_hyp} epochs before the recording's end, so it does not match its "
            "recording. Check that both files are of the same night, or score the rest of the night.")
    if n_hyp > n_epochs:
        if extent > n_epochs:
            notes.append(f"{both}: the {extent - n_epochs} scored epochs past the recording's end were dropped")
        return labels[:n_epochs].copy()
    short = n_epochs - n_hyp
    notes.append(f"{both}: the last {f'{short} epochs' if short != 1 else 'epoch'} of the recording "
                 f"{'are' if short != 1 else 'is'} left unscored")
    return np.concatenate([labels, np.full(n_epochs - n_hyp, int(Stage.UNSCORED), dtype=np.int8)])


def _epochs_text(n: int) -> str:
    return f"{n} epochs ({n * EPOCH_SECONDS / 3600:.2f} h)"


def _unreadable(path: Path, why: str) -> SleepScopeError:
    return SleepScopeError(
        f"cannot read the hypnogram {path}: {why}. Give an EDF+ hypnogram, NSRR or Profusion XML, Sleepware RML, "
        "a CSV/TSV with a 'stage' column (or onset, duration and description columns), or a text file with one stage per line."
    )


# ---------------------------------------------------------------- trimming
def trim_wake(labels: np.ndarray, margin_epochs: int = 60) -> slice:
    """The paper's window: `margin_epochs` (30 min) of wake before the first sleep epoch and after the last.

    Returns `slice(first - margin, last + margin)` clipped to the night, the
    convention of the Sleep-EDF consensus hypnograms shipped with SleepScope
    (SC4001: epochs 961..1800). A night without sleep is kept whole.
    """
    labels = np.asarray(labels)
    sleep = np.flatnonzero(np.isin(labels, _SLEEP))
    if sleep.size == 0:
        return slice(0, len(labels))
    return slice(max(0, int(sleep[0]) - margin_epochs), min(len(labels), int(sleep[-1]) + margin_epochs))


# ---------------------------------------------------------------- writing
def write_csv_hypnogram(path: str | os.PathLike, labels: np.ndarray, start_time: datetime | None = None) -> None:
    """CSV with columns epoch, onset_s, stage (W, N1, N2, N3, REM, ?), plus clock time when known."""
    path = Path(path)
    labels = np.asarray(labels)
    header = ["epoch", "onset_s", "stage"] + (["time"] if start_time is not None else [])
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, code in enumerate(labels):
            row = [i, i * EPOCH_SECONDS, Stage(int(code)).label]
            if start_time is not None:
                row.append((start_time + timedelta(seconds=i * EPOCH_SECONDS)).isoformat(sep=" "))
            w.writerow(row)
    os.replace(tmp, path)


def stage_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(first epoch, number of epochs, code) of each run of equal stages."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(labels)]])
    return [(int(a), int(b - a), int(labels[a])) for a, b in zip(starts, ends)]


def write_edf_hypnogram(path: str | os.PathLike, labels: np.ndarray, start_time: datetime,
                        extra: Sequence[tuple[float, float | None, str]] = ()) -> None:
    """An annotation-only EDF+ file in Sleep-EDF's style: one `Sleep stage X` annotation per run,
    then `extra` annotations (onset s, duration s or None, text: events, lights markers)."""
    import edfio

    path = Path(path)
    annotations = [
        edfio.EdfAnnotation(float(a * EPOCH_SECONDS), float(n * EPOCH_SECONDS), AASM_TO_RK[Stage(code)])
        for a, n, code in stage_runs(labels)
    ] + [edfio.EdfAnnotation(float(t), None if d is None else float(d), str(text)) for t, d, text in extra]
    edf = edfio.Edf(
        [],
        recording=edfio.Recording(startdate=start_time.date()),
        starttime=start_time.time().replace(microsecond=0),
        annotations=annotations,
    )
    from sleepscope.atomic import replacing

    with replacing(path) as tmp:  # no half-written file, no temporary left behind (a full disk)
        edf.write(tmp)


@contextmanager
def notices_to_stderr(prefix: str = "sleepscope: note: ") -> Iterator[None]:
    """For the CLI: each HypnogramNotice raised inside is printed as one line on stderr, not as a warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HypnogramNotice)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, HypnogramNotice):
                    print(prefix + str(w.message), file=sys.stderr)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)
