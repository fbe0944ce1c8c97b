"""Every command x every bad input: exit 2, one message line, no traceback, nothing left behind.

The faults are real: a folder without write permission (the command runs
without the capability that lets root ignore permissions), a full disk (a
64-KiB tmpfs, filled), an unwritable SLEEPSCOPE_DATA_DIR. Commands that need
no special privilege run in this process (`sleepscope.cli.main`), so that an
exception escaping `main` fails the test as a traceback would.
"""

import contextlib
import ctypes
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sleepscope.cli import main
from sleepscope.model.checkpoint import ModelCard, save_model
from sleepscope.model.config import TINY
from sleepscope.model.network import SleepStager
from test_edf_discontinuous import write_raw_edf
from test_finetune import ROOT, corrected_night_files
from test_model_checkpoint import _nan_model_file

DATA = Path(__file__).parent / "data"


# ---- the bad inputs ---------------------------------------------------------------------------

def _recording_fields(folder: Path, name: str, **eeg) -> Path:
    rng = np.random.default_rng(0)
    sig = [{"label": "EEG Fpz-Cz", "rate": 100, "data": rng.normal(0, 20, 6000), **eeg},
           {"label": "EOG horizontal", "rate": 100, "data": rng.normal(0, 20, 6000)}]
    return write_raw_edf(folder / name, sig, reserved="")


def _bad_recordings(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    out = {"annotation-only": folder / "SC4001EC-Hypnogram.edf"}
    shutil.copy(DATA / "SC4001EC-Hypnogram.edf", out["annotation-only"])
    zero = _recording_fields(folder, "zero.edf")
    raw = bytearray(zero.read_bytes())
    at = 256 + 2 * (16 + 80 + 8 * 5 + 80) + 8  # samples per record of the EOG
    raw[at:at + 8] = b"0       "
    zero.write_bytes(bytes(raw))
    out["zero-samples"] = zero
    out["digital-min-eq-max"] = _recording_fields(folder, "dig.edf", dmin=5, dmax=5)
    out["physical-min-eq-max"] = _recording_fields(folder, "phys.edf", pmin=3, pmax=3)
    out["implausible-unit"] = _recording_fields(folder, "volts.edf", unit="V")
    trunc = folder / "cut.edf"
    trunc.write_bytes((DATA / "SC4001E0-PSG-first300s.edf").read_bytes()[:30000])
    out["truncated"] = trunc
    notedf = folder / "notes.edf"
    notedf.write_text("Patient slept well.\n" * 40)
    out["not-an-edf"] = notedf
    out["missing"] = folder / "nothing-here.edf"
    return out


def _bad_models(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    out = {}
    for key, change in (("absurd-widths", {"widths": [200000] * 4}), ("negative-kernel", {"kernel_size": -5}),
                        ("non-number", {"seq_len": "twenty"})):
        p = _tiny_model(folder / key)
        card = json.loads(p.with_suffix(".json").read_text())
        card["config"].update(change)
        p.with_suffix(".json").write_text(json.dumps(card))
        out[key] = p
    _, out["nan-weights"] = _nan_model_file(folder)
    p = _tiny_model(folder / "blanked")
    data = bytearray(p.read_bytes())
    data[-10] ^= 1
    p.write_bytes(bytes(data))
    card = json.loads(p.with_suffix(".json").read_text())
    card["weights_sha256"], card["version"] = "", ""
    p.with_suffix(".json").write_text(json.dumps(card))
    out["no-integrity-fields"] = p
    p = _tiny_model(folder / "cardless")
    p.with_suffix(".json").unlink()
    out["card-missing"] = p
    return out


def _tiny_model(base: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    m = SleepStager(TINY)
    save_model(m, base, ModelCard(config=TINY, data="tiny test model"))
    return base.with_name(base.name + ".safetensors")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli-bad")
    psg, scoring = corrected_night_files(base / "night", n=80)
    w = {"base": base, "psg": psg, "scoring": scoring, "model": _tiny_model(base / "good"),
         "recs": _bad_recordings(base / "recs"), "models": _bad_models(base / "models")}
    ro = base / "readonly"
    ro.mkdir()
    ro.chmod(0o555)
    w["readonly"] = ro
    data = base / "data-readonly"
    data.mkdir()
    data.chmod(0o555)
    w["data-readonly"] = data
    yield w
    for p in (ro, data):
        p.chmod(0o755)


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory):
    """A folder on a 64-KiB tmpfs with 4 KiB left: real ENOSPC."""
    d = tmp_path_factory.mktemp("full")
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (the full-disk fault) needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): no real full disk to test with")
    try:
        with open(d / "filler", "wb", buffering=0) as f:  # to the last block
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 1024)
        yield d
    finally:
        subprocess.run(["umount", str(d)], capture_output=True)


# ---- running a command --------------------------------------------------------------------------

def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run_in_process(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}  # finetune sets its own
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(argv)
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    return rc, err.getvalue()


_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3


def _without_permission_override() -> None:
    """In the child before exec: drop the capabilities that let root write where permissions forbid it."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


_CHILD = """
import contextlib, io, json, os, sys, traceback
from pathlib import Path
from sleepscope.cli import main

def listing(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*"))

results = []
for case in json.load(sys.stdin):
    os.environ.update(case["env"])
    before = {r: listing(r) for r in case["roots"]}
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(case["argv"])
    except BaseException:
        rc, err = 1, io.StringIO(err.getvalue() + traceback.format_exc())
    left = {r: sorted(set(listing(r)) - set(before[r])) for r in case["roots"]}
    results.append({"rc": rc, "stderr": err.getvalue(), "left": left})
print(json.dumps(results))
"""


def run_unprivileged(cases: list[dict]) -> list[dict]:
    """Run CLI commands in ONE process that permissions apply to (root loses its override).

    Each case: argv, env (added to the environment), roots (folders in which nothing may be left).
    Returns per case: rc, stderr, left (new files per root).
    """
    preexec = _without_permission_override if os.geteuid() == 0 else None
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(cases), cwd=ROOT, env=env,
                          preexec_fn=preexec, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def permissions_apply(world):
    """Skip where even the unprivileged child can write a read-only folder (e.g. no prctl)."""
    probe = [sys.executable, "-c", f"open({str(world['readonly'] / 'probe')!r}, 'w')"]
    preexec = _without_permission_override if os.geteuid() == 0 else None
    try:
        done = subprocess.run(probe, preexec_fn=preexec, capture_output=True, text=True)
    except OSError as exc:
        pytest.skip(f"cannot start a process without root's permission override ({exc})")
    if done.returncode == 0:
        (world["readonly"] / "probe").unlink()
        pytest.skip("a read-only folder is writable here even without root's override: no permission fault")


def check_refused(rc: int, err: str, roots: list[Path], before: dict[Path, set[str]], expect: str) -> None:
    # advice printed before the failure (a note on the corrections) is not an error line
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("sleepscope: note: ")]
    assert rc == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("sleepscope: error: "), lines
    assert expect.lower() in lines[0].lower(), lines[0]
    for root in roots:
        assert _listing(root) == before[root], f"left behind in {root}: {_listing(root) - before[root]}"


# ---- the table ----------------------------------------------------------------------------------

RECORDING_EXPECT = {
    "annotation-only": "annotation file", "zero-samples": "0 samples per data record",
    "digital-min-eq-max": "impossible scaling", "physical-min-eq-max": "impossible scaling",
    "implausible-unit": "unit is probably wrong", "truncated": "truncated", "not-an-edf": "not an EDF",
    "missing": "no such file",
}


@pytest.mark.parametrize("command", ["info", "prescore"])
@pytest.mark.parametrize("bad", list(RECORDING_EXPECT))
def test_bad_recording(world, command, bad):
    f = world["recs"][bad]
    argv = [command, str(f)] + (["--model", str(world["model"]), "--quiet"] if command == "prescore" else [])
    roots = [world["recs"]["missing"].parent]
    before = {r: _listing(r) for r in roots}
    check_refused(*run_in_process(argv), roots, before, RECORDING_EXPECT[bad])


@pytest.mark.parametrize("command", ["info", "prescore"])
def test_eeg_and_eog_on_one_channel(world, command):
    argv = [command, str(world["psg"]), "--eeg", "EEG Fpz-Cz", "--eog", "eeg fpz-cz"]
    argv += ["--model", str(world["model"]), "--quiet"] if command == "prescore" else []
    before = {world["psg"].parent: _listing(world["psg"].parent)}
    check_refused(*run_in_process(argv), [world["psg"].parent], before, "both name the channel 'EEG Fpz-Cz'")


MODEL_EXPECT = {
    "absurd-widths": "outside 1..4096", "negative-kernel": "kernel_size = -5", "non-number": "not a whole number",
    "nan-weights": "NaN or infinite", "no-integrity-fields": "has no valid weights_sha256 and version",
    "card-missing": "card", 
}


@pytest.mark.parametrize("command", ["model-info", "prescore", "finetune"])
@pytest.mark.parametrize("bad", list(MODEL_EXPECT))
def test_bad_model(world, command, bad, tmp_path):
    m = str(world["models"][bad])
    argv = {"model-info": ["model-info", m],
            "prescore": ["prescore", str(world["psg"]), "--model", m, "--quiet", "--out", str(tmp_path / "p.csv")],
            "finetune": ["finetune", "--scoring", str(world["scoring"]), "--from", m, "--out", str(tmp_path / "child"),
                         "--progress", "none", "--epochs", "1", "--max-steps", "1"]}[command]
    roots = [tmp_path, world["models"][bad].parent]
    before = {r: _listing(r) for r in roots}
    check_refused(*run_in_process(argv), roots, before, MODEL_EXPECT[bad])


def _writers(world, folder: Path) -> dict[str, list[str]]:
    sf, psg, m = str(world["scoring"]), str(world["psg"]), str(world["model"])
    return {
        "prescore-csv": ["prescore", psg, "--model", m, "--quiet", "--out", str(folder / "p.csv")],
        "prescore-json": ["prescore", psg, "--model", m, "--quiet", "--json", "--out", str(folder / "p.json")],
        "export-csv": ["export", sf, "--format", "csv", "--out", str(folder / "x.csv")],
        "export-edf": ["export", sf, "--format", "edf", "--out", str(folder / "x-Hypnogram.edf")],
        "export-stats": ["export", sf, "--format", "stats", "--out", str(folder / "stats.txt")],
        "finetune": ["finetune", "--scoring", sf, "--from", m, "--out", str(folder / "child"), "--progress", "none",
                     "--epochs", "1", "--max-steps", "1"],
        "report": ["report", sf, "--out", str(folder / "report.html")],
        "synth": ["synth", "--out", str(folder / "cohort"), "--nights", "SC4001E0", "--quiet"],
    }


WRITERS = ["prescore-csv", "prescore-json", "export-csv", "export-edf", "export-stats", "finetune", "report", "synth"]


@pytest.mark.parametrize("writer", WRITERS)
def test_output_into_full_disk(world, full_disk, writer):
    argv = _writers(world, full_disk)[writer]
    roots = [full_disk, world["scoring"].parent]
    before = {r: _listing(r) for r in roots}
    check_refused(*run_in_process(argv), roots, before, "no space left on device")


@pytest.fixture(scope="module")
def unprivileged_results(world, permissions_apply, tmp_path_factory):
    """Every case that needs real permissions, run in one unprivileged process (one start-up, not ten)."""
    out = tmp_path_factory.mktemp("rw-out")
    out.chmod(0o777)
    writers = _writers(world, world["readonly"])
    roots = [str(world["readonly"]), str(world["scoring"].parent)]
    cases = {w: {"argv": writers[w], "env": {}, "roots": roots} for w in WRITERS}
    register = _writers(world, out)["finetune"] + ["--register"]
    data_roots = [str(out), str(world["data-readonly"]), str(world["scoring"].parent)]
    cases["data-dir-readonly"] = {"argv": register, "env": {"SLEEPSCOPE_DATA_DIR": str(world["data-readonly"])},
                                  "roots": data_roots}
    cases["data-dir-uncreatable"] = {"argv": register,
                                     "env": {"SLEEPSCOPE_DATA_DIR": str(world["data-readonly"] / "sub")},
                                     "roots": data_roots}
    return dict(zip(cases, run_unprivileged(list(cases.values()))))


def check_unprivileged(result: dict, expect: str) -> None:
    assert all(not left for left in result["left"].values()), result["left"]
    check_refused(result["rc"], result["stderr"], [], {}, expect)


@pytest.mark.parametrize("writer", WRITERS)
def test_output_into_read_only_folder(unprivileged_results, writer):
    check_unprivileged(unprivileged_results[writer], "readonly")


def test_unwritable_data_dir_with_writable_recording_folder(unprivileged_results):
    check_unprivileged(unprivileged_results["data-dir-readonly"], "registry")
    # a data folder that cannot even be created says which and what to do
    check_unprivileged(unprivileged_results["data-dir-uncreatable"], "SLEEPSCOPE_DATA_DIR")
