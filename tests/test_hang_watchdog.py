"""The test run's watchdog ends a test blocked in native code, where pytest-timeout cannot."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the block is a glibc mutex")

BLOCKED = textwrap.dedent("""
    import ctypes

    def test_blocks_in_native_code():
        libc = ctypes.CDLL(None)
        mutex = ctypes.create_string_buffer(64)  # a default glibc mutex is all zeros
        libc.pthread_mutex_lock(mutex)
        libc.pthread_mutex_lock(mutex)  # never returns, and no Python signal handler runs meanwhile
""")


def run_blocked(tmp_path: Path, limit_s: str, wait_s: float) -> tuple[int | None, str]:
    """A pytest run of one blocked test with this project's conftest; (exit code or None if still running, stderr)."""
    (tmp_path / "test_blocked.py").write_text(BLOCKED)
    tests = Path(__file__).parent
    for name in ("conftest.py", "hang_watchdog.py"):
        (tmp_path / name).write_text((tests / name).read_text())
    env = {**os.environ, "SLEEPSCOPE_TEST_HANG_LIMIT": limit_s}
    p = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=2",
                          str(tmp_path / "test_blocked.py")], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + wait_s
    while p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    code = p.poll()
    if code is None:
        p.kill()
    _, err = p.communicate()
    return code, err


def test_a_test_blocked_in_native_code_is_shown_and_stopped(tmp_path):
    code, err = run_blocked(tmp_path, "4", wait_s=90)
    assert code not in (None, 0)
    assert "hang_watchdog: test_blocked.py::test_blocks_in_native_code has run" in err
    assert "test_blocks_in_native_code" in err.split("SIGABRT")[-1]  # faulthandler's Python stack


def test_control_without_the_watchdog_pytest_timeout_alone_stays_blocked(tmp_path):
    code, err = run_blocked(tmp_path, "0", wait_s=12)
    assert code is None and "hang_watchdog" not in err
