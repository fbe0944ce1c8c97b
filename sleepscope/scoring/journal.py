"""The append-only edit journal: the authoritative record of every edit.

HDF5 is not crash-safe (a process killed in the middle of a write can leave
the whole file unreadable), so edits never go to the HDF5 file directly. Each
edit is one line appended to a small text log beside it and fsync'd before
`set_stage` returns; the HDF5 file is only ever replaced atomically at
checkpoints. A line is `<crc32 hex>\\t<json>\\n`.

The first line is a header naming the recording (fingerprint), the sequence
number the matching HDF5 snapshot already contains (`base_seq`) and where
the last append began and ended (`committed`, `end`: fixed-width, rewritten in
place by the same fsync as each append). That commit record tells a torn
write from damage:

- the last append was cut short (the file is shorter than `end`, or holds a
  block of zeros the disk never wrote): that call never returned, so its
  entries are dropped (a torn tail);
- a complete line that fails its CRC, a flipped newline, or a file that ends
  before the last append began (truncated in the middle): returned edits
  would be lost, so it is damage and the journal is refused.

Intact lines after `end` come from an append whose fsync had not returned:
they are kept.
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

#: 2: the header carries the commit record (`committed`, `end`).
JOURNAL_VERSION = 2
_OFFSET_DIGITS = 12
#: An unwritten disk block reads as zeros over at least a sector; one flipped
#: byte cannot make a run this long.
_ZERO_RUN = b"\x00" * 16


class JournalCorrupt(Exception):
    """The journal is damaged beyond a torn last write: returned edits would be lost."""


@dataclass
class JournalContents:
    header: dict[str, Any]
    entries: list[dict[str, Any]]
    #: byte length of the intact part (a torn last write lies beyond it).
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


def encode_header(header: dict[str, Any], committed: int, end: int) -> bytes:
    """The header line with its commit record; its length does not depend on the offsets."""
    fields = {k: v for k, v in header.items() if k not in ("op", "version", "committed", "end")}
    return encode_line({"op": "header", "version": JOURNAL_VERSION, **fields,
                        "committed": f"{committed:0{_OFFSET_DIGITS}d}", "end": f"{end:0{_OFFSET_DIGITS}d}"})


def read_journal(path: Path) -> JournalContents:
    """Parse a journal; raises JournalCorrupt when damage is not explained by a torn last write."""
    data = Path(path).read_bytes()
    end_of_header = data.find(b"\n")
    header = _decode_line(data[:end_of_header]) if end_of_header >= 0 else None
    if header is None or header.get("op") != "header":
        # the header is written whole by an atomic rename: a damaged one is never a torn write
        raise JournalCorrupt(f"{path}: its header is damaged")
    entries: list[dict[str, Any]] = []
    pos = good = end_of_header + 1
    while pos < len(data):
        end = data.find(b"\n", pos)
        obj = _decode_line(data[pos:end]) if end >= 0 else None
        if obj is None or obj.get("op") == "header":
            break
        entries.append(obj)
        pos = good = end + 1
    if int(header.get("version", 1)) < 2:
        if good == len(data):
            return JournalContents(header, entries, good, False)
        return _legacy_tail(path, header, entries, data, good)
    try:
        committed, end = int(header["committed"]), int(header["end"])
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalCorrupt(f"{path}: its header has no commit record") from exc
    if good >= end:
        # whatever is left lies beyond the last confirmed append
        return JournalContents(header, entries, good, good < len(data))
    if good < committed:
        raise JournalCorrupt(
            f"{path}: damaged or cut off at byte {good}, before its last confirmed edit (which begins at "
            f"byte {committed}): returned edits would be lost")
    if len(data) < end or _ZERO_RUN in data[good:end]:
        return JournalContents(header, entries, good, True)  # the last append never finished
    raise JournalCorrupt(f"{path}: its last confirmed edit (bytes {committed} to {end}) is damaged")


def _legacy_tail(path: Path, header: dict[str, Any], entries: list[dict[str, Any]], data: bytes,
                 good: int) -> JournalContents:
    # Version 1 had no commit record: a partial last line, or a bad last line followed
    # by zero fill, counts as torn.
    end = data.find(b"\n", good)
    if end < 0 or data[end + 1:].strip(b"\x00") == b"":
        return JournalContents(header, entries, good, True)
    raise JournalCorrupt(f"{path}: damaged entry at byte {good}")


def write_new_journal(path: Path, header: dict[str, Any]) -> None:
    """Atomically replace the journal with one holding only `header`."""
    line = encode_header(header, 0, 0)
    write_bytes_atomic(path, encode_header(header, len(line), len(line)))


class JournalWriter:
    """Appends entries to an existing journal, one fsync per append."""

    def __init__(self, path: Path, contents: JournalContents) -> None:
        if int(contents.header.get("version", 1)) < JOURNAL_VERSION:
            raise ValueError("start a new journal (write_new_journal) before appending to an old-format one")
        self.path = Path(path)
        self._header = contents.header
        self._fd = os.open(str(self.path), os.O_RDWR)
        # Anything past the intact part is a torn write from a crash: cut it off so
        # the next entry does not follow garbage.
        self._good_size = contents.good_size
        try:
            self._truncate_to_good()
        except OSError:
            self.close()
            raise

    def _truncate_to_good(self) -> None:
        if os.fstat(self._fd).st_size != self._good_size:
            os.ftruncate(self._fd, self._good_size)
            os.fsync(self._fd)

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Write and fsync; on OSError the entries count as a torn write (cut off if possible)."""
        data = b"".join(encode_line(e) for e in entries)
        start = self._good_size
        try:
            self._truncate_to_good()
            # One fsync makes both durable; whichever reaches the disk first, a
            # crash in between reads as a torn write of these entries.
            os.pwrite(self._fd, encode_header(self._header, start, start + len(data)), 0)
            _pwrite_all(self._fd, data, start)
            os.fsync(self._fd)
        except OSError:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                pass  # retried by _truncate_to_good on the next append
            raise
        self._good_size = start + len(data)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def describe_os_error(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"the disk holding {path} is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{path} cannot be written (no permission or read-only disk)"
    return f"writing {path} failed ({exc.strerror or exc})"


def journal_error(exc: OSError, path: Path) -> SleepScopeError:
    """An edit could not be written: it was not made."""
    return SleepScopeError(
        f"Could not save the edit: {describe_os_error(exc, path)}. The edit was not made (earlier edits "
        "are safe): free some space and try again, or use Save As to continue in another folder."
    )


def save_error(exc: OSError, path: Path) -> SleepScopeError:
    """A snapshot could not be written: what it would hold stays in memory until it can be."""
    return SleepScopeError(
        f"Could not save: {describe_os_error(exc, path)}. The change is kept in memory: free some space "
        "and save again, or use Save As to save the scoring in another folder."
    )
