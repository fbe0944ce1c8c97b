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


def run_blocked(tmp_path: Path, limit_s: str, wait_s: float, marker: Path | None = None,
                args: tuple[str, ...] = ()) -> tuple[int | None, str]:
    """A pytest run of one blocked test with this project's conftest; (exit code or None if still running, stderr)."""
    (tmp_path / "test_blocked.py").write_text(BLOCKED)
    tests = Path(__file__).parent
    for name in ("conftest.py", "hang_watchdog.py"):
        (tmp_path / name).write_text((tests / name).read_text())
    env = {**os.environ, "SLEEPSCOPE_TEST_HANG_LIMIT": limit_s, "SLEEPSCOPE_TEST_HANG_MARKER": str(marker or "")}
    p = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=2", *args,
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
    marker = tmp_path / "hung"
    code, err = run_blocked(tmp_path, "4", wait_s=90, marker=marker)
    assert code not in (None, 0)
    assert marker.read_text().strip() == "test_blocked.py::test_blocks_in_native_code"
    assert "hang_watchdog: test_blocked.py::test_blocks_in_native_code has run" in err
    assert "test_blocks_in_native_code" in err.split("SIGABRT")[-1]  # faulthandler's Python stack


def test_under_xdist_each_worker_has_its_own_watchdog(tmp_path):
    """The README's test command runs the tests in two pytest-xdist workers: the worker that blocks is shown and
    stopped by its own watchdog, and the hang is marked for CI's retry as in a run of one process."""
    marker = tmp_path / "hung"
    code, err = run_blocked(tmp_path, "4", wait_s=90, marker=marker, args=("-n", "2"))
    assert code not in (None, 0)
    assert marker.read_text().strip() == "test_blocked.py::test_blocks_in_native_code"
    assert "hang_watchdog: test_blocked.py::test_blocks_in_native_code has run" in err
    # the stacks shown are the blocked worker's (a watchdog on the controller would show, and stop, only it)
    assert "test_blocks_in_native_code" in err.split("SIGABRT")[-1]


def test_control_without_the_watchdog_pytest_timeout_alone_stays_blocked(tmp_path):
    code, err = run_blocked(tmp_path, "0", wait_s=12)
    assert code is None and "hang_watchdog" not in err


def run_retry(tmp_path: Path, outcomes: list[str]) -> tuple[int, int]:
    """.ci/retry_on_hang over a command whose successive runs end as `outcomes` ("pass", "fail", "hang");
    (exit code, runs made)."""
    script = textwrap.dedent(f"""
        import os, sys
        runs = os.path.join({str(tmp_path)!r}, "runs")
        n = len(open(runs).read()) if os.path.exists(runs) else 0
        open(runs, "a").write("x")
        outcome = {outcomes!r}[n]
        if outcome == "hang":
            open(os.environ["SLEEPSCOPE_TEST_HANG_MARKER"], "w").write("tests/test_x.py::test_blocked")
            sys.exit(134)
        sys.exit(0 if outcome == "pass" else 1)
    """)
    env = {**os.environ, "SLEEPSCOPE_TEST_HANG_MARKER": str(tmp_path / "hung")}
    p = subprocess.run([str(Path(__file__).parents[1] / ".ci" / "retry_on_hang"), sys.executable, "-c", script],
                       env=env, capture_output=True, text=True)
    return p.returncode, len((tmp_path / "runs").read_text())


@pytest.mark.parametrize("outcomes, expected", [
    (["pass"], (0, 1)),
    (["fail", "pass"], (1, 1)),  # a failed test is never retried
    (["hang", "pass"], (0, 2)),  # one hang: its stacks are in the log, the run is made once more
    (["hang", "hang", "pass"], (134, 2)),  # a second hang fails
    (["hang", "fail"], (1, 2)),
])
def test_ci_runs_the_tests_once_more_only_after_a_hang(tmp_path, outcomes, expected):
    assert run_retry(tmp_path, outcomes) == expected
