"""The statistics and agreement panel: AASM statistics of the scoring as it stands, any two label sets compared."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from sleepscope.gui.stats_panel import StatsPanel  # noqa: E402
from sleepscope.io import Recording  # noqa: E402
from sleepscope.scoring.agreement import agreement  # noqa: E402
from sleepscope.scoring.scoring_file import ScoringFile  # noqa: E402
from sleepscope.scoring.stats import sleep_statistics  # noqa: E402

N = 30
TRUTH = np.array([0] * 4 + [1] * 2 + [2] * 10 + [3] * 6 + [4] * 6 + [0] * 2)


@pytest.fixture
def scoring(predicted_scoring):
    model = TRUTH.copy()
    model[6:9] = 1  # three N2 epochs the model calls N1
    sf = predicted_scoring(model)
    sf.add_scorer_labels("second", TRUTH)
    return sf, model


@pytest.fixture
def panel(qtbot):
    p = StatsPanel()
    qtbot.addWidget(p)
    p.resize(320, 700)
    p.show()
    return p


def test_statistics_follow_the_scoring_as_it_changes(qtbot, panel, scoring):
    sf, _ = scoring
    panel.set_scoring(sf)
    assert panel.stats.tst_min == 0 and "0 of 30 epochs scored" in panel.stats_label.text()
    sf.set_stages(np.arange(10), TRUTH[:10])
    panel.schedule_refresh()
    qtbot.waitUntil(lambda: panel.stats.tst_min == 3.0, timeout=2000)  # 6 sleep epochs of 30 s
    assert panel.stats == sleep_statistics(np.where(np.arange(N) < 10, TRUTH, -1), arousals=[])
    assert "10 of 30 epochs scored: figures of a partly scored night" in panel.stats_label.text()


def test_any_two_label_sets_compared(qtbot, panel, scoring):
    sf, model = scoring
    sf.set_stages(np.arange(N), TRUTH)
    panel.set_scoring(sf)
    names = [panel.reference.itemText(i) for i in range(panel.reference.count())]
    assert names == ["Technician", "Model m1", "Scorer second"]
    # default: the technician against the newest model
    assert (panel.reference.currentText(), panel.other.currentText()) == ("Technician", "Model m1")
    expected = agreement(TRUTH, model)
    assert panel.agreement.kappa == pytest.approx(expected.kappa)
    assert panel.agreement.confusion[2, 1] == 3
    assert f"κ {expected.kappa:.2f}" in panel.agreement_label.text()
    panel.other.setCurrentText("Scorer second")  # the technician picks another set with the mouse
    assert panel.agreement.kappa == pytest.approx(1.0)
    panel.choose("Model m1", "Scorer second")
    assert panel.agreement.confusion[1, 2] == 3  # rows: the model now plays the reference


def test_accepted_suggestions_are_told_apart_from_the_technicians_own(qtbot, panel, scoring):
    """Epochs the technician accepted from the model agree with it by construction: the panel counts them and
    gives the agreement on the epochs scored apart from it (κ stayed high however much was accepted)."""
    sf, model = scoring
    sf.accept_prediction(range(0, 6))  # W and N1, as the model says
    sf.set_stages(np.arange(6, N), TRUTH[6:])  # typed: three N2 the model called N1
    panel.set_scoring(sf)
    text = panel.agreement_label.text()
    apart = agreement(TRUTH[6:], model[6:])
    assert "6 of them the technician took unchanged" in text and f"on the other 24: <b>κ {apart.kappa:.2f}" in text
    panel.other.setCurrentText("Scorer second")  # nothing taken from it: no such line
    assert "took unchanged" not in panel.agreement_label.text()


def test_an_unscored_night_compares_the_labs_scoring_with_the_model(qtbot, panel, predicted_scoring):
    """Before the technician scores, the lab's own scoring of the night (its hypnogram, here 'lab.xml') is what the
    model is measured against; YASA's stages, listed first, never play that part. (A scored night compares the
    technician: test_any_two_label_sets_compared.)"""
    model = TRUTH.copy()
    model[6:9] = 1
    sf = predicted_scoring(model)
    sf.add_scorer_labels("YASA", np.roll(TRUTH, 3))
    sf.add_scorer_labels("lab.xml", TRUTH)
    panel.set_scoring(sf)
    assert (panel.reference.currentText(), panel.other.currentText()) == ("Scorer lab.xml", "Model m1")
    assert panel.agreement.kappa == pytest.approx(agreement(TRUTH, model).kappa)


def test_hidden_panel_waits_until_shown(qtbot, panel, scoring):
    sf, _ = scoring
    panel.set_scoring(sf)
    panel.hide()
    sf.set_stages(np.arange(N), TRUTH)
    panel.schedule_refresh()
    qtbot.wait(250)
    assert panel.stats.tst_min == 0  # no work while nobody looks
    panel.show()
    assert panel.stats.tst_min == pytest.approx(24 * 0.5)


def test_nothing_to_compare_says_so(qtbot, panel, tmp_path):
    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.normal(size=N * 3000), rng.normal(size=N * 3000))
    with ScoringFile.open(rec, tmp_path / "x.sleepscope.h5") as sf:
        panel.set_scoring(sf)
        assert panel.agreement is None and "Nothing to compare" in panel.agreement_label.text()
    panel.set_scoring(None)
    assert panel.stats is None and "No recording" in panel.stats_label.text()
