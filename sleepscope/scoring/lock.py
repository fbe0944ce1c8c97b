"""One writer per scoring file: a lock file beside it, held with the operating system's file lock.

Where the file system has `flock` (local disks, most network file systems
today) the lock is the kernel's: it goes away with its process however that
process ends, so a dead holder never blocks, whatever PID its lock file names
(a PID reused by another process, a process in another container). The file
only tells the next process who holds it. After taking the flock the holder
checks that the path still names the file it locked: a releaser unlinks the
file before closing it, so a process that opened the old file and locked it
after the release would otherwise hold a lock nobody else can see.

Where `flock` is refused (ENOLCK, EOPNOTSUPP: some network file systems,
or no fcntl at all) the lock file alone is the lock: created whole by a
hard link (never empty), it names its holder by host, boot id, PID and the
process's start time, and is taken over only when that process is provably
gone on this host (another boot, no such PID, or a PID now belonging to a
process started at another time). A lock from another host is never taken
over automatically: we cannot tell whether that process is alive.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import json
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sleepscope.atomic import temp_path
from sleepscope.errors import SleepScopeError

try:
    import fcntl
except ImportError:  # Windows: the lock file alone
    fcntl = None  # type: ignore[assignment]

#: errno values meaning "this file system does not do flock", not "someone holds it".
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock, as its lock file says."""

    pid: int
    host: str
    user: str
    time: float
    recording: str = ""
    boot_id: str = ""
    #: the process's start time in clock ticks since boot ("" where unknown)
    started: str = ""

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))
        return f"user {self.user!r} on host {self.host!r} (PID {self.pid}, since {when})"


class ScoringFileLocked(SleepScopeError):
    """Another process has this scoring file open for writing."""

    def __init__(self, message: str, recording: str, holder: LockInfo | None) -> None:
        super().__init__(message)
        self.recording = recording
        self.holder = holder


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_start(pid: int) -> str:
    """When `pid` started (clock ticks since boot, from /proc), "" where unknown or no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return ""
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else ""


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def read_lock(path: Path) -> LockInfo | None:
    """The holder a lock file names; None when it is missing, empty or unreadable."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return LockInfo(int(raw["pid"]), str(raw["host"]), str(raw.get("user", "")), float(raw.get("time", 0)),
                        str(raw.get("recording", "")), str(raw.get("boot_id", "")), str(raw.get("started", "")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def holder_gone(holder: LockInfo | None, me: LockInfo) -> bool:
    """True when the process a lock file names has provably ended (for file systems without flock)."""
    if holder is None:
        return True  # empty or unreadable: our lock files are created whole, so it is not a live holder's
    if holder.host != me.host:
        return False
    if holder.boot_id and me.boot_id and holder.boot_id != me.boot_id:
        return True  # the machine restarted since
    if holder.pid == me.pid and holder.started == me.started:
        return False  # ourselves: a second handle in this process
    if not pid_alive(holder.pid):
        return True
    now = process_start(holder.pid)
    return bool(holder.started and now and now != holder.started)  # the PID was reused


class ScoringLock:
    """Held while a scoring file is open for writing; `release()` gives it up."""

    def __init__(self, path: Path, info: LockInfo, fd: int) -> None:
        self.path = path
        self.info = info
        self.held = True
        self._fd = fd  # -1 where the file system has no flock

    @classmethod
    def acquire(cls, path: Path, recording: str = "") -> "ScoringLock":
        """Take the lock or raise ScoringFileLocked naming the holder and `recording`."""
        path = Path(path)
        recording = recording or path.name.removesuffix(".lock")
        me = LockInfo(os.getpid(), socket.gethostname(), _current_user(), time.time(), recording,
                      boot_id(), process_start(os.getpid()))
        for _ in range(20):
            fd = cls._open(path)
            try:
                got = cls._flock(fd)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in _NO_FLOCK:
                    raise cls._cannot_create(path, exc) from exc
                return cls._acquire_without_flock(path, me)
            if not got:
                os.close(fd)
                raise cls._held(path, recording, read_lock(path))
            if not cls._still_named(fd, path):
                os.close(fd)  # released and re-created under us: lock the file the path names now
                continue
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(asdict(me)).encode("utf-8"), 0)
                os.fsync(fd)
            except OSError as exc:
                cls._unlink_if_ours(fd, path)
                os.close(fd)
                raise cls._cannot_create(path, exc) from exc
            return cls(path, me, fd)
        raise SleepScopeError(f"Could not take the lock {path}: other processes keep taking it. Try again.")

    @staticmethod
    def _open(path: Path) -> int:
        try:
            return os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ScoringLock._cannot_create(path, exc) from exc

    @staticmethod
    def _flock(fd: int) -> bool:
        """True when we got the lock, False when another process holds it; OSError where unsupported."""
        if fcntl is None:
            raise OSError(errno.ENOSYS, "no flock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    @staticmethod
    def _still_named(fd: int, path: Path) -> bool:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)

    @staticmethod
    def _unlink_if_ours(fd: int, path: Path) -> None:
        if ScoringLock._still_named(fd, path):
            with contextlib.suppress(OSError):
                os.unlink(path)

    @staticmethod
    def _cannot_create(path: Path, exc: OSError) -> SleepScopeError:
        if exc.errno == errno.ENOSPC:
            why = "the disk is full"
            what = "Free some space, or save the scoring in another folder."
        else:
            why = exc.strerror or str(exc)
            what = "Save the scoring in a folder you can write to."
        return SleepScopeError(f"Cannot create the lock file {path} ({why}). {what}")

    @staticmethod
    def _held(path: Path, recording: str, holder: LockInfo | None) -> ScoringFileLocked:
        by = holder.describe() if holder is not None else "another process (it has not yet said which)"
        return ScoringFileLocked(
            f"{recording} is open for writing by {by}. Close it there first, or open it read-only.",
            recording, holder)

    # -- file systems without flock ------------------------------------------

    @classmethod
    def _acquire_without_flock(cls, path: Path, me: LockInfo) -> "ScoringLock":
        # The holder's file is created whole (written under a temporary name, then
        # hard-linked), so an empty or unreadable lock file never belongs to a live holder.
        for _ in range(20):
            tmp = temp_path(path)
            try:
                tmp.write_text(json.dumps(asdict(me)), encoding="utf-8")
                try:
                    os.link(tmp, path)
                    return cls(path, me, -1)
                except FileExistsError:
                    pass
            except OSError as exc:
                raise cls._cannot_create(path, exc) from exc
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            holder = read_lock(path)
            if not holder_gone(holder, me):
                raise cls._held(path, me.recording, holder)
            cls._remove_stale(path, holder)
        raise SleepScopeError(f"Could not take the lock {path}: other processes keep taking it. Try again.")

    @staticmethod
    def _remove_stale(path: Path, seen: LockInfo | None) -> None:
        # Remove it only if it is still the one judged stale: another process may
        # have taken it over (and written its own) since we read it.
        if read_lock(path) == seen:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self._fd >= 0:
            # unlink before unlocking: whoever locks the old file next sees it is no longer the lock
            self._unlink_if_ours(self._fd, self.path)
            os.close(self._fd)
            self._fd = -1
        elif read_lock(self.path) == self.info:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def __del__(self) -> None:  # the OS frees the flock anyway; close the descriptor too
        fd = getattr(self, "_fd", -1)
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
