import os
import shutil

# Before any Qt import: tests run without a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Before torch is imported: OpenMP threads that spin while waiting make the
# tiny models of the tests several times slower on a busy 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest


@pytest.fixture(autouse=True)
def _user_data_dir(tmp_path_factory, monkeypatch):
    """Keep every test's user data (demo night, registry, settings) out of the real home."""
    monkeypatch.setenv("SLEEPSCOPE_DATA_DIR", str(tmp_path_factory.mktemp("userdata")))


def pytest_configure(config):
    _start_hang_watchdog(config)
    try:
        import torch

        # One thread: the tests' models are tiny, and two threads on a 2-core
        # machine that also runs the test's subprocesses are several times slower.
        torch.set_num_threads(1)
    except ImportError:
        pass


#: the file each test writes its name to as it starts (the watchdog reads its age)
_HEARTBEAT: str | None = None


def _start_hang_watchdog(config) -> None:
    """A process beside the run that shows and stops a test blocked where pytest-timeout cannot reach
    (tests/hang_watchdog.py); SLEEPSCOPE_TEST_HANG_LIMIT=0 turns it off."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    limit = float(os.environ.get("SLEEPSCOPE_TEST_HANG_LIMIT", "480"))
    if limit <= 0 or (not hasattr(config, "workerinput") and _distributes(config)):
        return  # under pytest-xdist each worker runs the tests, and each has its own watchdog
    folder = tempfile.mkdtemp(prefix="sleepscope-watchdog-")
    heartbeat = os.path.join(folder, "current-test")
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("hang_watchdog.py")), str(os.getpid()),
                             heartbeat, str(limit)], stdin=subprocess.DEVNULL)
    _allow_tracing_by(proc.pid)
    global _HEARTBEAT
    _HEARTBEAT = heartbeat
    config._sleepscope_watchdog = proc


def _distributes(config) -> bool:
    """Whether this process hands the tests to pytest-xdist workers (`-n N`) instead of running them."""
    try:
        return config.getoption("dist") != "no" and bool(config.getoption("tx"))
    except ValueError:  # pytest-xdist not installed
        return False


def _allow_tracing_by(pid: int) -> None:
    """Let the watchdog's py-spy read this process's stacks where Yama allows only ancestors to."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(0x59616D61, ctypes.c_ulong(pid), 0, 0, 0)  # PR_SET_PTRACER
    except (OSError, AttributeError):
        pass


def pytest_runtest_logstart(nodeid, location):
    if _HEARTBEAT:
        with open(_HEARTBEAT, "w", encoding="utf-8") as f:
            f.write(nodeid)


def pytest_unconfigure(config):
    import sys

    if "sleepscope.gui.jobs" in sys.modules:
        # A job a test's closed window left running (YASA under load) must end before Python lets its
        # thread's object go: Qt aborts the run then, after every test passed (as the application's exit does).
        sys.modules["sleepscope.gui.jobs"].wait_for_orphans(120_000)
    proc = getattr(config, "_sleepscope_watchdog", None)
    if proc is not None:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(os.path.dirname(_HEARTBEAT), ignore_errors=True)


# -- shared by the GUI tests (opt-in: each fixture only acts where a test asks for it) --------------

@pytest.fixture
def no_shipped_model(tmp_path_factory, monkeypatch):
    """Tests choose their model: the shipped one (once it exists) must not sneak in.

    GUI test files take it for every test with `pytestmark = pytest.mark.usefixtures("no_shipped_model")`."""
    import sleepscope.paths

    empty = tmp_path_factory.mktemp("no_models")
    monkeypatch.setattr(sleepscope.paths, "repo_models_dir", lambda: empty)


@pytest.fixture
def errors(monkeypatch):
    """Error dialogs recorded as (title, text) instead of blocking the test."""
    from PySide6.QtWidgets import QMessageBox

    seen: list[tuple[str, str]] = []

    def critical(parent, title, text, *a, **k):
        seen.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "critical", critical)
    return seen


@pytest.fixture
def main_windows(qtbot):
    """Make shown MainWindows: `make(settings, model_path=None, prescore=False, size=(1400, 860))`.

    At teardown every window's second opinion has ended and every window is closed, deleted and
    its threads stopped (`assert_no_leaks`)."""
    from test_gui_support import assert_no_leaks

    from sleepscope.gui.main_window import MainWindow

    made = []

    def make(settings, model_path=None, prescore=False, size=(1400, 860)):
        w = MainWindow(settings=settings, model_path=model_path, prescore_on_open=prescore)
        w.resize(*size)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.second_opinion.wait()
    assert_no_leaks(made)


@pytest.fixture
def predicted_scoring(tmp_path):
    """Make a scoring file on a noise recording, one epoch per entry of `stages`, where model "m1"
    says `stages` with probability 0.8 (0.3 on the `unsure` epochs): `make(stages, unsure=())`."""
    import numpy as np

    from sleepscope.io import Recording
    from sleepscope.scoring.scoring_file import ScoringFile

    opened = []

    def make(stages, unsure=()):
        n = len(stages)
        rng = np.random.default_rng(0)
        rec = Recording.from_arrays(rng.normal(size=n * 3000), rng.normal(size=n * 3000))
        sf = ScoringFile.open(rec, tmp_path / "n.sleepscope.h5", scorer="ann")
        probs = np.full((n, 5), 0.05, np.float32)
        probs[np.arange(n), stages] = 0.8
        if len(unsure):  # unsure of its stage, which still leads (equal probabilities would be no stage at all)
            probs[list(unsure), :] = 0.175
            probs[list(unsure), np.asarray(stages)[list(unsure)]] = 0.3
        sf.add_prediction("m1", probs)
        opened.append(sf)
        return sf

    yield make
    for sf in opened:
        sf.close()
