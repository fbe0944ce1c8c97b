"""A watchdog process for the test run: a test that stops making progress is shown, then stopped.

pytest-timeout raises in the main thread, which only works while Python runs
there; a thread blocked in native code (a lock, a thread join, a modal loop)
never sees it and the run hangs until CI's own limit, printing nothing. This
process runs beside pytest (started by conftest.py), watches a heartbeat file
that each test touches, and when one test has run longer than the limit it
prints the native stacks of every thread (py-spy, where installed), then sends
SIGABRT: pytest's faulthandler prints every Python thread's stack and the run
ends with a failure instead of a silent hang.

    python tests/hang_watchdog.py PID HEARTBEAT_FILE LIMIT_S

With SLEEPSCOPE_TEST_HANG_MARKER set, the hung test's name is also written to
that file, so that a caller can tell a hang from a failed test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stalled_for(heartbeat: str) -> tuple[float, str]:
    """Seconds since the current test began, and its name."""
    try:
        st = os.stat(heartbeat)
        with open(heartbeat, encoding="utf-8") as f:
            name = f.read().strip()
    except OSError:
        return 0.0, ""
    return time.time() - st.st_mtime, name


def native_stacks(pid: int) -> str:
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(spy):
        return "(py-spy is not installed: no native stacks)"
    try:
        out = subprocess.run([spy, "dump", "--native", "--pid", str(pid)], capture_output=True, text=True,
                             timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(py-spy failed: {exc})"
    return out.stdout + out.stderr


def watch(pid: int, heartbeat: str, limit_s: float, poll_s: float = 2.0) -> int:
    while alive(pid):
        elapsed, name = stalled_for(heartbeat)
        if name and elapsed > limit_s:
            sys.stderr.write(f"\n\n=== hang_watchdog: {name} has run {elapsed:.0f} s (limit {limit_s:.0f} s); "
                             f"native stacks of process {pid}: ===\n")
            sys.stderr.write(native_stacks(pid))
            sys.stderr.write("\n=== hang_watchdog: SIGABRT (faulthandler prints the Python stacks) ===\n")
            sys.stderr.flush()
            marker = os.environ.get("SLEEPSCOPE_TEST_HANG_MARKER")
            if marker:  # .ci/run reads it: the run ended on a hang, not on a failed test
                with open(marker, "w", encoding="utf-8") as f:
                    f.write(name + "\n")
            try:
                os.kill(pid, signal.SIGABRT)
            except ProcessLookupError:
                return 0
            # faulthandler needs a moment; SIGKILL only if the run outlives 30 s. The watchdog leaves as soon
            # as the run is gone, since a caller reading the run's stderr waits for this process too.
            deadline = time.monotonic() + 30
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
            return 1
        time.sleep(poll_s)
    return 0


if __name__ == "__main__":
    sys.exit(watch(int(sys.argv[1]), sys.argv[2], float(sys.argv[3])))
