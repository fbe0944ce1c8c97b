"""The window's process caps glibc's malloc arenas: threads started afterwards share them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from sleepscope.allocator import ARENAS, limit_arenas

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")

# Eight threads each allocate while all are alive; glibc's own report (malloc_info) then lists the arenas.
THREADS = textwrap.dedent("""
    import ctypes, re, sys, tempfile, threading
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = (ctypes.c_void_p,)
    libc.fopen.restype = ctypes.c_void_p
    libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.fclose.argtypes = (ctypes.c_void_p,)
    if sys.argv[1] == "limited":
        from sleepscope.allocator import limit_arenas
        assert limit_arenas()
    all_in = threading.Barrier(9)
    counted = threading.Event()

    def work():
        block = libc.malloc(4096)
        all_in.wait()
        counted.wait()
        libc.free(block)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    all_in.wait()
    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        fp = libc.fopen(f.name.encode(), b"w")
        libc.malloc_info(0, fp)
        libc.fclose(fp)
        print(len(re.findall(r'<heap nr="', open(f.name).read())))
    counted.set()
    for t in threads:
        t.join()
""")


def arenas(mode: str) -> int:
    run = subprocess.run([sys.executable, "-c", THREADS, mode], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return int(run.stdout.split()[-1])


def test_threads_share_the_capped_arenas():
    if "glibc" not in " ".join(__import__("platform").libc_ver()):
        pytest.skip("not glibc")
    assert arenas("limited") <= ARENAS
    assert arenas("default") > ARENAS  # the control: glibc's own default gives the threads arenas of their own


def test_the_limit_is_refused_politely_where_there_is_no_glibc(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert limit_arenas() is False
