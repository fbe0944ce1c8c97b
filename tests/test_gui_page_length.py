"""Browsing aids: page length 30 s / 60 s / 2 min / 5 min (scoring stays per epoch), the amplitude scale bar,
the hypnodensity's colour legend."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from test_gui_support import assert_no_leaks, gui_settings  # noqa: E402,F401  (fixtures)

from sleepscope.gui.main_window import MainWindow  # noqa: E402
from sleepscope.io import Recording  # noqa: E402
from sleepscope.stages import COLORS, SCORED  # noqa: E402

N = 42


@pytest.fixture
def window(qtbot, tmp_path, gui_settings):
    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.normal(0, 20, N * 3000), rng.normal(0, 20, N * 3000))
    w = MainWindow(settings=gui_settings, model_path=None, prescore_on_open=False)
    w.resize(1300, 850)
    w.show()
    assert w.open_recording(rec, scoring_path=tmp_path / "n.sleepscope.h5")
    yield w
    assert_no_leaks([w])


def test_two_minute_pages_and_scoring_stays_per_epoch(qtbot, window):
    w = window
    w.controller.go_to(5)
    assert w.trace.window_s() == (120.0, 210.0)  # one epoch with its neighbours: the 30-s default
    w.analysis.page_actions[120.0].trigger()  # View → Page length → 2 min
    assert w.trace.page_seconds == 120.0
    assert w.trace.window_s() == (120.0, 240.0)  # epochs 4-7: the page holding epoch 5
    qtbot.keyClick(w.surface, Qt.Key.Key_Right)  # to epoch 6: same page, the traces stay put
    assert w.controller.current == 6 and w.trace.window_s() == (120.0, 240.0)
    qtbot.keyClick(w.surface, Qt.Key.Key_2)  # scoring: one epoch, then the next (7, same page)
    assert w.scoring.labels[6] == 2 and (w.scoring.labels[[4, 5, 7]] == -1).all()
    qtbot.keyClick(w.surface, Qt.Key.Key_Right)  # to epoch 8: the next page
    assert w.trace.window_s() == (240.0, 360.0)
    w.analysis.page_actions[300.0].trigger()
    w.controller.go_to(N - 1)
    assert w.trace.window_s() == (1200.0, 1260.0)  # epochs 40-41: the last page is cut at the end
    w.analysis.page_actions[30.0].trigger()
    assert w.trace.window_s() == ((N - 2) * 30.0, N * 30.0)


def test_page_length_is_kept_for_the_next_session(qtbot, gui_settings):
    w = MainWindow(settings=gui_settings, model_path=None, prescore_on_open=False)
    w.analysis.page_actions[60.0].trigger()
    again = MainWindow(settings=gui_settings, model_path=None, prescore_on_open=False)
    assert again.trace.page_seconds == 60.0 and again.analysis.page_actions[60.0].isChecked()
    assert_no_leaks([w, again])


def test_scale_bar_follows_the_gain(qtbot, window):
    w = window
    tv = w.trace
    labels = tv._scale_labels
    assert set(labels) == set(tv.shown_channels)
    eeg = w.recording.eeg_name
    assert labels[eeg].toPlainText() == f"{tv.display(eeg).gain:g} µV"
    x, y = tv._scale.getData()
    assert len(x) == 2 * len(tv.shown_channels)
    assert np.allclose(y[1::2] - y[0::2], 1.0)  # one division tall: the label's µV
    tv.set_gain(eeg, 100.0)
    assert labels[eeg].toPlainText() == "100 µV"
    t0, t1 = tv.window_s()
    assert t0 < x[0] <= t1  # at the right edge of the page


def test_hypnodensity_has_a_colour_legend(qtbot, window):
    from sleepscope.gui.hypnogram_view import density_legend_html

    text = density_legend_html()
    for s in SCORED:
        assert COLORS[s] in text
    assert window.hypnogram._labels_items[0].text == text


@pytest.mark.parametrize("fs", [100.0, 256.0])
def test_page_filter_equals_scipys_filtfilt(fs):
    """The display filter's initial conditions are computed once per filter: same traces as sosfiltfilt."""
    import scipy.signal as sps

    from sleepscope.gui.trace_view import DisplayFilter, filter_sos, filter_zi, sosfiltfilt_cached

    rng = np.random.default_rng(1)
    for f in (DisplayFilter(0.3, 35.0, 0.0), DisplayFilter(0.3, 35.0, 50.0), DisplayFilter(10.0, 0.0, 0.0)):
        sos = filter_sos(f, fs)
        for n in (60, 3000, 11_000):
            x = rng.normal(size=n).cumsum()
            want = sps.sosfiltfilt(sos, x)
            got = sosfiltfilt_cached(sos, filter_zi(f, fs), x)
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * np.abs(want).max())
