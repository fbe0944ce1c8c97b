"""Events, notes and lights in the window, used as a technician does: drag on the traces, keys, panel, undo."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from test_gui_support import (  # noqa: E402,F401  (fixtures)
    gui_settings,
    open_and_wait,
    write_short_night,
)

from sleepscope.scoring.scoring_file import ScoringFile  # noqa: E402


pytestmark = pytest.mark.usefixtures("no_shipped_model")


@pytest.fixture
def window(main_windows, gui_settings):
    return main_windows(gui_settings)


def key(qtbot, w, k, mods=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(w.surface, k, mods)


def drag_on_traces(qtbot, w, t0: float, t1: float) -> None:
    """A left-button drag across the traces from t0 to t1 seconds (in the middle of the lanes)."""
    plot = w.trace.findChild(pg.PlotWidget)
    vb = plot.getPlotItem().getViewBox()
    (_, _), (ylo, yhi) = vb.viewRange()
    y = (ylo + yhi) / 2

    def pos(t):
        return plot.mapFromScene(vb.mapViewToScene(pg.Point(t, y)))

    vp = plot.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=pos(t0))
    for f in (0.25, 0.5, 0.75, 1.0):
        qtbot.mouseMove(vp, pos=pos(t0 + f * (t1 - t0)))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=pos(t1))


def grab(w, name):
    out = os.environ.get("SLEEPSCOPE_SCREENSHOTS")
    if out:
        w.grab().save(os.path.join(out, name))


def test_drag_marks_an_event_listed_saved_undone_and_kept_on_reopen(qtbot, tmp_path, window, errors):
    psg, _ = write_short_night(tmp_path, n=40)
    w = window
    assert open_and_wait(qtbot, w, psg)
    w.controller.go_to(4)
    t0, t1 = w.trace.window_s()
    panel = w.events.panel
    panel.kind.setCurrentIndex(panel.kind.findData("arousal"))
    start, end = 4 * 30 + 5.0, 4 * 30 + 17.0
    drag_on_traces(qtbot, w, start, end)
    events = w.scoring.events
    assert len(events) == 1, errors
    ev = events[0]
    assert ev.kind == "arousal" and abs(ev.start - start) < 0.5 and abs(ev.end - end) < 0.5
    assert ev.scorer == w.scoring.scorer and ev.scorer
    # listed in the panel and shaded on the traces
    assert panel.table.rowCount() == 1 and panel.table.item(0, 2).text() == "Arousal"
    assert w.events.overlay.n_spans == 1
    # a click (no drag) marks nothing
    drag_on_traces(qtbot, w, start + 1, start + 1)
    assert len(w.scoring.events) == 1
    grab(w, "events-window.png")
    # Ctrl+Z takes it back: gone from the file, the panel and the traces
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.scoring.events == [] and panel.table.rowCount() == 0 and w.events.overlay.n_spans == 0
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(w.scoring.events) == 1 and panel.table.rowCount() == 1
    # a note: typed into its row
    panel.kind.setCurrentIndex(panel.kind.findData("note"))
    drag_on_traces(qtbot, w, 4 * 30 + 20.0, 4 * 30 + 28.0)
    assert len(w.scoring.events) == 2
    row = next(r for r in range(panel.table.rowCount()) if panel.table.item(r, 2).text() == "Note")
    panel.table.item(row, 3).setText("leg movement")
    assert [e.text for e in w.scoring.events if e.kind == "note"] == ["leg movement"]
    path = w.scoring.path
    w.close_recording()
    with ScoringFile.open_existing(path) as sf:
        assert sorted(e.kind for e in sf.events) == ["arousal", "note"]
        assert [e.text for e in sf.events if e.kind == "note"] == ["leg movement"]
    assert open_and_wait(qtbot, w, psg)
    assert w.events.panel.table.rowCount() == 2
    assert not errors


def test_lights_keys_change_the_statistics_and_undo(qtbot, tmp_path, window, errors):
    psg, _ = write_short_night(tmp_path, n=40)
    w = window
    assert open_and_wait(qtbot, w, psg)
    w.scoring.set_stages(np.arange(40), np.array([0] * 6 + [2] * 30 + [0] * 4))
    w.analysis.stats_dock.raise_()  # the statistics tab in front: it recomputes as the night changes
    w.controller.go_to(3)
    key(qtbot, w, Qt.Key.Key_L)
    assert w.scoring.lights.off == 90.0
    w.controller.go_to(38)
    key(qtbot, w, Qt.Key.Key_L, Qt.KeyboardModifier.ShiftModifier)
    assert w.scoring.lights.on == 38 * 30.0
    stats = w.analysis.stats
    qtbot.waitUntil(lambda: stats.stats is not None and stats.stats.lights_off_epoch == 3, timeout=5000)
    assert stats.stats.lights_on_epoch == 38 and stats.stats.tib_min == 17.5 and stats.stats.sol_min == 1.5
    assert "Lights off: <b>" in w.events.panel.lights_labels["off"].text()
    # the lights lines are on the hypnogram
    assert len(w.events._hyp_lines) >= 2
    # Ctrl+Z removes lights on; the statistics run to the end again
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.scoring.lights.on is None
    qtbot.waitUntil(lambda: stats.stats.lights_on_epoch == 40, timeout=5000)
    # lights on before lights off is refused with a message, nothing changes
    w.controller.go_to(1)
    key(qtbot, w, Qt.Key.Key_L, Qt.KeyboardModifier.ShiftModifier)
    assert w.scoring.lights.on is None and errors and "before lights on" in errors[-1][1]
    # A marks the epoch as an artefact
    w.controller.go_to(10)
    key(qtbot, w, Qt.Key.Key_A)
    assert [(e.kind, e.start, e.end) for e in w.scoring.events] == [("artefact", 300.0, 330.0)]
    # Help and the Scoring menu come from the key table
    from sleepscope.gui.keymap import keyboard_help_html

    assert "lights off" in keyboard_help_html().lower()
    texts = [a.text() for m in w.menuBar().actions() if m.menu() for a in m.menu().actions()]
    assert any(t.startswith("Lights off at this epoch\tL") for t in texts)


def test_events_export_from_the_window(qtbot, tmp_path, window, errors, monkeypatch):
    import csv

    from PySide6.QtWidgets import QFileDialog

    psg, _ = write_short_night(tmp_path, n=40)
    w = window
    assert open_and_wait(qtbot, w, psg)
    w.controller.go_to(2)
    key(qtbot, w, Qt.Key.Key_A)
    out = tmp_path / "events.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    w.act_export_events.trigger()
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [(r["kind"], r["onset_s"], r["duration_s"]) for r in rows] == [("artefact", "60", "30")]
    assert not errors


def _with_annotations(path, annotations) -> None:
    """The recording at `path` rewritten as EDF+ carrying `annotations` ((onset s, duration s or None, text))."""
    import edfio

    edf = edfio.read_edf(path)
    edf.add_annotations([edfio.EdfAnnotation(onset, duration, text) for onset, duration, text in annotations])
    edf.write(path)


def test_the_recordings_own_annotations_are_listed_and_its_lights_taken_with_one_click(qtbot, tmp_path, window,
                                                                                        errors):
    """What the night technician wrote into the recording (lights, a note) is listed read-only; its lights can be
    taken as the scoring's own (one undoable edit); a stage annotation is a hypnogram, not listed."""
    psg, _ = write_short_night(tmp_path)
    _with_annotations(psg, [(65.0, None, "Lights Off"), (130.0, 60.0, "Patient to bathroom"),
                            (150.0, 30.0, "Sleep stage W"), (1500.0, None, "LIGHTS ON")])
    w = window
    assert open_and_wait(qtbot, w, psg)
    panel = w.events.panel
    rows = [panel.annotations.item(r, 2).text() for r in range(panel.annotations.rowCount())]
    assert rows == ["Lights Off", "Patient to bathroom", "LIGHTS ON"] and panel.annotations.isVisibleTo(panel)
    assert panel.annotations.item(1, 1).text() == "60.0 s"
    assert "the recording says" in panel.lights_labels["off"].text()
    off, on = panel.from_recording["off"], panel.from_recording["on"]
    assert off.isEnabled() and on.isEnabled() and w.scoring.lights.off is None
    qtbot.mouseClick(off, Qt.MouseButton.LeftButton)
    assert w.scoring.lights.off == 65.0 and not off.isEnabled()  # taken: nothing more to take
    assert "the recording says" not in panel.lights_labels["off"].text()
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.scoring.lights.off is None and off.isEnabled()
    panel.annotations.cellClicked.emit(1, 2)  # the note's row: the epoch it begins in
    assert w.controller.current == 130 // 30
    qtbot.waitUntil(lambda: w.events.overlay.n_notes == 1)  # drawn on the traces where it was written
    note = next(line for line in w.events.overlay._notes if line.isVisible())
    assert note.value() == 130.0 and note.label.format == "Patient to bathroom"
    key(qtbot, w, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: w.events.overlay.n_notes == 0)
    assert errors == []


def test_a_recording_without_annotations_shows_no_list_nor_lights_button(qtbot, tmp_path, window):
    psg, _ = write_short_night(tmp_path)  # plain EDF: no annotation channel
    assert open_and_wait(qtbot, window, psg)
    panel = window.events.panel
    assert panel.annotations.rowCount() == 0 and not panel.annotations.isVisibleTo(panel)
    assert not panel.from_recording["off"].isVisibleTo(panel) and not panel.from_recording["on"].isVisibleTo(panel)


def test_the_recordings_events_taken_with_one_click_counted_and_taken_back_with_one_undo(qtbot, tmp_path, window,
                                                                                           errors, monkeypatch):
    """The acquisition system's arousal, artefact and respiratory event become the scoring's events (lights
    markers stay the lights'); the statistics count the arousal in sleep; Ctrl+Z takes all of them back; a
    selected row is taken alone, and one already taken is not taken twice."""
    psg, _ = write_short_night(tmp_path, n=40)
    _with_annotations(psg, [(65.0, None, "Lights Off"), (130.0, 8.0, "Arousal (ARO SPONT)"),
                            (400.0, 20.0, "Obstructive Apnea"), (610.0, 5.0, "Electrode pop C3")])
    w = window
    assert open_and_wait(qtbot, w, psg)
    w.scoring.set_stages(np.arange(40), np.array([0] * 2 + [2] * 38))
    w.analysis.stats_dock.raise_()
    panel = w.events.panel
    messages: list[str] = []
    w.controller.message.connect(messages.append)
    assert panel.take_button.text() == "Take all as events" and panel.take_button.isEnabled()
    w.controller.go_to(4)
    qtbot.waitUntil(lambda: w.events.overlay.n_notes == 1)  # the arousal's annotation on the page
    qtbot.mouseClick(panel.take_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.events.overlay.n_notes == 0)  # drawn once: as the event it now is
    assert [(e.kind, e.start, e.end, e.text) for e in w.scoring.events] == [
        ("arousal", 130.0, 138.0, "Arousal (ARO SPONT)"), ("note", 400.0, 420.0, "Obstructive Apnea"),
        ("artefact", 610.0, 615.0, "Electrode pop C3")]
    assert messages[-1].startswith("Took 3 of the recording's annotations as events (1 artefact, 1 arousal, 1 note")
    assert panel.table.rowCount() == 3 and panel.table.item(0, 4).text().endswith("(from the recording)")
    assert w.hypnogram.n_event_ticks == 3  # where they start, on the night's hypnogram
    stats = w.analysis.stats
    qtbot.waitUntil(lambda: stats.stats is not None and stats.stats.n_arousals == 1, timeout=5000)
    assert "Arousals" in stats.stats_label.text() and "per hour of sleep" in stats.stats_label.text()
    w._describe_undo()  # as the Edit menu does when it opens
    assert w.act_undo.text().startswith("&Undo take 3 events from the recording")
    # every row taken (or lights): greyed, nothing left to take
    assert panel.take_button.text() == "All taken as events" and not panel.take_button.isEnabled()
    assert panel.annotations.item(1, 2).toolTip().startswith("already an event")
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.scoring.events == [] and panel.table.rowCount() == 0 and w.hypnogram.n_event_ticks == 0
    assert panel.take_button.text() == "Take all as events" and panel.annotations.item(1, 2).toolTip() == ""
    qtbot.waitUntil(lambda: stats.stats.n_arousals == 0 and w.events.overlay.n_notes == 1, timeout=5000)
    assert "none in scored sleep" in stats.stats_label.text()
    panel.annotations.selectRow(1)  # the arousal
    assert panel.take_button.text() == "Take the 1 selected as events"
    qtbot.mouseClick(panel.take_button, Qt.MouseButton.LeftButton)
    assert [e.kind for e in w.scoring.events] == ["arousal"]
    qtbot.mouseClick(panel.take_button, Qt.MouseButton.LeftButton)
    assert [e.kind for e in w.scoring.events] == ["arousal"] and messages[-1].startswith("Nothing to take")
    assert errors == []


def test_e_steps_through_the_events_and_delete_removes_the_selected(qtbot, tmp_path, window, errors):
    psg, _ = write_short_night(tmp_path, n=40)
    w = window
    assert open_and_wait(qtbot, w, psg)
    for kind, start in (("note", 900.0), ("arousal", 100.0), ("arousal", 400.0), ("artefact", 410.0)):
        w.scoring.add_event(kind, start, start + 5)
    w.events.refresh()
    messages: list[str] = []
    w.controller.message.connect(messages.append)
    table = w.events.panel.table

    def selected_start():
        return next(e.start for e in w.scoring.events if e.id == w.events.panel.event_ids()[table.currentRow()])

    w.controller.go_to(0)
    seen = []
    for _ in range(3):
        key(qtbot, w, Qt.Key.Key_E)
        seen.append((w.controller.current, selected_start()))
    assert seen == [(3, 100.0), (13, 400.0), (30, 900.0)]  # two events of one epoch: one stop
    key(qtbot, w, Qt.Key.Key_E)
    assert w.controller.current == 30 and messages[-1] == "No event after this epoch."
    key(qtbot, w, Qt.Key.Key_E, Qt.KeyboardModifier.ShiftModifier)
    assert w.controller.current == 13
    key(qtbot, w, Qt.Key.Key_E, Qt.KeyboardModifier.ShiftModifier)
    assert (w.controller.current, selected_start()) == (3, 100.0)
    # Delete drops the event E went to; several rows selected go with one click, and come back with one Ctrl+Z
    key(qtbot, w, Qt.Key.Key_Delete)
    assert sorted(e.start for e in w.scoring.events) == [400.0, 410.0, 900.0] and messages[-1].startswith("Event removed")
    table.clearSelection()
    key(qtbot, w, Qt.Key.Key_Delete)
    assert len(w.scoring.events) == 3 and messages[-1].startswith("Select an event")
    table.selectRow(0)
    table.selectionModel().select(table.model().index(2, 0), table.selectionModel().SelectionFlag.Select
                                  | table.selectionModel().SelectionFlag.Rows)
    qtbot.mouseClick(w.events.panel.remove_button, Qt.MouseButton.LeftButton)
    assert [e.start for e in w.scoring.events] == [410.0] and messages[-1].startswith("2 events removed")
    w._describe_undo()
    assert w.act_undo.text().startswith("&Undo remove 2 events")
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert sorted(e.start for e in w.scoring.events) == [400.0, 410.0, 900.0]
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(w.scoring.events) == 4
    assert errors == []


def test_the_list_is_rebuilt_when_the_events_change_and_a_refused_text_goes_back(qtbot, tmp_path, window, errors):
    """A lights marker leaves the events' rows as they are (a night of thousands of events relisted them at every
    key); an event marked relists them; a note's text refused by a full disk goes back to what is saved."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from scoring_faults import fill, small_tmpfs

    with small_tmpfs(tmp_path / "disk", size="4m") as disk:
        psg, _ = write_short_night(disk, n=40)
        w = window
        assert open_and_wait(qtbot, w, psg)
        table = w.events.panel.table
        assert w.events.mark("note", 100.0, 110.0, text="electrode re-attached")
        row = table.item(0, 3)
        assert w.events.lights_here("off")
        assert table.item(0, 3) is row  # not rebuilt: nothing in it changed
        assert w.events.mark("arousal", 300.0, 310.0)
        assert table.item(0, 3) is not row and table.rowCount() == 2
        filler = fill(disk)
        typed = ""
        for i in range(20):  # the journal's last page may hold a few edits more
            typed = f"typed on a full disk, try {i} " + "x" * 1500
            table.item(0, 3).setText(typed)  # as the technician's Enter does
            if errors:
                break
        assert errors and "full" in errors[-1][1]
        saved = w.scoring.events[0].text
        assert saved != typed and table.item(0, 3).text() == saved  # back to what is saved
        filler.unlink()
        w.close_recording()


def test_a_recording_that_carries_its_own_stages_opens_with_them_as_the_reference(qtbot, tmp_path, window, errors):
    """An EDF+ export whose annotations hold the lab's scoring (no hypnogram file beside it): that scoring is the
    reference row and a scorer set, as a paired hypnogram is; its stages are not listed as annotations. Control:
    the same night without stage annotations has no reference."""
    psg, hyp = write_short_night(tmp_path, n=40)
    hyp.unlink()  # no paired file: the stages travel in the recording
    stages = ["Sleep stage W"] * 6 + ["Sleep stage 1"] * 4 + ["Sleep stage 2"] * 20 + ["Sleep stage R"] * 10
    _with_annotations(psg, [(30.0 * i, 30.0, s) for i, s in enumerate(stages)] + [(65.0, None, "Lights Off")])
    w = window
    assert open_and_wait(qtbot, w, psg)
    name = f"stages in {psg.name}"
    assert w.reference_name == name and w.hypnogram.has_reference
    assert w.scoring.scorer_sets[name].labels.tolist() == [0] * 6 + [1] * 4 + [2] * 20 + [4] * 10
    panel = w.events.panel
    assert [panel.annotations.item(r, 2).text() for r in range(panel.annotations.rowCount())] == ["Lights Off"]
    assert errors == []
    w.close_recording()
    plain, _ = write_short_night(tmp_path / "plain", n=40)
    _.unlink()
    assert open_and_wait(qtbot, w, plain)
    assert not w.hypnogram.has_reference


def test_the_paired_hypnogram_files_arousals_are_listed_and_taken(qtbot, tmp_path, window, errors):
    """NAME.edf beside NAME.xml (NSRR): the XML's stages are the reference, its arousals and desaturation are listed
    with the recording's annotations and taken as events with one click."""
    from test_recording_events import NSRR

    psg, hyp = write_short_night(tmp_path, n=40)
    hyp.unlink()
    night = psg.rename(tmp_path / "night.edf")
    (tmp_path / "night.xml").write_text(NSRR)
    w = window
    assert open_and_wait(qtbot, w, night)
    assert w.reference_name == "night.xml"
    panel = w.events.panel
    assert [panel.annotations.item(r, 2).text() for r in range(panel.annotations.rowCount())] == [
        "Arousal (ASDA)", "SpO2 desaturation", "Arousal"]
    assert panel.annotations_label.text().startswith("In the recording and night.xml: 3 annotations")
    qtbot.mouseClick(panel.take_button, Qt.MouseButton.LeftButton)
    assert [e.kind for e in w.scoring.events] == ["arousal", "note", "arousal"]
    assert errors == []


def test_an_attached_hypnogram_files_events_join_the_list(qtbot, tmp_path, window, errors):
    from test_recording_events import NSRR

    psg, hyp = write_short_night(tmp_path, n=40)
    hyp.unlink()
    scores = tmp_path / "elsewhere" / "scores.xml"
    scores.parent.mkdir()
    scores.write_text(NSRR)
    w = window
    assert open_and_wait(qtbot, w, psg)
    panel = w.events.panel
    assert panel.annotations.rowCount() == 0
    assert w.attach_hypnogram(str(scores))
    assert panel.annotations.rowCount() == 3 and panel.take_button.isVisibleTo(panel)
    assert w.attach_hypnogram(str(scores)) and panel.annotations.rowCount() == 3  # not listed twice
    assert errors == []
