"""The night's chin-EMG tone under the spectrogram: REM's atonia dips where the night's REM is, a click jumps to
that epoch, the row goes with a recording that has no chin EMG, and a flat chin EMG says it shows no tone."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from test_gui_support import assert_no_leaks, gui_settings  # noqa: E402,F401  (fixtures)

from sleepscope.gui.main_window import MainWindow  # noqa: E402

N = 60
EMG = "EMG submental"


def night_with_emg(emg: str | None = "envelope"):
    """60 epochs of a real hypnogram (N1, N2, N3 and REM) with synthetic signals and, unless None, the chin EMG as
    Sleep-EDF records it (a 1-Hz envelope) or flat."""
    from sleepscope.data.synthetic import real_hypnogram, synth_night
    from sleepscope.io import Recording
    from sleepscope.io.recording import resample_to_target

    labels = np.asarray(real_hypnogram("SC4001E0")[340:340 + N])
    night = synth_night(labels, subject=0, seed=0)
    rec = Recording.from_arrays(night.signals["EEG Fpz-Cz"], night.signals["EOG horizontal"],
                                start_time=night.start_time)
    if emg is not None:
        envelope = np.asarray(night.aux[EMG][: N * 30], np.float32)
        if emg == "flat":
            envelope[:] = 2.0
        rec.channels[EMG] = resample_to_target(envelope, 1.0)
        rec.source_rates[EMG] = 1.0
    return rec, labels


def test_the_night_tone_dips_in_rem_and_is_missing_without_a_chin_emg():
    from sleepscope.model.chin_emg import night_tone

    rec, labels = night_with_emg()
    tone = night_tone(rec)
    assert tone.channel == EMG and not tone.reason and tone.usable.all()
    assert np.median(tone.tone[labels == 4]) < -1.5 < -0.5 < np.median(tone.tone[labels == 2])
    assert night_tone(night_with_emg(None)[0]) is None
    flat = night_tone(night_with_emg("flat")[0])
    assert flat.reason == "its tone does not change over the night" and not flat.usable.any()


@pytest.fixture
def window(qtbot, tmp_path, gui_settings):
    w = MainWindow(settings=gui_settings, model_path=None, prescore_on_open=False)
    w.resize(1400, 900)
    w.show()
    yield w
    assert_no_leaks([w])


def _open(qtbot, w, rec, tmp_path, name):
    assert w.open_recording(rec, scoring_path=tmp_path / f"{name}.sleepscope.h5")
    view = w.analysis.chin_tone
    qtbot.waitUntil(lambda: view.status not in ("", "computing"), timeout=30000)
    return view


def test_the_row_shows_the_atonia_and_a_click_jumps_there(qtbot, tmp_path, window):
    w = window
    rec, labels = night_with_emg()
    view = _open(qtbot, w, rec, tmp_path, "emg")
    assert view.status == "ready" and view.isVisible()
    xs, ys = view._line.getData()
    assert len(xs) == N + 1 and np.median(ys[labels == 4]) < -1.5 < -0.5 < np.median(ys[labels == 2])
    rem = int(np.flatnonzero(labels == 4)[3])
    vb = view.plot.getViewBox()
    pos = view._glw.mapFromScene(vb.mapViewToScene(QPointF(rem + 0.5, -1.0)))
    qtbot.mouseClick(view._glw.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert w.controller.current == rem and view.cursor_line.value() == pytest.approx(rem + 0.5)
    # zooming the hypnogram zooms the row with it (one time axis, the same pixels as the spectrum's and the
    # hypnogram's)
    w.hypnogram.zoom_hour()
    assert vb.viewRange()[0] == pytest.approx(w.hypnogram.x_range())
    assert w.analysis.spectrogram.plot.getViewBox().viewRange()[0] == pytest.approx(w.hypnogram.x_range())
    # View → Chin EMG tone hides and shows it
    w.analysis.act_chin_tone.setChecked(False)
    assert not view.isVisible()
    w.analysis.act_chin_tone.setChecked(True)
    assert view.isVisible()


def test_the_row_goes_without_a_chin_emg_and_says_when_it_shows_no_tone(qtbot, tmp_path, window):
    w = window
    view = _open(qtbot, w, night_with_emg(None)[0], tmp_path, "none")
    assert view.status == "none" and not view.isVisible()
    view = _open(qtbot, w, night_with_emg("flat")[0], tmp_path, "flat")
    assert view.status == "no tone" and view.isVisible()
    assert "does not change over the night" in view._label.toolTip()
    view = _open(qtbot, w, night_with_emg()[0], tmp_path, "again")
    assert view.status == "ready" and "quietest quarter" in view._label.toolTip()


def test_why_this_stage_says_the_epochs_chin_tone(qtbot, tmp_path, window):
    """The evidence panel reads the row's tone for the epoch in view: atonia on a REM epoch, not on an N2 one; said
    again once a channel is added; nothing for a recording without a chin EMG."""
    w = window
    rec, labels = night_with_emg()
    _open(qtbot, w, rec, tmp_path, "emg")
    w.analysis.evidence_dock.raise_()
    panel = w.analysis.evidence
    rem = int(np.flatnonzero((labels == 4) & (w.analysis.chin_tone.tone.tone <= -1))[0])
    n2 = int(np.flatnonzero((labels == 2) & (np.abs(w.analysis.chin_tone.tone.tone) < 1))[0])
    w.controller.go_to(rem)
    qtbot.waitUntil(lambda: panel.chin_label.isVisible(), timeout=5000)
    assert panel.chin_label.text().startswith("Chin EMG tone: low: REM's atonia")
    w.controller.go_to(n2)
    qtbot.waitUntil(lambda: "NREM sleep" in panel.chin_label.text(), timeout=5000)
    w.analysis.channels_added()
    assert panel.chin_label.isVisible() and "NREM sleep" in panel.chin_label.text()
    _open(qtbot, w, night_with_emg(None)[0], tmp_path, "none")
    w.controller.go_to(rem)
    assert not panel.chin_label.isVisible()
