"""The model registry: immutable versions, atomic active pointer, rollback, consistency after SIGKILL."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.model.checkpoint import load_model
from sleepscope.model.registry import ACTIVE, ModelRegistry, registry_dir
from sleepscope.paths import user_data_dir
from test_finetune import ROOT, corrected_night_files, tiny_model_file


def models(tmp_path: Path, n: int) -> list[Path]:
    return [tiny_model_file(tmp_path / f"m{i}", seed=i) for i in range(n)]


def test_add_versions_activate_rollback(tmp_path):
    a, b, c = models(tmp_path, 3)
    reg = ModelRegistry()
    assert reg.root == user_data_dir() / "models" == registry_dir()
    assert reg.versions() == [] and reg.active() is None
    va = reg.add(a)
    vb = reg.add(b)
    vc = reg.add(c)
    assert [v.version for v in reg.versions()] == [va.version, vb.version, vc.version]
    assert reg.add(a).version == va.version and len(reg.versions()) == 3  # same weights: same version
    assert va.version == load_model(a)[1].version
    model, card = load_model(vb.path)
    assert card.version == vb.version
    reg.activate(vc.version)
    assert reg.active_version() == vc.version
    reg.rollback(va.version)
    assert reg.active_version() == va.version
    with pytest.raises(SleepScopeError, match="earlier version"):
        reg.rollback(vb.version)  # newer than the active one: that is activation, not rollback
    with pytest.raises(SleepScopeError, match="already"):
        reg.rollback(va.version)
    reg.activate(vb.version)
    assert [h["version"] for h in reg.active_history()] == [vc.version, va.version, vb.version]
    with pytest.raises(SleepScopeError, match="not in the registry"):
        reg.activate("0123456789abcdef")
    # a fresh handle reads the same state
    again = ModelRegistry()
    assert again.active_version() == vb.version and len(again.versions()) == 3


def test_versions_are_immutable_files(tmp_path):
    (a,) = models(tmp_path, 1)
    v = ModelRegistry().add(a)
    for f in v.path.parent.iterdir():
        assert not (f.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)), f
    before = v.path.read_bytes()
    ModelRegistry().add(a)  # re-adding does not rewrite
    assert v.path.read_bytes() == before


def test_damaged_model_is_not_registered_and_damaged_version_not_activated(tmp_path):
    a, b = models(tmp_path, 2)
    b.write_bytes(b.read_bytes()[:-10])
    reg = ModelRegistry()
    with pytest.raises(SleepScopeError):
        reg.add(b)
    assert reg.versions() == []
    v = reg.add(a)
    os.chmod(v.path, 0o600)
    v.path.write_bytes(v.path.read_bytes()[:-10])  # damage from outside SleepScope
    with pytest.raises(SleepScopeError, match="truncated"):
        reg.activate(v.version)
    assert reg.active_version() is None


def test_leftovers_of_a_killed_writer_are_ignored(tmp_path):
    (a,) = models(tmp_path, 1)
    reg = ModelRegistry()
    v = reg.add(a)
    (reg.root / ".incoming-xyz").mkdir()
    (reg.root / ".incoming-xyz" / "model.json").write_text("{half")
    (reg.root / f".{ACTIVE}.123.tmp").write_text('{"vers')
    assert [x.version for x in ModelRegistry().versions()] == [v.version]
    assert ModelRegistry().active_version() is None


def check_consistent() -> ModelRegistry:
    reg = ModelRegistry()
    for v in reg.versions():
        model, card = load_model(v.path)
        assert card.version == v.version
    active = reg.active_version()
    assert active is None or active in reg
    if (reg.root / ACTIVE).exists():
        json.loads((reg.root / ACTIVE).read_text())
    return reg


#: The calls that make a write visible or durable; a kill at each of them is a kill during a write.
_WRITE_STEPS = ("fsync", "replace", "rename", "mkdir", "chmod", "unlink")


def _arm_kill(kill_at: int) -> list[int]:
    """Make the `kill_at`-th write step of this process SIGKILL it (0: only count them)."""
    calls = [0]

    def dying(real):
        def call(*args, **kwargs):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return call

    for name in _WRITE_STEPS:
        setattr(os, name, dying(getattr(os, name)))
    return calls


def _in_child_killed_at(kill_at: int, work) -> int:
    """Run `work()` in a forked child killed at its `kill_at`-th write step; the wait status."""
    pid = os.fork()
    if pid == 0:
        try:
            calls = _arm_kill(kill_at)
            work()
            os._exit(min(calls[0], 250))
        except BaseException:
            os._exit(255)
    return os.waitpid(pid, 0)[1]


def test_registry_consistent_after_sigkill_at_every_write_step(tmp_path):
    # Adding a new version and activating it: a process killed at each of their write steps in turn. Every kill lands inside a write (the
    # child dies of SIGKILL at that step), and the registry is consistent after each.
    old, new = models(tmp_path, 2)
    reg = ModelRegistry()
    v_old = reg.add(old)
    reg.activate(v_old.version)
    v_new = load_model(new)[1].version

    def add_and_activate():
        r = ModelRegistry()
        r.activate(r.add(new).version)

    status = _in_child_killed_at(0, add_and_activate)
    assert os.WIFEXITED(status) and 10 <= os.WEXITSTATUS(status) < 250, status
    steps = os.WEXITSTATUS(status)
    outcomes = set()
    for k in range(1, steps + 1):
        _remove_version(v_new)
        ModelRegistry().activate(v_old.version)
        status = _in_child_killed_at(k, add_and_activate)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"step {k}: the kill did not land"
        reg = check_consistent()
        assert reg.active_version() in (v_old.version, v_new), f"step {k}: no active model"  # old or new, never none
        outcomes.add((v_new in reg, reg.active_version()))
    # the kills spanned every stage: before the new version existed, after, and while it was active
    assert {(False, v_old.version), (True, v_old.version), (True, v_new)} <= outcomes, outcomes


def _remove_version(version: str) -> None:
    d = registry_dir() / "versions" / version
    if d.exists():
        for p in [d, *d.iterdir()]:
            os.chmod(p, 0o700)
        shutil.rmtree(d)


_FINETUNE_KILLED = """
import os, signal, sys
sys.path.insert(0, "tests")
from test_registry import _arm_kill
import sleepscope.model.checkpoint as ck
import sleepscope.model.finetune_commands  # noqa: F401  (imports before arming: counts only the writes)
from sleepscope.cli import main

kill_at = int(sys.argv[1])
real_save = ck.save_model
calls = []

def save_then_arm(*args, **kwargs):  # the write phase starts with the model's save
    calls.append(_arm_kill(kill_at))
    return real_save(*args, **kwargs)

ck.save_model = save_then_arm
rc = main(sys.argv[2:])
print(f"steps {calls[0][0] if calls else 0}", file=sys.stderr)
sys.exit(rc)
"""


def test_registry_consistent_after_sigkill_of_finetune_register(tmp_path):
    # finetune --register killed at write steps of its write phase (the model's save, the
    # registration of parent and child): each kill lands inside a write, and the registry and
    # the --out model are consistent after each.
    _, scoring = corrected_night_files(tmp_path / "rec", n=80)
    parent = tiny_model_file(tmp_path / "parent")

    def run(kill_at: int, out: Path) -> subprocess.CompletedProcess:
        args = ["--scoring", str(scoring), "--from", str(parent), "--out", str(out), "--epochs", "1",
                "--max-steps", "2", "--progress", "none", "--register"]
        return subprocess.run([sys.executable, "-c", _FINETUNE_KILLED, str(kill_at), "finetune", *args],
                              capture_output=True, text=True, cwd=ROOT, timeout=240)

    done = run(0, tmp_path / "child")
    assert done.returncode == 0, done.stderr
    steps = int(done.stderr.strip().splitlines()[-1].split()[1])
    assert steps >= 20
    reg = check_consistent()
    assert len(reg.versions()) == 2
    # the first step, one in the middle and the last (each run trains again: a few, not all)
    for k in sorted({1, steps // 2, steps}):
        for p in registry_dir().glob("**/*"):  # the same writes each time: from an empty registry
            os.chmod(p, 0o700)
        shutil.rmtree(registry_dir())
        out = tmp_path / f"child-{k}"
        proc = run(k, out)
        assert proc.returncode == -signal.SIGKILL, f"step {k}: the kill did not land ({proc.stderr[-500:]})"
        reg = check_consistent()
        assert len(reg.versions()) <= 2
        if out.with_suffix(".safetensors").exists() or out.with_suffix(".json").exists():
            model, card = load_model(out)  # a whole model or none
            assert card.version == model.version
