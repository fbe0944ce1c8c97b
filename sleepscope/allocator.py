"""The C allocator of a process that runs all day: glibc's malloc arenas, limited.

glibc gives each new thread a malloc arena of its own, up to eight per core.
The window starts threads for every recording it reads, pre-scores and
second-guesses, and memory freed in one arena is not reused by allocations
in another: with glibc's defaults the process kept growing night after night
(`benchmarks/bench_day.py`). With two arenas it stays flat once the first
nights have loaded what it needs, and pre-scoring is as fast.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: mallopt's parameter number for the arena limit (glibc's malloc.h)
M_ARENA_MAX = -8
#: arenas for a process of a few busy threads (the GUI thread, a loader, pre-scoring, the second opinion)
ARENAS = 2


def limit_arenas(n: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at `n` for the threads started from now on; False where the C library is not
    glibc (macOS, Windows, musl), which is left as it is."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, int(n)))
