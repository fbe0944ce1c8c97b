"""A dock panel that works only while the technician can see it, and catches up when seen again.

Qt calls a widget visible when its dock sits behind another tab, so "seen" is
Qt's visibility and the dock's own `visibilityChanged` (`set_active`) together.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QWidget


class LazyPanel(QWidget):
    """A panel that sets `_stale` when it skipped work while unseen; `catch_up` runs once it is seen again."""

    def __init__(self, catch_up: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._catch_up = catch_up
        self._stale = False
        self._active = True

    def shown(self) -> bool:
        return self._active and self.isVisible()

    def set_active(self, on: bool) -> None:
        """Whether the technician can see the panel (a dock behind another tab is visible to Qt, not to them)."""
        self._active = bool(on)
        self._catch_up_if_stale()

    def showEvent(self, ev) -> None:  # noqa: N802
        super().showEvent(ev)
        self._catch_up_if_stale()

    def _catch_up_if_stale(self) -> None:
        if self.shown() and self._stale:
            self._catch_up()
