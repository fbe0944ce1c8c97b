"""The workstation's defects found by a new user (issue 13, items 1-14; issue 14 item 12), each driven
through the real widgets the way a technician meets it."""

from __future__ import annotations

import errno
import json
from datetime import datetime

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox  # noqa: E402
from test_gui_support import gui_settings, open_and_wait, write_short_night  # noqa: E402,F401

from sleepscope.stages import Stage  # noqa: E402

START = datetime(2021, 5, 1, 23, 0)


pytestmark = pytest.mark.usefixtures("no_shipped_model")


@pytest.fixture
def dialogs(monkeypatch):
    """Every message box recorded instead of shown: (kind, title, text)."""
    seen: list[tuple[str, str, str]] = []
    for kind in ("critical", "warning", "information"):
        def box(parent, title, text, *a, _k=kind, **k):
            seen.append((_k, title, text))
            return QMessageBox.StandardButton.Ok
        monkeypatch.setattr(QMessageBox, kind, box)
    return seen


@pytest.fixture
def window(main_windows, gui_settings):
    def make(model_path=None, prescore=False):
        w = main_windows(gui_settings, model_path, prescore, size=(1300, 820))
        w.activateWindow()
        return w

    return make


def night(n=20, seed=0):
    from sleepscope.io import Recording

    rng = np.random.default_rng(seed)
    return Recording.from_arrays(rng.standard_normal(n * 3000) * 20, rng.standard_normal(n * 3000) * 20,
                                 start_time=START)


def edf_with_emg(path, n=10):
    """EEG and EOG at 100 Hz and a Sleep-EDF-like chin EMG envelope recorded at 1 Hz."""
    from sleepscope.io.export import write_edf

    rng = np.random.default_rng(3)
    t = np.arange(n * 30)
    envelope = (8 + 6 * np.sin(2 * np.pi * t / 40) + rng.standard_normal(t.size)).astype(np.float32)
    write_edf(path, {"EEG Fpz-Cz": (rng.standard_normal(n * 3000) * 20, 100.0),
                     "EOG horizontal": (rng.standard_normal(n * 3000) * 20, 100.0),
                     "EMG submental": (envelope, 1.0)}, start_time=START, record_duration=30.0)
    return path, envelope


# 1 ---------------------------------------------------------------------------------------------------
def test_stage_keys_score_while_a_display_control_has_focus(qtbot, tmp_path, window):
    w = window()
    assert w.open_recording(night(), scoring_path=tmp_path / "r.sleepscope.h5")
    spin = w.panel.gains["eeg"]
    spin.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is spin)
    gain = spin.value()
    qtbot.keyClick(spin, Qt.Key.Key_2)
    qtbot.keyClick(spin, Qt.Key.Key_Return)  # no model: Enter accepts nothing, and applies nothing either
    assert spin.value() == gain
    assert w.scoring.labels[0] == int(Stage.N2) and w.controller.current == 1
    qtbot.keyClick(spin, Qt.Key.Key_Right)
    assert w.controller.current == 2
    # A text field being typed in keeps its keys.
    field = QLineEdit(w.panel)
    field.show()
    field.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is field)
    qtbot.keyClicks(field, "23")
    assert field.text() == "23" and w.scoring.labels[2] == -1


def test_arrows_move_epochs_after_escape_from_a_menu(qtbot, tmp_path, window):
    w = window()
    assert w.open_recording(night(), scoring_path=tmp_path / "r.sleepscope.h5")
    bar = w.menuBar()
    # What Escape from an open menu leaves behind is the bar's keyboard mode (as after Alt): the bar has focus
    # and a menu title highlighted, where Left/Right would walk the menus.
    qtbot.keyClick(w.surface, Qt.Key.Key_Alt)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is bar)
    qtbot.keyClick(bar, Qt.Key.Key_Right)
    assert w.controller.current == 1
    assert bar.activeAction() is None and not any(m.isVisible() for m in bar.findChildren(type(w.model_menu)))


def test_one_key_table_drives_keys_menus_and_help():
    import html

    from sleepscope.gui.keymap import ACTIONS, keyboard_help_html, menu_text, scoring_key_table
    from sleepscope.stages import KEYS, parse_stage

    # One numbering: every digit key is the stage parse_stage reads for it.
    for key, stage in KEYS.items():
        if key.isdigit():
            assert parse_stage(key) is stage
    table = scoring_key_table()
    from PySide6.QtGui import QKeySequence

    def act(spec):
        c = QKeySequence(spec)[0]
        return table[(int(c.key().value), int(c.keyboardModifiers().value))]

    assert act("4") == "stage_rem" and act("3") == "stage_n3" and act("Return") == "accept"
    helptext = keyboard_help_html()
    for a in ACTIONS:
        assert html.escape(a.help) in helptext
    assert menu_text(next(a for a in ACTIONS if a.name == "stage_rem")).endswith("\tR, 4")


def test_menus_show_the_table_keys(qtbot, tmp_path, window):
    from sleepscope.gui.keymap import ACTIONS, menu_text

    w = window()
    texts = {a.text() for m in w.menuBar().findChildren(type(w.model_menu)) for a in m.actions()}
    for a in ACTIONS:
        assert (menu_text(a) if not a.window_shortcut else a.text) in texts, a.name
    from PySide6.QtWidgets import QTextBrowser

    w.show_keys()  # Help → Keyboard shows the same table
    page = w.keys_dialog.findChild(QTextBrowser).toPlainText()
    assert all(a.help in page for a in ACTIONS)
    w.keys_dialog.close()


# 2 ---------------------------------------------------------------------------------------------------
def test_traces_stay_in_their_lanes(qtbot):
    from sleepscope.gui.trace_view import LANE_DIVS, DisplayFilter, TraceView, default_display

    view = TraceView()
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    rng = np.random.default_rng(0)
    n = 5 * 3000
    eeg = (rng.standard_normal(n) * 20).astype(np.float32)
    eeg[4000:4100] = 900.0  # an artefact
    ch = {"EEG Fpz-Cz": eeg, "EOG horizontal": (rng.standard_normal(n) * 30).astype(np.float32)}
    view.set_recording(ch, 100.0, START, list(ch), {k: default_display(k, "eeg" if "EEG" in k else "eog")
                                                    for k in ch})
    view.set_filter(DisplayFilter())
    view.set_epoch(1)
    view.set_gain("EEG Fpz-Cz", 5.0)  # high gain
    for lane, name in enumerate(ch):
        _, ys = view._curves[name].getData()
        base = view.baseline(lane)
        assert ys.max() <= base + LANE_DIVS / 2 + 1e-9 and ys.min() >= base - LANE_DIVS / 2 - 1e-9


# 3 ---------------------------------------------------------------------------------------------------
def test_emg_shown_with_its_own_filters_and_its_envelope_not_flattened(qtbot, tmp_path, window, dialogs):
    path, envelope = edf_with_emg(tmp_path / "emg.edf")
    w = window()
    assert open_and_wait(qtbot, w, path)
    assert "EMG submental" in w.trace.shown_channels  # shown by default
    d = w.trace.display("EMG submental")
    assert d.kind == "emg" and d.envelope
    assert w.trace.filter_for("EEG Fpz-Cz").highpass_hz == pytest.approx(0.3)
    assert w.trace.filter_for("EMG submental").highpass_hz == 0.0
    # The drawn envelope keeps its slow swings (a 0.3-Hz high-pass would centre it on zero).
    w.controller.go_to(3)
    _, ys = w.trace._curves["EMG submental"].getData()
    lane = w.trace.shown_channels.index("EMG submental")
    drawn_uv = (ys - w.trace.baseline(lane)) * d.gain
    assert np.median(drawn_uv) > 4.0
    # Gain per kind: the EMG row changes the EMG only.
    eeg_gain = w.trace.display("EEG Fpz-Cz").gain
    w.panel.gains["emg"].setValue(10.0)
    assert w.trace.display("EMG submental").gain == 10.0 and w.trace.display("EEG Fpz-Cz").gain == eeg_gain
    assert not dialogs


# 4, 5 ------------------------------------------------------------------------------------------------
def test_reviewed_is_one_figure_and_partial_statistics_warn(qtbot, tmp_path, window, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    w = window()
    assert w.open_recording(night(n=20), scoring_path=tmp_path / "r.sleepscope.h5",
                            reference=np.full(20, 2, np.int8), reference_name="other-scorer.edf")
    for k in (Qt.Key.Key_W, Qt.Key.Key_1, Qt.Key.Key_2):
        qtbot.keyClick(w.surface, k)
    w.scoring.set_reviewed([10])
    w._update_status()
    assert w.status_reviewed.text() == "Reviewed 20.0%"  # 4 of 20 (the imported scorer does not count)
    out = tmp_path / "stats.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    assert w.export("stats") == out
    summary = json.loads(out.read_text())
    assert summary["reviewed_epochs"] == 4
    assert "Partly scored: 3 of 20 epochs" in summary["warning"]
    text_out = tmp_path / "stats.txt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(text_out), ""))
    w.export("stats")
    assert "WARNING: Partly scored" in text_out.read_text()


# 6 ---------------------------------------------------------------------------------------------------
def test_finetune_result_dashes_absent_stages_and_names_the_kept_pass(qtbot, tmp_path):
    from sleepscope.gui.finetune_dialog import FineTuneDialog
    from sleepscope.model.registry import ModelRegistry

    d = FineTuneDialog([], None, registry=ModelRegistry(tmp_path / "reg"))
    qtbot.addWidget(d)
    d.epochs.setValue(10)
    f1 = {"W": 0.0, "N1": 1.0, "N2": 1.0, "N3": 1.0, "REM": 1.0}
    support = {"W": 0, "N1": 5, "N2": 40, "N3": 10, "REM": 12}
    d._show_result({"version": "abc", "parent": "def", "metrics": {
        "heldout": {"n_epochs": 67, "child": {"macro_f1": 1.0, "accuracy": 1.0, "f1": f1, "support": support},
                    "parent": {"macro_f1": 0.9, "accuracy": 0.95, "f1": f1, "support": support}},
        "finetune": {"epochs": 4, "best_epoch": 0, "stopped_early": True}}})
    text = d.status.text()
    assert "0.000" not in text and "—" in text and "no held-out epoch of W" in text
    assert "Ran 4 of at most 10 passes" in text and "pass 1" in text


# 8 ---------------------------------------------------------------------------------------------------
def test_locked_night_opens_read_only_naming_the_recording(qtbot, tmp_path, window, monkeypatch, dialogs):
    from sleepscope.scoring import ScoringFile

    rec = night()
    path = tmp_path / "r.sleepscope.h5"
    other = ScoringFile.open(rec, path=path, scorer="elsewhere")  # another writer holds the lock
    other.set_stage([0], 3)
    other.save()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a, **k: asked.append(
        (title, text)) or QMessageBox.StandardButton.Yes)
    try:
        w = window()
        rec.path = tmp_path / "night-PSG.edf"
        assert w.open_recording(rec, scoring_path=path)
        assert asked and "night-PSG.edf" in asked[0][0] and "read-only" in asked[0][1]
        assert w.scoring.readonly and w.scoring.labels[0] == 3
        assert "read-only" in w.windowTitle() and "READ-ONLY" in w.header.text()
        qtbot.keyClick(w.surface, Qt.Key.Key_2)  # refused, said in the status bar, no error dialog
        assert w.scoring.labels[0] == 3 and "Read-only" in w.statusBar().currentMessage()
        start = w.controller.current
        qtbot.keyClick(w.surface, Qt.Key.Key_Right)  # browsing works
        assert w.controller.current == start + 1
        assert not w.act_undo.isEnabled()
        # the events cannot be changed either: none taken from the recording, none removed
        assert not w.events.panel.take_button.isEnabled() and not w.events.panel.remove_button.isEnabled()
        from sleepscope.io.annotations import Annotation

        w.events.add_annotations([Annotation(60.0, 5.0, "Arousal")])
        assert not w.events.panel.take_button.isEnabled()
        assert not w.events.take_annotations() and w.scoring.events == []
        assert not [d for d in dialogs if d[0] == "critical"]
    finally:
        other.close()


# 9 ---------------------------------------------------------------------------------------------------
def test_read_only_folder_says_where_the_scoring_file_is(qtbot, tmp_path, window, dialogs, monkeypatch):
    psg, _ = write_short_night(tmp_path, n=10)
    import sleepscope.scoring.locations as locations

    real = locations.folder_writable
    monkeypatch.setattr(locations, "folder_writable", lambda folder: False if folder == psg.parent else real(folder))
    w = window()
    assert open_and_wait(qtbot, w, psg)
    assert w.scoring.path.parent != psg.parent
    assert "user folder" in w.status_location.text() and str(w.scoring.path) in w.status_location.toolTip()
    assert str(w.scoring.path) in w.statusBar().currentMessage()
    w.show_properties()
    assert dialogs[-1][1] == "Properties" and str(w.scoring.path) in dialogs[-1][2]


# 10 --------------------------------------------------------------------------------------------------
def test_copying_the_reference_asks_before_replacing_my_labels(qtbot, tmp_path, window, monkeypatch):
    w = window()
    ref = np.full(20, int(Stage.N2), np.int8)
    assert w.open_recording(night(), scoring_path=tmp_path / "r.sleepscope.h5", reference=ref,
                            reference_name="ref.edf")
    qtbot.keyClick(w.surface, Qt.Key.Key_W)  # epoch 0: W, which the reference calls N2
    choice = {}

    def fake_exec(box):
        choice["text"] = box.text()
        box_buttons = {b.text(): b for b in box.buttons()}
        choice["buttons"] = sorted(box_buttons)
        monkeypatch.setattr(box, "clickedButton", lambda: box_buttons[choice["pick"]])
        return 0

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    choice["pick"] = "Only where I have not scored"
    assert w.import_reference()
    assert "1 epochs you scored" in choice["text"]
    assert w.scoring.labels[0] == int(Stage.W) and (w.scoring.labels[1:] == int(Stage.N2)).all()
    qtbot.keyClick(w.surface, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    choice["pick"] = "Cancel"
    assert not w.import_reference()
    assert w.scoring.labels[0] == int(Stage.W) and (w.scoring.labels[1:] == -1).all()


# 11, issue 14 item 12 --------------------------------------------------------------------------------
def test_attach_hypnogram_and_a_bad_csv_beside_the_night(qtbot, tmp_path, window, dialogs):
    from sleepscope.io.export import write_edf

    rng = np.random.default_rng(0)
    psg = tmp_path / "NAME.edf"
    write_edf(psg, {"EEG C4-M1": (rng.standard_normal(10 * 3000) * 20, 100.0),
                    "EOG E1-M2": (rng.standard_normal(10 * 3000) * 20, 100.0)}, start_time=START)
    (tmp_path / "NAME.csv").write_text("")  # empty: the night must open anyway, and say why the CSV is unused
    w = window()
    assert open_and_wait(qtbot, w, psg)
    assert w.scoring is not None and w.reference is None
    warn = [d for d in dialogs if d[0] == "warning"]
    assert len(warn) == 1 and "NAME.csv" in warn[0][2] and "NAME.edf is open" in warn[0][2]
    good = tmp_path / "other-scorer.csv"
    good.write_text("epoch,stage\n" + "".join(f"{i},{'W' if i < 5 else 'N2'}\n" for i in range(10)))
    assert w.attach_hypnogram(good)
    assert w.hypnogram.has_reference and w.reference_name == "other-scorer.csv"
    assert w.reference.tolist() == [0] * 5 + [2] * 5 and "other-scorer.csv" in w.scoring.scorer_sets
    assert "(W 5, N1 0, N2 5, N3 0, REM 0;" in w.statusBar().currentMessage()  # the stages read, said
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,stage\n0,banana\n")
    assert not w.attach_hypnogram(bad)
    assert dialogs[-1][0] == "critical" and "bad.csv" in dialogs[-1][2]


# 12 --------------------------------------------------------------------------------------------------
def test_keys_while_the_model_works_say_why(qtbot, tmp_path, window, monkeypatch):
    w = window()
    assert w.open_recording(night(), scoring_path=tmp_path / "r.sleepscope.h5")
    monkeypatch.setattr(type(w.prescoring), "busy", property(lambda self: True))
    w.prescoring.last_message = "Loading the model"
    qtbot.keyClick(w.surface, Qt.Key.Key_Return)
    assert "still working (loading the model)" in w.statusBar().currentMessage()
    qtbot.keyClick(w.surface, Qt.Key.Key_N)
    assert "Enter and N act once" in w.statusBar().currentMessage()
    assert w.scoring.labels[0] == -1


# 13 --------------------------------------------------------------------------------------------------
def test_reopen_returns_where_the_technician_stopped(qtbot, tmp_path, window):
    rec = night()
    path = tmp_path / "r.sleepscope.h5"
    w = window()
    assert w.open_recording(rec, scoring_path=path)
    w.controller.go_to(7)
    for k in (Qt.Key.Key_2, Qt.Key.Key_2, Qt.Key.Key_3):
        qtbot.keyClick(w.surface, k)
    w.controller.go_to(2)  # browsed back without scoring
    assert w.close_recording()
    assert w.open_recording(rec, scoring_path=path)
    assert w.controller.current == 10 and "Epoch 11 / 20" in w.status_epoch.text()


def test_scorer_name_defaults_to_the_login_name(gui_settings):
    import getpass

    assert gui_settings.scorer == getpass.getuser()
    gui_settings.scorer = "AB"
    assert gui_settings.scorer == "AB"


def test_model_card_is_readable_text():
    from types import SimpleNamespace

    from sleepscope.gui.dialogs import model_card_html

    card = SimpleNamespace(version="4a50", parent=None, created="2026", data="synthetic", notes="", config=None,
                           metrics={"train_subjects": [1, 2], "test_subjects": [0], "steps": 12, "epochs": 3,
                                    "best_epoch": -1, "stopped_early": False,
                                    "test": {"accuracy": 0.94, "macro_f1": 0.9, "kappa": 0.91,
                                             "f1": {"W": 0.97, "N1": 0.7}, "n_epochs": 88}})
    html = model_card_html(card, "m.safetensors")
    assert "{" not in html and "best_epoch" not in html and "-1" not in html
    assert "macro-F1 0.900" in html and "last pass kept" in html


def test_the_shipped_model_card_is_readable_text():
    """Three runs averaged (a step and a validation per run) and benchmark rows nested two deep: no raw
    dictionary, no None, and the steps kept are not called the last pass."""
    from pathlib import Path

    from sleepscope.gui.dialogs import model_card_html
    from sleepscope.model.checkpoint import load_model

    path = Path(__file__).resolve().parents[1] / "models" / "sleepscope-default.safetensors"
    if not path.exists():
        pytest.skip("no shipped model in this checkout")
    card = load_model(path)[1]
    html = model_card_html(card, str(path))
    assert "{" not in html and "None" not in html and "last pass kept" not in html
    if isinstance(card.metrics.get("best_step"), list):
        assert "their weights averaged" in html and "run 3 accuracy" in html
    rows = card.metrics["bench_shift"]["rows"]
    assert f"D random {rows['D random']['accuracy']:.3f} / {rows['D random']['macro_f1']:.3f}" in html


def test_finetune_lists_the_recordings_it_pools(qtbot, tmp_path):
    from sleepscope.gui.finetune_dialog import FineTuneDialog
    from sleepscope.model.registry import ModelRegistry
    from sleepscope.scoring import ScoringFile

    paths = []
    for i, name in enumerate(("a-PSG.edf", "b-PSG.edf")):
        rec = night(seed=i)
        rec.path = tmp_path / name
        for copy in ("x", "y"):
            p = tmp_path / f"{name}.{copy}.sleepscope.h5"
            with ScoringFile.open(rec, path=p, scorer="t") as sf:
                sf.set_stage([0, 1], 2)
            paths.append(p)
    d = FineTuneDialog(paths, None, registry=ModelRegistry(tmp_path / "reg"))
    qtbot.addWidget(d)
    text = d.recordings_label.text()
    assert "a-PSG.edf" in text and "b-PSG.edf" in text and "2 scoring files" in text


def test_epoch_numbering_is_stated(qtbot, tmp_path, window, monkeypatch, dialogs):
    from PySide6.QtWidgets import QFileDialog

    w = window()
    assert w.open_recording(night(), scoring_path=tmp_path / "r.sleepscope.h5")
    qtbot.keyClick(w.surface, Qt.Key.Key_2)
    assert "counts from 0" in w.status_epoch.toolTip()
    out = tmp_path / "h.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    w.export("csv")
    assert "counts from 0" in w.statusBar().currentMessage()


# Undo after a failed write ---------------------------------------------------------------------------
def test_undo_after_a_failed_write_reverts_the_epoch_it_shows(qtbot, tmp_path, window, monkeypatch, dialogs):
    w = window()
    assert w.open_recording(night(), scoring_path=tmp_path / "r.sleepscope.h5")
    qtbot.keyClick(w.surface, Qt.Key.Key_2)  # epoch 0 -> N2, written
    import os

    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    qtbot.keyClick(w.surface, Qt.Key.Key_3)  # epoch 1: the write fails
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert [d[1] for d in dialogs] == ["The edit could not be saved"]
    assert w.controller.current == 1 and w.scoring.labels[1] == -1  # nothing of the failed edit stays
    qtbot.keyClick(w.surface, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    # The file's own undo reverts epoch 0's N2, and the window goes to epoch 0 and redraws from the file.
    assert w.controller.current == 0 and (w.scoring.labels == -1).all()
    xs, _ = w.hypnogram._rows["technician"].bars[Stage.N2].getData()
    assert len(xs) == 0
    qtbot.keyClick(w.surface, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert w.scoring.labels[0] == int(Stage.N2) and w.controller.current == 0


# Qt stays in the GUI package -------------------------------------------------------------------------
def test_core_imports_load_no_qt():
    import subprocess
    import sys

    code = ("import pkgutil, importlib, sys, sleepscope\n"
            "for m in pkgutil.walk_packages(sleepscope.__path__, 'sleepscope.'):\n"
            "    if '.gui' in m.name or m.name.endswith('__main__'):\n"
            "        continue\n"
            "    try:\n"
            "        importlib.import_module(m.name)\n"
            "    except ImportError:\n"
            "        pass\n"
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph'))\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""


# Loader thread ---------------------------------------------------------------------------------------
def test_recording_read_on_a_loader_thread_with_progress_and_cancel(qtbot, tmp_path, window, monkeypatch, dialogs):
    import threading

    import sleepscope.io
    from sleepscope.tasks import Cancelled

    psg, _ = write_short_night(tmp_path, n=10)
    real = sleepscope.io.open_recording
    readers: list[str] = []
    release = threading.Event()

    def slow(path, *, progress=None, cancel=None, **kw):
        readers.append(threading.current_thread().name)
        for i in range(200):  # a long read that reports progress and stops when asked
            progress(i, 200, "reading")
            if cancel.cancelled:
                raise Cancelled()
            if release.wait(0.02):
                break
        return real(path, progress=progress, cancel=cancel, **kw)

    monkeypatch.setattr(sleepscope.io, "open_recording", slow)
    w = window()
    ended: list[bool] = []
    w.openFinished.connect(ended.append)
    assert w.open_file(psg)
    # The event loop runs while the file is read: the progress bar moves, Cancel is there.
    qtbot.waitUntil(lambda: w.progress.isVisible() and w.progress.value() > 2, timeout=10_000)
    assert w.cancel_button.isVisible() and readers and readers[0] != threading.current_thread().name
    qtbot.mouseClick(w.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ended == [False], timeout=10_000)
    assert w.scoring is None and not w.progress.isVisible() and "cancelled" in w.statusBar().currentMessage()
    release.set()
    assert open_and_wait(qtbot, w, psg) and w.scoring is not None
    assert not dialogs


# 7: the registry is the one truth of the active model ------------------------------------------------
def test_window_starts_with_the_registry_active_model_and_keeps_no_model_path(qtbot, tmp_path, window,
                                                                                gui_settings):
    from test_gui_support import train_tiny_model

    from sleepscope.model.registry import ModelRegistry

    a, _ = train_tiny_model(tmp_path / "a", steps=1, seed=1)
    b, _ = train_tiny_model(tmp_path / "b", steps=1, seed=2)
    reg = ModelRegistry()
    va, vb = reg.add(a), reg.add(b)
    reg.activate(vb.version)
    w = window()
    assert w.model_path == vb.path
    assert w.set_model(va.path)  # choosing a registered model activates it in the registry
    assert reg.active_version() == va.version
    w2 = window()
    assert w2.model_path == va.path
    assert not any("model" in k for k in gui_settings._s.allKeys())


def test_a_scoring_in_a_systems_own_numbering_is_not_shown_until_its_codes_are_said(qtbot, tmp_path, window,
                                                                                        dialogs):
    """UCD's stage codes (REM = 1) beside a night: read by the default rules they would put REM as N1, so the
    window opens the night without them and says how to attach them. File -> Attach hypnogram asks how the
    codes read, the question filled with how they were read; declared, the reference is the real night. A
    cancelled question attaches nothing; a night in our own numbering is attached without a question."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QInputDialog

    from sleepscope.data.synthetic import real_hypnogram
    from sleepscope.io.export import write_edf

    real = real_hypnogram("SC4001E0")
    ucd = {0: 0, 4: 1, 1: 2, 2: 3, 3: 4, -1: 7}
    rng = np.random.default_rng(0)
    psg = tmp_path / "ucddb002.edf"
    n = len(real) * 3000
    write_edf(psg, {"EEG C4-M1": (rng.standard_normal(n) * 20, 100.0),
                    "EOG E1-M2": (rng.standard_normal(n) * 20, 100.0)}, start_time=START)
    stage_file = tmp_path / "ucddb002_stage.txt"
    stage_file.write_text("".join(f"{ucd[int(s)]}\n" for s in real))
    w = window()
    assert open_and_wait(qtbot, w, psg)
    assert w.reference is None
    (kind, _, text), = [d for d in dialogs if d[0] == "warning"]
    assert "ucddb002_stage.txt" in text and "N2 is" in text and "asks how its system numbers" in text

    asked = []

    def answer(new_text):
        def run():
            box = QApplication.activeModalWidget()
            assert isinstance(box, QInputDialog)
            asked.append(box.textValue())
            if new_text is None:
                box.reject()
            else:
                box.setTextValue(new_text)
                box.accept()
        QTimer.singleShot(0, run)

    answer(None)
    assert not w.attach_hypnogram(stage_file) and w.reference is None
    assert asked == ["0=W,1=N1,2=N2,3=N3,4=REM"]  # as the default rules read them
    answer("0=W,1=REM,2=N1,3=N2,4=N3")
    assert w.attach_hypnogram(stage_file)
    assert w.reference.tolist() == real.tolist() and "ucddb002_stage.txt" in w.scoring.scorer_sets
    ours = tmp_path / "ours.txt"
    ours.write_text("".join(f"{int(s)}\n" for s in real))
    assert w.attach_hypnogram(ours) and len(asked) == 2
