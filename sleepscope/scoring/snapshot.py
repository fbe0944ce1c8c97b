"""The HDF5 snapshot of a scoring: its layout, written whole and checksummed.

A snapshot is only ever replaced whole (`sleepscope.atomic.replacing`), so a
crash never leaves it half-written. Its content (every attribute and dataset
but the checksum itself) is hashed when it is written, and the hash stored as
the root attribute `checksum`; `read_snapshot` recomputes it from what it
read, so a flipped byte that would change a label, a provenance or the
history is refused rather than opened. A flip that changes nothing readable
(free space, padding) is harmless and goes unnoticed.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sleepscope.atomic import replacing
from sleepscope.errors import SleepScopeError
from sleepscope.scoring.state import PredictionRecord, RecordingIdentity, ScorerLabels, ScoringState

FORMAT = "sleepscope-scoring"
#: 2: the content checksum (`checksum` attribute) is required.
FORMAT_VERSION = 2
CHECKSUM_ATTR = "checksum"


class SnapshotDamaged(Exception):
    """The snapshot cannot be read, or its content does not match its checksum."""


def write_snapshot(state: ScoringState, path: Path) -> None:
    """Write the state to `path` atomically (temporary file, fsync, rename, fsync folder)."""
    import h5py

    ident = state.identity
    str_dt = h5py.string_dtype("utf-8")
    with replacing(path) as tmp, h5py.File(tmp, "w", locking=False) as f:
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
        sc = f.create_group("scorers")
        for i, s in enumerate(state.scorer_sets.values()):
            d = sc.create_dataset(f"s{i:04d}", data=s.labels.astype(np.int8))
            d.attrs["name"] = s.name
            d.attrs["source_file"] = s.source_file
            d.attrs["time"] = s.time
        lines = [json.dumps(e, separators=(",", ":")) for e in state.history]
        f.create_dataset("journal", data=lines, dtype=str_dt, shape=(len(lines),))
        # hashed from what the file now holds, read back the way read_snapshot reads it
        f.attrs[CHECKSUM_ATTR] = content_digest(_read_tree(f))


def read_snapshot(path: Path) -> ScoringState:
    """Load a snapshot. Raises SnapshotDamaged when it cannot be parsed or fails its checksum,
    SleepScopeError when a newer SleepScope wrote it."""
    import h5py

    try:
        with h5py.File(path, "r", locking=False) as f:
            tree = _read_tree(f)
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, RuntimeError... on damage
        raise SnapshotDamaged(f"it cannot be read ({exc})") from exc
    root = tree.get("", {}).get("attrs", {})
    stored = root.get(CHECKSUM_ATTR)
    if stored is not None:
        if _str(stored) != content_digest(tree):
            raise SnapshotDamaged("its content does not match its checksum")
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
    if stored is None and version >= 2:
        raise SnapshotDamaged("its checksum is missing")
    try:
        return _state_from_tree(tree)
    except SnapshotDamaged:
        raise
    except Exception as exc:
        raise SnapshotDamaged(f"it cannot be read ({exc!r})") from exc


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


def _canonical(value: Any) -> bytes:
    """Bytes that differ whenever the value read differs (type, shape or content)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, bytes):
        return b"s" + struct.pack("<Q", len(value)) + value
    arr = np.asarray(value)
    head = b"a" + arr.dtype.str.encode() + struct.pack("<Q", arr.ndim) + struct.pack(f"<{arr.ndim}Q", *arr.shape)
    if arr.dtype == object:
        return head + b"".join(_canonical(v) for v in arr.ravel())
    return head + np.ascontiguousarray(arr).tobytes()


def content_digest(tree: dict[str, dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for name in sorted(tree):
        node = tree[name]
        h.update(_canonical(name))
        for key in sorted(node["attrs"]):
            if name == "" and key == CHECKSUM_ATTR:
                continue
            h.update(_canonical(key))
            h.update(_canonical(node["attrs"][key]))
        if "value" in node:
            h.update(b"v" + _canonical(node["value"]))
    return "sha256:" + h.hexdigest()


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
        rec = PredictionRecord(_str(a["model_version"]), np.asarray(value(name)).astype(np.float32), float(a["time"]))
        state.predictions[rec.model_version] = rec
    for name in sorted(k for k in tree if k.startswith("scorers/")):
        a = tree[name]["attrs"]
        s = ScorerLabels(_str(a["name"]), np.asarray(value(name)).astype(np.int8), _str(a["source_file"]),
                         float(a["time"]))
        state.scorer_sets[s.name] = s
    state.history = [json.loads(_str(x)) for x in np.ravel(value("journal"))]
    return state
