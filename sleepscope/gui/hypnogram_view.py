"""The whole-night hypnogram: model confidence, model suggestion and technician labels.

Rows share one x axis in epochs (clock time on the bottom axis):
hypnodensity (the model's stacked stage probabilities), the model's
hypnogram, the technician's hypnogram and, when a reference scorer exists
(Sleep-EDF's own hypnogram), the reference's. A click or a drag jumps to an
epoch; the wheel zooms in time only; the cursor is a cosmetic pen, so it keeps
its pixel width at any zoom.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QVBoxLayout, QWidget

from sleepscope.scoring.events import KIND_COLORS
from sleepscope.stages import COLORS, HYPNOGRAM_LEVEL, SCORED, Stage, most_likely

#: Qt's QWIDGETSIZE_MAX: no maximum height
QWIDGETSIZE_MAX = (1 << 24) - 1

EPOCHS_PER_HOUR = 120
#: Row-name column and stage axis: together as wide as the trace view's channel axis.
AXIS_PX = 30
LABEL_PX = 86
#: Stages stacked bottom to top in the hypnodensity, as their hypnogram levels.
STACK_ORDER = (Stage.N3, Stage.N2, Stage.N1, Stage.REM, Stage.W)
DENSITY_ROWS = 48
CURSOR_PEN = pg.mkPen("#e8590c", width=2)
STEP_PEN = pg.mkPen("#59616b", width=1)
#: Gaps of an EDF+D recording: a grey band across every row, labelled, never a stage.
GAP_BRUSH = pg.mkBrush("#c4c9cf")
GAP_TEXT = "no signal"
#: The sleep period whose statistics the model also scored the night with: a line under the model's row.
ADAPTED_PEN = pg.mkPen("#1b7f79", width=3)
ADAPTED_LEVEL = -0.45
#: How the model read its epochs, as bars over W in its row: none (artefact: no stage, grey) or otherwise than
#: as recorded (a backup channel, the EEG alone, the EEG high-passed under a drift: violet).
NO_STAGE_PEN = pg.mkPen("#8a9199", width=4)
READ_OTHERWISE_PEN = pg.mkPen("#7b4fb8", width=4)
READING_LEVEL = 4.45
#: Where the events start, as ticks under N3 in the technician's row (where the night's arousals cluster).
EVENT_LEVEL = -0.3
LEVEL_TICKS = [(HYPNOGRAM_LEVEL[s], s.label if s is not Stage.REM else "R") for s in SCORED]


def _rgb(hex_color: str) -> tuple[int, int, int]:
    c = QColor(hex_color)
    return c.red(), c.green(), c.blue()


def hypnodensity_image(probs: np.ndarray, rows: int = DENSITY_ROWS) -> np.ndarray:
    """(n, rows, 3) uint8: each column the epoch's probabilities stacked as stage colours."""
    probs = np.asarray(probs, dtype=np.float64)
    order = [int(s) for s in STACK_ORDER]
    cum = np.cumsum(probs[:, order], axis=1)
    cum /= np.maximum(cum[:, -1:], 1e-12)
    y = (np.arange(rows) + 0.5) / rows
    idx = (y[None, :, None] > cum[:, None, :]).sum(axis=-1)
    idx = np.minimum(idx, len(order) - 1)
    lut = np.array([_rgb(COLORS[STACK_ORDER[i]]) for i in range(len(order))], dtype=np.uint8)
    return lut[idx]


def density_legend_html() -> str:
    """'Confidence' over the stage colours of the hypnodensity, top of the stack first."""
    chips = [f"<span style='color:{COLORS[s]}'>■</span>{'R' if s is Stage.REM else s.name}"
             for s in reversed(STACK_ORDER)]
    return "Confidence<br>" + " ".join(chips[:3]) + "<br>" + " ".join(chips[3:])


def stage_runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, stage) of each run of equal labels."""
    labels = np.asarray(labels)
    n = len(labels)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [n]))
    return starts, ends, labels[starts].astype(np.int64)


class TimeAxis(pg.AxisItem):
    """Bottom axis in epochs, labelled with clock time, spaced in round minutes/hours."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.start_time = datetime(2000, 1, 1)

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802
        span_epochs = max(1e-9, maxVal - minVal)
        # Candidate spacings in epochs: 1, 5, 10, 15, 30 min, 1, 2, 3 h.
        for minutes in (1, 5, 10, 15, 30, 60, 120, 180, 360):
            step = minutes * 2
            if size / (span_epochs / step) >= 70:
                return [(float(step), 0.0)]
        return [(720.0, 0.0)]

    def tickValues(self, minVal, maxVal, size):  # noqa: N802
        # Align ticks to round clock minutes, not to the recording start.
        ((step, _),) = self.tickSpacing(minVal, maxVal, size)
        offset_s = (self.start_time.minute * 60 + self.start_time.second) % (step * 30)
        first = np.ceil((minVal * 30 + offset_s) / (step * 30)) * step - offset_s / 30
        vals = np.arange(first, maxVal + 1e-9, step)
        return [(step, list(vals))]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        return [(self.start_time + timedelta(seconds=float(v) * 30)).strftime("%H:%M") for v in values]


class _Picker(QObject):
    picked = Signal(int)


class EpochViewBox(pg.ViewBox):
    """Left click or drag picks an epoch; the wheel zooms time; no context menu."""

    def __init__(self, picker: _Picker) -> None:
        super().__init__(enableMenu=False)
        self._picker = picker
        self.setMouseEnabled(x=True, y=False)

    def _emit(self, scene_pos) -> None:
        self._picker.picked.emit(int(np.floor(self.mapSceneToView(scene_pos).x())))

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._emit(ev.scenePos())
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._emit(ev.scenePos())
        else:
            super().mouseDragEvent(ev, axis)


class _HypnogramRow:
    """One stage row: a thin step line with a thick stage-coloured bar per run."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.step = pg.PlotCurveItem(pen=STEP_PEN, connect="finite")
        plot.addItem(self.step)
        self.bars: dict[Stage, pg.PlotCurveItem] = {}
        for s in SCORED:
            c = pg.PlotCurveItem(pen=pg.mkPen(COLORS[s], width=5), connect="pairs")
            plot.addItem(c)
            self.bars[s] = c
        # Cached as pixmaps: moving the cursor over a night of runs then only blits.
        for item in (self.step, *self.bars.values()):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_labels(self, labels: np.ndarray | None) -> None:
        if labels is None or len(labels) == 0:
            self.step.setData([], [])
            for c in self.bars.values():
                c.setData([], [])
            return
        starts, ends, stages = stage_runs(labels)
        level = np.full(len(stages), np.nan)
        for s in SCORED:
            level[stages == int(s)] = HYPNOGRAM_LEVEL[s]
        xs = np.empty(2 * len(starts))
        xs[0::2] = starts
        xs[1::2] = ends
        ys = np.repeat(level, 2)
        self.step.setData(xs, ys)
        for s in SCORED:
            sel = stages == int(s)
            bx = np.empty(2 * int(sel.sum()))
            bx[0::2] = starts[sel]
            bx[1::2] = ends[sel]
            self.bars[s].setData(bx, np.full(len(bx), HYPNOGRAM_LEVEL[s]))


class EpochStrip(QWidget):
    """Rows of plots over the night's epochs (x in epochs), names in a column on their left, on white;
    emits `epochPicked` when the user clicks or drags in a plot."""

    epochPicked = Signal(int)

    def __init__(self, parent: QWidget | None, bottom_margin: int) -> None:
        super().__init__(parent)
        self._picker = _Picker()
        self._picker.picked.connect(self._on_pick)
        self._glw = pg.GraphicsLayoutWidget()
        self._glw.setBackground("#ffffff")
        self._glw.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._glw.ci.setContentsMargins(0, 4, 0, bottom_margin)
        # one spacing for every strip: the name column's gap sets where the plots begin, and strips linked in
        # time must begin at the same pixel
        self._glw.ci.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._glw)
        self._font = QFont()
        self._font.setPointSize(8)
        self._n = 0

    def _add_plot(self, row: int, **axis_items: pg.AxisItem) -> pg.PlotItem:
        """A plot in column 1 of `row`: epochs picked by click or drag, no buttons, menu or auto-range."""
        plot = self._glw.addPlot(row=row, col=1, viewBox=EpochViewBox(self._picker), axisItems=axis_items)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.disableAutoRange()
        left = plot.getAxis("left")
        left.setWidth(AXIS_PX)
        left.setStyle(tickFont=self._font, tickLength=0)
        left.setTextPen(pg.mkPen("#2b2f36"))
        left.setPen(pg.mkPen("#9aa3ad"))
        return plot

    def _on_pick(self, epoch: int) -> None:
        if self._n:
            self.epochPicked.emit(int(np.clip(epoch, 0, self._n - 1)))


class HypnogramView(EpochStrip):
    """The night at a glance; emits `epochPicked` when the user clicks or drags in it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, bottom_margin=2)
        self._cursor = 0
        self._axis = TimeAxis(orientation="bottom")

        font = self._font
        self._plots: list[pg.PlotItem] = []
        self._cursors: list[pg.InfiniteLine] = []
        # YASA: the second opinion (sleepscope.scorers.YasaScorer), shown once it has scored the night.
        names = ("Confidence", "Model", "Technician", "Reference", "YASA")
        for row, name in enumerate(names):
            self._glw.addLabel(name, row=row, col=0, size="8pt", color="#2b2f36", justify="right")
            plot = self._add_plot(row, **({"bottom": self._axis} if row == len(names) - 1 else {}))
            bottom = plot.getAxis("bottom")
            bottom.setStyle(tickFont=font)
            bottom.setTextPen(pg.mkPen("#2b2f36"))
            bottom.setPen(pg.mkPen("#9aa3ad"))
            # The time axis sits under the last visible row (see _layout_rows).
            plot.showAxis("bottom", False)
            if row > 0:
                plot.setXLink(self._plots[0])
            cursor = pg.InfiniteLine(pos=0.5, angle=90, movable=False, pen=CURSOR_PEN)
            cursor.setZValue(10)
            plot.addItem(cursor)
            self._plots.append(plot)
            self._cursors.append(cursor)
        self._labels_items = [self._glw.getItem(r, 0) for r in range(len(names))]
        # The hypnodensity's colour legend, in its row's name column.
        self._labels_items[0].setText(density_legend_html(), size="8pt", color="#2b2f36")

        dens = self._plots[0]
        dens.setYRange(0, 1, padding=0)
        dens.getAxis("left").setTicks([[(0.0, "0"), (1.0, "1")]])
        self._density = pg.ImageItem(axisOrder="col-major")
        self._density.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        dens.addItem(self._density)
        self._rows = {}
        for key, plot in zip(("model", "technician", "reference", "second"), self._plots[1:]):
            plot.setYRange(-0.6, 4.6, padding=0)
            plot.getAxis("left").setTicks([LEVEL_TICKS])
            plot.showGrid(x=False, y=True, alpha=0.12)
            self._rows[key] = _HypnogramRow(plot)
        self._glw.ci.layout.setColumnFixedWidth(0, LABEL_PX)
        self._stretch = (2, 3, 3, 3, 3)
        self._has_reference = False
        self._has_second = False
        self._gap_items: list = []
        self._gap_runs: list[tuple[int, int]] = []
        self._adapted = pg.PlotCurveItem(pen=ADAPTED_PEN)
        self._plots[1].addItem(self._adapted)
        self._adapted_span: tuple[int, int] | None = None
        self._reading_bars = {"no stage": pg.PlotCurveItem(pen=NO_STAGE_PEN, connect="pairs"),
                              "read otherwise": pg.PlotCurveItem(pen=READ_OTHERWISE_PEN, connect="pairs")}
        for item in self._reading_bars.values():
            self._plots[1].addItem(item)
        self._reading_runs: dict[str, list[tuple[int, int]]] = {}
        self._model_tips = {"adapted": "", "reading": ""}
        self._event_ticks = pg.ScatterPlotItem(symbol="|", size=9, pxMode=True)
        self._event_ticks.setZValue(5)
        self._plots[2].addItem(self._event_ticks)
        self._n_event_ticks = 0
        self._events_key: tuple = ()
        self._layout_rows()

    # -- content ------------------------------------------------------------
    def set_night(self, n_epochs: int, start_time: datetime) -> None:
        """A new recording: n epochs from start_time; clears every row."""
        self._n = int(n_epochs)
        self._axis.start_time = start_time
        for p in self._plots:
            vb = p.getViewBox()
            vb.setLimits(xMin=0, xMax=max(1, self._n), minXRange=min(10, max(1, self._n)))
        self.set_probabilities(None)
        self._rows["model"].set_labels(None)
        self._rows["technician"].set_labels(None)
        self.set_reference(None)
        self.set_second_opinion(None)
        self.set_gaps(None)
        self.set_adapted_span(None)
        self.whole_night()
        self.set_cursor(0)

    def set_gaps(self, gap: np.ndarray | None) -> None:
        """Grey "no signal" bands over the epochs of `gap` (per-epoch mask, `Recording.gap`), or none."""
        for plot, item in self._gap_items:
            plot.removeItem(item)
        self._gap_items = []
        self._gap_runs = []
        if gap is None or not np.any(gap):
            return
        starts, ends, flags = stage_runs(np.asarray(gap, dtype=np.int8))
        self._gap_runs = [(int(a), int(b)) for a, b, f in zip(starts, ends, flags) if f == 1]
        for plot in self._plots:
            lo, hi = plot.getViewBox().viewRange()[1]
            for a, b in self._gap_runs:
                band = QGraphicsRectItem(QRectF(a, lo, b - a, hi - lo))
                band.setBrush(GAP_BRUSH)
                band.setPen(pg.mkPen(None))
                band.setZValue(5)  # over the density image and stage bars, under the cursor
                plot.addItem(band)
                self._gap_items.append((plot, band))
        tech = self._plots[2]
        for a, b in self._gap_runs:
            text = pg.TextItem(GAP_TEXT, color="#2b2f36", anchor=(0.5, 0.5))
            text.setPos((a + b) / 2, 2.0)
            text.setZValue(6)
            tech.addItem(text)
            self._gap_items.append((tech, text))

    @property
    def gap_runs(self) -> list[tuple[int, int]]:
        """(first epoch, end epoch) of each gap band shown."""
        return list(self._gap_runs)

    def set_adapted_span(self, span: tuple[int, int] | None) -> None:
        """Underline the epochs [start, stop) over which the model took this night's own statistics
        (``Prediction.night_statistics``), or none: a misread sleep period is then visible at a glance."""
        self._adapted_span = None if span is None else (int(span[0]), int(span[1]))
        if self._adapted_span is None:
            self._adapted.setData([], [])
            self._model_tips["adapted"] = ""
        else:
            a, b = self._adapted_span
            self._adapted.setData([a, b], [ADAPTED_LEVEL, ADAPTED_LEVEL])
            self._model_tips["adapted"] = (f"The teal line: the night was also scored with its own statistics, "
                                           f"taken over its sleep period (epochs {a + 1}-{b}).")
        self._show_model_tip()

    def set_events(self, events: list, epoch_s: float) -> None:
        """A tick in the technician's row where each event (`ScoringEvent`) starts, in its kind's colour."""
        key = tuple((e.start, e.kind) for e in events)
        if key == self._events_key:
            return
        self._events_key = key
        self._n_event_ticks = len(events)
        pens = {k: pg.mkPen(c, width=1.5) for k, c in KIND_COLORS.items()}
        self._event_ticks.setData(x=[e.start / epoch_s for e in events], y=[EVENT_LEVEL] * len(events),
                                  pen=[pens[e.kind] for e in events])
        self._labels_items[2].setToolTip("Ticks under N3: where the events start (artefact red, arousal orange, "
                                         "note blue)." if events else "")

    @property
    def n_event_ticks(self) -> int:
        return self._n_event_ticks

    @property
    def adapted_span(self) -> tuple[int, int] | None:
        return self._adapted_span

    def set_probabilities(self, probs: np.ndarray | None, reading: np.ndarray | None = None) -> None:
        """The model's (n, 5) probabilities, or None when there is no prediction yet; `reading`: how it read each
        epoch (`sleepscope.model.epoch_reading` bits), marked over its row, when known."""
        self._set_reading(None if probs is None else reading)
        if probs is None or len(probs) == 0:
            self._density.clear()
            self._rows["model"].set_labels(None)
            return
        img = hypnodensity_image(probs)
        self._density.setImage(img, autoLevels=False, levels=(0, 255))
        self._density.setRect(QRectF(0, 0, len(probs), 1))
        self._rows["model"].set_labels(most_likely(probs))

    def _set_reading(self, reading: np.ndarray | None) -> None:
        from sleepscope.model.epoch_reading import ARTEFACT, READ_OTHERWISE

        self._reading_runs = {}
        tips = []
        for (name, item), bits in zip(self._reading_bars.items(), (ARTEFACT, READ_OTHERWISE)):
            mask = np.zeros(0, bool) if reading is None else (np.asarray(reading) & bits) != 0
            if name == "read otherwise" and reading is not None:
                mask &= (np.asarray(reading) & ARTEFACT) == 0
            starts, ends, on = stage_runs(mask.astype(np.int8)) if mask.any() else ([], [], [])
            runs = [(int(a), int(b)) for a, b, f in zip(starts, ends, on) if f == 1]
            self._reading_runs[name] = runs
            xs = np.ravel(runs).astype(float)
            item.setData(xs, np.full(len(xs), READING_LEVEL))
            if runs:
                what = ("without a stage: the signal fails there (grey)" if name == "no stage" else
                        "read from a backup channel, the EEG alone or the EEG high-passed (violet)")
                tips.append(f"{sum(b - a for a, b in runs)} epochs {what}")
        self._model_tips["reading"] = "Bars over W: " + "; ".join(tips) + "." if tips else ""
        self._show_model_tip()

    def _show_model_tip(self) -> None:
        self._labels_items[1].setToolTip(" ".join(t for t in self._model_tips.values() if t))

    @property
    def reading_runs(self) -> dict[str, list[tuple[int, int]]]:
        """(first epoch, end epoch) of each bar over the model's row: "no stage" and "read otherwise"."""
        return {k: list(v) for k, v in self._reading_runs.items()}

    def set_labels(self, labels: np.ndarray) -> None:
        """The technician's labels (−1 unscored)."""
        self._rows["technician"].set_labels(np.asarray(labels))

    def paint_labels_now(self) -> None:
        """Repaint the technician row at once, before slower work queued behind a key press."""
        plot = self._plots[2]
        rect = self._glw.mapFromScene(plot.sceneBoundingRect()).boundingRect()
        self._glw.viewport().repaint(rect)

    def set_reference(self, labels: np.ndarray | None) -> None:
        self._has_reference = labels is not None
        self._rows["reference"].set_labels(labels)
        self._layout_rows()

    @property
    def has_reference(self) -> bool:
        return self._has_reference

    def set_second_opinion(self, labels: np.ndarray | None) -> None:
        """The second opinion's stages (its own row), or None to hide the row."""
        self._has_second = labels is not None
        self._rows["second"].set_labels(labels)
        self._layout_rows()

    @property
    def has_second_opinion(self) -> bool:
        return self._has_second

    def _layout_rows(self) -> None:
        shown = {0, 1, 2} | ({3} if self._has_reference else set()) | ({4} if self._has_second else set())
        last = max(shown)
        layout = self._glw.ci.layout
        for r, p in enumerate(self._plots):
            visible = r in shown
            p.setVisible(visible)
            self._labels_items[r].setVisible(visible)
            p.showAxis("bottom", r == last)
            # A hidden item keeps its share of a graphics layout, and its name its height: both must give it up.
            layout.setRowStretchFactor(r, self._stretch[r] if visible else 0)
            label = self._labels_items[r]
            for item in (p, label):
                item.setMaximumHeight(QWIDGETSIZE_MAX if visible else 0)
            if visible:
                label.updateMin()
            else:
                label.setMinimumHeight(0)
        # Move the clock axis to the last visible row.
        axis_owner = self._plots[last]
        if axis_owner.getAxis("bottom") is not self._axis:
            for p in self._plots:
                if p.getAxis("bottom") is self._axis:
                    p.setAxisItems({"bottom": pg.AxisItem("bottom")})
                    p.showAxis("bottom", False)
            axis_owner.setAxisItems({"bottom": self._axis})
            axis_owner.showAxis("bottom", True)

    # -- cursor and zoom ----------------------------------------------------
    def set_cursor(self, epoch: int) -> None:
        self._cursor = int(epoch)
        x = self._cursor + 0.5
        for c in self._cursors:
            c.setValue(x)
        lo, hi = self.x_range()
        if self._n and not (lo <= x <= hi):
            half = (hi - lo) / 2
            self._set_x(x - half, x + half)

    @property
    def cursor(self) -> int:
        return self._cursor

    def x_range(self) -> tuple[float, float]:
        (lo, hi), _ = self._plots[0].getViewBox().viewRange()
        return float(lo), float(hi)

    def time_view(self) -> pg.ViewBox:
        """The view box whose x range (epochs) the rows share: link another view to it to follow."""
        return self._plots[0].getViewBox()

    def _set_x(self, lo: float, hi: float) -> None:
        span = hi - lo
        lo = max(0.0, min(lo, self._n - span))
        self._plots[0].setXRange(lo, lo + span, padding=0)

    def zoom_hour(self) -> None:
        """One hour around the cursor."""
        c = self._cursor + 0.5
        span = min(EPOCHS_PER_HOUR, max(1, self._n))
        self._set_x(c - span / 2, c + span / 2)

    def whole_night(self) -> None:
        self._plots[0].setXRange(0, max(1, self._n), padding=0)
