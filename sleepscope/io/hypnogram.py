"""Hypnograms: EDF+ annotations, NSRR and Profusion XML, Philips Sleepware RML, and through
`sleepscope.io.hypnogram_tables` the text formats (CSV/TSV, event tables, one stage per line, DOMINO, DREAMS);
fitting a hypnogram to its recording; writing them.

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
from sleepscope.io.hypnogram_tables import RK_CODES, read_text_hypnogram, unreadable
from sleepscope.io.recording import EPOCH_SECONDS
from sleepscope.stages import AASM_TO_RK, RK_TO_AASM, SCORED, Stage, parse_stage, stage_worded, unusual_mix

_SLEEP = np.array([int(s) for s in SCORED if s is not Stage.W], dtype=np.int8)


# ---------------------------------------------------------------- reading
#: A hypnogram may differ from its recording by this many epochs (a last partial
#: epoch, clocks rounded to the minute) and still be taken as the recording's.
LENGTH_TOLERANCE_EPOCHS = 2


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
    #: seconds into the recording's 30-s epochs at which the file's own whole 30-s epochs begin (`grid_offset`);
    #: 0 when they are the recording's, or are not whole 30-s epochs
    grid_offset: float = 0.0

    @property
    def doubt_note(self) -> str:
        """The doubt and what to do about it, for the command line."""
        return f"{self.doubt}: {DECLARE_CODES}" if self.doubt else ""


def load_hypnogram(path: str | os.PathLike, n_epochs: int | None = None, start_time: datetime | None = None,
                   *, strict: bool = False, codes: dict[str, int] | None = None, origin: float = 0.0) -> Hypnogram:
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
    `origin` (s) places epoch 0 that far into the recording: with the file's own `grid_offset`, its epochs are
    read as scored, for a recording cropped by as much (`Recording.cropped`).
    """
    path = Path(path)
    if not path.is_file():
        raise SleepScopeError(f"{path}: no such hypnogram file. Check the path.")
    notes: list[str] = []
    coded, numbered, read_as = False, False, ()  # see TextHypnogram
    kind = file_kind(path)
    if kind == "edf":
        fmt = "edf+"
        onsets, durations, stages = _edf_annotations(path, start_time)
    elif kind == "xml":
        fmt, onsets, durations, stages = _xml_annotations(path, start_time)
    else:
        read = read_text_hypnogram(path, start_time, codes, notes)
        fmt, onsets, durations, stages = read.format, read.onsets, read.durations, read.stages
        coded, numbered, read_as = read.coded, read.numbered, read.read_as
        row_s = row_seconds(len(stages), int(n_epochs)) if read.untimed and n_epochs is not None else EPOCH_SECONDS
        if row_s != EPOCH_SECONDS:
            onsets, durations = onsets * (row_s / EPOCH_SECONDS), durations * (row_s / EPOCH_SECONDS)
            notes.append(f"its {len(stages)} rows were read as {row_s:g}-s epochs: as 30-s epochs they would run "
                         f"{len(stages) * EPOCH_SECONDS / 3600:.2f} h against the recording's "
                         f"{int(n_epochs) * EPOCH_SECONDS / 3600:.2f} h, as {row_s:g}-s epochs they cover it")
    if codes is not None and not coded:
        raise unreadable(path, f"stage codes were declared, but its stages are named or its format's own ({fmt} file)")
    _check_span(path, onsets, durations)
    offset = grid_offset(onsets, durations, stages)
    labels, expand_notes = _expand(np.asarray(onsets, np.float64) - origin, durations, stages)
    notes += expand_notes
    source_epochs = len(labels)
    doubt = ""
    if numbered and (why := unusual_mix(labels)):
        doubt = f"{why}, unlike any real night's scoring"
        notes.append(f"{doubt}: {DECLARE_CODES}")
    if n_epochs is not None:
        labels = _fit(path, labels, int(n_epochs), strict, notes)
    return Hypnogram(labels=labels, format=fmt, source_epochs=source_epochs, notes=tuple(notes), doubt=doubt,
                     read_as=read_as, grid_offset=offset)


#: Epoch lengths other than 30 s that scorings of a row per epoch are kept in (R&K's 20 s, 15 s), longest first.
_ROW_SECONDS = (20.0, 15.0)
_ROW_SECONDS_MIN_EPOCHS = 120


def row_seconds(rows: int, n_epochs: int) -> float:
    """How long the epochs of a scoring of `rows` rows and no times are, for a recording of `n_epochs` 30-s
    epochs: 30 s unless the rows would run past its end while another epoch length covers it, stopping no more
    than two rows short and running no further than its last partial 30-s epoch; a file of 20-s epochs is
    otherwise refused as another night's. Only for an hour or more: on shorter recordings a row or two more
    or less would decide between epoch lengths."""
    if rows <= n_epochs + LENGTH_TOLERANCE_EPOCHS or n_epochs < _ROW_SECONDS_MIN_EPOCHS:
        return float(EPOCH_SECONDS)
    duration = n_epochs * EPOCH_SECONDS
    for row_s in _ROW_SECONDS:
        if duration - LENGTH_TOLERANCE_EPOCHS * row_s <= rows * row_s < duration + EPOCH_SECONDS:
            return row_s
    return float(EPOCH_SECONDS)


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


def read_hypnogram(path: str | os.PathLike, n_epochs: int | None = None, start_time: datetime | None = None,
                   codes: dict[str, int] | None = None, origin: float = 0.0) -> np.ndarray:
    """The labels of `load_hypnogram`; its notes (padded, cut, overlaps) are issued as `HypnogramNotice` warnings.
    Codes whose night reads as no real night's (`Hypnogram.doubt`) are refused until declared: imported or
    trained on, a misread numbering becomes stages."""
    hyp = load_hypnogram(path, n_epochs, start_time, codes=codes, origin=origin)
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
        raise unreadable(path, str(exc)) from None
    except (OSError, ValueError) as exc:
        raise unreadable(path, f"its EDF+ annotations cannot be read ({exc})") from exc
    onsets, durations, stages = [], [], []
    for onset, duration, text in found:
        stage = annotation_stage(text)
        if stage is None:
            continue
        onsets.append(float(onset))
        durations.append(float(duration))
        stages.append(int(stage))
    if not stages:
        raise unreadable(path, f"it has no sleep-stage annotations ({len(found)} annotations, none like "
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
        raise unreadable(path, f"it is not well-formed XML ({exc})") from None
    tag = xml_local_name(root.tag)
    if tag == "PatientStudy":
        onsets, durations, stages = _rml_stages(path, root, start_time)
        return "rml", onsets, durations, stages
    if tag == "CMPStudyConfig" or root.find(".//SleepStages") is not None:
        epoch_s = _xml_float(path, root.findtext(".//EpochLength") or str(EPOCH_SECONDS), "EpochLength")
        if epoch_s <= 0:
            raise unreadable(path, f"its EpochLength is {epoch_s:g} s")
        codes = [(el.text or "").strip() for el in root.iter() if xml_local_name(el.tag) == "SleepStage"]
        if not codes:
            raise unreadable(path, "its <SleepStages> element holds no <SleepStage> entries")
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
                raise unreadable(path, f"ScoredEvent {i + 1}: {concept!r} is not a sleep stage we know") from None
        onsets.append(_xml_float(path, fields.get("Start", ""), f"ScoredEvent {i + 1} Start"))
        durations.append(_xml_float(path, fields.get("Duration", ""), f"ScoredEvent {i + 1} Duration"))
        stages.append(stage)
    if not stages:
        raise unreadable(path, f"it has no sleep-stage events ({len(events)} ScoredEvent elements, none of type "
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
        raise unreadable(path, "it holds no technician's staging (UserStaging)"
                          + (", only the machine's (MachineStaging)" if machine else ""))
    starts, stages = [], []
    for i, el in enumerate(marks):
        kind = (el.get("Type") or "").strip()
        if kind.lower() not in _RML_TYPES:
            raise unreadable(path, f"Stage {i + 1}: {kind!r} is not a sleep stage we know")
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
        raise unreadable(path, f"{what} is {text!r}, not a number of seconds") from None
    if not np.isfinite(value):
        raise unreadable(path, f"{what} is {text!r}, not a number of seconds")
    return value


def _rk_code(path: Path, text: str, where: str) -> int:
    try:
        return int(RK_CODES[int(text)])
    except (ValueError, KeyError):
        raise unreadable(path, f"{where}: {text!r} is not a stage code (0 wake, 1-4 R&K stages 1-4, 5 REM, "
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
        raise unreadable(path, f"its stages run to {far / 86400:,.0f} days after the recording's start: its times "
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
    notes = _off_grid_notes(onsets, durations, stages, total)
    if clashes:
        notes.append(f"stage annotations overlap on {clashes} epoch{'s' if clashes != 1 else ''} "
                     f"({example}); the annotation that starts later was kept")
    if before:
        notes.append(f"{before} scored epoch{'s of the hypnogram lie' if before != 1 else ' of the hypnogram lies'} "
                     f"before the recording's start and {'were' if before != 1 else 'was'} left out")
    return labels, notes


#: How far (s) a change of stage may lie from an epoch boundary and still count as on it (rounded clock times).
_ON_GRID_S = 1.0


def _whole_epochs(durations: np.ndarray) -> np.ndarray:
    return np.abs(durations - EPOCH_SECONDS * np.round(durations / EPOCH_SECONDS)) < _ON_GRID_S


def grid_offset(onsets: np.ndarray, durations: np.ndarray, stages: np.ndarray) -> float:
    """Seconds into the recording's 30-s epochs at which a scoring's whole 30-s epochs begin: a table scored from
    lights off, or MASS's AASM nights. 0 when they begin on the recording's grid (within `_ON_GRID_S`), when the
    scoring is in shorter epochs, or when its onsets keep no one grid (nothing to align to)."""
    onsets, durations = np.asarray(onsets, np.float64), np.asarray(durations, np.float64)
    scored = np.asarray(stages) >= 0
    body = durations[:-1][scored[:-1]]  # the last annotation may be cut by the end of the recording
    if not scored.any() or not _whole_epochs(body).all():
        return 0.0
    residue = np.mod(onsets[scored], EPOCH_SECONDS)
    values, counts = np.unique(np.round(residue), return_counts=True)
    mode = float(values[np.argmax(counts)])
    apart = np.abs((residue - mode + EPOCH_SECONDS / 2) % EPOCH_SECONDS - EPOCH_SECONDS / 2)
    near = apart < _ON_GRID_S
    if near.mean() < 0.9:
        return 0.0
    # the mean of the onsets near the mode, taken around it so that 29.8 and 0.1 average near 0
    offset = float((mode + np.mean((residue[near] - mode + EPOCH_SECONDS / 2) % EPOCH_SECONDS
                                   - EPOCH_SECONDS / 2)) % EPOCH_SECONDS)
    return 0.0 if min(offset, EPOCH_SECONDS - offset) < _ON_GRID_S else round(offset, 3)


def _off_grid_notes(onsets: np.ndarray, durations: np.ndarray, stages: np.ndarray, total: int) -> list[str]:
    """A note when changes of scored stage fall inside the recording's 30-s epochs: a scoring in 20-s epochs (the
    R&K nights of MASS) or on a grid that began seconds into the recording. Each epoch then takes the stage at its
    middle, and its other part was scored otherwise; the user comparing with or training on it should know."""
    ends = onsets + durations
    change = [float(onsets[k]) for k in range(1, len(onsets))
              if stages[k] >= 0 and stages[k - 1] >= 0 and stages[k] != stages[k - 1]
              and abs(onsets[k] - ends[k - 1]) < _ON_GRID_S]
    inside = [t for t in change if abs(t - EPOCH_SECONDS * round(t / EPOCH_SECONDS)) >= _ON_GRID_S]
    epochs = {int(t // EPOCH_SECONDS) for t in inside if 0 <= t < total * EPOCH_SECONDS}
    if not epochs:
        return []
    # Whole 30-s epochs (one annotation each, or runs of them) on another grid, or shorter epochs
    body = durations[:-1][stages[:-1] >= 0]
    if body.size and not _whole_epochs(body).all():
        why = f"its epochs are {float(np.min(body)):g} s long"
    else:
        offsets = np.round(np.mod(inside, EPOCH_SECONDS), 1)
        values, counts = np.unique(offsets, return_counts=True)
        why = f"its epochs begin {values[np.argmax(counts)]:g} s into the recording's"
    n = len(epochs)
    return [f"{n} of the recording's 30-s epochs hold a change of scored stage ({why}): "
            f"{'each' if n != 1 else 'it'} took the stage scored at its middle"]


def _edf_start(path: Path) -> datetime | None:
    from sleepscope.io.edfheader import read_header

    try:
        return read_header(path).start_time
    except SleepScopeError:
        return None


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
