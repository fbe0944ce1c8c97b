"""The frozen bundle's exclusion rules and the glibc baseline check (no PyInstaller build here)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parent.parent / "packaging"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"packaging_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules.
    sys.modules[f"packaging_{name}"] = module
    spec.loader.exec_module(module)
    return module


rules = _load("bundle_rules")
check_glibc = _load("check_glibc")

# A TOC as PyInstaller hands it to the spec: (destination in the bundle, source, type code).
DROPPED = [
    ("torch/test/test_api", "/x/torch/test/test_api", "BINARY"),
    ("torch/bin/test_jit", "/x/torch/bin/test_jit", "DATA"),
    ("torch/include/ATen/core/Tensor.h", "/x/Tensor.h", "DATA"),
    ("torch/share/cmake/Torch/TorchConfig.cmake", "/x/TorchConfig.cmake", "DATA"),
    ("torch/lib/libjitbackend_test.so", "/x/libjitbackend_test.so", "BINARY"),
    ("torch/lib/libtorchbind_test.so", "/x/libtorchbind_test.so", "BINARY"),
    ("numpy/core/lib/libnpymath.a", "/x/libnpymath.a", "DATA"),
    ("PySide6/Qt/translations/qtbase_de.qm", "/x/qtbase_de.qm", "DATA"),
    ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", "/x/libqsqlite.so", "BINARY"),
    ("libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "BINARY"),
    ("libgcc_s.so.1", "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1", "BINARY"),
    ("libexpat.so.1", "/usr/lib/x86_64-linux-gnu/libexpat.so.1", "BINARY"),
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/x/libqgtk3.so", "BINARY"),
    ("libcairo.so.2", "/usr/lib/x86_64-linux-gnu/libcairo.so.2", "BINARY"),
    ("libgssapi_krb5.so.2", "/usr/lib/x86_64-linux-gnu/libgssapi_krb5.so.2", "BINARY"),
    ("numba/np/ufunc/tbbpool.cpython-311-x86_64-linux-gnu.so", "/x/tbbpool.so", "EXTENSION"),
]
KEPT = [
    ("torch/lib/libtorch_cpu.so", "/x/libtorch_cpu.so", "BINARY"),
    ("torch/lib/libgomp.so.1", "/x/libgomp.so.1", "BINARY"),
    # `import torch` fails without it, beside the test executables of torch/bin.
    ("torch/bin/torch_shm_manager", "/x/torch_shm_manager", "DATA"),
    ("torch/_C.cpython-311-x86_64-linux-gnu.so", "/x/_C.so", "EXTENSION"),
    ("torch/testing/__init__.py", "/x/__init__.py", "DATA"),
    ("PySide6/Qt/plugins/platforms/libqxcb.so", "/x/libqxcb.so", "BINARY"),
    ("PySide6/Qt/plugins/platforms/libqoffscreen.so", "/x/libqoffscreen.so", "BINARY"),
    ("PySide6/Qt/lib/libQt6Widgets.so.6", "/x/libQt6Widgets.so.6", "BINARY"),
    ("libxcb-cursor.so.0", "/usr/lib/x86_64-linux-gnu/libxcb-cursor.so.0", "BINARY"),
    ("libpython3.11.so.1.0", "/x/libpython3.11.so.1.0", "BINARY"),
    # Not installed by default on every desktop, or soname differs between distributions.
    ("libxcb-cursor.so.0", "/usr/lib/x86_64-linux-gnu/libxcb-cursor.so.0", "BINARY"),
    ("libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3", "BINARY"),
    ("libffi.so.8", "/usr/lib/x86_64-linux-gnu/libffi.so.8", "BINARY"),
    ("libzstd.so.1", "/usr/lib/x86_64-linux-gnu/libzstd.so.1", "BINARY"),
    ("mne/__init__.pyi", "/x/__init__.pyi", "DATA"),
    ("models/default/model.safetensors", "/x/model.safetensors", "DATA"),
    ("resources/sleepscope.png", "/x/sleepscope.png", "DATA"),
    # YASA's second opinion: its classifiers, lspopt's tapers, numba's compiler and its other thread pools.
    ("yasa/classifiers/clf_eeg+eog_lgb_0.5.0.joblib", "/x/clf.joblib", "DATA"),
    ("lspopt/data/c.npy", "/x/c.npy", "DATA"),
    ("llvmlite/binding/libllvmlite.so", "/x/libllvmlite.so", "BINARY"),
    ("numba/np/ufunc/workqueue.cpython-311-x86_64-linux-gnu.so", "/x/workqueue.so", "EXTENSION"),
    ("numba/np/ufunc/omppool.cpython-311-x86_64-linux-gnu.so", "/x/omppool.so", "EXTENSION"),
]


@pytest.mark.parametrize("entry", DROPPED, ids=[e[0] for e in DROPPED])
def test_dead_weight_and_system_libraries_are_left_out(entry):
    assert not rules.keep(entry)


@pytest.mark.parametrize("entry", KEPT, ids=[e[0] for e in KEPT])
def test_what_the_app_loads_is_kept(entry):
    assert rules.keep(entry)


def test_rules_on_the_installed_torch_keep_its_libraries_and_drop_its_tests():
    torch = pytest.importorskip("torch")
    site = Path(torch.__file__).parent.parent
    files = [p.relative_to(site).as_posix() for p in (site / "torch").rglob("*") if p.is_file()]
    kept = {f for f in files if rules.keep((f, str(site / f), "DATA"))}
    assert "torch/lib/libtorch_cpu.so" in kept and "torch/__init__.py" in kept
    assert not any(f.startswith(("torch/include/", "torch/test/")) for f in kept)
    assert len(kept) < len(files)


def test_auditwheel_grafted_libraries_are_not_stripped():
    assert not rules.may_strip("numpy.libs/libscipy_openblas64_-32a4b2a6.so")
    assert not rules.may_strip("scipy.libs/libgfortran-8a2f0c3d.so.5.0.0")
    assert rules.may_strip("torch/lib/libtorch_cpu.so")
    assert rules.may_strip("PySide6/Qt/lib/libQt6Core.so.6")
    assert rules.may_strip("libpython3.11.so.1.0")


def _load_library(path: Path) -> subprocess.CompletedProcess:
    code = "import ctypes, sys; ctypes.CDLL(sys.argv[1])"
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("strip") is None, reason="strip (binutils) not installed")
def test_strip_breaks_an_auditwheel_library_which_is_why_they_are_skipped(tmp_path):
    numpy = pytest.importorskip("numpy")
    grafted = Path(numpy.__file__).parent.parent / "numpy.libs"
    fortran = sorted(grafted.glob("libgfortran-*.so*"))
    if not fortran:
        pytest.skip("this numpy wheel grafts no libgfortran")
    for variant in ("plain", "stripped"):
        (tmp_path / variant).mkdir()
        for lib in grafted.glob("lib*.so*"):
            if lib.name.startswith(("libgfortran", "libquadmath")):
                shutil.copy(lib, tmp_path / variant / lib.name)
    subprocess.run(["strip", str(tmp_path / "stripped" / fortran[0].name)], check=True)
    assert not rules.may_strip(f"numpy.libs/{fortran[0].name}")
    # Control: the copy as shipped loads; the stripped one does not.
    assert _load_library(tmp_path / "plain" / fortran[0].name).returncode == 0
    broken = _load_library(tmp_path / "stripped" / fortran[0].name)
    assert broken.returncode != 0 and "page-aligned" in broken.stderr


def test_spec_filters_binaries_and_datas_with_the_rules():
    spec = (PACKAGING / "sleepscope.spec").read_text()
    # the second opinion is bundled: nothing it imports is excluded
    excluded = {name for block in re.findall(r"excludes=\[(.*?)\]", spec, re.S) for name in re.findall(r'"([^"]+)"', block)}
    assert "tkinter" in excluded and not {"yasa", "sklearn", "numba", "llvmlite", "lightgbm"} & excluded
    assert "from bundle_rules import keep" in spec
    assert "a.binaries = [entry for entry in a.binaries if keep(entry)]" in spec
    assert "a.datas = [entry for entry in a.datas if keep(entry)]" in spec
    assert "may_strip(dest)" in spec and "strip=True" not in spec


def _objdump_max_glibc(path: Path) -> tuple[int, ...]:
    out = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True, check=True).stdout
    return max(tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out))


def _system_libstdcxx() -> Path:
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/aarch64-linux-gnu", "/lib64"):
        candidate = Path(folder) / "libstdc++.so.6"
        if candidate.exists():
            return candidate.resolve()
    pytest.skip("no system libstdc++ on this machine")


def _manylinux_library() -> Path:
    torch = pytest.importorskip("torch")
    return Path(torch.__file__).parent / "lib" / "libc10.so"


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) not installed")
@pytest.mark.parametrize("pick", [_system_libstdcxx, _manylinux_library], ids=["system-libstdc++", "torch-libc10"])
def test_elf_reader_agrees_with_objdump(pick):
    path = pick()
    found = check_glibc.scan(str(path))
    version, holders = check_glibc.highest(found, "GLIBC")
    assert version == _objdump_max_glibc(path)
    assert holders == [str(path)]


def test_non_elf_files_are_skipped(tmp_path):
    (tmp_path / "model.json").write_text("{}")
    (tmp_path / "short").write_bytes(b"\x7fEL")
    assert check_glibc.read_elf_needs(str(tmp_path / "model.json")) is None
    assert check_glibc.scan(str(tmp_path)) == {}


def test_check_fails_on_a_bundle_carrying_the_build_machines_libstdcxx_and_passes_without(tmp_path, capsys):
    system = _system_libstdcxx()
    lean = _manylinux_library()
    bundle = tmp_path / "SleepScope" / "_internal"
    bundle.mkdir(parents=True)
    shutil.copy(lean, bundle / lean.name)
    (bundle / "base_library.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    lean_max = ".".join(map(str, check_glibc.highest(check_glibc.scan(str(lean)), "GLIBC")[0]))
    system_max = check_glibc.highest(check_glibc.scan(str(system)), "GLIBC")[0]
    if system_max <= check_glibc.parse_version(lean_max):
        pytest.skip("this machine's libstdc++ is no newer than the manylinux library")

    # Control: the lean bundle passes at its own baseline and names what the target provides.
    assert check_glibc.main([str(tmp_path / "SleepScope"), "--max", lean_max]) == 0
    out = capsys.readouterr().out
    assert f"glibc baseline: {lean_max}" in out and "libstdc++.so.6" in out.split("provided by the target system:")[1]

    shutil.copy(system, bundle / "libstdc++.so.6")
    assert check_glibc.main([str(tmp_path / "SleepScope"), "--max", lean_max]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "libstdc++.so.6" in out


def test_missing_bundle_is_a_usage_error(tmp_path, capsys):
    assert check_glibc.main([str(tmp_path / "dist" / "SleepScope")]) == 2
    assert "build the bundle first" in capsys.readouterr().err
