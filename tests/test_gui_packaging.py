"""The desktop integration: a valid desktop entry, the EDF/BDF MIME types it declares, `--model default`,
and a missing X11 library named with its package before Qt starts."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

ROOT = Path(__file__).resolve().parents[1]
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


def desktop_entry() -> dict[str, str]:
    lines = (ROOT / "packaging" / "sleepscope.desktop").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_entry_validates():
    out = subprocess.run(["desktop-file-validate", str(ROOT / "packaging" / "sleepscope.desktop")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout


def test_desktop_entry_declares_the_mime_types_defined_beside_it(tmp_path):
    entry = desktop_entry()
    declared = [t for t in entry["MimeType"].split(";") if t]
    tree = ET.parse(ROOT / "packaging" / "sleepscope-mime.xml")
    defined = {m.get("type"): m for m in tree.getroot().iter(f"{MIME_NS}mime-type")}
    assert sorted(declared) == sorted(defined) == ["application/x-bdf", "application/x-edf"]
    assert "%f" in entry["Exec"]
    # The EDF magic matches the first bytes of a file the project writes, and a BDF's.
    from sleepscope.io.export import write_edf

    edf = write_edf(tmp_path / "x.edf", {"EEG": (np.zeros(3000), 100.0)}, start_time=datetime(2020, 1, 1))
    magic = defined["application/x-edf"].find(f"{MIME_NS}magic/{MIME_NS}match").get("value")
    assert edf.read_bytes()[:8].decode("ascii") == magic
    bdf_magic = defined["application/x-bdf"].find(f"{MIME_NS}magic/{MIME_NS}match").get("value")
    assert bdf_magic == "\\377BIOSEMI"
    if shutil.which("update-mime-database"):
        db = tmp_path / "mime"
        (db / "packages").mkdir(parents=True)
        shutil.copy(ROOT / "packaging" / "sleepscope-mime.xml", db / "packages")
        subprocess.run(["update-mime-database", str(db)], check=True, capture_output=True)
        assert (db / "application" / "x-edf.xml").is_file() and (db / "application" / "x-bdf.xml").is_file()


def test_model_default_names_the_shipped_model(qtbot, tmp_path, monkeypatch):
    import sleepscope.paths
    from sleepscope.cli import build_parser
    from sleepscope.gui.main_window import resolve_model_argument

    monkeypatch.setattr(sleepscope.paths, "repo_models_dir", lambda: tmp_path)
    assert resolve_model_argument("default") == tmp_path / "sleepscope-default.safetensors"
    assert resolve_model_argument("my.safetensors") == Path("my.safetensors")
    assert "'default'" in build_parser()._subparsers._group_actions[0].choices["gui"].format_help()


def test_missing_xcb_library_is_named_with_its_package(tmp_path):
    from sleepscope.gui import platform_check as pc

    plugin = pc.xcb_plugin()
    if plugin is None or shutil.which("ldd") is None:
        pytest.skip("no xcb plugin or no ldd here")
    # A real fault: the plugin copied away from the Qt libraries it links to cannot find them.
    lonely = tmp_path / "platforms" / "libqxcb.so"
    lonely.parent.mkdir()
    shutil.copy(plugin, lonely)
    missing = pc.missing_libraries(lonely)
    assert any(m.startswith("libQt6") for m in missing)
    env = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}
    text = pc.platform_problem(env, plugin=lonely)
    assert "reinstall SleepScope (or PySide6)" in text and "libQt6XcbQpa" in text
    # The message names the Debian/Ubuntu package of a missing X library.
    text = pc.describe_missing(["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in text
    # Only where Qt will start xcb: offscreen, Wayland sessions and other systems are left alone.
    assert pc.platform_problem({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, plugin=lonely) is None
    assert pc.platform_problem({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"},
                               plugin=lonely) is None
    # The plugin as installed: whatever this machine lacks is named with its package.
    for lib in pc.missing_libraries(plugin):
        if lib in pc.DEBIAN_PACKAGES:
            assert pc.DEBIAN_PACKAGES[lib] in pc.describe_missing([lib])


def test_gui_command_refuses_with_the_package_names(monkeypatch, capsys):
    from sleepscope import cli
    from sleepscope.gui import platform_check

    monkeypatch.setattr(platform_check, "platform_problem",
                        lambda *a, **k: platform_check.describe_missing(["libxcb-cursor.so.0"]))
    assert cli.main(["gui"]) == 2
    err = capsys.readouterr().err
    assert "libxcb-cursor0" in err and "Traceback" not in err
