"""Readers (export, fine-tuning) while another process edits and checkpoints the same scoring file.

A reader must see the state after some whole number of edits, never call a
healthy file damaged, and never leave `.corrupt-*` copies behind.
"""

import subprocess
import sys
import textwrap
import time

import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.scoring import scoring_file as sfmod
from sleepscope.scoring.scoring_file import RecordingIdentity, ScoringFile

N = 40
IDENT = RecordingIdentity("sha256:readers-test", N, N * 30.0)

WRITER = textwrap.dedent("""
    import sys, time
    from sleepscope.scoring.scoring_file import RecordingIdentity, ScoringFile
    sf = ScoringFile.open_identity(RecordingIdentity("sha256:readers-test", {n}, {n} * 30.0), sys.argv[1])
    print("open", flush=True)
    k = 0
    while True:
        sf.set_stage(k % {n}, (k // {n}) % 5)
        k += 1
        if k % 2 == 0:
            sf.save()  # a checkpoint: the snapshot replaced, then the journal
        time.sleep(0.01)
""").format(n=N)


def expected_labels(edits: int) -> list[int]:
    labels = [-1] * N
    for k in range(edits):
        labels[k % N] = (k // N) % 5
    return labels


@pytest.fixture
def writer(tmp_path):
    path = tmp_path / "night.sleepscope.h5"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "open"
        time.sleep(0.3)
        yield path
    finally:
        proc.kill()
        proc.wait()


def _checkpoints_seen(path, reads, states: int = 0, seconds: float = 30.0):
    """The states seen in at least `reads` reads, reading on (up to `seconds`) until `states` were seen:
    a fast reader may otherwise finish before the writer has moved on."""
    seen = set()
    deadline = time.monotonic() + seconds
    n = 0
    while n < reads or (len(seen) <= states and time.monotonic() < deadline):
        sf = ScoringFile.read(path)
        assert sf.labels.tolist() == expected_labels(sf.seq)  # the state after whole edits
        assert [e["seq"] for e in sf.history()] == list(range(1, sf.seq + 1))
        seen.add(sf.seq)
        n += 1
    return seen


def test_reads_during_checkpoints_are_consistent(writer):
    seen = _checkpoints_seen(writer, 100, states=20)
    assert len(seen) > 20  # the writer moved on under the readers
    assert list(writer.parent.glob("*.corrupt-*")) == []


def test_control_without_retry_readers_do_race(writer, monkeypatch):
    # Shows the race is real here: reading once, as readers did, fails within a few hundred reads.
    monkeypatch.setattr(sfmod, "READ_RETRY_SECONDS", 0.0)
    deadline = time.monotonic() + 30
    failures = 0
    while time.monotonic() < deadline and failures == 0:
        try:
            ScoringFile.read(writer)
        except SleepScopeError as exc:
            assert "damaged" in str(exc)
            failures += 1
    assert failures
