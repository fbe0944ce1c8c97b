"""Starting the workstation: the QApplication, its look, and the main window."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from sleepscope.gui.settings import APPLICATION, ORGANIZATION


def make_app(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, created with SleepScope's names and style if there is none."""
    import pyqtgraph as pg

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("SleepScope")
    app.setDesktopFileName("sleepscope")  # ties windows to packaging/sleepscope.desktop
    from sleepscope.gui.main_window import app_icon

    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")
    pal = app.palette()
    # A calm light theme: dark traces on white read best for hours of scoring.
    pal.setColor(QPalette.ColorRole.Window, QColor("#f3f4f6"))
    pal.setColor(QPalette.ColorRole.Base, QColor("#ffffff"))
    pal.setColor(QPalette.ColorRole.Highlight, QColor("#3a86c8"))
    app.setPalette(pal)
    pg.setConfigOptions(antialias=True, background="w", foreground="#2b2f36")
    return app


def freeze_startup_objects() -> None:
    """Keep what start-up made (modules, widgets, settings) out of the garbage collector's full passes.

    Those objects live as long as the window; a full pass walks every one of
    them on the GUI thread: 61 ms with the window open, 140 ms once torch is
    loaded (2-core machine), each time an event-loop stall. Frozen objects are
    never collected, so this is done once the window is built, not before.
    """
    gc.freeze()


def run_gui(path: str | os.PathLike | None = None, model_path: str | os.PathLike | None = None,
            prescore: bool = True) -> int:
    """Open the main window (and `path` if given); returns the event loop's exit code."""
    from sleepscope.allocator import limit_arenas
    from sleepscope.errors import SleepScopeError
    from sleepscope.gui.platform_check import platform_problem

    limit_arenas()  # before the window starts its threads
    problem = platform_problem()
    if problem is not None:
        # Qt would abort with a message that names no package.
        raise SleepScopeError(problem)
    from sleepscope.gui.main_window import MainWindow

    app = make_app()
    window = MainWindow(model_path=model_path, prescore_on_open=prescore)
    window.show()
    freeze_startup_objects()
    if path is not None:
        window.open_file(Path(path))
    return leave(app, window, app.exec())


#: how long leaving waits for a background job that cannot be interrupted (YASA's second opinion)
LEAVE_WAIT_MS = 60_000


def leave(app, window, code: int, wait_ms: int = LEAVE_WAIT_MS) -> int:
    """After the event loop: delete the window while Qt is alive (teardown-order crashes at exit), then let
    jobs still running end. Qt aborts the process when a running thread's object is destroyed, so one that
    outlives `wait_ms` is left behind by ending the process at once (every label is already on disk)."""
    from sleepscope.gui.jobs import wait_for_orphans

    window.deleteLater()
    app.processEvents()
    if not wait_for_orphans(wait_ms):
        print("sleepscope: a background job was still running; leaving without it", file=sys.stderr, flush=True)
        os._exit(int(code))
    return int(code)


def run_demo(model_path: str | os.PathLike | None = None) -> int:
    """Create the synthetic demo night once, then open it pre-scored by the active model."""
    from sleepscope.data.synthetic import demo_recording

    psg = demo_recording()
    return run_gui(psg, model_path=model_path, prescore=True)
