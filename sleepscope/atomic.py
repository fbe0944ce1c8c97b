"""Writing files so that a crash leaves the old version or the new one, never a mix.

- `replacing(path)`: a context manager giving a temporary path in the same
  folder to write; on success the temporary file is fsync'd, renamed over
  `path` and the folder fsync'd; on any error it is removed and the error
  raised. Every write-temp-then-rename in SleepScope goes through it.
- `write_bytes_atomic`, `write_text_atomic`, `write_json_atomic`: the common cases.
- `replace_pair` / `resolve_pair`: two files that belong together (a model's
  weights and its card) replaced so that a reader sees the old pair or the
  new pair, never one of each, even when the writer is killed between the
  two renames.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

#: Temporary files of `replacing` are named `.<name>.<random>.tmp` beside their target.
TMP_SUFFIX = ".tmp"


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a create or rename inside `folder` durable.

    Not possible everywhere (Windows, some network filesystems refuse to open a
    folder), where it silently does nothing: the rename itself is still atomic.
    """
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(path: str | os.PathLike) -> Path:
    """A new, empty, uniquely named file beside `path` (created, so no one else takes the name)."""
    path = Path(path)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TMP_SUFFIX}")
        try:
            # 0o666 less the umask, like any new file (mkstemp's 0o600 would hide a
            # shared scoring file or model from the other users of the folder)
            os.close(os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp


def is_temp_of(candidate: str | os.PathLike, path: str | os.PathLike) -> bool:
    """True when `candidate` is a temporary file that `replacing(path)` would create."""
    name, target = Path(candidate).name, Path(path).name
    return name.startswith(f".{target}.") and name.endswith(TMP_SUFFIX)


def remove_temps(path: str | os.PathLike) -> None:
    """Remove temporaries of `path` left by a writer that was killed (call only while no writer runs)."""
    path = Path(path)
    try:
        candidates = list(path.parent.glob(f".{path.name}.*{TMP_SUFFIX}"))
    except OSError:
        return
    for p in candidates:
        if is_temp_of(p, path):
            with contextlib.suppress(OSError):
                p.unlink()


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Write the yielded temporary path; on leaving the block it replaces `path` durably.

    The temporary file lies in `path`'s folder (a rename is only atomic within
    one file system). Any exception inside the block or while renaming removes
    it and propagates: `path` is then untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Replace `path` with `data`."""
    with replacing(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Replace `path` with `text`."""
    write_bytes_atomic(path, text.encode(encoding))


def write_json_atomic(path: str | os.PathLike, data: Any, *, sort_keys: bool = False) -> None:
    """Replace `path` with `data` as JSON."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=sort_keys) + "\n")


# ---------------------------------------------------------------------------
# Two files replaced together

def _intent_path(paths: Sequence[Path]) -> Path:
    first = paths[0]
    return first.with_name(f".{first.name}.pair")


def replace_pair(paths: Sequence[str | os.PathLike], write: Callable[[list[Path]], None]) -> None:
    """Replace the files `paths` (same folder) together.

    `write(tmps)` writes the new content of each `paths[i]` to `tmps[i]`. Once
    all are written and fsync'd, an intent file naming them is put in place
    (atomically): from then on the new set counts, and the renames are rolled
    forward by `resolve_pair` even if this process is killed between them.
    Before that moment the old set stays. Readers call `resolve_pair(paths)`
    and read the paths it returns.
    """
    targets = [Path(p) for p in paths]
    folder = targets[0].parent
    if any(t.parent != folder for t in targets):
        raise ValueError("replace_pair needs files in one folder")
    folder.mkdir(parents=True, exist_ok=True)
    _roll_forward(targets)  # an earlier interrupted replacement completes first
    tmps: list[Path] = []
    try:
        for t in targets:
            tmps.append(temp_path(t))
        write(list(tmps))
        for tmp in tmps:
            fsync_file(tmp)
        write_json_atomic(_intent_path(targets), {"files": [[t.name, tmp.name] for t, tmp in zip(targets, tmps)]})
    except BaseException:
        for tmp in tmps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    _roll_forward(targets)


def _read_intent(targets: Sequence[Path]) -> list[tuple[Path, Path]] | None:
    intent = _intent_path(targets)
    try:
        raw = json.loads(intent.read_text(encoding="utf-8"))
        pairs = [(intent.parent / str(t), intent.parent / str(tmp)) for t, tmp in raw["files"]]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # written atomically, so unreadable means damaged: the renamed files stand
    if sorted(t.name for t, _ in pairs) != sorted(t.name for t in targets):
        return None
    return pairs


def _roll_forward(targets: Sequence[Path]) -> bool:
    """Finish an interrupted `replace_pair`; False when the folder cannot be written."""
    pairs = _read_intent(targets)
    if pairs is None:
        return True
    try:
        for target, tmp in pairs:
            with contextlib.suppress(FileNotFoundError):  # renamed already (by us before a crash, or a reader)
                os.replace(tmp, target)
        fsync_dir(targets[0].parent)
        _intent_path(targets).unlink(missing_ok=True)
        fsync_dir(targets[0].parent)
    except OSError:
        return False
    return True


def resolve_pair(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The files to read for the set `paths`: completes an interrupted `replace_pair` where it can.

    Where the folder is read-only the new set is read from its temporary names.
    """
    targets = [Path(p) for p in paths]
    if _roll_forward(targets):
        return targets
    pairs = dict(_read_intent(targets) or [])
    return [pairs[t] if t in pairs and pairs[t].exists() else t for t in targets]
