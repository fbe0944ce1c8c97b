"""The trace view: the current 30-s epoch of each displayed channel, drawn like paper.

Each channel lives in a lane `LANE_DIVS` divisions tall; a signal is drawn at
`baseline + offset + µV / gain` where gain is µV per division, the unit a
technician thinks in. Only the visible window (plus a filter margin) is
filtered and drawn, reduced to about two points per pixel column by min/max
decimation, so a 24-h recording pages as fast as a 5-minute one.

Gain and display filters are set per channel kind (EEG, EOG, EMG, other):
an EMG needs other filters than an EEG, and a channel recorded as a slow
envelope (Sleep-EDF's 1-Hz EMG) is never high-passed, which would flatten
it. Each trace is clipped to its lane, as on paper, so a high gain or a big
artefact never covers the neighbouring channel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGraphicsRectItem, QVBoxLayout, QWidget
from scipy import signal as sps

EPOCH_S = 30.0
#: Width of the channel-name axis; the hypnogram lines its rows up with it.
LEFT_AXIS_PX = 118
LANE_DIVS = 4.0
#: ±37.5 µV: a wave that crosses both lines is ≥ 75 µV peak to peak (AASM N3).
REFERENCE_UV = 37.5
KINDS = ("eeg", "eog", "emg", "ecg", "other")
KIND_NAMES = {"eeg": "EEG", "eog": "EOG", "emg": "EMG", "ecg": "ECG", "other": "Other"}
#: µV per division; an ECG's R wave, about a millivolt, fills its lane
DEFAULT_GAINS = {"eeg": 50.0, "eog": 50.0, "emg": 20.0, "ecg": 250.0, "other": 50.0}
#: A channel recorded slower than this is an envelope or a trend, not a waveform.
ENVELOPE_BELOW_HZ = 10.0

TRACE_PEN = pg.mkPen("#1b1f24", width=1)
GRID_PEN = pg.mkPen("#e3e6ea", width=1)
SECOND5_PEN = pg.mkPen("#c9ced4", width=1)
EPOCH_PEN = pg.mkPen("#7d8793", width=1.5)
REF_PEN = pg.mkPen("#c0392b", width=1, style=Qt.PenStyle.DashLine)
CONTEXT_BRUSH = pg.mkBrush("#eceef1")
#: Over a gap of an EDF+D recording: the file holds no signal there, so no trace is drawn.
GAP_BRUSH = pg.mkBrush("#d5d9de")
GAP_TEXT = "no signal recorded"

SCALE_PEN = pg.mkPen("#1b1f24", width=2)
#: Page lengths offered for browsing (s); scoring stays per 30-s epoch.
PAGE_LENGTHS = (30.0, 60.0, 120.0, 300.0)


@dataclass
class ChannelDisplay:
    """How one channel is drawn: gain in µV per division, offset in divisions."""

    name: str
    gain: float = 50.0
    offset: float = 0.0
    reference_lines: bool = False
    kind: str = "other"  # one of KINDS: gain and filters follow the kind
    envelope: bool = False  # recorded as a slow envelope: no high-pass


def channel_kind(name: str, eeg_name: str | None = None, eog_name: str | None = None) -> str:
    """"eeg", "eog", "emg", "ecg" or "other" for a channel label (the chosen EEG and EOG by name)."""
    from sleepscope.io.channels import find_ecg

    if name == eeg_name:
        return "eeg"
    if name == eog_name:
        return "eog"
    if find_ecg([name]) == name:
        return "ecg"
    low = name.lower()
    if "emg" in low or "chin" in low or "submental" in low:
        return "emg"
    if low.startswith("eog") or low.startswith("loc") or low.startswith("roc"):
        return "eog"
    if low.startswith("eeg"):
        return "eeg"
    from sleepscope.io.channels import rank_channel

    # Labels without a type prefix (C4-M1, E1-M2): the channel tables know the derivations.
    if rank_channel(name, "eog") is not None:
        return "eog"
    if rank_channel(name, "eeg") is not None:
        return "eeg"
    return "other"


@dataclass(frozen=True)
class DisplayFilter:
    """Display-only filters (the scored data are never filtered); 0 Hz means off."""

    highpass_hz: float = 0.0
    lowpass_hz: float = 0.0
    notch_hz: float = 0.0

    def margin_s(self) -> float:
        # Enough signal on each side for filtfilt's transients to die out.
        if self.highpass_hz > 0:
            return float(min(20.0, max(2.0, 3.0 / self.highpass_hz)))
        return 2.0 if (self.lowpass_hz > 0 or self.notch_hz > 0) else 0.0

    @property
    def active(self) -> bool:
        return self.highpass_hz > 0 or self.lowpass_hz > 0 or self.notch_hz > 0


@lru_cache(maxsize=32)
def filter_sos(f: DisplayFilter, fs: float) -> np.ndarray | None:
    """Second-order sections for the display filter at `fs`, or None when nothing applies."""
    nyq = fs / 2.0
    parts = []
    if 0 < f.highpass_hz < nyq:
        parts.append(sps.butter(2, f.highpass_hz, btype="highpass", fs=fs, output="sos"))
    if 0 < f.lowpass_hz < nyq:
        parts.append(sps.butter(4, f.lowpass_hz, btype="lowpass", fs=fs, output="sos"))
    if 0 < f.notch_hz < nyq:
        b, a = sps.iirnotch(f.notch_hz, Q=30.0, fs=fs)
        parts.append(sps.tf2sos(b, a))
    return np.vstack(parts) if parts else None


@lru_cache(maxsize=32)
def filter_zi(f: DisplayFilter, fs: float) -> np.ndarray:
    """The filter's steady-state initial conditions (a linear solve per section: once, not on every page)."""
    return sps.sosfilt_zi(filter_sos(f, fs))


def sosfiltfilt_cached(sos: np.ndarray, zi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """scipy's `sosfiltfilt(sos, x)` (odd padding, its default length) with `zi` computed beforehand."""
    ntaps = 2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    edge = 3 * ntaps
    ext = np.concatenate((2 * x[0] - x[edge:0:-1], x, 2 * x[-1] - x[-2:-(edge + 2):-1]))
    y, _ = sps.sosfilt(sos, ext, zi=zi * ext[0])
    y, _ = sps.sosfilt(sos, y[::-1], zi=zi * y[-1])
    return y[::-1][edge:-edge]


def filtered_window(x: np.ndarray, a: int, b: int, fs: float, f: DisplayFilter) -> np.ndarray:
    """x[a:b] filtered for display, using real signal around the window as the filter's margin."""
    a = max(0, a)
    b = min(len(x), b)
    sos = filter_sos(f, fs) if f.active else None
    if sos is None or b <= a:
        return np.asarray(x[a:b], dtype=np.float64)
    m = int(f.margin_s() * fs)
    lo, hi = max(0, a - m), min(len(x), b + m)
    seg = np.asarray(x[lo:hi], dtype=np.float64)
    if len(seg) <= 3 * (2 * len(sos) + 1):
        return seg[a - lo:b - lo]
    return sosfiltfilt_cached(sos, filter_zi(f, fs), seg)[a - lo:b - lo]


def minmax_decimate(t0: float, dt: float, y: np.ndarray, max_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) with at most ~2·max_pairs points keeping every block's extremes in time order.

    Peaks survive (a K-complex or an artefact stays visible however long the
    window), which plain striding would drop.
    """
    n = len(y)
    if n <= 2 * max_pairs or max_pairs < 1:
        return t0 + dt * np.arange(n), y
    factor = int(np.ceil(n / max_pairs))
    m = n // factor
    blocks = y[: m * factor].reshape(m, factor)
    imin = blocks.argmin(axis=1)
    imax = blocks.argmax(axis=1)
    rows = np.arange(m)
    first = np.minimum(imin, imax)
    second = np.maximum(imin, imax)
    out_y = np.empty(2 * m + (n - m * factor), dtype=np.float64)
    out_x = np.empty_like(out_y)
    base = rows * factor
    out_y[0 : 2 * m : 2] = blocks[rows, first]
    out_y[1 : 2 * m : 2] = blocks[rows, second]
    out_x[0 : 2 * m : 2] = base + first
    out_x[1 : 2 * m : 2] = base + second
    tail = np.arange(m * factor, n)
    out_y[2 * m :] = y[m * factor :]
    out_x[2 * m :] = tail
    return t0 + dt * out_x, out_y


class ClockAxis(pg.AxisItem):
    """A time axis in seconds from the recording start, labelled in clock time."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.start_time: datetime = datetime(2000, 1, 1)
        self.fmt = "%H:%M:%S"

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802 (Qt naming)
        span = maxVal - minVal
        if span <= 45:
            return [(5.0, 0.0), (1.0, 0.0)]
        if span <= 200:
            return [(10.0, 0.0), (5.0, 0.0)]
        return super().tickSpacing(minVal, maxVal, size)

    def tickValues(self, minVal, maxVal, size):  # noqa: N802
        # Labels only on the major level; the 1-s grid is drawn by the view itself.
        levels = super().tickValues(minVal, maxVal, size)
        return levels[:1]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        out = []
        for v in values:
            try:
                out.append((self.start_time + timedelta(seconds=float(v))).strftime(self.fmt))
            except (OverflowError, ValueError):
                out.append("")
        return out


class TraceView(QWidget):
    """Channels of one epoch (and optionally its neighbours) with grid, gains and filters."""

    #: emitted after each render with the render's duration in seconds (benchmarks, status).
    rendered = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._axis = ClockAxis(orientation="bottom")
        self._plot = pg.PlotWidget(background="#ffffff", axisItems={"bottom": self._axis})
        self._plot.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        item = self._plot.getPlotItem()
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.showAxis("top", False)
        vb = item.getViewBox()
        vb.setDefaultPadding(0.0)
        # The view sets its ranges itself; auto-range would scan every curve on every flip.
        item.disableAutoRange()
        font = QFont()
        font.setPointSize(9)
        for name in ("left", "bottom"):
            ax = item.getAxis(name)
            ax.setTextPen(pg.mkPen("#2b2f36"))
            ax.setPen(pg.mkPen("#9aa3ad"))
            ax.setStyle(tickFont=font, tickLength=4)
        item.getAxis("left").setWidth(LEFT_AXIS_PX)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._plot)

        # Straight lines need no antialiasing, and it costs paint time on every flip.
        self._grid = pg.PlotCurveItem(pen=GRID_PEN, connect="pairs", antialias=False)
        self._grid5 = pg.PlotCurveItem(pen=SECOND5_PEN, connect="pairs", antialias=False)
        self._epoch_lines = pg.PlotCurveItem(pen=EPOCH_PEN, connect="pairs", antialias=False)
        self._refs = pg.PlotCurveItem(pen=REF_PEN, connect="pairs", antialias=False)
        # One division tall at the right edge of each lane, labelled in µV: the amplitude scale bar.
        self._scale = pg.PlotCurveItem(pen=SCALE_PEN, connect="pairs", antialias=False)
        item.addItem(self._scale)
        self._scale_labels: dict[str, pg.TextItem] = {}
        # Opaque rectangles: alpha-blending two thirds of the view on each flip is slow.
        self._ctx = [QGraphicsRectItem(), QGraphicsRectItem()]
        for r in self._ctx:
            r.setBrush(CONTEXT_BRUSH)
            r.setPen(pg.mkPen(None))
        for it in (self._grid, self._grid5, self._epoch_lines, *self._ctx, self._refs):
            it.setZValue(-10)
            item.addItem(it)
        self._curves: dict[str, pg.PlotCurveItem] = {}
        self._labels: dict[str, pg.TextItem] = {}
        #: per epoch, True in a gap of the recording; the bands and labels covering the gaps in view
        self._gap = np.zeros(0, dtype=bool)
        self._gap_bands: list[tuple[QGraphicsRectItem, pg.TextItem]] = []

        self._channels: dict[str, np.ndarray] = {}
        self._fs = 100.0
        self._n_epochs = 0
        self._shown: list[str] = []
        self._display: dict[str, ChannelDisplay] = {}
        self._filter = DisplayFilter()
        self._kind_filters: dict[str, DisplayFilter] = {}
        self._context = True
        self._page_epochs = 1
        self._epoch = 0
        self._lanes: tuple | None = None
        self.last_render_s = 0.0

    # -- data ---------------------------------------------------------------
    def set_recording(
        self,
        channels: dict[str, np.ndarray],
        fs: float,
        start_time: datetime,
        shown: list[str],
        displays: dict[str, ChannelDisplay] | None = None,
    ) -> None:
        """Show `shown` channels of a recording; `channels` are µV arrays at `fs`."""
        self._channels = dict(channels)
        self._fs = float(fs)
        n = min((len(v) for v in channels.values()), default=0)
        self._n_epochs = int(n // int(round(EPOCH_S * fs)))
        self._axis.start_time = start_time
        self._display = dict(displays or {})
        self._shown = []
        for name in list(self._curves):
            self._remove_curve(name)
        for name in shown:
            self.add_channel(name, render=False)
        self._epoch = 0
        self.render()

    def set_gaps(self, gap: np.ndarray | None) -> None:
        """Epochs in a gap of the recording (per-epoch mask, `Recording.gap`): drawn as "no signal recorded"."""
        self._gap = np.zeros(0, dtype=bool) if gap is None else np.asarray(gap, dtype=bool).copy()
        self.render()

    def gap_spans(self) -> list[tuple[float, float]]:
        """(start s, end s) of each "no signal recorded" band shown now."""
        return [(r.rect().left(), r.rect().right()) for r, _t in self._gap_bands if r.isVisible()]

    def _show_gaps(self, t0: float, t1: float, bottom: float, top: float) -> None:
        # Only the epochs in view are looked at, so a flip costs the same with or without gaps.
        e0, e1 = int(t0 // EPOCH_S), int(np.ceil(t1 / EPOCH_S))
        window = self._gap[e0:e1]
        spans: list[tuple[float, float]] = []
        if window.any():
            edges = np.flatnonzero(np.diff(np.concatenate(([0], window.astype(np.int8), [0]))))
            spans = [(max(t0, (e0 + a) * EPOCH_S), min(t1, (e0 + b) * EPOCH_S))
                     for a, b in zip(edges[0::2], edges[1::2])]
        item = self._plot.getPlotItem()
        while len(self._gap_bands) < len(spans):
            band = QGraphicsRectItem()
            band.setBrush(GAP_BRUSH)
            band.setPen(pg.mkPen(None))
            band.setZValue(20)  # over the traces: the zeros read in a gap are not signal
            text = pg.TextItem(GAP_TEXT, color="#2b2f36", anchor=(0.5, 0.5))
            text.setZValue(21)
            item.addItem(band)
            item.addItem(text)
            self._gap_bands.append((band, text))
        for k, (band, text) in enumerate(self._gap_bands):
            on = k < len(spans)
            band.setVisible(on)
            text.setVisible(on)
            if on:
                a, b = spans[k]
                band.setRect(QRectF(a, bottom, b - a, top - bottom))
                text.setPos((a + b) / 2, (top + bottom) / 2)

    def clear(self) -> None:
        self._gap = np.zeros(0, dtype=bool)
        self._channels = {}
        for name in list(self._curves):
            self._remove_curve(name)
        self._shown = []
        self._n_epochs = 0
        self.render()

    @property
    def shown_channels(self) -> list[str]:
        return list(self._shown)

    @property
    def available_channels(self) -> list[str]:
        return list(self._channels)

    def display(self, name: str) -> ChannelDisplay:
        return self._display[name]

    def add_channel(self, name: str, render: bool = True, at: int | None = None) -> None:
        """Show a channel in a lane of its own: the last one, or lane `at`."""
        if name not in self._channels or name in self._shown:
            return
        self._shown.insert(len(self._shown) if at is None else at, name)
        if name not in self._display:
            self._display[name] = default_display(name, channel_kind(name))
        curve = pg.PlotCurveItem(pen=TRACE_PEN, antialias=False, skipFiniteCheck=True)
        self._plot.getPlotItem().addItem(curve)
        self._curves[name] = curve
        label = pg.TextItem("", color="#5b6470", anchor=(0, 0))
        font = QFont()
        font.setPointSize(8)
        label.setFont(font)
        self._plot.getPlotItem().addItem(label)
        self._labels[name] = label
        if render:
            self.render()

    def remove_channel(self, name: str) -> None:
        if name in self._shown:
            self._remove_curve(name)
            self.render()

    def _remove_curve(self, name: str) -> None:
        item = self._plot.getPlotItem()
        if name in self._curves:
            item.removeItem(self._curves.pop(name))
            item.removeItem(self._labels.pop(name))
        if name in self._scale_labels:
            item.removeItem(self._scale_labels.pop(name))
        if name in self._shown:
            self._shown.remove(name)

    def set_gain(self, name: str, uv_per_div: float) -> None:
        if name in self._display and uv_per_div > 0:
            self._display[name] = replace(self._display[name], gain=float(uv_per_div))
            self.render()

    def set_offset(self, name: str, divisions: float) -> None:
        if name in self._display:
            self._display[name] = replace(self._display[name], offset=float(divisions))
            self.render()

    def set_filter(self, f: DisplayFilter) -> None:
        """One filter for every channel kind."""
        self._filter = f
        self._kind_filters.clear()
        self.render()

    def set_kind_filter(self, kind: str, f: DisplayFilter, render: bool = True) -> None:
        self._kind_filters[kind] = f
        if render:
            self.render()

    def set_kind_gain(self, kind: str, uv_per_div: float, render: bool = True) -> None:
        """The gain of every channel of `kind` (µV per division)."""
        for name, d in list(self._display.items()):
            if d.kind == kind and uv_per_div > 0:
                self._display[name] = replace(d, gain=float(uv_per_div))
        if render:
            self.render()

    def filter_for(self, name: str) -> DisplayFilter:
        """The display filter channel `name` is drawn with."""
        d = self._display[name]
        f = self._kind_filters.get(d.kind, self._filter)
        if d.envelope and f.highpass_hz > 0:
            f = replace(f, highpass_hz=0.0)
        return f

    @property
    def display_filter(self) -> DisplayFilter:
        return self._filter

    def set_context(self, on: bool) -> None:
        self._context = bool(on)
        self.render()

    @property
    def context(self) -> bool:
        return self._context

    def set_epoch(self, epoch: int) -> None:
        self._epoch = int(np.clip(epoch, 0, max(0, self._n_epochs - 1)))
        self.render()

    @property
    def epoch(self) -> int:
        return self._epoch

    # -- drawing ------------------------------------------------------------
    def baseline(self, lane: int) -> float:
        return -lane * LANE_DIVS

    def set_page_seconds(self, seconds: float) -> None:
        """Show pages of `seconds` (a whole number of epochs) holding the current epoch; 30 s: one epoch."""
        self._page_epochs = max(1, int(round(seconds / EPOCH_S)))
        self.render()

    @property
    def page_seconds(self) -> float:
        return self._page_epochs * EPOCH_S

    def window_s(self) -> tuple[float, float]:
        """The visible time span in seconds from the recording start."""
        if self._page_epochs > 1:
            # Pages in whole blocks, so the traces stay put while the cursor moves through one.
            first = (self._epoch // self._page_epochs) * self._page_epochs
            last = first + self._page_epochs
            if self._n_epochs:
                last = min(last, self._n_epochs)
            return first * EPOCH_S, last * EPOCH_S
        t0 = self._epoch * EPOCH_S
        t1 = t0 + EPOCH_S
        if self._context:
            t0 = max(0.0, t0 - EPOCH_S)
            t1 = min(self._n_epochs * EPOCH_S, t1 + EPOCH_S) if self._n_epochs else t1
        return t0, t1

    def render(self) -> None:
        import time

        tic = time.perf_counter()
        item = self._plot.getPlotItem()
        n_lanes = max(1, len(self._shown))
        top, bottom = LANE_DIVS / 2, self.baseline(n_lanes - 1) - LANE_DIVS / 2
        if not self._channels or self._n_epochs == 0:
            for c in (self._grid, self._grid5, self._epoch_lines, self._refs, self._scale):
                c.setData([], [])
            item.getAxis("left").setTicks([[]])
            self._show_gaps(0.0, 0.0, 0.0, 0.0)
            self._lanes = None
            self.last_render_s = time.perf_counter() - tic
            return
        t0, t1 = self.window_s()
        fs = self._fs
        a, b = int(round(t0 * fs)), int(round(t1 * fs))
        px = max(100, int(item.getViewBox().width()))
        ref_x: list[float] = []
        ref_y: list[float] = []
        scale_x: list[float] = []
        scale_y: list[float] = []
        bar_x = t1 - (t1 - t0) * 0.004
        ticks = []
        for lane, name in enumerate(self._shown):
            disp = self._display[name]
            base = self.baseline(lane) + disp.offset
            seg = filtered_window(self._channels[name], a, b, fs, self.filter_for(name))
            x, y = minmax_decimate(t0, 1.0 / fs, seg, px)
            lane_top = self.baseline(lane) + LANE_DIVS / 2
            y = np.clip(base + y / disp.gain, lane_top - LANE_DIVS, lane_top)
            self._curves[name].setData(x, y)
            ticks.append((self.baseline(lane), name))
            label = self._labels[name]
            text = f"{disp.gain:g} µV/div"
            if label.toPlainText() != text:  # setText re-lays out HTML: only when it changed
                label.setText(text)
            label.setPos(t0 + 0.1, self.baseline(lane) + LANE_DIVS / 2)
            if disp.reference_lines:
                for sgn in (1, -1):
                    ref_x += [t0, t1]
                    ref_y += [base + sgn * REFERENCE_UV / disp.gain] * 2
            scale_x += [bar_x, bar_x]
            scale_y += [lane_top - 1.25, lane_top - 0.25]
            self._scale_label(name, f"{disp.gain:g} µV", bar_x, lane_top - 0.75)
        self._refs.setData(np.asarray(ref_x, float), np.asarray(ref_y, float))
        self._scale.setData(np.asarray(scale_x, float), np.asarray(scale_y, float))
        secs = np.arange(np.ceil(t0), np.floor(t1) + 1)
        # A 1-s grid over minutes of signal is a grey wash: then only every 5 s.
        minor = secs[(secs % 5) != 0] if t1 - t0 <= 3 * EPOCH_S else secs[:0]
        fives = secs[((secs % 5) == 0) & ((secs % EPOCH_S) != 0)]
        epochs = secs[(secs % EPOCH_S) == 0]
        for curve, xs in ((self._grid, minor), (self._grid5, fives), (self._epoch_lines, epochs)):
            gx = np.repeat(xs, 2)
            gy = np.tile([top, bottom], len(xs)).astype(float)
            curve.setData(gx, gy)
        e0, e1 = self._epoch * EPOCH_S, (self._epoch + 1) * EPOCH_S
        self._ctx[0].setRect(QRectF(t0, bottom, e0 - t0, top - bottom))
        self._ctx[1].setRect(QRectF(e1, bottom, t1 - e1, top - bottom))
        for r in self._ctx:
            r.setVisible(self._context)
        self._show_gaps(t0, t1, bottom, top)
        # Re-set ticks and y range only when the lanes changed: each resets the axis' layout.
        lanes = (tuple(ticks), bottom, top)
        if lanes != self._lanes:
            self._lanes = lanes
            item.getAxis("left").setTicks([ticks])
            item.setYRange(bottom, top, padding=0)
        item.setXRange(t0, t1, padding=0)
        # Apply the new range now rather than in the paint pass: done there, it makes the
        # axis ask for a second paint of the whole view on every flip.
        item.getViewBox().prepareForPaint()
        self.last_render_s = time.perf_counter() - tic
        self.rendered.emit(self.last_render_s)

    def _scale_label(self, name: str, text: str, x: float, y: float) -> None:
        label = self._scale_labels.get(name)
        if label is None:
            label = pg.TextItem("", color="#1b1f24", anchor=(1, 0.5))
            font = QFont()
            font.setPointSize(8)
            label.setFont(font)
            self._plot.getPlotItem().addItem(label)
            self._scale_labels[name] = label
        if label.toPlainText() != text:  # setText re-lays out HTML: only when it changed
            label.setText(text)
        label.setPos(x, y)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        # The decimation depends on the pixel width.
        if self._channels:
            self.render()


def default_display(name: str, kind: str, source_rate: float | None = None) -> ChannelDisplay:
    """Display defaults by channel kind (one of KINDS); `source_rate` is the rate the file recorded it at."""
    kind = kind if kind in KINDS else "other"
    return ChannelDisplay(
        name=name,
        gain=DEFAULT_GAINS[kind],
        reference_lines=(kind == "eeg"),
        kind=kind,
        envelope=source_rate is not None and 0 < source_rate < ENVELOPE_BELOW_HZ,
    )


__all__ = [
    "ChannelDisplay",
    "DisplayFilter",
    "KINDS",
    "channel_kind",
    "TraceView",
    "default_display",
    "filter_sos",
    "filtered_window",
    "minmax_decimate",
]
