"""The model registry: immutable versions, atomic active pointer, rollback, consistency after SIGKILL."""

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.model.checkpoint import load_model
from sleepscope.model.registry import ACTIVE, ModelRegistry, registry_dir
from sleepscope.paths import user_data_dir
from test_finetune import ROOT, cli, corrected_night_files, tiny_model_file


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


_WRITER = """
import sys
from sleepscope.model.registry import ModelRegistry
reg = ModelRegistry()
paths = sys.argv[1:]
print("ready", flush=True)
i = 0
while True:
    v = reg.add(paths[i % len(paths)])
    reg.activate(v.version)
    i += 1
"""


def test_registry_consistent_after_sigkill_of_a_busy_writer(tmp_path):
    # A process that does nothing but register and activate, killed at random moments:
    # most kills land inside a write.
    paths = models(tmp_path, 8)
    rng = random.Random(7)
    for k in range(12):
        # fresh registry now and then so that adds keep writing new versions
        if k % 4 == 0:
            for p in (user_data_dir() / "models").glob("**/*"):
                os.chmod(p, 0o700)
            import shutil

            shutil.rmtree(user_data_dir() / "models", ignore_errors=True)
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, *map(str, paths)], stdout=subprocess.PIPE,
                                text=True, cwd=ROOT)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        check_consistent()


def test_registry_consistent_after_sigkill_of_finetune_register(tmp_path):
    _, scoring = corrected_night_files(tmp_path / "rec", n=80)
    parent = tiny_model_file(tmp_path / "parent")
    args = cli("--scoring", str(scoring), "--from", str(parent), "--out", str(tmp_path / "child"), "--epochs", "1",
               "--progress", "jsonl", "--register")
    t0 = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=240)
    duration = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    reg = check_consistent()
    assert len(reg.versions()) == 2
    rng = random.Random(3)
    for k in range(4):
        proc = subprocess.Popen(args[:-5] + [str(tmp_path / f"child{k}"), "--epochs", "2", "--seed", str(k + 1),
                                             "--progress", "jsonl", "--register"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        time.sleep(rng.uniform(0.3, 1.0) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        reg = check_consistent()
        assert len(reg.versions()) >= 2
