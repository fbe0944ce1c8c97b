"""A recording's own EDF+ annotations: what the acquisition software and the night's technician wrote in it.

Real PSG exports carry the lights markers ("Lights Off", "Lights On"), the
technician's notes during the night and the system's events. They are shown
beside the scoring, read-only, and the lights markers can be taken as the
scoring's own. Sleep-stage annotations are not among them: they are a
hypnogram (`sleepscope.io.hypnogram`).
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


@dataclass(frozen=True)
class Annotation:
    onset: float  # seconds from the recording's start
    duration: float  # 0 for an instant
    text: str


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
