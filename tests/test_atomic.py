"""sleepscope.atomic: one file or a pair replaced whole, nothing half-written left behind."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from sleepscope.atomic import (
    remove_temps,
    replace_pair,
    replacing,
    resolve_pair,
    write_bytes_atomic,
    write_json_atomic,
)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_replace_writes_durably_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path) == []
    old_umask = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "b.json", {"x": 1})
    finally:
        os.umask(old_umask)
    # readable by the folder's other users, like any new file (not mkstemp's 0600)
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o644


def test_error_inside_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with replacing(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("writer failed")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_remove_temps_only_touches_its_own(tmp_path):
    target = tmp_path / "night.sleepscope.h5"
    (tmp_path / ".night.sleepscope.h5.abc123.tmp").write_bytes(b"x")
    (tmp_path / ".other.h5.abc123.tmp").write_bytes(b"x")
    remove_temps(target)
    assert _leftovers(tmp_path) == [".other.h5.abc123.tmp"]


def _write_pair(a_text, b_text):
    def write(tmps):
        tmps[0].write_text(a_text)
        tmps[1].write_text(b_text)
    return write


def test_pair_replaced_together(tmp_path):
    a, b = tmp_path / "m.safetensors", tmp_path / "m.json"
    replace_pair([a, b], _write_pair("w1", "c1"))
    replace_pair([a, b], _write_pair("w2", "c2"))
    assert [p.read_text() for p in resolve_pair([a, b])] == ["w2", "c2"]
    assert _leftovers(tmp_path) == []


KILL_AFTER_FIRST_RENAME = """
import os, signal, sys
from pathlib import Path
from sleepscope import atomic
folder = Path(sys.argv[1])
real = os.replace
def replace(src, dst):
    real(src, dst)
    if Path(dst).name == "m.safetensors" and {stage!r} == "between":
        os.kill(os.getpid(), signal.SIGKILL)
def write(tmps):
    tmps[0].write_text("w2")
    tmps[1].write_text("c2")
    if {stage!r} == "writing":
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
atomic.replace_pair([folder / "m.safetensors", folder / "m.json"], write)
"""


@pytest.mark.parametrize("stage, expected", [("between", ["w2", "c2"]), ("writing", ["w1", "c1"])])
def test_pair_killed_mid_replacement_reads_one_whole_pair(tmp_path, stage, expected):
    a, b = tmp_path / "m.safetensors", tmp_path / "m.json"
    replace_pair([a, b], _write_pair("w1", "c1"))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_AFTER_FIRST_RENAME.format(stage=stage)),
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if stage == "between":
        # the kill landed between the two renames: a mix on disk until resolved
        assert (a.read_text(), b.read_text()) == ("w2", "c1")
    assert [p.read_text() for p in resolve_pair([a, b])] == expected
    assert (a.read_text(), b.read_text()) == tuple(expected)


def test_pair_in_read_only_folder_read_from_temporary_names(tmp_path, monkeypatch):
    a, b = tmp_path / "m.safetensors", tmp_path / "m.json"
    replace_pair([a, b], _write_pair("w1", "c1"))
    real = os.replace

    def replace_then_die(src, dst):
        real(src, dst)
        if dst == a:
            raise KeyboardInterrupt  # stands for the kill between the renames

    monkeypatch.setattr(os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        replace_pair([a, b], _write_pair("w2", "c2"))
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(PermissionError(13, "read-only")))
    assert [p.read_text() for p in resolve_pair([a, b])] == ["w2", "c2"]


def test_content_fsynced_before_rename_and_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "a.bin"
    write_bytes_atomic(target, b"data")
    kinds = [(k, p == str(target), p == str(tmp_path)) for k, p in events]
    # the temporary file's data, then the rename, then the folder entry
    assert kinds == [("fsync", False, False), ("replace", True, False), ("fsync", False, True)]
    assert events[0][1].startswith(str(tmp_path / ".a.bin."))
