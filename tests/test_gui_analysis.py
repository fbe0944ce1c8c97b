"""The analysis parts of the window, used as a technician uses them: click the spectrogram to jump, score and
watch the statistics follow, accept the confident runs and take them back with Ctrl+Z, read why an epoch is what
it is, write the night's report from the File menu."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from test_gui_support import assert_no_leaks, gui_settings  # noqa: E402,F401  (fixtures)

from sleepscope.gui.main_window import MainWindow  # noqa: E402

N = 60


@pytest.fixture
def window(qtbot, tmp_path, gui_settings):
    from sleepscope.data.synthetic import real_hypnogram, synth_night
    from sleepscope.io import Recording

    labels = np.asarray(real_hypnogram("SC4001E0")[340:340 + N])  # N1, N2, N3 and REM
    night = synth_night(labels, subject=0, seed=0)
    rec = Recording.from_arrays(night.signals["EEG Fpz-Cz"], night.signals["EOG horizontal"],
                                start_time=night.start_time)
    w = MainWindow(settings=gui_settings, model_path=None, prescore_on_open=False)
    w.resize(1400, 900)
    w.show()
    assert w.open_recording(rec, scoring_path=tmp_path / "night.sleepscope.h5")
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5) * 0.2, size=N).astype(np.float32)
    ok = labels >= 0
    probs[ok] = 0.25 * probs[ok] + 0.75 * np.eye(5, dtype=np.float32)[labels[ok]]
    probs[[20, 21, 40]] = 0.2  # the model is unsure here
    w.scoring.add_prediction("m1", probs)
    w.controller.set_prediction(probs)
    yield w, labels, probs
    assert_no_leaks([w])


def test_click_on_the_spectrogram_jumps_to_that_epoch(qtbot, window):
    w, _, _ = window
    view = w.analysis.spectrogram
    qtbot.waitUntil(lambda: view.status == "ready", timeout=30000)
    assert view.isVisible() and view.spectrogram.n_epochs == N
    vb = view.plot.getViewBox()
    pos = view._glw.mapFromScene(vb.mapViewToScene(QPointF(37.5, 10.0)))
    qtbot.mouseClick(view._glw.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert w.controller.current == 37 and w.trace.epoch == 37
    assert view.cursor_line.value() == pytest.approx(37.5)
    # the spectrogram follows the hypnogram's zoom (one time axis)
    w.hypnogram.zoom_hour()
    assert view.plot.getViewBox().viewRange()[0] == pytest.approx(w.hypnogram.x_range())


def test_scoring_a_key_updates_the_statistics_panel(qtbot, window):
    w, _, _ = window
    w.analysis.stats_dock.raise_()
    panel = w.analysis.stats
    qtbot.waitUntil(panel.isVisible, timeout=2000)
    panel.refresh()
    assert panel.stats.tst_min == 0
    w.controller.go_to(10)
    for _ in range(4):
        qtbot.keyClick(w.surface, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: panel.stats.tst_min == 2.0, timeout=3000)  # four N2 epochs of 30 s
    assert panel.stats.stage_min["N2"] == 2.0
    assert "4 of 60 epochs scored" in panel.stats_label.text()
    assert panel.agreement is not None and panel.agreement.n_epochs == 4


def test_bulk_accept_then_ctrl_z(qtbot, window):
    w, labels, probs = window
    w.analysis.stats_dock.raise_()
    review = w.analysis.review
    qtbot.waitUntil(review.isVisible, timeout=2000)
    review.refresh()
    assert review.coverage.doubtful >= 3
    todo = review.candidates()
    assert todo.size > 0 and not set(todo.tolist()) & {20, 21, 40}
    qtbot.mouseClick(review.accept_button, Qt.MouseButton.LeftButton)
    model = probs.argmax(axis=1)
    assert np.array_equal(w.scoring.labels[todo], model[todo])
    assert (w.scoring.labels[[20, 21, 40]] == -1).all()
    # the hypnogram shows them at once, and one Ctrl+Z takes the whole bulk accept back
    qtbot.keyClick(w.surface, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (w.scoring.labels == -1).all()
    qtbot.waitUntil(lambda: review.accept_button.isEnabled(), timeout=3000)


def test_why_this_stage_shows_evidence_and_marks_events(qtbot, window):
    w, labels, probs = window
    w.analysis.evidence_dock.raise_()
    panel = w.analysis.evidence
    qtbot.waitUntil(panel.isVisible, timeout=2000)
    n2 = int(np.flatnonzero(labels == 2)[5])
    with qtbot.waitSignal(panel.evidenceReady, timeout=60000) as sig:
        w.controller.go_to(n2)
    ev = sig.args[0]
    assert ev.epoch == n2
    assert panel.probs.values == pytest.approx(list(probs[n2].astype(float)))
    on_traces = [e for e in ev.events]
    assert w.analysis.overlay.n_shown == len(on_traces)
    panel.show_events.setChecked(False)  # the technician hides the marks
    assert w.analysis.overlay.n_shown == 0
    panel.show_events.setChecked(True)
    w.controller.go_to(n2 + 1)  # another page: the old marks go at once
    assert w.analysis.overlay.n_shown == 0


def test_file_report_writes_the_nights_report(qtbot, window, tmp_path):
    w, labels, _ = window
    act = w.analysis.act_report
    file_menu = [a.menu() for a in w.menuBar().actions() if a.text().replace("&", "") == "File"][0]
    assert act in file_menu.actions() and act.isEnabled()
    w.scoring.set_stages(np.arange(10), np.where(labels[:10] >= 0, labels[:10], 0))
    out = w.analysis.write_report(tmp_path / "night-report.html")
    text = out.read_text(encoding="utf-8")
    assert "Sleep scoring report" in text and "10 of 60 epochs are scored" in text
    w.close_recording()
    assert not act.isEnabled()


def test_hidden_why_this_stage_costs_nothing_and_catches_up_when_shown(qtbot, window):
    w, labels, _ = window
    panel = w.analysis.evidence
    w.dock.raise_()  # the Display dock in front: Why this stage is hidden
    qtbot.waitUntil(lambda: not panel.shown(), timeout=2000)
    for e in (3, 4, 5):
        w.controller.go_to(e)
    qtbot.wait(400)
    assert panel.jobs.job is None and panel.evidence is None and panel.epoch == 5
    with qtbot.waitSignal(panel.evidenceReady, timeout=60000) as sig:
        w.analysis.evidence_dock.raise_()
    assert sig.args[0].epoch == 5


def test_sign_off_from_the_review_dock(qtbot, window, monkeypatch, tmp_path):
    import sleepscope.gui.dialogs as dialogs

    w, labels, _ = window
    asked = []
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda parent, title, q: asked.append(q) or True)
    w.scoring.scorer = "ann"
    w.analysis.stats_dock.raise_()
    review = w.analysis.review
    qtbot.waitUntil(review.isVisible, timeout=2000)
    assert review.sign_off_label.text() == "Not signed off."
    qtbot.mouseClick(review.sign_off_button, Qt.MouseButton.LeftButton)
    assert asked and "as ann" in asked[0] and "0 of 60 epochs are scored" in asked[0]
    assert w.scoring.signed_off.scorer == "ann"
    assert review.sign_off_label.text().startswith("Signed off by ann")
    w.controller.go_to(0)
    qtbot.keyClick(w.surface, Qt.Key.Key_2)  # a change after the sign-off is shown
    qtbot.waitUntil(lambda: "1 label change(s) since" in review.sign_off_label.text(), timeout=3000)
    text = w.analysis.write_report(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "ann, " in text and "after the sign-off" in text
