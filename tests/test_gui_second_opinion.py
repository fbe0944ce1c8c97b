"""The second opinion in the window: YASA scores after our model, a hypnogram row, the header, the review queue;
and the window without yasa."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from test_gui_support import (  # noqa: E402,F401  (fixtures)
    gui_settings,
    open_and_wait,
    write_short_night,
)

from sleepscope.gui.workers import PreScoreResult  # noqa: E402

N = 60
YASA_TIMEOUT_MS = 180_000  # a shared 2-core machine; YASA itself takes seconds on a 30-min night


pytestmark = pytest.mark.usefixtures("no_shipped_model")


@pytest.fixture
def window(main_windows, gui_settings):
    return main_windows(gui_settings, size=(1400, 900))


def model_says_n2(w) -> None:
    """Our model's prediction arrives (confident N2 everywhere: no epoch is unsure), as from a pre-scoring job."""
    probs = np.full((N, 5), 0.025, np.float32)
    probs[:, 2] = 0.9
    w._on_job_finished(PreScoreResult(
        job_id=0, probs=probs, stages=probs.argmax(1).astype(np.int8), model_version="test-n2",
        model_path=Path("test-n2.safetensors"), card=None, fingerprint=w.recording.fingerprint(), seconds=0.0))


def visit_with_n(qtbot, w) -> list[int]:
    w.controller.go_to(0)
    seen = [0] if w.controller.attention_mask()[0] else []
    for _ in range(N):
        before = w.controller.current
        qtbot.keyClick(w.surface, Qt.Key.Key_N)
        if w.controller.current == before:
            break
        seen.append(w.controller.current)
    return seen


def test_second_opinion_row_header_and_review_queue(qtbot, tmp_path, window, errors):
    pytest.importorskip("yasa")
    from sleepscope.scorers import SECOND_OPINION_SET
    from sleepscope.gui.second_opinion import SET_NAME

    assert SET_NAME == SECOND_OPINION_SET  # the GUI looks where `prescore --second-opinion` writes
    psg, _ = write_short_night(tmp_path, n=N)
    w = window
    assert open_and_wait(qtbot, w, psg)
    assert not w.hypnogram.has_second_opinion
    # without a second opinion nothing is doubtful: the model is confident everywhere
    model_says_n2(w)
    assert not w.controller.attention_mask().any()
    with qtbot.waitSignal(w.second_opinion.ready, timeout=YASA_TIMEOUT_MS):
        assert w.second_opinion.busy  # started by our model's prediction
    assert not errors, errors
    yasa = w.scoring.scorer_sets[SET_NAME]
    assert yasa.source_file.startswith("yasa-") and yasa.labels.shape == (N,)
    assert w.hypnogram.has_second_opinion
    disagree = np.flatnonzero(yasa.labels != 2)
    assert 0 < disagree.size, "YASA agreed everywhere: the test would prove nothing"
    # N visits exactly the epochs where the two disagree
    assert visit_with_n(qtbot, w) == list(disagree)
    # the header shows both opinions
    w.controller.go_to(int(disagree[0]))
    header = w.header.text()
    assert "Model" in header and "YASA" in header and "disagrees" in header
    # the review queue counts them
    w.analysis.review.refresh()
    assert w.analysis.review.coverage.doubtful == disagree.size
    assert w.analysis.review.reasons_label.text() == f"Why: {disagree.size} the second opinion differs"
    w.grab().save(str(tmp_path / "second-opinion.png"))
    # reopening shows the stored opinion at once, without scoring again
    w.close_recording()
    assert not w.hypnogram.has_second_opinion
    assert open_and_wait(qtbot, w, psg)
    assert w.hypnogram.has_second_opinion and not w.second_opinion.busy
    assert list(w.controller.second_opinion) == list(yasa.labels)


def test_window_works_without_yasa(qtbot, tmp_path, window, errors, monkeypatch):
    # yasa hidden: its import fails and find_spec says it is not there
    monkeypatch.setitem(sys.modules, "yasa", None)
    psg, _ = write_short_night(tmp_path, n=N)
    w = window
    assert open_and_wait(qtbot, w, psg)
    model_says_n2(w)
    qtbot.waitUntil(lambda: w.second_opinion.unavailable, timeout=YASA_TIMEOUT_MS)
    assert not w.hypnogram.has_second_opinion and "YASA" not in w.scoring.scorer_sets
    assert "YASA" not in w.header.text()
    # scoring and the review queue work as before
    qtbot.keyClick(w.surface, Qt.Key.Key_2)
    assert w.scoring.labels[0] == 2
    assert visit_with_n(qtbot, w) == []
    assert not errors and not w.second_opinion.last_error


def test_closing_drops_a_running_second_opinion_and_reopening_scores_again(qtbot, tmp_path, window, errors):
    pytest.importorskip("yasa")
    psg, _ = write_short_night(tmp_path, n=N)
    w = window
    assert open_and_wait(qtbot, w, psg)
    model_says_n2(w)
    assert w.second_opinion.busy
    path = w.scoring.path
    w.close_recording()  # YASA still working: its answer must not land anywhere
    assert not w.second_opinion.busy
    assert w.second_opinion.wait(YASA_TIMEOUT_MS)
    qtbot.wait(50)
    from sleepscope.scoring.scoring_file import ScoringFile

    assert "YASA" not in ScoringFile.read(path).scorer_sets
    # the stored prediction is there, the opinion is not: opening again asks YASA again
    with qtbot.waitSignal(w.second_opinion.ready, timeout=YASA_TIMEOUT_MS):
        assert open_and_wait(qtbot, w, psg)
    assert w.hypnogram.has_second_opinion and "YASA" in w.scoring.scorer_sets
    assert not errors


def test_nights_opened_in_quick_succession_run_one_yasa_at_a_time(qtbot, tmp_path, window, errors, monkeypatch,
                                                                    request):
    """YASA cannot stop inside a night: the next night's opinion waits for the dropped one instead of running
    beside it (every night opened while YASA worked used to add a thread holding its night)."""
    pytest.importorskip("yasa")
    import threading

    from sleepscope.scorers.yasa_scorer import YasaScorer
    from sleepscope.scoring.scoring_file import ScoringFile

    gate = threading.Event()  # holds the first night's YASA inside its work, as a long night would
    request.addfinalizer(gate.set)
    working: list[str] = []
    most = [0]
    real = YasaScorer.score

    def held(self, recording, progress=None, cancel=None):
        working.append(str(recording.path))
        most[0] = max(most[0], len(working))
        try:
            gate.wait(120)
            return real(self, recording, progress, cancel)
        finally:
            working.remove(str(recording.path))

    monkeypatch.setattr(YasaScorer, "score", held)
    first, _ = write_short_night(tmp_path / "first", n=N)
    second, _ = write_short_night(tmp_path / "second", n=N, seed=1)
    w = window
    assert open_and_wait(qtbot, w, first)
    first_scoring = w.scoring.path
    model_says_n2(w)
    qtbot.waitUntil(lambda: len(working) == 1, timeout=YASA_TIMEOUT_MS)
    assert open_and_wait(qtbot, w, second)
    model_says_n2(w)
    assert w.second_opinion.busy  # waiting for the first night's YASA to end
    qtbot.wait(300)
    assert working == [str(first)]
    with qtbot.waitSignal(w.second_opinion.ready, timeout=YASA_TIMEOUT_MS):
        gate.set()
    assert most[0] == 1, "two YASA jobs ran at once"
    assert w.scoring.path != first_scoring and "YASA" in w.scoring.scorer_sets
    assert w.hypnogram.has_second_opinion and not w.second_opinion.busy
    assert "YASA" not in ScoringFile.read(first_scoring).scorer_sets  # the dropped answer landed nowhere
    assert not errors


@pytest.mark.parametrize("limit", [0.25, 1.0])
def test_a_second_opinion_that_disagrees_too_much_turns_the_banner_red(qtbot, tmp_path, window, errors, limit):
    """Limit 0.25: YASA disagrees with 'N2 all night' on more epochs than that; 1.0 is the control."""
    pytest.importorskip("yasa")
    from types import SimpleNamespace

    from sleepscope.model.infer import Prediction

    psg, _ = write_short_night(tmp_path, n=N)
    w = window
    assert open_and_wait(qtbot, w, psg)
    probs = np.full((N, 5), 0.025, np.float32)
    probs[:, 2] = 0.9
    card = SimpleNamespace(familiarity={"second_opinion": {"scorer": "YASA test", "night_limit": limit}})
    pred = Prediction(probs=probs, model_version="test-n2", stages=probs.argmax(1).astype(np.int8))
    with qtbot.waitSignal(w.second_opinion.ready, timeout=YASA_TIMEOUT_MS):
        w._on_job_finished(PreScoreResult(
            job_id=0, probs=probs, stages=pred.stages, model_version="test-n2", model_path=Path("m.safetensors"),
            card=card, fingerprint=w.recording.fingerprint(), seconds=0.0, prediction=pred))
        assert not w.model_notice.unfamiliar  # before the second opinion: nothing to say
    assert not errors, errors
    share = float(np.mean(w.controller.second_opinion != 2))
    assert 0.25 < share < 1.0, "the test needs YASA to disagree on more than a quarter of the epochs"
    if limit < share:
        assert w.model_notice.isVisible() and w.model_notice.unfamiliar
        assert "the second opinion, YASA test, disagrees with the model" in w.model_notice.text()
        w.grab().save(str(tmp_path / "second-opinion-unfamiliar.png"))
    else:
        assert not w.model_notice.unfamiliar
