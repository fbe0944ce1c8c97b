"""Going where the work is: Ctrl+Right / Ctrl+Left to the next / previous unscored epoch (gaps skipped), and
Go → Go to epoch or time… (Ctrl+G)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from test_gui_support import gui_settings  # noqa: E402,F401,F811  (fixtures)

from sleepscope.io import Recording  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_shipped_model")


def _night(n=20):
    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.normal(0, 20, n * 3000), rng.normal(0, 20, n * 3000))
    gap = np.zeros(n, bool)
    gap[6:8] = True  # no signal recorded there: never to be scored
    return replace(rec, start_time=datetime(2024, 1, 1, 23, 50), gap_mask=gap)


def test_next_and_previous_unscored_epoch(qtbot, gui_settings, main_windows):
    w = main_windows(gui_settings)
    assert w.open_recording(_night())
    c = w.controller
    for epoch in (1, 2, 3, 4, 9):
        w.scoring.set_stage(epoch, "N2")
    c.go_to(1)
    qtbot.keyClick(w.surface, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert c.current == 5  # 2-4 scored
    qtbot.keyClick(w.surface, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert c.current == 8  # 6-7 a gap, 8 unscored
    qtbot.keyClick(w.surface, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert c.current == 10
    qtbot.keyClick(w.surface, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    assert c.current == 8
    qtbot.keyClick(w.surface, Qt.Key.Key_Right)  # control: without Ctrl, the next epoch, scored or not
    assert c.current == 9
    for epoch in range(20):
        if not w.recording.gap[epoch]:
            w.scoring.set_stage(epoch, "N2")
    qtbot.keyClick(w.surface, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert c.current == 9 and w.statusBar().currentMessage() == "Every epoch with signal is scored."


def test_go_to_an_epoch_or_a_clock_time_asks_again_with_why(qtbot, gui_settings, main_windows, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    w = main_windows(gui_settings)
    assert not w.act_go_to.isEnabled()  # nothing open
    assert w.open_recording(_night())
    assert w.act_go_to.isEnabled()
    answers, prompts = ["00:20:00", "12:00", "23:56"], []

    def answer(parent, title, prompt, text=""):
        prompts.append(prompt)
        return answers.pop(0), True

    monkeypatch.setattr(QInputDialog, "getText", answer)
    w.act_go_to.trigger()  # past the end of a ten-minute night, twice, then a time it holds
    assert w.controller.current == 12  # 23:56 is 6 minutes after 23:50
    assert "(23:50-00:00, such as 23:55)" in prompts[0] and "is not in it" not in prompts[0]
    assert prompts[1].startswith("The recording runs from 23:50:00 to 00:00:00: 00:20:00 is not in it.")
    assert not answers
    answers[:] = ["15"]
    w.act_go_to.trigger()
    assert w.controller.current == 14 and len(prompts) == 4
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("3", False))  # cancelled: stays
    w.act_go_to.trigger()
    assert w.controller.current == 14
