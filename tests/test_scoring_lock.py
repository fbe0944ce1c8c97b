"""One writer per scoring file: the OS file lock, and the lock file alone where there is no flock.

A dead holder never blocks (whatever PID its lock file names), an empty lock
file never blocks, a live holder is named with the recording it holds.
"""

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.scoring import ScoringFileLocked
from sleepscope.scoring.lock import LockInfo, ScoringLock, boot_id, process_start, read_lock
from sleepscope.scoring.scoring_file import RecordingIdentity, ScoringFile, lock_path

N = 20
IDENT = RecordingIdentity("sha256:lock-test", N, N * 30.0, file_name="SC4001E0-PSG.edf")

HOLDER = textwrap.dedent("""
    import sys, time
    from sleepscope.scoring.scoring_file import RecordingIdentity, ScoringFile
    ident = RecordingIdentity("sha256:lock-test", {n}, {n} * 30.0, file_name="SC4001E0-PSG.edf")
    sf = ScoringFile.open_identity(ident, sys.argv[1])
    print("held", flush=True)
    time.sleep(600)
""").format(n=N)


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "4f2a9c.sleepscope.h5"  # a hash-like name: messages must name the recording instead
    ScoringFile.open_identity(IDENT, p).close()
    return p


@pytest.fixture
def without_flock(monkeypatch):
    """A file system that refuses flock (some network file systems)."""
    def refuse(fd):
        raise OSError(errno.ENOLCK, "No locks available")
    monkeypatch.setattr(ScoringLock, "_flock", staticmethod(refuse))


@pytest.fixture
def live_stranger():
    """A live process on this host that holds no lock."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield proc
    proc.kill()
    proc.wait()


def _lock_naming(path, pid, started="", host=None, boot=None):
    lock_path(path).write_text(json.dumps({
        "pid": pid, "host": host or socket.gethostname(), "user": "eve", "time": 0,
        "recording": "SC4001E0-PSG.edf", "boot_id": boot_id() if boot is None else boot, "started": started}))


def test_live_holder_refused_naming_the_recording(path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ScoringFileLocked) as caught:
            ScoringFile.open_identity(IDENT, path)
        msg = str(caught.value)
        assert msg.startswith("SC4001E0-PSG.edf is open for writing by user")
        assert f"PID {holder.pid}" in msg and "4f2a9c" not in msg and "1970" not in msg
        assert caught.value.recording == "SC4001E0-PSG.edf" and caught.value.holder.pid == holder.pid
        # read-only needs no lock
        assert ScoringFile.read(path).n_epochs == N
    finally:
        holder.kill()
        holder.wait()
    # killed holder: its lock file is still there, and blocks nothing
    assert lock_path(path).exists()
    t = time.monotonic()
    ScoringFile.open_identity(IDENT, path).close()
    assert time.monotonic() - t < 2.0 and not lock_path(path).exists()


def test_lock_naming_a_live_pid_that_is_not_the_holder(path, live_stranger):
    # PID reuse, or a process in another PID namespace: alive, but holding nothing
    _lock_naming(path, live_stranger.pid, started="1")
    with ScoringFile.open_identity(IDENT, path) as sf:
        assert read_lock(lock_path(path)).pid == os.getpid()
        sf.set_stage(0, "W")


def test_empty_lock_file_never_blocks(path):
    lock_path(path).write_bytes(b"")  # killed between create and write, or created on a full disk
    t = time.monotonic()
    ScoringFile.open_identity(IDENT, path).close()
    assert time.monotonic() - t < 2.0


def test_second_handle_in_the_same_process_refused(path):
    with ScoringFile.open_identity(IDENT, path):
        with pytest.raises(ScoringFileLocked, match=f"PID {os.getpid()}"):
            ScoringFile.open_identity(IDENT, path)


def test_lock_released_and_retaken_between_open_and_flock(path, monkeypatch):
    """The interleaving a re-check must catch: B opens the lock file, A releases it (unlink, close),
    C takes a new one, then B's flock on the old, unlinked file succeeds. B must see that the path
    no longer names the file it locked, and find C."""
    a = ScoringLock.acquire(lock_path(path), "SC4001E0-PSG.edf")
    real_flock = ScoringLock._flock
    taken = {}

    def interleaved(fd):
        if not taken:
            monkeypatch.setattr(ScoringLock, "_flock", staticmethod(real_flock))
            a.release()
            taken["c"] = ScoringLock.acquire(lock_path(path), "SC4001E0-PSG.edf")
            monkeypatch.setattr(ScoringLock, "_flock", staticmethod(interleaved))
        return real_flock(fd)

    monkeypatch.setattr(ScoringLock, "_flock", staticmethod(interleaved))
    with pytest.raises(ScoringFileLocked):
        ScoringLock.acquire(lock_path(path), "SC4001E0-PSG.edf")
    assert taken["c"].held and read_lock(lock_path(path)) == taken["c"].info
    taken["c"].release()


def test_three_processes_racing_one_wins(path, tmp_path):
    go, release = tmp_path / "go", tmp_path / "release"
    code = textwrap.dedent(f"""
        import os, sys, time
        from sleepscope.errors import SleepScopeError
        from sleepscope.scoring.scoring_file import RecordingIdentity, ScoringFile
        ident = RecordingIdentity("sha256:lock-test", {N}, {N} * 30.0)
        open(os.path.join({str(tmp_path)!r}, "ready-%d" % os.getpid()), "w").close()
        while not os.path.exists({str(go)!r}):
            time.sleep(0.001)
        try:
            sf = ScoringFile.open_identity(ident, {str(path)!r})
        except SleepScopeError as e:
            print("refused", e, flush=True)
            sys.exit(0)
        print("won", flush=True)
        while not os.path.exists({str(release)!r}):
            time.sleep(0.01)
        sf.close()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    first = [p.stdout.readline() for p in procs]
    release.touch()
    for p in procs:
        p.wait(timeout=60)
    assert sorted(o.split()[0] for o in first) == ["refused", "refused", "won"], first


# -- file systems without flock: the lock file's identity decides ------------------

def test_without_flock_dead_holder_taken_over(path, without_flock):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _lock_naming(path, dead.pid)
    with ScoringFile.open_identity(IDENT, path):
        assert read_lock(lock_path(path)).pid == os.getpid()
    assert not lock_path(path).exists()


def test_without_flock_live_pid_started_at_another_time_taken_over(path, without_flock, live_stranger):
    started = process_start(live_stranger.pid)
    assert started  # /proc gives start times here
    # control: the same live PID with its own start time is a holder
    _lock_naming(path, live_stranger.pid, started=started)
    with pytest.raises(ScoringFileLocked, match=f"SC4001E0-PSG.edf is open for writing.*PID {live_stranger.pid}"):
        ScoringFile.open_identity(IDENT, path)
    # the PID was reused: the lock's process started at another time
    _lock_naming(path, live_stranger.pid, started=str(int(started) + 1))
    ScoringFile.open_identity(IDENT, path).close()


def test_without_flock_lock_from_before_a_reboot_taken_over(path, without_flock, live_stranger):
    _lock_naming(path, live_stranger.pid, started=process_start(live_stranger.pid), boot="another-boot")
    ScoringFile.open_identity(IDENT, path).close()


def test_without_flock_empty_lock_never_blocks_and_other_hosts_do(path, without_flock):
    lock_path(path).write_bytes(b"")
    t = time.monotonic()
    ScoringFile.open_identity(IDENT, path).close()
    assert time.monotonic() - t < 2.0
    _lock_naming(path, 1, host="elsewhere")
    with pytest.raises(ScoringFileLocked, match="'eve' on host 'elsewhere'"):
        ScoringFile.open_identity(IDENT, path)


def test_without_flock_holder_refuses_a_second_writer(path, without_flock):
    with ScoringFile.open_identity(IDENT, path):
        info = read_lock(lock_path(path))
        assert info.pid == os.getpid() and info.started == process_start(os.getpid())
        with pytest.raises(ScoringFileLocked):
            ScoringFile.open_identity(IDENT, path)
    assert not lock_path(path).exists()


def test_without_flock_takeover_rechecks_what_it_removes(path, without_flock, monkeypatch):
    """Two processes find the same stale lock; the first takes it over. The second must not remove
    the first's new lock: it removes only the stale file it judged."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _lock_naming(path, dead.pid)
    stale = read_lock(lock_path(path))
    first = ScoringLock.acquire(lock_path(path), "SC4001E0-PSG.edf")  # takes the stale lock over
    # the second process judged the same stale lock before the first took it over
    ScoringLock._remove_stale(lock_path(path), stale)
    assert read_lock(lock_path(path)) == first.info
    with pytest.raises(ScoringFileLocked):
        ScoringLock.acquire(lock_path(path), "SC4001E0-PSG.edf")
    first.release()


def test_holder_killed_by_sigkill_never_blocks(path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    info = read_lock(lock_path(path))
    assert isinstance(info, LockInfo) and info.pid == holder.pid
    ScoringFile.open_identity(IDENT, path).close()


def test_lock_on_a_full_disk_is_a_message(tmp_path):
    from scoring_faults import fill, small_tmpfs

    with small_tmpfs(tmp_path / "disk", "256k") as disk:
        fill(disk)
        with pytest.raises(SleepScopeError, match="disk is full"):
            ScoringLock.acquire(disk / "x.sleepscope.h5.lock")
        assert not (disk / "x.sleepscope.h5.lock").exists()
