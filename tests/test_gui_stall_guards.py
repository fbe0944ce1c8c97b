"""What keeps the GUI thread's event loop from stalling while a worker first imports torch.

Each check runs in a fresh interpreter, where torch has not been imported yet.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pytestqt")


def run_fresh(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="checks the process's memory map")
def test_torch_libraries_are_loaded_before_the_import():
    out = run_fresh("""
        import sys
        from sleepscope.gui.workers import preload_torch_extension

        assert preload_torch_extension() is True
        assert "torch" not in sys.modules
        maps = open("/proc/self/maps").read()
        assert "libtorch_cpu" in maps and "/torch/_C" in maps, "libtorch not mapped"
        import torch

        assert float(torch.ones(3).sum()) == 3.0
        assert preload_torch_extension() is False  # already imported: nothing to do
        print("ok")
    """)
    assert out.strip() == "ok"


def test_no_full_collection_while_torch_is_imported_and_the_collector_is_restored():
    out = run_fresh("""
        import gc
        full = []
        gc.callbacks.append(lambda phase, info: phase == "start" and info["generation"] == 2 and full.append(1))
        from sleepscope.gui.workers import import_inference_runtime

        assert gc.isenabled() and gc.get_freeze_count() == 0
        import_inference_runtime()
        import sys
        assert "torch" in sys.modules and "sleepscope.model.infer" in sys.modules
        # Without the pause, torch's import sets off two full passes (91 and 123 ms on the 2-core machine).
        assert full == [], f"{len(full)} full collections during the import"
        assert gc.isenabled()
        assert gc.get_freeze_count() > 100_000  # torch's modules are out of later full passes

        gc.disable()
        import_inference_runtime()  # imported already: returns at once, the setting untouched
        assert not gc.isenabled()
        print("ok")
    """)
    assert out.strip() == "ok"


def test_run_gui_freezes_what_startup_made(monkeypatch):
    import gc

    from sleepscope.gui import app as app_module
    from sleepscope.gui import main_window

    events = []

    class Window:  # stands in for MainWindow: no user settings read or written
        def __init__(self, **kwargs):
            events.append("built")

        def show(self):
            events.append("shown")

        def open_file(self, path):
            events.append(("frozen before opening", gc.get_freeze_count() > 0))

        def deleteLater(self):  # noqa: N802
            pass

    class LoopThatReturns:
        def exec(self):
            return 0

        def processEvents(self):  # noqa: N802
            pass

    monkeypatch.setattr(main_window, "MainWindow", Window)
    monkeypatch.setattr(app_module, "make_app", lambda: LoopThatReturns())
    gc.unfreeze()
    try:
        assert app_module.run_gui("night.edf", prescore=False) == 0
        assert events == ["built", "shown", ("frozen before opening", True)]
    finally:
        gc.unfreeze()
