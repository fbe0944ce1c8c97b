"""A recording's own EDF+ annotations: what the acquisition software and the night's technician wrote in it.

Real PSG exports carry the lights markers ("Lights Off", "Lights On"), the
technician's notes during the night and the system's events. They are shown
beside the scoring, read-only; the lights markers can be taken as the
scoring's own, and the rest as its events (`as_events`: arousals and
artefacts by their words, everything else as notes with its text).
Sleep-stage annotations are not among them: they are a hypnogram
(`sleepscope.io.hypnogram`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sleepscope.io.hypnogram import annotation_stage

#: "Lights off", "LIGHTS_OUT", "Licht aus"; "Lights on", "Licht an": the words labs write for the two markers.
_LIGHTS = {
    "off": re.compile(r"\b(?:lights?[\s_-]*(?:off|out)|licht[\s_-]*aus)\b", re.IGNORECASE),
    "on": re.compile(r"\b(?:lights?[\s_-]*on|licht[\s_-]*an)\b", re.IGNORECASE),
}

#: Words acquisition systems and labs write for an arousal (Compumedics "Arousal (ARO SPONT)", "RERA",
#: Natus "EEG arousal", German "Weckreaktion", French "micro-éveil", Spanish "microdespertar", Italian
#: "microrisveglio"), matched after accents are folded.
_AROUSAL = re.compile(r"arousal|\brera\b|weckreaktion|micro[\s_-]*(?:r?eveil|despertar|risveglio)", re.IGNORECASE)
#: Bad signal, in the languages of the stage names: not a limb movement, which is an event of its own (a note).
_ARTEFACT = re.compile(r"artefa[ck]t|artifact|artefatto|artefacto|body[\s_-]*movement|electrode[\s_-]*(?:pop|off)"
                       r"|lead[\s_-]*off|signal[\s_-]*loss|bad[\s_-]*data", re.IGNORECASE)
#: How long an instant (an annotation without a duration) lasts as an event: events are spans.
INSTANT_S = 1.0


@dataclass(frozen=True)
class Annotation:
    onset: float  # seconds from the recording's start
    duration: float  # 0 for an instant
    text: str
    origin: str = ""  # the file it was read from when not the recording itself (its hypnogram file)


def read_annotations(path: str | Path) -> tuple[list[Annotation], str | None]:
    """(the annotations of an EDF+/BDF+ recording other than sleep stages, in time order; why they could not be
    read, or None). Never raises: a damaged annotation channel must not keep the night from opening."""
    from sleepscope.errors import SleepScopeError
    from sleepscope.io.edfheader import annotations, read_header

    try:
        found = annotations(read_header(path))
    except SleepScopeError as exc:
        return [], str(exc)
    except (OSError, ValueError) as exc:
        return [], f"its annotations cannot be read ({type(exc).__name__}: {exc})"
    out = [Annotation(onset, duration, text) for onset, duration, text in found if annotation_stage(text) is None]
    return sorted(out, key=lambda a: a.onset), None


def lights_of(annotations: list[Annotation]) -> tuple[float | None, float | None]:
    """(lights off, lights on) in seconds as the annotations mark them: the first lights-off, and the last
    lights-on after it (or the last one, without a lights-off); None where none is marked."""
    off = next((a.onset for a in annotations if _LIGHTS["off"].search(a.text)), None)
    ons = [a.onset for a in annotations if _LIGHTS["on"].search(a.text) and (off is None or a.onset > off)]
    return off, (ons[-1] if ons else None)


def event_kind(text: str) -> str | None:
    """The scoring event an annotation's text makes: 'arousal', 'artefact' or 'note'; None for a lights
    marker (the lights are the scoring's own markers, not events)."""
    from sleepscope.stages import folded

    if any(p.search(text) for p in _LIGHTS.values()):
        return None
    plain = folded(text)
    if _AROUSAL.search(plain):
        return "arousal"
    if _ARTEFACT.search(plain):
        return "artefact"
    return "note"


def as_events(annotations: list[Annotation], duration_s: float) -> list[tuple[str, float, float, str]]:
    """(kind, start, end, text) of the annotations as scoring events (`ScoringFile.add_events`), the
    recording's text kept verbatim; lights markers and anything wholly outside the recording are left out,
    an instant lasts `INSTANT_S`."""
    out = []
    for a in annotations:
        kind = event_kind(a.text)
        start, end = max(0.0, a.onset), min(float(duration_s), a.onset + (a.duration if a.duration > 0 else INSTANT_S))
        if kind is not None and end > start:
            out.append((kind, start, end, a.text))
    return out


def hypnogram_file_events(path: str | Path, start_time=None) -> tuple[list[Annotation], str | None]:
    """The events a hypnogram file scores besides the stages, on the recording's clock, in time order: NSRR and
    Profusion XML's and Sleepware RML's scored events (arousals, respiratory events, desaturations, limb
    movements), an EDF+
    hypnogram's other annotations (HMC's lights markers), an event table's rows that are no stage (MNE's
    annotations CSV, REMlogic and CAP exports); none for a table or text of stages. Never raises:
    (events, why they could not be read, or None)."""
    from sleepscope.errors import SleepScopeError
    from sleepscope.io.hypnogram import edf_clock_shift, file_kind
    from sleepscope.io.hypnogram_tables import table_events

    path = Path(path)
    try:
        kind = file_kind(path)
    except OSError as exc:
        return [], f"it cannot be read ({exc})"
    if kind == "edf":
        found, problem = read_annotations(path)
        shift = 0.0 if problem else edf_clock_shift(path, start_time)
        return [Annotation(a.onset + shift, a.duration, a.text, path.name) for a in found], problem
    if kind == "xml":
        return _xml_events(path, start_time)
    try:
        rows = table_events(path, start_time)
    except SleepScopeError as exc:
        return [], str(exc)
    return [Annotation(onset, duration, text, path.name) for onset, duration, text in rows], None


def _xml_events(path: Path, start_time=None) -> tuple[list[Annotation], str | None]:
    """NSRR `PSGAnnotation` ("Arousal|Arousal (ASDA)", "Hypopnea|Hypopnea") and Profusion `CMPStudyConfig`
    (`<Name>Arousal (ASDA)</Name>`) scored events other than stages and the recording's start time; Sleepware
    RML's `Event` elements (`Type="ObstructiveApnea"` read "Obstructive Apnea"), on the recording's clock."""
    import xml.etree.ElementTree as ET

    from sleepscope.io.hypnogram import rml_start_shift, xml_local_name

    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, ValueError, OSError) as exc:
        return [], f"it is not well-formed XML ({exc})"
    if xml_local_name(root.tag) == "PatientStudy":
        shift = rml_start_shift(root, start_time)
        out = []
        for ev in root.iter():
            if xml_local_name(ev.tag) != "Event" or not ev.get("Type"):
                continue
            try:
                onset, duration = float(ev.get("Start", "")), float(ev.get("Duration") or 0.0)
            except ValueError:
                return [], f"Event {ev.get('Type')!r} has no start time in seconds"
            text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", ev.get("Type").strip())
            out.append(Annotation(onset + shift, max(0.0, duration), text, path.name))
        return sorted(out, key=lambda a: a.onset), None
    out = []
    for ev in root.iter():
        if xml_local_name(ev.tag) != "ScoredEvent":
            continue
        fields = {xml_local_name(c.tag): (c.text or "").strip() for c in ev}
        concept = fields.get("EventConcept") or fields.get("Name", "")
        kind = fields.get("EventType", "")
        if not concept or "stage" in kind.lower() or annotation_stage(concept) is not None \
                or concept.lower().startswith("recording start"):
            continue
        name, _, label = concept.partition("|")
        text = re.sub(r"\s*\(\s*\)$", "", label.strip()) or name.strip()
        try:
            onset, duration = float(fields.get("Start", "")), float(fields.get("Duration") or 0.0)
        except ValueError:
            return [], f"ScoredEvent {concept!r} has no start time in seconds"
        out.append(Annotation(onset, max(0.0, duration), text, path.name))
    return sorted(out, key=lambda a: a.onset), None
