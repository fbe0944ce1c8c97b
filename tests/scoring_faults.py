"""Real faults for the scoring tests: a small tmpfs that fills up, a process without root's rights."""

from __future__ import annotations

import contextlib
import errno
import os
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

NOBODY = 65534


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `folder` (skips the test where mounting is not allowed)."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"a real full disk needs a tmpfs mount, not allowed here: {proc.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path, name: str = "filler.bin") -> Path:
    """Write the file `name` in `folder` until the disk is full; removing it frees the space again."""
    filler = folder / name
    block = b"\xff" * 65536
    with open(filler, "wb", buffering=0) as f:
        for size in (65536, 4096, 1):
            try:
                while True:
                    f.write(block[:size])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler


def as_nobody(fn: Callable[[], Any]) -> Any:
    """Run `fn` in a forked child with the rights of user nobody; returns its result or
    ("error", message) for an exception. The child runs the already imported code (this
    interpreter may lie where nobody cannot read), so whatever `fn` imports lazily must be
    imported before. Skips the test when not root."""
    if not hasattr(os, "getuid") or os.getuid() != 0:
        pytest.skip("dropping to another user needs root")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                out = ["ok", fn()]
            except Exception as exc:
                out = ["error", f"{type(exc).__name__}: {exc}"]
            os.write(w, json.dumps(out).encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and data, "the child running as nobody failed"
    kind, value = json.loads(data)
    return value if kind == "ok" else ("error", value)


def folder_for_nobody(writable: bool) -> Path:
    """A folder outside root's private /tmp/pytest-of-root: owned by root, writable by nobody or not."""
    folder = Path(tempfile.mkdtemp(prefix="sleepscope-perm-", dir="/tmp"))
    folder.chmod(0o777 if writable else 0o755)
    return folder
