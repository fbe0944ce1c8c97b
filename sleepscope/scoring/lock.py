"""One writer per scoring file: a lock file beside it naming the holder.

The lock is created with O_CREAT|O_EXCL so that exactly one process wins. A
lock left by a process that died on this host (same host name, PID no longer
running) is taken over; the take-over runs under an exclusive flock on the
folder so that two processes finding the same stale lock cannot both take it.
A lock from another host is never taken over automatically: we cannot tell
whether that process is alive.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sleepscope.errors import SleepScopeError

try:
    import fcntl
except ImportError:  # Windows: no flock; O_EXCL still guarantees one writer
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class LockInfo:
    pid: int
    host: str
    user: str
    time: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))
        return f"user {self.user!r} on host {self.host!r} (PID {self.pid}, since {when})"


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


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
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return LockInfo(int(raw["pid"]), str(raw["host"]), str(raw.get("user", "?")), float(raw.get("time", 0)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        # Unreadable or half-written (the holder died while writing it).
        return LockInfo(-1, "", "?", 0.0)


class ScoringLock:
    """Held while a scoring file is open for writing; `release()` removes it."""

    def __init__(self, path: Path, info: LockInfo) -> None:
        self.path = path
        self.info = info
        self.held = True

    @classmethod
    def acquire(cls, path: Path, recording: str = "") -> "ScoringLock":
        path = Path(path)
        me = LockInfo(os.getpid(), socket.gethostname(), _current_user(), time.time())
        for _ in range(5):
            if cls._try_create(path, me):
                return cls(path, me)
            holder = read_lock(path)
            if holder is None:
                continue  # released between our two looks: try again
            if not cls._is_stale(path, holder, me):
                raise SleepScopeError(
                    f"{recording or path.name.removesuffix('.lock')} is open for writing by {holder.describe()}. "
                    "Close it there first, or open it read-only. If that process is gone "
                    f"(e.g. the computer crashed), delete the lock file {path}."
                )
            cls._remove_stale(path, holder)
        raise SleepScopeError(f"Could not take the lock {path}: other processes keep taking it. Try again.")

    @staticmethod
    def _is_stale(path: Path, holder: LockInfo, me: LockInfo) -> bool:
        if holder.pid == -1:
            # Unreadable: either its writer is between create and write (a moment)
            # or died there. Only an old one is stale.
            try:
                return time.time() - path.stat().st_mtime > 10.0
            except OSError:
                return False
        return holder.host == me.host and holder.pid != me.pid and not pid_alive(holder.pid)

    @staticmethod
    def _try_create(path: Path, me: LockInfo) -> bool:
        try:
            fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise SleepScopeError(
                f"Cannot create the lock file {path} ({exc.strerror}). Save the scoring in a folder you can write to."
            ) from exc
        try:
            os.write(fd, json.dumps(me.__dict__).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    @staticmethod
    def _remove_stale(path: Path, seen: LockInfo) -> None:
        # Serialise take-overs: whoever gets the folder lock first re-reads the lock
        # file and removes it only if it is still the stale one it saw.
        dir_fd = -1
        if fcntl is not None:
            try:
                dir_fd = os.open(str(path.parent), os.O_RDONLY)
                fcntl.flock(dir_fd, fcntl.LOCK_EX)
            except OSError:
                if dir_fd >= 0:
                    os.close(dir_fd)
                dir_fd = -1
        try:
            if read_lock(path) == seen:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        finally:
            if dir_fd >= 0:
                fcntl.flock(dir_fd, fcntl.LOCK_UN)
                os.close(dir_fd)

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if read_lock(self.path) == self.info:
            try:
                os.unlink(self.path)
            except OSError:
                pass
