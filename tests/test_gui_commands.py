"""`sleepscope gui` / `sleepscope demo` wiring, the icon, and Qt staying inside sleepscope/gui."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

ROOT = Path(__file__).resolve().parents[1]


def test_gui_and_demo_commands_registered():
    from sleepscope.cli import build_parser

    p = build_parser()
    args = p.parse_args(["gui", "night.edf", "--model", "m.safetensors", "--no-prescore"])
    assert (args.file, args.model, args.no_prescore) == ("night.edf", "m.safetensors", True)
    args = p.parse_args(["demo"])
    assert args.func.__name__ == "_demo"


def test_bare_command_opens_the_gui(monkeypatch):
    from sleepscope import cli
    from sleepscope.gui import app

    calls = []
    monkeypatch.setattr(app, "run_gui", lambda *a, **k: calls.append((a, k)) or 0)
    assert cli.main([]) == 0
    assert calls == [((None,), {"model_path": None, "prescore": True})]


def test_demo_creates_the_night_once_and_opens_it(monkeypatch):
    from sleepscope import cli
    from sleepscope.gui import app
    from sleepscope.paths import user_data_dir

    opened = []
    monkeypatch.setattr(app, "run_gui", lambda path, **k: opened.append((Path(path), k)) or 0)
    assert cli.main(["demo"]) == 0
    path, kwargs = opened[0]
    assert path.exists() and path.is_relative_to(user_data_dir()) and path.name.endswith("-PSG.edf")
    assert kwargs["prescore"] is True
    mtime = path.stat().st_mtime_ns
    assert cli.main(["demo"]) == 0
    assert opened[1][0] == path and path.stat().st_mtime_ns == mtime  # not written again


def test_icon_and_desktop_entry_exist(qtbot):
    from sleepscope.gui.main_window import app_icon

    assert not app_icon().isNull()
    desktop = (ROOT / "packaging" / "sleepscope.desktop").read_text()
    assert "Exec=sleepscope gui %f" in desktop and "Icon=sleepscope" in desktop
    assert (ROOT / "resources" / "sleepscope.png").exists()
    spec = (ROOT / "packaging" / "sleepscope.spec").read_text()
    assert '"models"' in spec and '"resources"' in spec


def test_qt_is_imported_only_inside_the_gui_package():
    offenders = []
    for path in (ROOT / "sleepscope").rglob("*.py"):
        if "gui" in path.relative_to(ROOT / "sleepscope").parts[:1]:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "pyqtgraph") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
