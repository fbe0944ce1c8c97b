"""Events, notes and lights in the window: drag on the traces to mark, a side panel that lists them.

A left-button drag across the traces marks the kind chosen in the panel
(artefact, arousal or a note) over the dragged span; `A` marks the current
epoch as an artefact; `L` and `Shift+L` put lights off and on at the start of
the current epoch. Each is one scoring-file edit (journalled with who and
when, undone by Ctrl+Z with the stage edits). Marked spans are shaded on the
traces, the lights markers drawn on the traces and the hypnogram, and the
statistics follow the lights.

The recording's own annotations (the acquisition software's events, the
night technician's notes) are listed below, read-only; lights markers among
them can be taken as the scoring's own with one click, and the others as
events (arousals and artefacts by their words, the rest as notes), all or
the selected ones, as one undoable edit.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QGraphicsRectItem,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sleepscope.errors import SleepScopeError
from sleepscope.scoring.events import (
    ARTEFACT,
    EVENT_KINDS,
    FROM_RECORDING,
    KIND_COLORS,
    KIND_LABEL,
    NOTE,
    ScoringEvent,
    clock_time,
    count_text,
    taken,
)

LIGHTS_PEN = pg.mkPen("#6c3483", width=2, style=Qt.PenStyle.DashLine)
ANNOTATION_PEN = pg.mkPen("#5d6d7e", width=1, style=Qt.PenStyle.DotLine)
#: A drag shorter than this (pixels) is a click, not a span.
MIN_DRAG_PX = 5
COLUMNS = ("Start", "Length", "Kind", "Text", "By")
TEXT_COLUMN = 3
ANNOTATION_COLUMNS = ("Start", "Length", "Text")


@contextmanager
def bulk_fill(table: QTableWidget) -> Iterator[None]:
    """Fill `table` without a layout pass per item: a column sized to its contents otherwise measures every row
    at each setItem, which made a night of thousands of events take minutes to list."""
    header = table.horizontalHeader()
    modes = [header.sectionResizeMode(c) for c in range(table.columnCount())]
    table.setUpdatesEnabled(False)
    for c in range(len(modes)):
        header.setSectionResizeMode(c, QHeaderView.ResizeMode.Interactive)
    try:
        yield
    finally:
        for c, mode in enumerate(modes):
            header.setSectionResizeMode(c, mode)
        table.setUpdatesEnabled(True)


def _brush(kind: str, alpha: int) -> QColor:
    c = QColor(KIND_COLORS.get(kind, "#7d8793"))
    c.setAlpha(alpha)
    return c


class SpanDrag(QObject):
    """Turns a left-button drag on a plot widget into a span of its x axis (seconds), with a preview."""

    spanDragged = Signal(float, float)

    def __init__(self, plot: pg.PlotWidget, kind: Any) -> None:
        super().__init__(plot)
        self._plot = plot
        self._kind = kind  # callable: the kind being marked (colours the preview)
        self._start: tuple[float, float] | None = None  # (x in the view, x in pixels)
        self._preview: pg.LinearRegionItem | None = None
        plot.viewport().installEventFilter(self)

    def _x(self, ev: Any) -> float:
        vb = self._plot.getPlotItem().getViewBox()
        return float(vb.mapSceneToView(self._plot.mapToScene(ev.position().toPoint())).x())

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802 (Qt name)
        t = ev.type()
        if t == QEvent.Type.MouseButtonPress and ev.button() == Qt.MouseButton.LeftButton:
            self._start = (self._x(ev), float(ev.position().x()))
        elif t == QEvent.Type.MouseMove and self._start is not None:
            x0, px0 = self._start
            if self._preview is None and abs(ev.position().x() - px0) >= MIN_DRAG_PX:
                self._preview = pg.LinearRegionItem(movable=False, brush=_brush(self._kind(), 70))
                self._plot.getPlotItem().addItem(self._preview)
            if self._preview is not None:
                self._preview.setRegion(sorted((x0, self._x(ev))))
                return True
        elif t == QEvent.Type.MouseButtonRelease and ev.button() == Qt.MouseButton.LeftButton:
            start, self._start = self._start, None
            if self._preview is not None:
                self._plot.getPlotItem().removeItem(self._preview)
                self._preview = None
                x1 = self._x(ev)
                if start is not None:
                    self.spanDragged.emit(min(start[0], x1), max(start[0], x1))
                return True
        return False


class MarkOverlay:
    """Shaded spans of the events, lines of the lights markers and of the recording's own annotations over the
    traces' visible window.

    Its graphics items are made once and reused: making pyqtgraph items on
    every page flip costs more than drawing the traces.
    """

    def __init__(self, plot: pg.PlotItem) -> None:
        self._plot = plot
        self._spans: list[tuple[QGraphicsRectItem, pg.TextItem]] = []
        self._lines: list[pg.InfiniteLine] = []
        for text in ("Lights off", "Lights on"):
            line = pg.InfiniteLine(angle=90, movable=False, pen=LIGHTS_PEN, label=text,
                                   labelOpts={"position": 0.97, "color": "#6c3483"})
            line.setVisible(False)
            plot.addItem(line)
            self._lines.append(line)
        self._notes: list[pg.InfiniteLine] = []
        self._n = 0
        self._n_notes = 0
        self._key: tuple | None = None

    def _note(self, i: int) -> pg.InfiniteLine:
        while len(self._notes) <= i:
            line = pg.InfiniteLine(angle=90, movable=False, pen=ANNOTATION_PEN, label="",
                                   labelOpts={"position": 0.9, "color": "#34495e", "fill": (255, 255, 255, 210)})
            self._plot.addItem(line)
            self._notes.append(line)
        return self._notes[i]

    def _span(self, i: int) -> tuple[QGraphicsRectItem, pg.TextItem]:
        while len(self._spans) <= i:
            rect = QGraphicsRectItem()
            rect.setZValue(-6)
            label = pg.TextItem("", anchor=(0, 0))
            self._plot.addItem(rect)
            self._plot.addItem(label)
            self._spans.append((rect, label))
        return self._spans[i]

    def show(self, window_s: tuple[float, float], events: list[ScoringEvent],
             lights: tuple[float | None, float | None], version: Any, annotations: list = ()) -> None:
        key = (window_s, version)
        if key == self._key:
            return  # a page flip within the same window, or nothing changed: no work
        self._key = key
        t0, t1 = window_s
        (_, _), (ylo, yhi) = self._plot.getViewBox().viewRange()
        shown = [e for e in events if e.end > t0 and e.start < t1]
        for i, e in enumerate(shown):
            rect, label = self._span(i)
            rect.setRect(QRectF(e.start, ylo, e.end - e.start, yhi - ylo))
            rect.setBrush(_brush(e.kind, 55))
            rect.setPen(pg.mkPen(_brush(e.kind, 160)))
            rect.setToolTip(f"{e.label} — {e.scorer or 'unknown'}")
            text = e.label[:40]
            if label.toPlainText() != text:  # setText lays out HTML again: only when it changed
                label.setText(text)
            label.setColor(KIND_COLORS.get(e.kind, "#333"))
            label.setPos(max(e.start, t0), yhi)
            rect.setVisible(True)
            label.setVisible(True)
        for rect, label in self._spans[len(shown):]:
            rect.setVisible(False)
            label.setVisible(False)
        self._n = len(shown)
        for line, t in zip(self._lines, lights):
            line.setVisible(t is not None and t0 <= t <= t1)
            if t is not None:
                line.setValue(t)
        notes = [a for a in annotations if t0 <= a.onset <= t1]
        for i, a in enumerate(notes):
            line = self._note(i)
            line.setValue(a.onset)
            line.label.setFormat(a.text[:40].replace("{", "{{").replace("}", "}}"))  # a format string
            line.setToolTip(f"{a.text} (in the recording)")
            line.setVisible(True)
        for line in self._notes[len(notes):]:
            line.setVisible(False)
        self._n_notes = len(notes)

    def clear(self) -> None:
        for rect, label in self._spans:
            rect.setVisible(False)
            label.setVisible(False)
        for line in self._lines + self._notes:
            line.setVisible(False)
        self._n = 0
        self._n_notes = 0
        self._key = None

    @property
    def n_notes(self) -> int:
        """How many of the recording's annotations are drawn in the visible window."""
        return self._n_notes

    @property
    def n_spans(self) -> int:
        return self._n


class EventsPanel(QWidget):
    """Lights markers, the kind a drag marks, and the list of events and notes."""

    #: lights 'off'/'on' at the current epoch ('here') or cleared ('clear')
    lightsRequested = Signal(str, str)
    textEdited = Signal(int, str)
    #: the ids of the events selected in the list
    removeRequested = Signal(list)
    #: the rows of the recording's annotations to take as events (all of them when none is selected)
    takeRequested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lights = QGridLayout()
        self.lights_labels: dict[str, QLabel] = {}
        self.from_recording: dict[str, QPushButton] = {}
        for row, which in enumerate(("off", "on")):
            lab = QLabel()
            self.lights_labels[which] = lab
            here = QPushButton("Here")
            here.setToolTip(f"Lights {which} at the start of the current epoch ({'L' if which == 'off' else 'Shift+L'})")
            clear = QPushButton("Clear")
            recorded = QPushButton("As recorded")
            self.from_recording[which] = recorded
            for b in (here, clear, recorded):
                b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            here.clicked.connect(lambda _=False, w=which: self.lightsRequested.emit(w, "here"))
            clear.clicked.connect(lambda _=False, w=which: self.lightsRequested.emit(w, "clear"))
            recorded.clicked.connect(lambda _=False, w=which: self.lightsRequested.emit(w, "recording"))
            lights.addWidget(lab, row, 0)
            lights.addWidget(recorded, row, 1)
            lights.addWidget(here, row, 2)
            lights.addWidget(clear, row, 3)
        lay.addLayout(lights)
        self._recorded_lights: tuple[float | None, float | None] = (None, None)
        drag = QHBoxLayout()
        drag.addWidget(QLabel("Drag on the traces to mark:"))
        self.kind = QComboBox()
        for k in EVENT_KINDS:
            self.kind.addItem(KIND_LABEL[k], k)
        self.kind.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        drag.addWidget(self.kind, 1)
        lay.addLayout(drag)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS)):
            # the text takes what the times, kinds and names leave
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch if col == TEXT_COLUMN
                                        else QHeaderView.ResizeMode.ResizeToContents)
        self.table.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.table.itemChanged.connect(self._item_changed)
        lay.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.remove_button = QPushButton("Remove")
        self.remove_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.remove_button.clicked.connect(self._remove_selected)
        self.summary = QLabel()
        self.summary.setStyleSheet("color:#4a525c")
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.remove_button)
        lay.addLayout(buttons)
        self.annotations_label = QLabel()
        self.annotations = QTableWidget(0, len(ANNOTATION_COLUMNS))
        self.annotations.setHorizontalHeaderLabels(ANNOTATION_COLUMNS)
        self.annotations.verticalHeader().setVisible(False)
        self.annotations.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.annotations.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.annotations.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        header = self.annotations.horizontalHeader()
        for col in range(len(ANNOTATION_COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch if col == len(ANNOTATION_COLUMNS) - 1
                                        else QHeaderView.ResizeMode.ResizeToContents)
        self.annotations.itemSelectionChanged.connect(self._name_take)
        self.take_button = QPushButton()
        self.take_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.take_button.setToolTip("Mark the recording's annotations as this scoring's events: arousals and "
                                    "artefacts by their words, the others as notes with their text (lights markers "
                                    "are taken with \"As recorded\"). One edit: Ctrl+Z takes them all back.")
        self.take_button.clicked.connect(lambda: self.takeRequested.emit(self.selected_annotations()))
        lay.addWidget(self.annotations_label)
        lay.addWidget(self.annotations, 1)
        lay.addWidget(self.take_button)
        self._ids: list[int] = []
        self._shown: tuple | None = None
        self._taken: list[bool] = []
        self._filling = False
        self._writable = False
        self._lights: tuple[float | None, float | None] = (None, None)
        self._start_time: Any = None
        self.show_marks([], (None, None), None, False)
        self.show_annotations([], None)

    def current_kind(self) -> str:
        return str(self.kind.currentData())

    def show_marks(self, events: list[ScoringEvent], lights: tuple[float | None, float | None],
                   start_time: Any, writable: bool, force: bool = False) -> None:
        """`force`: list the events again even when they are those shown (a text typed into a row and refused
        must go back to what is saved)."""
        self._lights, self._start_time, self._writable = lights, start_time, writable
        self._show_lights()
        shown = (list(events), start_time, writable)
        if force or shown != self._shown:  # a lights marker or an undo of one leaves the list as it is
            self._filling = True
            try:
                with bulk_fill(self.table):
                    self._fill_events(events, start_time, writable)
            finally:
                self._filling = False
            self._shown = shown
        counts = {k: sum(1 for e in events if e.kind == k) for k in EVENT_KINDS}
        self.summary.setText(", ".join(f"{n} {KIND_LABEL[k].lower()}{'s' if n != 1 else ''}"
                                       for k, n in counts.items()))
        self.remove_button.setEnabled(writable and bool(events))
        self.kind.setEnabled(writable)
        self._name_take()

    def _fill_events(self, events: list[ScoringEvent], start_time: Any, writable: bool) -> None:
        self.table.setRowCount(len(events))
        self._ids = [e.id for e in events]
        for r, e in enumerate(events):
            by = e.scorer or "—"
            cells = (clock_time(e.start, start_time), f"{e.duration:.1f} s", KIND_LABEL[e.kind], e.text,
                     by + (" (from the recording)" if e.source == FROM_RECORDING else ""))
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                flags = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
                if c == TEXT_COLUMN and writable:
                    flags |= Qt.ItemFlag.ItemIsEditable
                item.setFlags(flags)
                if c == 2:
                    item.setForeground(QColor(KIND_COLORS[e.kind]))
                item.setToolTip(f"taken from the recording's annotations by {e.scorer or 'unknown'}"
                                if e.source == FROM_RECORDING else f"marked by {e.scorer or 'unknown'}")
                self.table.setItem(r, c, item)

    def _show_lights(self) -> None:
        for which, t, rec in zip(("off", "on"), self._lights, self._recorded_lights):
            where = "not marked" if t is None else clock_time(t, self._start_time)
            default = " (start of recording)" if which == "off" else " (end of recording)"
            text = f"Lights {which}: <b>{where}</b>" + (default if t is None else "")
            if rec is not None and rec != t:
                text += f"<br><span style='color:#4a525c'>the recording says {clock_time(rec, self._start_time)}</span>"
            self.lights_labels[which].setText(text)
            button = self.from_recording[which]
            button.setVisible(rec is not None)
            button.setEnabled(self._writable and rec is not None and rec != t)
            if rec is not None:
                button.setToolTip(f"Lights {which} where the recording's annotations put it "
                                  f"({clock_time(rec, self._start_time)})")

    def show_annotations(self, annotations: list, start_time: Any) -> None:
        """The recording's own annotations (sleepscope.io.annotations.Annotation), read-only."""
        from sleepscope.io.annotations import lights_of

        self._recorded_lights = lights_of(annotations)
        self._taken = []
        with bulk_fill(self.annotations):
            self.annotations.setRowCount(len(annotations))
            for r, a in enumerate(annotations):
                cells = (clock_time(a.onset, start_time), f"{a.duration:.1f} s" if a.duration > 0 else "—", a.text)
                for c, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
                    self.annotations.setItem(r, c, item)
        n = len(annotations)
        files = sorted({a.origin for a in annotations if a.origin})
        where = "In the recording" + "".join(f" and {f}" for f in files)
        self.annotations_label.setText(f"{where}: {n} annotation{'s' if n != 1 else ''} "
                                       "(written by the acquisition software or the scoring; read-only)"
                                       if files else f"{where}: {n} annotation{'s' if n != 1 else ''} "
                                       "(written by the acquisition software; read-only)")
        self.annotations_label.setVisible(bool(n))
        self.annotations.setVisible(bool(n))
        self.take_button.setVisible(bool(n))
        self._name_take()
        self._show_lights()

    def selected_annotations(self) -> list[int]:
        return sorted({i.row() for i in self.annotations.selectedIndexes()})

    def show_taken(self, taken: list[bool]) -> None:
        """Grey the rows of the annotations already among the scoring's events (or lights markers, which are
        never taken as events); "Take all" has nothing left to take when every row is grey."""
        taken = list(taken)
        if taken != self._taken:
            grey, plain = QColor("#8a939c"), self.annotations.palette().text().color()
            with bulk_fill(self.annotations):
                for r, done in enumerate(taken[: self.annotations.rowCount()]):
                    for c in range(self.annotations.columnCount()):
                        item = self.annotations.item(r, c)
                        item.setForeground(grey if done else plain)
                        item.setToolTip("already an event of this scoring (or a lights marker)" if done else "")
            self._taken = taken
        self._name_take()

    def _name_take(self) -> None:
        n = len(self.selected_annotations())
        left = not self._taken or not all(self._taken)
        self.take_button.setText(f"Take the {n} selected as events" if n
                                 else "Take all as events" if left else "All taken as events")
        self.take_button.setEnabled(self._writable and (bool(n) or left))

    def event_ids(self) -> list[int]:
        return list(self._ids)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if not self._filling and item.column() == TEXT_COLUMN:
            self.textEdited.emit(self._ids[item.row()], item.text())

    def select_event(self, event_id: int) -> None:
        """That event's row alone selected and in view (selectRow would extend the selection while Shift+E is
        held)."""
        index = self.table.model().index(self._ids.index(event_id), 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)

    def selected_events(self) -> list[int]:
        """The ids of the selected rows' events."""
        return [self._ids[r] for r in sorted({i.row() for i in self.table.selectedIndexes()}) if r < len(self._ids)]

    def _remove_selected(self) -> None:
        self.removeRequested.emit(self.selected_events())


class EventsDock(QObject):
    """The events dock, the drag on the traces, the overlays, and the edits they make.

    The window calls `show_scoring` when a recording is shown or closed; the
    controller's signals keep the rest current (an undo of an event or a
    lights marker emits `marksChanged`).
    """

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        c = window.controller
        self.panel = EventsPanel()
        dock = QDockWidget("Events and lights", window)
        dock.setObjectName("events_dock")
        dock.setWidget(self.panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.dock = dock
        plot = window.trace.findChild(pg.PlotWidget)
        self.drag = SpanDrag(plot, self.panel.current_kind)
        self.overlay = MarkOverlay(plot.getPlotItem())
        self._hyp_lines: list[pg.InfiniteLine] = []
        self._scoring: Any = None
        self._annotations: list = []
        self._notes: list = []
        self._notes_key: tuple = ()
        self.drag.spanDragged.connect(lambda t0, t1: self.mark(self.panel.current_kind(), t0, t1))
        self.panel.lightsRequested.connect(self._lights_requested)
        self.panel.textEdited.connect(self.set_text)
        self.panel.removeRequested.connect(self.remove)
        self.panel.takeRequested.connect(self.take_annotations)
        self.panel.table.cellClicked.connect(self._go_to_row)
        self.panel.annotations.cellClicked.connect(self._go_to_annotation)
        window.trace.rendered.connect(lambda _s: self._update_overlay())
        c.marksChanged.connect(self.refresh)

    # -- the window's recording --------------------------------------------
    def show_scoring(self, scoring: Any, annotations: list | None = None) -> None:
        """Show a scoring file's marks, and the annotations of its recording (sleepscope.io.annotations)."""
        self._scoring = scoring
        self._annotations = list(annotations or [])
        self._notes_key = ()
        self.overlay.clear()
        self.panel.show_annotations(self._annotations, scoring.identity.start_time if scoring is not None else None)
        self.refresh()

    def add_annotations(self, more: list) -> None:
        """More annotations to list beside the recording's (an attached hypnogram file's scored events); those
        already listed are not listed twice."""
        have = set(self._annotations)
        self._annotations = sorted(self._annotations + [a for a in more if a not in have], key=lambda a: a.onset)
        self._notes_key = ()
        sf = self._scoring
        self.panel.show_annotations(self._annotations, sf.identity.start_time if sf is not None else None)
        if sf is not None:
            self.panel.show_taken(self._taken_annotations())
        self._update_overlay()

    def refresh(self, force: bool = False) -> None:
        """Panel, overlays and statistics from the scoring file as it is now (`force`: see `show_marks`)."""
        sf = self._scoring
        if sf is None:
            self.panel.show_marks([], (None, None), None, False)
            self.overlay.clear()
            self._hypnogram_lights((None, None))
            self.window.hypnogram.set_events([], 30.0)
            return
        lights = (sf.lights.off, sf.lights.on)
        self.panel.show_marks(sf.events, lights, sf.identity.start_time, not sf.readonly, force)
        self.panel.show_taken(self._taken_annotations())
        self.window.hypnogram.set_events(sf.events, self._epoch_s())
        self._update_overlay()
        self._hypnogram_lights(lights)
        analysis = getattr(self.window, "analysis", None)
        if analysis is not None:
            analysis.stats.schedule_refresh()

    def _update_overlay(self) -> None:
        sf = self._scoring
        if sf is None:
            return
        self.overlay.show(self.window.trace.window_s(), sf.events, (sf.lights.off, sf.lights.on), sf.seq,
                          self._untaken_notes(sf))

    def _untaken_notes(self, sf: Any) -> list:
        """The annotations to draw: one taken as an event is drawn once, as the event (worked out once per edit,
        not at every page)."""
        key = (sf.seq,)
        if self._notes_key != key:
            drawn = {(round(e.start, 3), e.text) for e in sf.events if e.source == FROM_RECORDING}
            self._notes = [a for a in self._annotations if (round(max(0.0, a.onset), 3), a.text) not in drawn]
            self._notes_key = key
        return self._notes

    def _hypnogram_lights(self, lights: tuple[float | None, float | None]) -> None:
        hyp = self.window.hypnogram
        for line, plot in self._hyp_lines:
            plot.removeItem(line)
        self._hyp_lines = []
        plots = [p for p in getattr(hyp, "_plots", []) if p.isVisible()] or [hyp.time_view()]
        for t, text in zip(lights, ("Lights off", "Lights on")):
            if t is None:
                continue
            for i, plot in enumerate(plots):
                line = pg.InfiniteLine(pos=t / self._epoch_s(), angle=90, movable=False, pen=LIGHTS_PEN,
                                       label=text if i == len(plots) - 1 else None,
                                       labelOpts={"position": 0.85, "color": "#6c3483"})
                plot.addItem(line)
                self._hyp_lines.append((line, plot))

    # -- edits -----------------------------------------------------------------
    def _edit(self, fn: Any, done: str) -> bool:
        c = self.window.controller
        if self._scoring is None or not c.writable():
            return False
        try:
            fn(self._scoring)
        except SleepScopeError as exc:
            c.failed.emit(str(exc))
            self.refresh(force=True)
            return False
        self.refresh()
        if done:
            c.message.emit(done)
        return True

    def mark(self, kind: str, start: float, end: float, text: str = "") -> bool:
        """Mark `kind` over start–end seconds (a drag on the traces; a note then asks for its text)."""
        made: list[ScoringEvent] = []
        ok = self._edit(lambda sf: made.append(sf.add_event(kind, start, end, text=text)),
                        f"Marked {KIND_LABEL.get(kind, kind).lower()} {start:.1f}–{end:.1f} s (Ctrl+Z takes it back).")
        if ok and kind == NOTE and not text:
            # Type the note's text at once in its row (Enter keeps it).
            row = self.panel.event_ids().index(made[0].id)
            self.panel.table.setCurrentCell(row, TEXT_COLUMN)
            self.panel.table.editItem(self.panel.table.item(row, TEXT_COLUMN))
        return ok

    def mark_epoch(self, kind: str = ARTEFACT) -> bool:
        """Mark the current epoch whole (the `A` key)."""
        e, es = self.window.controller.current, self._epoch_s()
        return self.mark(kind, e * es, (e + 1) * es)

    def _epoch_s(self) -> float:
        return float(self._scoring.identity.epoch_seconds) if self._scoring is not None else 30.0

    def set_text(self, event_id: int, text: str) -> bool:
        return self._edit(lambda sf: sf.change_event(event_id, text=text), "Note text saved.")

    def remove(self, event_ids: list[int]) -> bool:
        """Remove events (the selected rows: the Remove button, the Delete key), one undoable edit."""
        if not event_ids:
            self.window.controller.message.emit("Select an event in the Events dock first (E goes to the next one).")
            return False
        n = len(event_ids)
        return self._edit(lambda sf: sf.remove_events(event_ids),
                          f"{'Event' if n == 1 else f'{n} events'} removed (Ctrl+Z brings {'it' if n == 1 else 'them'} "
                          "back).")

    def remove_selected(self) -> bool:
        return self.remove(self.panel.selected_events())

    def lights_here(self, which: str) -> bool:
        """Lights `which` ('off'/'on') at the start of the current epoch (keys L and Shift+L)."""
        e = self.window.controller.current
        return self._edit(lambda sf: sf.set_lights(which, e * self._epoch_s()),
                          f"Lights {which} at epoch {e + 1}: the statistics now {'start' if which == 'off' else 'end'} "
                          "there (Ctrl+Z takes it back).")

    def clear_lights(self, which: str) -> bool:
        return self._edit(lambda sf: sf.set_lights(which, None), f"Lights {which} cleared.")

    def lights_as_recorded(self, which: str) -> bool:
        """Lights `which` where the recording's own annotations put it."""
        from sleepscope.io.annotations import lights_of

        t = dict(zip(("off", "on"), lights_of(self._annotations)))[which]
        if t is None:
            return False
        return self._edit(lambda sf: sf.set_lights(which, t),
                          f"Lights {which} where the recording marks it (Ctrl+Z takes it back).")

    def _taken_annotations(self) -> list[bool]:
        """Per listed annotation: nothing left to take (a lights marker, or already one of the events)."""
        from sleepscope.io.annotations import as_events

        sf = self._scoring
        candidates = [as_events([a], sf.identity.duration_s) for a in self._annotations]  # [] for lights markers
        done = iter(taken([c[0] for c in candidates if c], sf.events))
        return [next(done) if c else True for c in candidates]

    def take_annotations(self, rows: list[int] | None = None) -> bool:
        """The recording's annotations (those of `rows`, or all) as events, one undoable edit; those already
        taken, and lights markers, are left out."""
        from sleepscope.scoring.export import import_annotations

        if self._scoring is None:
            return False
        chosen = [self._annotations[r] for r in rows if 0 <= r < len(self._annotations)] if rows else self._annotations
        took: list = []
        if not self._edit(lambda sf: took.extend(import_annotations(sf, chosen)), ""):
            return False
        self.window.controller.message.emit(
            f"Took {len(took)} of the recording's annotations as events ({count_text([e[0] for e in took])}; "
            "Ctrl+Z takes them back)." if took
            else "Nothing to take: those annotations are lights markers or are events already.")
        return bool(took)

    def _lights_requested(self, which: str, what: str) -> None:
        {"here": self.lights_here, "clear": self.clear_lights, "recording": self.lights_as_recorded}[what](which)

    def _go_to_annotation(self, row: int, column: int) -> None:
        sf = self._scoring
        if sf is not None and 0 <= row < len(self._annotations):
            epoch = int(self._annotations[row].onset // sf.identity.epoch_seconds)
            self.window.controller.go_to(min(epoch, sf.n_epochs - 1))

    def go_to_event(self, direction: int) -> bool:
        """The next (`direction` 1) or previous (-1) epoch where an event starts, its row selected: stepping
        through a night's arousals to check each one."""
        sf = self._scoring
        if sf is None or not sf.events:
            return False
        es, here = self._epoch_s(), self.window.controller.current
        starts = sorted((int(e.start // es), e.id) for e in sf.events)
        beyond = [s for s in starts if (s[0] > here if direction > 0 else s[0] < here)]
        if not beyond:
            self.window.controller.message.emit(f"No event {'after' if direction > 0 else 'before'} this epoch.")
            return False
        epoch, event_id = beyond[0] if direction > 0 else beyond[-1]
        self.window.controller.go_to(min(epoch, sf.n_epochs - 1))
        self.panel.select_event(event_id)
        return True

    def _go_to_row(self, row: int, column: int) -> None:
        sf = self._scoring
        ids = self.panel.event_ids()
        if sf is None or not 0 <= row < len(ids):
            return
        ev = next((e for e in sf.events if e.id == ids[row]), None)
        if ev is not None:
            self.window.controller.go_to(int(ev.start // sf.identity.epoch_seconds))
