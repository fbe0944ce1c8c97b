"""One named row over the whole night, above the hypnogram, whose content a background job computes.

The spectrogram and the chin-EMG tone are such rows: a name on the left, a
plot in epochs with the epoch cursor, the hypnogram's time axis shared (zoom
and pan together), a click that picks an epoch, and one current job whose
failure is said in the row's name and tooltip.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from sleepscope.gui.hypnogram_view import CURSOR_PEN, LABEL_PX, EpochStrip
from sleepscope.gui.jobs import CurrentJob

NAME_COLOR = "#2b2f36"
FAILED_COLOR = "#b03a2e"


class NightRow(EpochStrip):
    """A row named `name`; subclasses draw in `plot` and run their job on `jobs` (their kind of CurrentJob)."""

    #: emitted once the row's content for the shown recording is drawn (or known to be missing)
    ready = Signal()

    def __init__(self, name: str, jobs: type[CurrentJob], failed: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, bottom_margin=0)
        self.name = name
        self._failed = failed  # what the tooltip says before the job's message
        self._label = self._glw.addLabel(name, row=0, col=0, size="8pt", color=NAME_COLOR, justify="right")
        self.plot = self._add_plot(0)
        self.plot.showAxis("bottom", False)
        self._glw.ci.layout.setColumnFixedWidth(0, LABEL_PX)
        self.cursor_line = pg.InfiniteLine(pos=0.5, angle=90, movable=False, pen=CURSOR_PEN)
        self.cursor_line.setZValue(10)
        self.plot.addItem(self.cursor_line)
        self.jobs = jobs(self)
        self.jobs.failed.connect(self._on_failed)
        self.status = ""

    def start_night(self, n_epochs: int) -> None:
        """A new recording of `n_epochs`: the x axis spans it."""
        self._n = int(n_epochs)
        self.plot.getViewBox().setLimits(xMin=0, xMax=max(1, self._n))
        self.plot.setXRange(0, max(1, self._n), padding=0)

    def set_name(self, text: str = "", tooltip: str = "", failed: bool = False) -> None:
        """The row's name (its own, or a second line under it) and tooltip."""
        label = self.name if not text else f"{self.name}<br>({text})"
        self._label.setText(label, size="8pt", color=FAILED_COLOR if failed else NAME_COLOR)
        self._label.setToolTip(tooltip)

    def set_cursor(self, epoch: int) -> None:
        self.cursor_line.setValue(int(epoch) + 0.5)

    def link_x(self, view: pg.ViewBox) -> None:
        """Share the time axis with another view (the hypnogram): zoom and pan together."""
        self.plot.setXLink(view)

    def cancel(self) -> None:
        self.jobs.drop()

    def wait(self, ms: int = 10000) -> bool:
        """Cancel and wait for the worker threads (closing the window); True when they ended."""
        return self.jobs.wait_all(ms)

    def _on_failed(self, message: str) -> None:
        self.status = f"failed: {message}"
        self.set_name("failed", f"{self._failed}: {message}", failed=True)
