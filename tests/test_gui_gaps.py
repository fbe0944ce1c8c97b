"""EDF+D gaps in the GUI: shown as "no signal", never scored, and clock times after a gap stay right."""

from __future__ import annotations

from datetime import timedelta

import pytest

pytest.importorskip("pytestqt")

from test_edf_discontinuous import START, _night_with_gap  # noqa: E402
from test_gui_support import assert_no_leaks, gui_settings  # noqa: E402,F401

from sleepscope.gui.main_window import MainWindow  # noqa: E402
from sleepscope.io import open_recording  # noqa: E402

BEFORE, GAP, AFTER = 300, 600, 300
FIRST_GAP, FIRST_AFTER, N = BEFORE // 30, (BEFORE + GAP) // 30, (BEFORE + GAP + AFTER) // 30


@pytest.fixture(autouse=True)
def no_shipped_model(tmp_path_factory, monkeypatch):
    import sleepscope.paths

    empty = tmp_path_factory.mktemp("no_models")
    monkeypatch.setattr(sleepscope.paths, "repo_models_dir", lambda: empty)


@pytest.fixture
def gap_window(qtbot, gui_settings, tmp_path):
    path, *_ = _night_with_gap(tmp_path, before_s=BEFORE, gap_s=GAP, after_s=AFTER)
    w = MainWindow(settings=gui_settings, model_path=None, prescore_on_open=False)
    w.resize(1300, 820)
    w.show()
    w.activateWindow()
    assert w.open_recording(open_recording(path), scoring_path=tmp_path / "gap.sleepscope.h5")
    yield w
    assert_no_leaks([w])


def test_gap_shown_in_hypnogram_traces_and_header(qtbot, gap_window):
    w = gap_window
    assert w.hypnogram.gap_runs == [(FIRST_GAP, FIRST_AFTER)]
    # Before the gap: traces as usual.
    w.controller.go_to(2)
    assert w.trace.gap_spans() == []
    assert "no signal" not in w.status.header.text()
    # In the gap: a "no signal recorded" band over the whole window, and the header says so.
    w.controller.go_to(FIRST_GAP + 3)
    t0, t1 = w.trace.window_s()
    assert w.trace.gap_spans() == [(t0, t1)]
    assert "no signal recorded" in w.status.header.text()
    assert "gap" in w.status.label.text()
    # The last epoch before the gap: the band covers only the context epoch after it.
    w.controller.go_to(FIRST_GAP - 1)
    assert w.trace.gap_spans() == [(FIRST_GAP * 30.0, w.trace.window_s()[1])]
    # After the gap: the recording's own clock (the file's record time), in the header and on the trace axis.
    w.controller.go_to(FIRST_AFTER)
    after = START + timedelta(seconds=BEFORE + GAP)
    assert w.status.clock.text() == after.strftime("%H:%M:%S")
    assert after.strftime("%H:%M:%S") in w.status.header.text()
    assert w.trace._axis.tickStrings([FIRST_AFTER * 30.0], 1, 1)[0].startswith(after.strftime("%H:%M"))


def test_stage_keys_on_a_gap_epoch_score_nothing_and_say_why(qtbot, gap_window):
    from PySide6.QtCore import Qt

    w = gap_window
    messages = []
    w.controller.message.connect(messages.append)
    w.controller.go_to(FIRST_GAP + 2)
    qtbot.keyClick(w.surface, Qt.Key.Key_2)
    assert int(w.controller.scoring.labels[FIRST_GAP + 2]) == -1
    assert any("gap" in m for m in messages), messages
    # The control: the same key outside the gap scores the epoch.
    w.controller.go_to(FIRST_AFTER + 1)
    qtbot.keyClick(w.surface, Qt.Key.Key_2)
    assert int(w.controller.scoring.labels[FIRST_AFTER + 1]) == 2
