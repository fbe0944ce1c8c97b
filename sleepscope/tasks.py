"""Progress reporting and cancellation shared by every long task.

The CLI drives these with tqdm, the GUI with a progress bar; the task code is
the same either way.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

#: progress(done, total, message): called from the task's thread.
Progress = Callable[[int, int, str], None]


class Cancelled(Exception):
    """Raised inside a task when its CancelToken was cancelled."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def report(progress: Optional[Progress], done: int, total: int, message: str = "") -> None:
    if progress is not None:
        progress(done, total, message)


def check(cancel: Optional[CancelToken]) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()


class TqdmProgress:
    """A Progress for the CLI: one tqdm bar, re-labelled as the message changes."""

    def __init__(self, desc: str = "", disable: bool = False) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=0, desc=desc, disable=disable, dynamic_ncols=True)

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if self._bar.total != total:
            self._bar.total = total
        if message:
            self._bar.set_description_str(message, refresh=False)
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> "TqdmProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
