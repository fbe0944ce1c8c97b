"""Events, notes and lights: what a technician marks on a night besides its stages.

An event is a time span on the traces (`artefact`, `arousal`, or a free-text
`note`) with who marked it and when, and whether it was taken from the
recording's own annotations (`source`); the lights markers bound the analysis
period of the statistics (TIB, SOL, WASO, SE). Both live in the scoring
file's journal as "old → new" records, so one rule applies, replays and
reverts them, and they are undone and redone with the stage edits:

- `{"op": "event", "id": ..., "old": EVENT | null, "new": EVENT | null}`:
  added (old null), changed, or removed (new null); `id` is the sequence
  number of the entry that added it. Events added or removed together (taken
  from the recording's annotations, several rows removed) are consecutive
  entries with the same `group` (the first one's seq), undone and redone as
  one; a SleepScope that does not know `group` steps through them one by one.
- `{"op": "lights", "which": "off" | "on", "old": SECONDS | null, "new": ...}`.

Times are seconds from the recording's start. Nothing here touches the disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sleepscope.errors import SleepScopeError

ARTEFACT = "artefact"
AROUSAL = "arousal"
NOTE = "note"
EVENT_KINDS = (ARTEFACT, AROUSAL, NOTE)
#: How each kind is written in EDF+ annotations and shown to the technician.
KIND_LABEL = {ARTEFACT: "Artefact", AROUSAL: "Arousal", NOTE: "Note"}
#: Each kind's colour wherever events are drawn (traces, hypnogram, the Events dock).
KIND_COLORS = {ARTEFACT: "#c0392b", AROUSAL: "#d68910", NOTE: "#2874a6"}
LIGHTS_OFF = "Lights off"
LIGHTS_ON = "Lights on"
#: Journal operations handled here (everything else is a stage edit or a record).
MARK_OPS = ("event", "lights")
#: `ScoringEvent.source` of an event taken from the recording's own annotations ("": marked by hand).
FROM_RECORDING = "recording"


@dataclass(frozen=True)
class ScoringEvent:
    """A marked span: `start`/`end` in seconds from the recording's start; `scorer`/`time`: who marked it, when."""

    id: int
    kind: str
    start: float
    end: float
    text: str = ""
    channel: str = ""
    scorer: str = ""
    time: float = 0.0
    source: str = ""

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def label(self) -> str:
        """What the technician reads (and EDF+ carries): the note's text, else the kind."""
        if self.kind == NOTE:
            return self.text or KIND_LABEL[NOTE]
        if self.text.lower().startswith(KIND_LABEL[self.kind].lower()):
            return self.text  # "Arousal (ARO SPONT)" as a recording wrote it, not "Arousal: Arousal (ARO SPONT)"
        return KIND_LABEL[self.kind] + (f": {self.text}" if self.text else "")

    def epochs(self, epoch_s: float) -> range:
        """The epochs the span touches."""
        first = int(math.floor(self.start / epoch_s))
        last = max(first, int(math.ceil(self.end / epoch_s)) - 1)
        return range(first, last + 1)

    def to_json(self) -> dict[str, Any]:
        d = {"kind": self.kind, "start": self.start, "end": self.end, "text": self.text,
             "channel": self.channel, "scorer": self.scorer, "t": self.time}
        return d | ({"source": self.source} if self.source else {})

    @classmethod
    def from_json(cls, event_id: int, d: dict[str, Any]) -> "ScoringEvent":
        return cls(id=int(event_id), kind=str(d["kind"]), start=float(d["start"]), end=float(d["end"]),
                   text=str(d.get("text", "")), channel=str(d.get("channel", "")),
                   scorer=str(d.get("scorer", "")), time=float(d.get("t", 0.0)), source=str(d.get("source", "")))


@dataclass(frozen=True)
class Lights:
    """Lights off and on, in seconds from the recording's start (None: not marked)."""

    off: float | None = None
    on: float | None = None

    def epochs(self, epoch_s: float, n_epochs: int) -> tuple[int | None, int | None]:
        """(first epoch of the analysis period, the epoch after its last) for `sleep_statistics`."""
        off = None if self.off is None else min(n_epochs - 1, max(0, int(math.floor(self.off / epoch_s + 1e-9))))
        on = None if self.on is None else min(n_epochs, max(1, int(math.ceil(self.on / epoch_s - 1e-9))))
        return off, on


def check_event(kind: str, start: float, end: float, duration_s: float) -> tuple[float, float]:
    """The span in order within the recording; SleepScopeError when it cannot be an event."""
    if kind not in EVENT_KINDS:
        raise SleepScopeError(f"An event is one of {', '.join(EVENT_KINDS)}, not {kind!r}.")
    start, end = sorted((float(start), float(end)))
    if not (math.isfinite(start) and math.isfinite(end)):
        raise SleepScopeError("An event needs a start and an end time.")
    start, end = max(0.0, start), min(float(duration_s), end)
    if end <= start:
        raise SleepScopeError(f"The span {start:.1f}–{end:.1f} s lies outside the recording (0–{duration_s:g} s): "
                              "drag across the traces to mark an event.")
    return start, end


def check_lights(which: str, seconds: float | None, other: float | None, duration_s: float) -> float | None:
    """A lights marker within the recording, lights off before lights on."""
    if which not in ("off", "on"):
        raise ValueError(f"lights are 'off' or 'on', not {which!r}")
    if seconds is None:
        return None
    seconds = float(seconds)
    if not 0.0 <= seconds <= float(duration_s):
        raise SleepScopeError(f"Lights {which} at {seconds:g} s is outside the recording (0–{duration_s:g} s).")
    if other is not None and (which == "off" and seconds >= other or which == "on" and seconds <= other):
        raise SleepScopeError(
            f"Lights off must come before lights on (lights {'on' if which == 'off' else 'off'} is at "
            f"{other:g} s): move or clear that marker first.")
    return seconds


def apply_mark(events: dict[int, ScoringEvent], lights: dict[str, float | None], entry: dict[str, Any],
               side: str = "new") -> None:
    """Make the state what `entry` says on `side` ('new': apply or redo it; 'old': undo it)."""
    value = entry[side]
    if entry["op"] == "event":
        eid = int(entry["id"])
        if value is None:
            events.pop(eid, None)
        else:
            events[eid] = ScoringEvent.from_json(eid, value)
    elif entry["op"] == "lights":
        lights[str(entry["which"])] = None if value is None else float(value)
    else:
        raise ValueError(f"not an event or lights entry: {entry.get('op')!r}")


@dataclass(frozen=True)
class MarkEdit:
    """An undoable change of events or lights, as `ScoringFile.undo()`/`redo()` return it.

    `epochs` are those it concerns (where the GUI goes to show it); `what` names it."""

    seq: int
    op: str
    what: str
    epochs: tuple[int, ...]
    entry: dict[str, Any]

    @classmethod
    def from_json(cls, e: dict[str, Any], epoch_s: float, n_epochs: int) -> "MarkEdit":
        old, new = e.get("old"), e.get("new")
        if e["op"] == "event":
            ev = ScoringEvent.from_json(int(e["id"]), new if new is not None else old)
            verb = "mark" if old is None else "remove" if new is None else "change"
            what = f"{verb} {ev.label[:30]}"
            epochs = tuple(i for i in ev.epochs(epoch_s) if 0 <= i < n_epochs)
        else:
            at = new if new is not None else old
            what = f"lights {e['which']}" + ("" if new is not None else " cleared")
            epochs = (min(n_epochs - 1, int(float(at) // epoch_s)),) if at is not None else ()
        return cls(int(e["seq"]), str(e["op"]), what, epochs or (0,), dict(e))

    @classmethod
    def of_group(cls, entries: list[dict[str, Any]], epoch_s: float, n_epochs: int) -> "MarkEdit":
        """Events added or removed together (one `group`) as one edit; `entries` in journal order."""
        if len(entries) == 1:
            return cls.from_json(entries[0], epoch_s, n_epochs)
        parts = [cls.from_json(e, epoch_s, n_epochs) for e in entries]
        epochs = tuple(sorted({i for p in parts for i in p.epochs}))
        if all(e.get("old") is None for e in entries):
            taken = all((e.get("new") or {}).get("source") == FROM_RECORDING for e in entries)
            what = f"take {len(entries)} events from the recording" if taken else f"mark {len(entries)} events"
        else:
            what = f"{'remove' if all(e.get('new') is None for e in entries) else 'change'} {len(entries)} events"
        return cls(parts[-1].seq, "event", what, epochs, dict(entries[-1]))


def group_runs(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """`entries` (an undo or redo stack) cut into what one undo or redo takes: consecutive entries of one
    `group`, every other entry alone."""
    runs: list[list[dict[str, Any]]] = []
    for e in entries:
        g = e.get("group")
        if runs and g is not None and runs[-1][-1].get("group") == g:
            runs[-1].append(e)
        else:
            runs.append([e])
    return runs


def taken(candidates: list[tuple[str, float, float, str]], events: list[ScoringEvent]) -> list[bool]:
    """Per (kind, start, end, text) of `candidates`: whether it is one of the `events` already."""
    have = {(e.kind, round(e.start, 3), round(e.end, 3), e.text) for e in events}
    return [(c[0], round(c[1], 3), round(c[2], 3), c[3]) in have for c in candidates]


def untaken(candidates: list[tuple[str, float, float, str]], events: list[ScoringEvent]) -> list[tuple[str, float,
                                                                                                  float, str]]:
    """The (kind, start, end, text) of `candidates` that are not events already: taking the recording's
    annotations twice marks them once."""
    return [c for c, done in zip(candidates, taken(candidates, events)) if not done]


def count_text(kinds: list[str]) -> str:
    """'1 artefact, 2 arousals, 1 note' for the kinds of some events."""
    counts = {k: kinds.count(k) for k in EVENT_KINDS}
    return ", ".join(f"{n} {KIND_LABEL[k].lower()}{'s' if n != 1 else ''}" for k, n in counts.items() if n)


def arousal_onsets(events: list[ScoringEvent]) -> list[float]:
    """Where the arousal events start, for the arousal index (`sleep_statistics(arousals=...)`)."""
    return [e.start for e in events if e.kind == AROUSAL]


def clock_seconds(seconds: float) -> str:
    """h:mm:ss from the recording's start."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def clock_time(seconds: float, start_time: Any) -> str:
    """The clock time (HH:MM:SS) `seconds` into a recording that started at `start_time`; h:mm:ss from the start
    when its start is not known."""
    if start_time is None:
        return clock_seconds(seconds)
    return f"{start_time + timedelta(seconds=seconds):%H:%M:%S}"
