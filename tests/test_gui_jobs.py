"""The window's background jobs (gui/jobs.py): a job's worker and thread are let go only once its
thread has ended (thousands of jobs launched and dropped in a row, in a child process, since the bug
kills the process); as the loader uses them, the file's hash is taken while the signals are read, and
a cancelled load leaves no thread behind."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

pytest.importorskip("pytestqt")

from test_gui_support import write_short_night  # noqa: E402

import sleepscope.io  # noqa: E402
from sleepscope.gui.loader import RecordingLoader  # noqa: E402
from sleepscope.tasks import Cancelled  # noqa: E402


def _hash_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sleepscope-hash-") and t.is_alive()]


def test_the_file_is_hashed_while_its_signals_are_read(qtbot, tmp_path, monkeypatch):
    psg, _ = write_short_night(tmp_path, n=10)
    real_open, real_hash = sleepscope.io.open_recording, sleepscope.io.file_fingerprint
    hashing = threading.Event()
    seen: dict[str, bool] = {}

    def hash_(path, **kw):
        hashing.set()
        return real_hash(path, **kw)

    def open_(path, **kw):
        # Control: a hash taken after the read (as it was) has not started here, and the wait runs out.
        seen["hash started during the read"] = hashing.wait(10)
        return real_open(path, **kw)

    monkeypatch.setattr(sleepscope.io, "file_fingerprint", hash_)
    monkeypatch.setattr(sleepscope.io, "open_recording", open_)
    loader = RecordingLoader()
    with qtbot.waitSignal(loader.loaded, timeout=60_000) as got:
        job = loader.start(psg, None, None, [])
    assert seen == {"hash started during the read": True}
    assert got.args[0].recording.fingerprint() == real_hash(psg)
    assert job.wait(10_000) and not _hash_threads()


def test_a_cancelled_load_stops_its_hash_and_leaves_no_thread(qtbot, tmp_path, monkeypatch):
    psg, _ = write_short_night(tmp_path, n=10)
    hash_stopped = threading.Event()

    def slow_hash(path, cancel=None, **kw):
        while not cancel.cancelled:  # a file that takes long to hash
            threading.Event().wait(0.01)
        hash_stopped.set()
        raise Cancelled()

    def slow_open(path, *, cancel=None, **kw):
        while not cancel.cancelled:
            threading.Event().wait(0.01)
        raise Cancelled()

    monkeypatch.setattr(sleepscope.io, "file_fingerprint", slow_hash)
    monkeypatch.setattr(sleepscope.io, "open_recording", slow_open)
    loader = RecordingLoader()
    job = loader.start(psg, None, None, [])
    qtbot.waitUntil(lambda: bool(_hash_threads()), timeout=10_000)
    with qtbot.waitSignal(loader.cancelled, timeout=10_000):
        loader.cancel()
    assert job.wait(10_000)
    assert hash_stopped.is_set() and not _hash_threads()


# Jobs dropped while their threads were finishing: the worker was deleted twice (deleteLater on its
# thread, Python on the GUI thread) and the QThread let go before its end. The process died with
# SIGBUS or SIGSEGV in a native thread in 5 runs out of 5 at this size.
_LAUNCH_AND_DROP = """
import sys
from dataclasses import dataclass
from PySide6.QtWidgets import QApplication
from sleepscope.gui.jobs import CurrentJob, Job, JobWorker

@dataclass
class Result:
    job_id: int
    payload: list

class Worker(JobWorker):
    def work(self):
        return Result(self.job_id, [bytearray(1000) for _ in range(50)])

class Latest(CurrentJob):
    delivered = 0
    def _deliver(self, result):
        Latest.delivered += 1

app = QApplication([])
jobs = Latest()
for i in range(int(sys.argv[1])):
    jobs.launch(Job(Worker(), "stress"))
    for _ in range(i % 3):
        app.processEvents()
assert jobs.wait_all(10000)
for _ in range(20):
    app.processEvents()
print("delivered", Latest.delivered)
"""


def test_thousands_of_dropped_jobs_end_without_killing_the_process(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", _LAUNCH_AND_DROP, "3000"], capture_output=True,
                              text=True, timeout=240, env=env, cwd=tmp_path)
        assert proc.returncode == 0, (proc.returncode, proc.stderr[-1500:])
        assert int(proc.stdout.split()[-1]) > 0  # the current jobs' answers still arrive


_LEAVING = """
import sys, time
from PySide6.QtWidgets import QApplication, QWidget
from sleepscope.gui.jobs import Job, JobWorker, adopt

class Slow(JobWorker):  # like YASA's second opinion: cannot be interrupted
    def work(self):
        time.sleep(float(sys.argv[1]))
        print("job ended", flush=True)

app = QApplication([])
job = Job(Slow(), "slow")
job.start()
adopt([job])  # its window closed while it ran
del job
if sys.argv[2] == "leave":
    from sleepscope.gui.app import leave
    sys.exit(leave(app, QWidget(), 3, wait_ms=int(sys.argv[3])))
"""


@pytest.mark.parametrize("job_s, wait_ms, ended", [(1.0, 20_000, True), (30.0, 500, False)],
                         ids=["job ends in time", "job outlives the wait"])
def test_leaving_the_application_with_a_job_still_running_does_not_abort(tmp_path, job_s, wait_ms, ended):
    import time

    script = tmp_path / "leaving.py"
    script.write_text(_LEAVING)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.monotonic()
    run = subprocess.run([sys.executable, str(script), str(job_s), "leave", str(wait_ms)], capture_output=True,
                         text=True, timeout=120, env=env)
    assert run.returncode == 3, run.stderr  # the application's own exit code, not Qt's abort
    assert ("job ended" in run.stdout) == ended
    assert ("leaving without it" in run.stderr) != ended
    assert time.monotonic() - t0 < 25  # a job that outlives the wait is not waited for
    # the control: leaving without it, the process dies by a signal on the running thread (Qt's abort
    # "Destroyed while thread is still running", or a crash when teardown reaches the thread first)
    control = subprocess.run([sys.executable, str(script), "3", "plain"], capture_output=True, text=True,
                             timeout=120, env=env)
    assert control.returncode < 0, (control.returncode, control.stderr)
    assert "job ended" not in control.stdout
