"""Trace and hypnogram views fed with plain arrays (no recording file, no model)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from sleepscope.gui.hypnogram_view import HypnogramView, hypnodensity_image, stage_runs  # noqa: E402
from sleepscope.gui.trace_view import (  # noqa: E402
    DisplayFilter,
    TraceView,
    default_display,
    filtered_window,
    minmax_decimate,
)
from sleepscope.stages import COLORS, Stage  # noqa: E402

START = datetime(2020, 3, 1, 22, 30, 0)


def test_minmax_decimation_keeps_peaks_and_time_order():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(30000)
    y[12345] = 50.0
    y[20000] = -40.0
    x, d = minmax_decimate(10.0, 0.01, y, 500)
    assert len(d) <= 2 * 500 + 60
    assert d.max() == 50.0 and d.min() == -40.0
    assert np.all(np.diff(x) >= 0)
    assert x[np.argmax(d)] == pytest.approx(10.0 + 0.01 * 12345)
    # Short signals pass through untouched.
    x2, d2 = minmax_decimate(0.0, 0.01, y[:100], 500)
    assert np.array_equal(d2, y[:100]) and len(x2) == 100


def test_display_filters_act_on_the_window_only():
    fs = 100.0
    t = np.arange(0, 120, 1 / fs)
    slow = 40 * np.sin(2 * np.pi * 1.0 * t)
    hum = 20 * np.sin(2 * np.pi * 50 * t / 2)  # 25 Hz: below Nyquist, removed by a 20-Hz low-pass
    drift = 200 * np.sin(2 * np.pi * 0.02 * t)
    x = (slow + hum + drift).astype(np.float32)
    a, b = 3000, 6000
    out = filtered_window(x, a, b, fs, DisplayFilter(highpass_hz=0.3, lowpass_hz=20.0))
    assert out.shape == (b - a,)
    # The 1-Hz wave survives, the drift and the 25-Hz component do not.
    assert np.allclose(out, slow[a:b], atol=6.0)
    assert np.array_equal(filtered_window(x, a, b, fs, DisplayFilter()), x[a:b].astype(np.float64))
    # The source array is untouched (display-only).
    assert np.array_equal(x, (slow + hum + drift).astype(np.float32))
    notched = filtered_window(x, a, b, fs, DisplayFilter(notch_hz=25.0))
    assert np.abs(notched - (slow + drift)[a:b]).max() < 8.0
    assert np.abs(x[a:b] - (slow + drift)[a:b]).max() > 15.0


def _trace(qtbot, n_epochs=20, context=True):
    view = TraceView()
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    rng = np.random.default_rng(1)
    n = n_epochs * 3000
    ch = {"EEG Fpz-Cz": rng.standard_normal(n).astype(np.float32) * 20,
          "EOG horizontal": rng.standard_normal(n).astype(np.float32) * 30,
          "EMG submental": rng.standard_normal(n).astype(np.float32) * 5}
    displays = {"EEG Fpz-Cz": default_display("EEG Fpz-Cz", "eeg"),
                "EOG horizontal": default_display("EOG horizontal", "eog")}
    view.set_context(context)
    view.set_recording(ch, 100.0, START, ["EEG Fpz-Cz", "EOG horizontal"], displays)
    return view, ch


def test_trace_view_pages_epochs_with_context_and_gain(qtbot):
    view, ch = _trace(qtbot)
    view.set_epoch(5)
    assert view.window_s() == (120.0, 210.0)
    (x0, x1), _ = view._plot.getPlotItem().getViewBox().viewRange()
    assert (x0, x1) == pytest.approx((120.0, 210.0))
    view.set_context(False)
    assert view.window_s() == (150.0, 180.0)
    # The EEG curve is the raw window scaled by the gain (µV/div) around lane 0.
    view.set_filter(DisplayFilter())
    xs, ys = view._curves["EEG Fpz-Cz"].getData()
    assert xs[0] == pytest.approx(150.0)
    raw = ch["EEG Fpz-Cz"][15000:18000]
    assert ys.max() == pytest.approx(raw.max() / view.display("EEG Fpz-Cz").gain, rel=1e-5)
    view.set_gain("EEG Fpz-Cz", 37.5)
    _, ys2 = view._curves["EEG Fpz-Cz"].getData()
    assert ys2.max() == pytest.approx(raw.max() / 37.5, rel=1e-5)
    # Reference lines at ±37.5 µV for the EEG only (2 lines = 4 points): ±1 div at 37.5 µV/div.
    rx, ry = view._refs.getData()
    assert len(ry) == 4 and sorted(set(np.round(ry, 4))) == pytest.approx([-1.0, 1.0])
    # Grid: one line per second across the epoch.
    lines = np.concatenate([c.getData()[0] for c in (view._grid, view._grid5, view._epoch_lines)])
    assert np.array_equal(np.unique(lines), np.arange(150.0, 181.0))
    # The last epoch clamps; a third channel can be added and removed.
    view.set_epoch(10_000)
    assert view.epoch == 19
    view.add_channel("EMG submental")
    assert view.shown_channels[-1] == "EMG submental"
    view.remove_channel("EMG submental")
    assert "EMG submental" not in view.shown_channels


def test_trace_view_clock_axis_reads_clock_time(qtbot):
    view, _ = _trace(qtbot)
    labels = view._axis.tickStrings([0.0, 3600.0 + 5], 1, 5)
    assert labels == ["22:30:00", "23:30:05"]


def test_hypnodensity_and_runs():
    probs = np.array([[1, 0, 0, 0, 0], [0, 0, 0.5, 0.5, 0]], dtype=np.float32)
    img = hypnodensity_image(probs, rows=4)
    assert img.shape == (2, 4, 3)
    w = QColorTuple(COLORS[Stage.W])
    assert all(tuple(px) == w for px in img[0])
    # N3 is stacked at the bottom, N2 above it.
    assert tuple(img[1, 0]) == QColorTuple(COLORS[Stage.N3])
    assert tuple(img[1, 3]) == QColorTuple(COLORS[Stage.N2])
    s, e, st = stage_runs(np.array([0, 0, 2, 2, 2, -1, 4]))
    assert s.tolist() == [0, 2, 5, 6] and e.tolist() == [2, 5, 6, 7] and st.tolist() == [0, 2, -1, 4]


def QColorTuple(hex_color):  # noqa: N802
    h = hex_color.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


def test_hypnogram_cursor_zoom_and_click(qtbot):
    view = HypnogramView()
    qtbot.addWidget(view)
    view.resize(1000, 300)
    view.show()
    qtbot.waitExposed(view)
    n = 960
    view.set_night(n, START)
    rng = np.random.default_rng(0)
    view.set_probabilities(rng.dirichlet(np.ones(5), n).astype(np.float32))
    labels = np.full(n, -1, np.int8)
    labels[:100] = 2
    view.set_labels(labels)
    xs, ys = view._rows["technician"].bars[Stage.N2].getData()
    assert xs.tolist() == [0.0, 100.0]
    view.set_cursor(700)
    view.zoom_hour()
    lo, hi = view.x_range()
    assert hi - lo == pytest.approx(120) and lo <= 700.5 <= hi
    # Moving the cursor out of the zoomed hour pans to keep it visible.
    view.set_cursor(100)
    lo, hi = view.x_range()
    assert lo <= 100.5 <= hi and hi - lo == pytest.approx(120)
    view.whole_night()
    assert view.x_range() == pytest.approx((0, n))
    # A click at the x of epoch 480 picks it.
    plot = view._plots[2]
    scene_pt = plot.getViewBox().mapViewToScene(QPointF(480.5, 2.0))
    widget_pt = view._glw.mapFromScene(scene_pt)
    with qtbot.waitSignal(view.epochPicked, timeout=2000) as sig:
        QTest.mouseClick(view._glw.viewport(), Qt.MouseButton.LeftButton, pos=widget_pt)
    assert abs(sig.args[0] - 480) <= 2
    view.set_reference(labels)
    assert view.has_reference and view._plots[3].isVisible()


def test_a_hidden_row_leaves_no_empty_band(qtbot):
    """Without a reference scoring its row is hidden, and the YASA row sits right under the technician's, as the
    model's under the confidence; a blank band of the hidden row's height lay between them. Shown again, it
    takes its share."""
    view = HypnogramView()
    qtbot.addWidget(view)
    view.resize(1000, 300)
    view.show()
    qtbot.waitExposed(view)
    view.set_night(100, START)
    view.set_second_opinion(np.full(100, 2))

    def rows():
        QApplication.processEvents()
        return [view._plots[i].geometry() for i in range(5)]

    conf, model, tech, ref, yasa = rows()
    spacing = model.top() - conf.bottom()
    assert not view._plots[3].isVisible() and ref.height() == 0
    assert yasa.top() - tech.bottom() <= 2 * spacing + 1
    view.set_reference(np.full(100, 2))
    conf, model, tech, ref, yasa = rows()
    assert ref.height() == pytest.approx(tech.height(), abs=1) and ref.top() > tech.bottom()
    assert yasa.top() - ref.bottom() == pytest.approx(spacing, abs=1)


def test_paging_keeps_python_refcounts(qtbot):
    """PySide6 6.12.0 drops a reference to None/True on each paint or signal: after a few
    hundred page flips the interpreter aborts (`none_dealloc`). Guard the binding in use."""
    import sys

    view, _ = _trace(qtbot)
    for i in range(5):
        view.set_epoch(i)
        view.repaint()
    none0, true0 = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(40):
        view.set_epoch(i % 19)
        view.repaint()
    assert none0 - sys.getrefcount(None) < 1000
    assert true0 - sys.getrefcount(True) < 200
