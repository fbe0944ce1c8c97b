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
from sleepscope.paths import user_data_dir
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
    beside = recording_path.with_name(recording_path.stem + SUFFIX)
    if folder_writable(recording_path.parent):
        return beside
    return fallback


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
