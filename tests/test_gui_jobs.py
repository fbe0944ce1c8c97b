"""The window's background jobs (gui/jobs.py) as the loader uses them: the file's hash is taken while
the signals are read, and a cancelled load leaves no thread behind."""

from __future__ import annotations

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
