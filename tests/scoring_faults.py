"""Real faults for the scoring tests: a small tmpfs that fills up, a process without root's rights."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path
from typing import Iterator

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


def fill(folder: Path) -> Path:
    """Write a file in `folder` until the disk is full; removing it frees the space again."""
    filler = folder / "filler.bin"
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


def run_as_nobody() -> dict:
    """subprocess.run arguments that drop root's rights in the child (skips when not root)."""
    if not hasattr(os, "getuid") or os.getuid() != 0:
        pytest.skip("dropping to another user needs root; as a normal user the folder test runs as is")

    def drop() -> None:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    return {"preexec_fn": drop}
