"""Review workflow: coverage of the doubtful epochs, and bulk acceptance of the model's confident runs (undoable)."""

from __future__ import annotations

import numpy as np
import pytest

from sleepscope.scoring.review import confident_runs, review_coverage


def test_confident_runs_skip_doubtful_short_and_scored_epochs():
    stages = np.array([2, 2, 2, 2, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4])
    doubtful = np.zeros(14, bool)
    doubtful[4] = True          # splits the N2 run: 0-3 (4 long) and 5-6 (2 long, too short)
    labels = np.full(14, -1)
    labels[12] = 0              # someone scored epoch 12: the REM run 11-13 loses it and is too short
    got = confident_runs(stages, doubtful, labels, min_run=3)
    assert got.tolist() == [0, 1, 2, 3, 7, 8, 9, 10]
    assert confident_runs(stages, doubtful, labels, min_run=2).tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10]


def test_model_without_a_stage_is_never_accepted():
    stages = np.array([2, 2, 2, -1, -1, -1])
    got = confident_runs(stages, np.zeros(6, bool), np.full(6, -1), min_run=3)
    assert got.tolist() == [0, 1, 2]


def test_coverage_counts_reviewed_doubtful_epochs_only():
    doubtful = np.array([1, 1, 0, 1, 0], bool)
    reviewed = np.array([1, 0, 1, 1, 0], bool)
    cov = review_coverage(doubtful, reviewed)
    assert (cov.doubtful, cov.reviewed) == (3, 2)
    assert cov.text() == "3 doubtful epochs, 2 reviewed"


# -- the panel, driven as a technician does ---------------------------------

pytest.importorskip("pytestqt")

N = 30


@pytest.fixture
def scoring(predicted_scoring):
    stages = np.array([0] * 5 + [2] * 10 + [3] * 10 + [4] * 5)
    return predicted_scoring(stages, unsure=[7, 20]), stages  # two epochs the model is unsure about


def test_bulk_accept_then_undo(qtbot, scoring):
    from PySide6.QtCore import Qt

    from sleepscope.gui.review_panel import ReviewPanel
    from sleepscope.gui.scoring_controller import ScoringController

    sf, stages = scoring
    ctl = ScoringController()
    ctl.attach(sf)
    sf.set_stage(0, 1)  # the technician already scored epoch 0 (N1, against the model)
    ctl.labelsChanged.emit([0])
    panel = ReviewPanel(ctl)
    qtbot.addWidget(panel)
    panel.show()
    panel.refresh()
    # doubtful: the two unsure epochs and the disagreement at epoch 0
    assert panel.coverage_label.text() == "3 doubtful epochs, 1 reviewed"
    assert panel.reasons_label.text() == "Why: 2 the model is unsure · 1 your label differs"
    # epochs 5-6 lie in a run of two between the start of N2 and the unsure epoch 7: left for review
    expected = [e for e in range(1, N) if e not in (5, 6, 7, 20)]
    assert panel.candidates().tolist() == expected
    with qtbot.waitSignal(ctl.labelsChanged, timeout=2000):
        qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    labels = sf.labels
    assert labels[0] == 1 and (labels[[5, 6, 7, 20]] == -1).all()
    assert np.array_equal(labels[expected], stages[expected])
    assert set(sf.sources[expected]) == {"model"}
    assert not panel.accept_button.isEnabled()
    # one edit: one undo takes the whole bulk accept back, the technician's own label stays
    assert ctl.undo()
    labels = sf.labels
    assert labels[0] == 1 and (labels[1:] == -1).all()
    qtbot.waitUntil(lambda: panel.accept_button.isEnabled(), timeout=2000)


def test_the_queue_says_what_fills_it_when_a_second_opinion_arrives(qtbot, scoring):
    from sleepscope.gui.review_panel import ReviewPanel
    from sleepscope.gui.scoring_controller import ScoringController

    sf, stages = scoring
    ctl = ScoringController()
    ctl.attach(sf)
    panel = ReviewPanel(ctl)
    qtbot.addWidget(panel)
    panel.refresh()
    assert panel.reasons_label.text() == "Why: 2 the model is unsure"
    second = ctl.model_stages.copy()
    second[[7, 10, 11, 12]] = 1  # differs on one unsure epoch and three sure ones
    ctl.set_second_opinion(second)
    panel.refresh()
    assert panel.coverage_label.text() == "5 doubtful epochs, 0 reviewed"  # 7 counted once
    assert panel.reasons_label.text() == "Why: 2 the model is unsure · 4 the second opinion differs"
    ctl.set_second_opinion(None)  # control: without it the queue is the unsure epochs again
    panel.refresh()
    assert panel.coverage_label.text() == "2 doubtful epochs, 0 reviewed"
