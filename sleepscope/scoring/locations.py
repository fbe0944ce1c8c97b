"""Where a recording's scoring file lives, and the files beside it.

For a recording `night.edf`: `night.sleepscope.h5` (the snapshot) beside it
when its folder can be written, else `<user data>/scoring/<fingerprint>.sleepscope.h5`;
with `<name>.journal` (edits since the snapshot) and `<name>.lock` (the writer's lock).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from sleepscope.atomic import remove_temps
from sleepscope.io.pairing import OUTPUT_MARK
from sleepscope.paths import user_data_dir
from sleepscope.scoring.snapshot import read_snapshot
from sleepscope.scoring.state import RecordingIdentity

SUFFIX = ".sleepscope.h5"


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def folder_writable(folder: Path) -> bool:
    # os.access is wrong for root and some network disks: try it.
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".sleepscope-probe-{os.getpid()}"
        fd = os.open(str(probe), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)
        os.unlink(probe)
        return True
    except OSError:
        return False


def fallback_path(fingerprint: str) -> Path:
    # "sha256:..." -> "sha256-...": a colon is not allowed in Windows file names
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in fingerprint)
    return user_data_dir() / "scoring" / f"{safe}{SUFFIX}"


def default_path(identity: RecordingIdentity, recording_path: Path | None) -> Path:
    """Beside the recording when its folder is writable, else in the user's data folder."""
    fallback = fallback_path(identity.fingerprint)
    if recording_path is None:
        return fallback
    recording_path = Path(recording_path)
    beside = beside_path(identity, recording_path)
    if folder_writable(recording_path.parent):
        return beside
    return fallback


def scoring_beside(recording_path: Path) -> Path:
    """The scoring file beside a recording, by name alone: `NAME.edf.sleepscope.h5` where one was made (see
    `beside_path`), else `NAME.sleepscope.h5` (which may still score another recording: check its identity)."""
    full = recording_path.with_name(recording_path.name + SUFFIX)
    return full if full.exists() else recording_path.with_name(recording_path.stem + SUFFIX)


def output_path(scoring_path: Path, what: str) -> Path:
    """`NAME.sleepscope-<what>` ("hypnogram.csv", "report.pdf") beside the scoring file of the recording NAME."""
    return scoring_path.with_name(recording_stem(scoring_path) + OUTPUT_MARK + what)


def recording_stem(scoring_path: Path) -> str:
    """`NAME` of `NAME.sleepscope.h5`, `NAME.edf` of `NAME.edf.sleepscope.h5`: the recording's name it was made
    for, without a suffix where it had none."""
    name = scoring_path.name
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else scoring_path.stem


def beside_path(identity: RecordingIdentity, recording_path: Path) -> Path:
    """`NAME.sleepscope.h5` beside `NAME.edf`; `NAME.edf.sleepscope.h5` when the first scores another recording
    of that folder sharing the stem (a night's `NAME.bdf` and its `NAME.edf` export). A scoring whose recording is
    no longer there (re-exported, renamed) keeps the plain name, so that opening it says whose it is."""
    full = recording_path.with_name(recording_path.name + SUFFIX)
    plain = recording_path.with_name(recording_path.stem + SUFFIX)
    if full.exists():
        return full
    if not plain.exists():
        return plain
    try:
        owner = read_snapshot(plain).identity
    except Exception:  # a damaged file is reported when it is opened, by its own path
        return plain
    sibling = owner.file_name and owner.file_name != recording_path.name
    if (owner.fingerprint != identity.fingerprint and sibling
            and (recording_path.parent / owner.file_name).is_file()):
        return recording_path.with_name(recording_path.name + SUFFIX)
    return plain


def last_modified(path: Path) -> float:
    times = [p.stat().st_mtime for p in (path, journal_path(path)) if p.exists()]
    return max(times, default=0.0)


def remove_leftovers(path: Path) -> None:
    """Temporary files of a writer killed mid-checkpoint (we hold the lock: no live writer owns them)."""
    remove_temps(path)
    remove_temps(journal_path(path))


def journal_size(path: Path) -> int:
    return journal_path(path).stat().st_size


def find_scoring_files(folders: Iterable[str | Path]) -> list[Path]:
    """Every `*.sleepscope.h5` under `folders` (recursively)."""
    out: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file() and folder.name.endswith(SUFFIX):
            out.append(folder)
        elif folder.is_dir():
            out.extend(sorted(p for p in folder.rglob(f"*{SUFFIX}") if p.is_file()))
    return out
