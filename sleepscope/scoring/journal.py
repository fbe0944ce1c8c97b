"""The append-only edit journal: the authoritative record of every edit.

HDF5 is not crash-safe (a process killed in the middle of a write can leave
the whole file unreadable), so edits never go to the HDF5 file directly. Each
edit is one line appended to a small text log beside it and fsync'd before
`set_stage` returns; the HDF5 file is only ever replaced atomically at
checkpoints. A line is `<crc32 hex>\\t<json>\\n`; a last line that is partial
or fails its CRC was being written when the process died, so it never
returned to the caller and is dropped. A bad line anywhere else is real
damage and is reported as such.

The first line is a header naming the recording (fingerprint) and the
sequence number the matching HDF5 snapshot already contains (`base_seq`).
"""

from __future__ import annotations

import errno
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleepscope.atomic import write_bytes_atomic
from sleepscope.errors import SleepScopeError

JOURNAL_VERSION = 1


class JournalCorrupt(Exception):
    """A journal line other than the last one is damaged."""


@dataclass
class JournalContents:
    header: dict[str, Any]
    entries: list[dict[str, Any]]
    #: byte length of the intact part (a torn last line lies beyond it).
    good_size: int
    torn_tail: bool


def encode_line(obj: dict[str, Any]) -> bytes:
    payload = json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return b"%08x\t%s\n" % (zlib.crc32(payload) & 0xFFFFFFFF, payload)


def _decode_line(line: bytes) -> dict[str, Any] | None:
    """The object on a complete line (without its newline), or None when the line is damaged."""
    if len(line) < 10 or line[8:9] != b"\t":
        return None
    try:
        crc = int(line[:8], 16)
    except ValueError:
        return None
    payload = line[9:]
    if zlib.crc32(payload) & 0xFFFFFFFF != crc:
        return None
    try:
        obj = json.loads(payload)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def read_journal(path: Path) -> JournalContents:
    """Parse a journal; raises JournalCorrupt when damage is not explained by a torn last write."""
    data = Path(path).read_bytes()
    entries: list[dict[str, Any]] = []
    header: dict[str, Any] | None = None
    pos = 0
    good = 0
    torn = False
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            # No newline: the last write was cut short.
            torn = True
            break
        obj = _decode_line(data[pos:end])
        if obj is None:
            if data[end + 1:].strip(b"\x00") == b"":
                # Damaged last line (possibly followed by zero fill after a crash): torn write.
                torn = True
                break
            raise JournalCorrupt(f"{path}: damaged entry at byte {pos}")
        if header is None:
            if obj.get("op") != "header":
                raise JournalCorrupt(f"{path}: the first line is not a journal header")
            header = obj
        else:
            entries.append(obj)
        pos = end + 1
        good = pos
    if header is None:
        # Killed while the header itself was written: an empty journal.
        return JournalContents({}, [], 0, torn or bool(data))
    return JournalContents(header, entries, good, torn)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_new_journal(path: Path, header: dict[str, Any]) -> None:
    """Atomically replace the journal with one holding only `header`."""
    write_bytes_atomic(path, encode_line({"op": "header", "version": JOURNAL_VERSION, **header}))


class JournalWriter:
    """Appends entries to an existing journal, one fsync per append."""

    def __init__(self, path: Path, good_size: int) -> None:
        self.path = Path(path)
        self._fd = os.open(str(self.path), os.O_RDWR)
        # Anything past the intact part is a torn line from a crash: cut it off so
        # the next entry does not follow garbage.
        self._good_size = good_size
        self._truncate_to_good()

    def _truncate_to_good(self) -> None:
        if os.fstat(self._fd).st_size != self._good_size:
            os.ftruncate(self._fd, self._good_size)
            os.fsync(self._fd)

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Write and fsync; on OSError the file is left as it was before the call (if possible)."""
        data = b"".join(encode_line(e) for e in entries)
        try:
            self._truncate_to_good()
            os.lseek(self._fd, self._good_size, os.SEEK_SET)
            _write_all(self._fd, data)
            os.fsync(self._fd)
        except OSError:
            try:
                os.ftruncate(self._fd, self._good_size)
            except OSError:
                pass  # retried by _truncate_to_good on the next append
            raise
        self._good_size += len(data)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def describe_os_error(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"the disk holding {path} is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{path} cannot be written (no permission or read-only disk)"
    return f"writing {path} failed ({exc.strerror or exc})"


def journal_error(exc: OSError, path: Path) -> SleepScopeError:
    return SleepScopeError(
        f"Could not save the edit: {describe_os_error(exc, path)}. Your edits are kept in "
        "memory: free some space and edit again, or use Save As to save the scoring elsewhere."
    )
