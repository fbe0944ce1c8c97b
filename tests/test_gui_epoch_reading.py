"""How the model read each epoch, in the window: artefact epochs have no stage (not W, the first column of their
equal probabilities), and epochs read otherwise than as recorded are marked, also when the night is reopened."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from test_gui_support import gui_settings, tiny_model  # noqa: E402,F401,F811  (fixtures)

pytestmark = pytest.mark.usefixtures("no_shipped_model")


def _night(path):
    """F4-M1 flat in epochs 4-6 (no backup EEG in the file: artefact epochs) and E1-M2 flat in 8-9 (the EEG is
    whole there: read from the EEG alone)."""
    import edfio

    rng = np.random.default_rng(0)
    chans = {k: rng.normal(0, 20, 14 * 3000) for k in ("EEG F4-M1", "EOG E1-M2")}
    chans["EEG F4-M1"][4 * 3000:7 * 3000] = 0.0
    chans["EOG E1-M2"][8 * 3000:10 * 3000] = 0.0
    edfio.Edf([edfio.EdfSignal(v, sampling_frequency=100, label=k, physical_range=(-500, 500),
                               physical_dimension="uV") for k, v in chans.items()],
              starttime=datetime(2024, 1, 1, 23).time()).write(path)
    return path


def test_artefact_epochs_have_no_stage_and_how_epochs_were_read_is_marked_and_kept(
        qtbot, tmp_path, gui_settings, main_windows, tiny_model, monkeypatch):
    from sleepscope.gui.second_opinion import SecondOpinion

    monkeypatch.setattr(SecondOpinion, "start", lambda self: False)
    path = _night(tmp_path / "night.edf")
    w = main_windows(gui_settings, model_path=tiny_model, prescore=True)
    with qtbot.waitSignal(w.prescoreDone, timeout=120_000):
        assert w.open_file(path)
    c = w.controller
    assert [c.model_at(i)[0] for i in range(4, 7)] == [-1] * 3  # the uniform rows' first column is W: not a stage
    assert all(c.model_at(i)[0] >= 0 for i in (3, 7, 8, 9))
    assert w.hypnogram.reading_runs == {"no stage": [(4, 7)], "read otherwise": [(8, 10)]}
    assert "3 epochs without a stage" in w.hypnogram._labels_items[1].toolTip()
    # the review queue names them apart from the epochs the model staged unsure
    c.go_to(0)
    qtbot.waitUntil(lambda: "no stage" in w.analysis.review.reasons_label.text(), timeout=10_000)
    reasons = c.attention_reasons()
    assert np.flatnonzero(reasons["no stage"]).tolist() == [4, 5, 6] and not reasons["unsure"][4:7].any()
    assert "3 the model gives no stage (its signal fails)" in w.analysis.review.reasons_label.text()

    c.go_to(5)
    assert "no stage: EEG flat (artefact)" in w.status.header.text() and "no stage" in w.status.model.text()
    qtbot.keyClick(w.surface, Qt.Key.Key_Return)  # Enter accepts no W there
    assert int(w.scoring.labels[5]) == -1 and c.current == 5
    assert "gives epoch 6 no stage" in w.statusBar().currentMessage()
    c.go_to(8)
    assert "read from the EEG alone (EOG flat)" in w.status.header.text()
    qtbot.keyClick(w.surface, Qt.Key.Key_Return)  # control: an epoch read from the EEG alone has a stage to accept
    assert int(w.scoring.labels[8]) == c.model_at(8)[0] >= 0 and c.current == 9
    c.go_to(2)
    assert "read from" not in w.status.header.text() and "no stage" not in w.status.header.text()
    assert w.scoring.latest_prediction().stages[4:7].tolist() == [-1] * 3  # exports and reports read it so

    w.close_recording()
    assert w.hypnogram.reading_runs == {"no stage": [], "read otherwise": []}
    with qtbot.waitSignal(w.openFinished, timeout=60_000):
        with qtbot.assertNotEmitted(w.prescoreDone, wait=500):  # reopened: the kept prediction, its reading with it
            assert w.open_file(path)
    assert w.hypnogram.reading_runs == {"no stage": [(4, 7)], "read otherwise": [(8, 10)]}
    text = w.model_notice.text()
    assert "3 epochs without a stage" in text and "2 epochs read from the EEG alone" in text
    c.go_to(4)
    assert "no stage: EEG flat (artefact)" in w.status.header.text()
