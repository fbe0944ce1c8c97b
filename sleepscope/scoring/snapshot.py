"""The HDF5 snapshot of a scoring: its layout, written whole and checksummed.

A snapshot is only ever replaced whole (`sleepscope.atomic`), so a crash
never leaves it half-written. Its first 512 bytes are an HDF5 user block
(space the HDF5 library leaves alone) holding a SHA-256 of every byte after
it. `read_snapshot` reads the file once, checks that hash and only then lets
HDF5 parse the bytes: a flipped byte anywhere (a label, a provenance, the
history, HDF5's own structures) is refused as damage, and a damaged file
never reaches the HDF5 library, which can crash on one.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sleepscope.atomic import write_bytes_atomic
from sleepscope.errors import SleepScopeError
from sleepscope.scoring.events import ScoringEvent
from sleepscope.scoring.state import PredictionRecord, RecordingIdentity, ScorerLabels, ScoringState

FORMAT = "sleepscope-scoring"
#: 2: the user block with the checksum is required. 3: events and lights (`marks`); a
#: SleepScope that reads only 2 would drop them, so it is told to update.
FORMAT_VERSION = 3
USERBLOCK = 512
MAGIC = b"SleepScope scoring snapshot\n"


class SnapshotDamaged(Exception):
    """The snapshot cannot be read, or its content does not match its checksum."""


def write_snapshot(state: ScoringState, path: Path) -> None:
    """Write the state to `path` atomically (temporary file, fsync, rename, fsync folder)."""
    import h5py

    ident = state.identity
    str_dt = h5py.string_dtype("utf-8")
    # Built in memory and written with plain file I/O: a full disk is then one clean
    # OSError, where HDF5's own writes failing leave its library in a state that can crash.
    # The in-memory image is HDF5's own core driver: a Python file object would have the
    # library call back into Python while holding h5py's lock, which crashed under GUI threads.
    with h5py.File.in_memory() as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["seq"] = state.seq
        f.attrs["created"] = state.created
        f.attrs["saved"] = time.time()
        g = f.create_group("identity")
        g.attrs["fingerprint"] = ident.fingerprint
        g.attrs["n_epochs"] = ident.n_epochs
        g.attrs["duration_s"] = ident.duration_s
        g.attrs["epoch_seconds"] = ident.epoch_seconds
        g.attrs["start_time"] = ident.start_time.isoformat() if ident.start_time else ""
        g.attrs["recording_file"] = ident.file_name
        lab = f.create_group("labels")
        lab.create_dataset("stage", data=state.labels.astype(np.int8))
        lab.create_dataset("source", data=list(state.sources), dtype=str_dt, shape=(len(state.sources),))
        lab.create_dataset("scorer", data=list(state.scorers), dtype=str_dt, shape=(len(state.scorers),))
        lab.create_dataset("time", data=state.times.astype(np.float64))
        f.create_dataset("reviewed", data=state.reviewed.astype(np.uint8))
        f.create_dataset("notes", data=state.notes, dtype=str_dt)
        preds = f.create_group("predictions")
        for i, rec in enumerate(sorted(state.predictions.values(), key=lambda r: r.time)):
            d = preds.create_dataset(f"p{i:04d}", data=rec.probs.astype(np.float32))
            d.attrs["model_version"] = rec.model_version
            d.attrs["time"] = rec.time
            if rec.statistics_span is not None:
                d.attrs["statistics_span"] = np.asarray(rec.statistics_span, np.int64)
            if rec.channels is not None:  # "" for a channel the model went without
                d.attrs["eeg"], d.attrs["eog"] = (name or "" for name in rec.channels)
            if rec.reading is not None:
                d.attrs["reading"] = rec.reading.astype(np.uint8)
            if rec.chin_note:
                d.attrs["chin_note"] = rec.chin_note
            if rec.ecg is not None:
                d.attrs["ecg"] = rec.ecg
        sc = f.create_group("scorers")
        for i, s in enumerate(state.scorer_sets.values()):
            d = sc.create_dataset(f"s{i:04d}", data=s.labels.astype(np.int8))
            d.attrs["name"] = s.name
            d.attrs["source_file"] = s.source_file
            d.attrs["time"] = s.time
        marks = {"events": {str(i): ev.to_json() for i, ev in state.events.items()}, "lights": state.lights}
        f.create_dataset("marks", data=json.dumps(marks, separators=(",", ":")), dtype=str_dt)
        lines = [json.dumps(e, separators=(",", ":")) for e in state.history]
        f.create_dataset("journal", data=lines, dtype=str_dt, shape=(len(lines),))
        f.flush()
        image = f.id.get_file_image()
    # The checksum line fills the user block before the HDF5 image; HDF5 finds its
    # superblock after a user block by itself.
    digest = hashlib.sha256(image).hexdigest().encode("ascii")
    head = (MAGIC + b"sha256:" + digest + b"\n").ljust(USERBLOCK, b"\x00")
    write_bytes_atomic(path, head + image)


def read_snapshot(path: Path) -> ScoringState:
    """Load a snapshot. Raises SnapshotDamaged when it fails its checksum or cannot be parsed,
    SleepScopeError when a newer SleepScope wrote it."""
    import h5py

    data = Path(path).read_bytes()  # FileNotFoundError and PermissionError go to the caller
    checked = verify(data)
    try:
        with h5py.File.in_memory(data[USERBLOCK:] if checked else data) as f:
            tree = _read_tree(f)
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, RuntimeError... on damage
        raise SnapshotDamaged(f"it cannot be read ({exc})") from exc
    root = tree.get("", {}).get("attrs", {})
    try:
        version = int(root["format_version"])
        if _str(root.get("format", "")) != FORMAT:
            raise SnapshotDamaged("it is not a SleepScope scoring file")
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotDamaged(f"it cannot be read ({exc!r})") from exc
    if version > FORMAT_VERSION:
        raise SleepScopeError(
            f"{path} was written by a newer SleepScope (format {version}). Update SleepScope to open it."
        )
    if not checked and version >= 2:
        raise SnapshotDamaged("its checksum is missing")
    try:
        return _state_from_tree(tree)
    except SnapshotDamaged:
        raise
    except Exception as exc:
        raise SnapshotDamaged(f"it cannot be read ({exc!r})") from exc


def verify(data: bytes) -> bool:
    """True when `data` carries a checksum and matches it; False when it has none (format 1);
    raises SnapshotDamaged when it does not match."""
    if not data.startswith(MAGIC):
        return False
    line = data[len(MAGIC):data.find(b"\n", len(MAGIC))]
    expected = b"sha256:" + hashlib.sha256(memoryview(data)[USERBLOCK:]).hexdigest().encode("ascii")
    if line != expected:
        raise SnapshotDamaged("its content does not match its checksum")
    return True


def _str(x: Any) -> str:
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


def _read_tree(f: Any) -> dict[str, dict[str, Any]]:
    """{object path ('' for the root): {'attrs': {...}, 'value': dataset contents}} for the whole file."""
    import h5py

    tree: dict[str, dict[str, Any]] = {"": {"attrs": dict(f.attrs.items())}}

    def visit(name: str, obj: Any) -> None:
        node: dict[str, Any] = {"attrs": dict(obj.attrs.items())}
        if isinstance(obj, h5py.Dataset):
            node["value"] = obj[()]
        tree[name] = node

    f.visititems(visit)
    return tree


def _state_from_tree(tree: dict[str, dict[str, Any]]) -> ScoringState:
    root = tree[""]["attrs"]
    g = tree["identity"]["attrs"]
    start = _str(g["start_time"])
    ident = RecordingIdentity(
        fingerprint=_str(g["fingerprint"]),
        n_epochs=int(g["n_epochs"]),
        duration_s=float(g["duration_s"]),
        start_time=datetime.fromisoformat(start) if start else None,
        file_name=_str(g["recording_file"]),
        epoch_seconds=float(g["epoch_seconds"]),
    )
    n = ident.n_epochs

    def value(name: str) -> Any:
        return tree[name]["value"]

    state = ScoringState(
        identity=ident,
        labels=np.asarray(value("labels/stage")).astype(np.int8),
        sources=np.array([_str(s) for s in np.ravel(value("labels/source"))], dtype=object),
        scorers=np.array([_str(s) for s in np.ravel(value("labels/scorer"))], dtype=object),
        times=np.asarray(value("labels/time")).astype(np.float64),
        reviewed=np.asarray(value("reviewed")).astype(bool),
        notes=_str(value("notes")),
        seq=int(root["seq"]),
        created=float(root["created"]),
    )
    for arr in (state.labels, state.sources, state.scorers, state.times, state.reviewed):
        if arr.shape != (n,):
            raise SnapshotDamaged("its label arrays do not match its number of epochs")
    for name in sorted(k for k in tree if k.startswith("predictions/")):
        a = tree[name]["attrs"]
        span = a.get("statistics_span")  # files written before it was kept have none
        channels = (tuple(_str(a[k]) or None for k in ("eeg", "eog"))  # nor the channels, before they were kept
                    if "eeg" in a and "eog" in a else None)
        reading = a.get("reading")  # nor how each epoch was read
        if reading is not None and np.shape(reading) != (n,):
            raise SnapshotDamaged("a prediction's reading does not match its number of epochs")
        rec = PredictionRecord(_str(a["model_version"]), np.asarray(value(name)).astype(np.float32), float(a["time"]),
                               None if span is None else (int(span[0]), int(span[1])), channels,
                               None if reading is None else np.asarray(reading, np.uint8),
                               _str(a["chin_note"]) if "chin_note" in a else None,
                               _str(a["ecg"]) if "ecg" in a else None)  # nor the ECG lead
        state.predictions[rec.model_version] = rec
    for name in sorted(k for k in tree if k.startswith("scorers/")):
        a = tree[name]["attrs"]
        s = ScorerLabels(_str(a["name"]), np.asarray(value(name)).astype(np.int8), _str(a["source_file"]),
                         float(a["time"]))
        state.scorer_sets[s.name] = s
    state.history = [json.loads(_str(x)) for x in np.ravel(value("journal"))]
    if "marks" in tree:  # format 3 on
        marks = json.loads(_str(value("marks")))
        state.events = {int(i): ScoringEvent.from_json(int(i), d) for i, d in marks["events"].items()}
        state.lights = {"off": marks["lights"].get("off"), "on": marks["lights"].get("on")}
    return state
