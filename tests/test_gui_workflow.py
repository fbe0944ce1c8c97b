"""The workstation end to end: open, pre-score, score by keyboard, undo/redo, reopen; bad input; cancel."""

from __future__ import annotations

import functools

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from test_gui_support import (  # noqa: E402,F401  (fixtures)
    gui_settings,
    open_and_wait,
    tiny_model,
    write_short_night,
)

from sleepscope.stages import Stage  # noqa: E402

PRESCORE_TIMEOUT_MS = 120_000  # a shared 2-core machine; the job itself takes seconds


pytestmark = pytest.mark.usefixtures("no_shipped_model")


@pytest.fixture
def windows(main_windows):
    """Windows that pre-score what they open unless told not to."""
    return functools.partial(main_windows, prescore=True)


def key(qtbot, w, k, mods=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(w.surface, k, mods)


def test_open_prescore_score_undo_reopen(qtbot, tmp_path, gui_settings, tiny_model, windows, errors):
    psg, hyp = write_short_night(tmp_path, n=60)
    w = windows(gui_settings, tiny_model)
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert open_and_wait(qtbot, w, psg)
        # The paired Sleep-EDF hypnogram is offered as the reference scorer.
        assert w.reference is not None and w.hypnogram.has_reference
        assert w.job is not None and w.progress.isVisible()
    assert not errors
    probs = w.controller.probs
    assert probs.shape == (60, 5) and np.allclose(probs.sum(1), 1, atol=1e-4)
    assert w.scoring.latest_prediction() is not None
    assert not w.progress.isVisible()
    model_stage_2 = int(probs[2].argmax())

    key(qtbot, w, Qt.Key.Key_2)
    key(qtbot, w, Qt.Key.Key_2)
    key(qtbot, w, Qt.Key.Key_Return)  # accept the model at epoch 2
    key(qtbot, w, Qt.Key.Key_R)
    assert w.controller.current == 4
    assert w.scoring.labels[:4].tolist() == [2, 2, model_stage_2, int(Stage.REM)]
    assert w.scoring.sources[2] == "model" and w.scoring.sources[3] == "technician"
    # The hypnogram's technician row follows the keys.
    xs, _ = w.hypnogram._rows["technician"].bars[Stage.REM].getData()
    assert xs.tolist() == [3.0, 4.0]
    assert "Epoch 5 / 60" in w.status_epoch.text()
    assert "Reviewed 6.7%" in w.status_reviewed.text()

    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.scoring.labels[:4].tolist() == [2, 2, -1, -1]
    assert w.controller.current == 2  # undo brings the epoch back into view
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert w.scoring.labels[:4].tolist() == [2, 2, model_stage_2, -1]
    key(qtbot, w, Qt.Key.Key_Right)
    key(qtbot, w, Qt.Key.Key_Left)
    key(qtbot, w, Qt.Key.Key_PageDown)
    assert w.controller.current == 3
    labels_before = w.scoring.labels.copy()
    sources_before = w.scoring.sources.copy()
    w.close()

    w2 = windows(gui_settings, tiny_model, prescore=True)
    assert open_and_wait(qtbot, w2, psg)
    assert w2.job is None  # this model's prediction is stored: not run again
    assert np.array_equal(w2.scoring.labels, labels_before)
    assert list(w2.scoring.sources) == list(sources_before)
    # Undo and redo come from the scoring file alone: three edits to undo, the undone REM to redo.
    assert len(w2.scoring.undo_stack()) == 3 and len(w2.scoring.redo_stack()) == 1
    # The stored prediction is shown without pre-scoring again.
    assert w2.controller.probs is not None and np.allclose(w2.controller.probs, probs)
    key(qtbot, w2, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)  # redo the REM
    assert w2.scoring.labels[3] == int(Stage.REM)
    for _ in range(4):
        key(qtbot, w2, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (w2.scoring.labels == -1).all()
    assert not errors


def test_a_stored_prediction_from_other_channels_is_made_again(qtbot, tmp_path, gui_settings, tiny_model, windows,
                                                               errors):
    """A night shown with other channels than a kept run of the same model read (here given by the caller; from a
    file, the window opens with the kept run's channels where it has them): the run is not shown under the
    banner's channels, the night is pre-scored again. Its own kept run (control) is shown."""
    from sleepscope.io import Recording

    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(*(20 * rng.standard_normal((2, 20 * 3000))).astype(np.float32))
    where = tmp_path / "night.sleepscope.h5"
    w = windows(gui_settings, tiny_model)
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert w.open_recording(rec, scoring_path=where)
    kept = w.scoring.latest_prediction()
    assert kept.channels == (rec.eeg_name, rec.eog_name)
    w.close_recording()
    with qtbot.assertNotEmitted(w.prescoreDone, wait=300):  # control: its own channels, shown as kept
        assert w.open_recording(rec, scoring_path=where)
    assert w.job is None and w.controller.probs is not None
    w.scoring.add_prediction(kept.model_version, kept.probs * 0 + 0.2, channels=("EEG Pz-Oz", rec.eog_name))
    w.close_recording()
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert w.open_recording(rec, scoring_path=where)
    assert w.scoring.latest_prediction().channels == (rec.eeg_name, rec.eog_name)
    assert np.allclose(w.controller.probs, kept.probs, atol=1e-5)
    assert not errors


def test_the_technician_chooses_the_channels_the_model_reads_and_they_are_kept(
        qtbot, tmp_path, gui_settings, tiny_model, windows, errors, monkeypatch):
    """Model → Channels the model reads…: the night is read again with the chosen EEG and EOG and pre-scored with
    them; opened again, it opens with them and its kept prediction (no new run). Control: the first opening, by
    name (F4-M1, E1-M2)."""
    from datetime import datetime

    from sleepscope.gui import dialogs
    from sleepscope.io.export import write_edf

    rng = np.random.default_rng(0)
    path = write_edf(tmp_path / "aasm.edf", {name: (rng.normal(0, 20, 20 * 3000), 100.0) for name in
                                             ("EEG F4-M1", "EEG C4-M1", "EOG E1-M2", "EOG E2-M1")},
                     datetime(2021, 5, 1, 23, 0))
    w = windows(gui_settings, tiny_model)
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert open_and_wait(qtbot, w, path)
    assert (w.recording.eeg_name, w.recording.eog_name) == ("EEG F4-M1", "EOG E1-M2")
    w.close_recording()
    assert open_and_wait(qtbot, w, path)  # opened again: still chosen by name, not called the technician's choice
    assert "chosen by the user" not in w.model_notice.label.toolTip() and w.job is None
    offered = []

    def choose(self):
        offered.append([self.eog.itemText(i) for i in range(self.eog.count())])
        self.eeg.setCurrentText("EEG C4-M1")
        self.eog.setCurrentText("EOG E2-M1")
        return dialogs.ChannelDialog.DialogCode.Accepted

    monkeypatch.setattr(dialogs.ChannelDialog, "exec", choose)
    assert w.act_model_channels.isEnabled()
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        w.act_model_channels.trigger()
        qtbot.waitUntil(lambda: w.recording is not None and w.recording.eeg_name == "EEG C4-M1", timeout=30_000)
    assert offered == [["EEG F4-M1", "EEG C4-M1", "EOG E1-M2", "EOG E2-M1"]]  # no "none": the file has both
    assert w.recording.eog_name == "EOG E2-M1" and "chosen by the user" in w.model_notice.label.toolTip()
    assert w.scoring.latest_prediction().channels == ("EEG C4-M1", "EOG E2-M1")
    w.close()
    w2 = windows(gui_settings, tiny_model)
    assert open_and_wait(qtbot, w2, path)
    assert (w2.recording.eeg_name, w2.recording.eog_name) == ("EEG C4-M1", "EOG E2-M1")
    assert w2.job is None and w2.controller.probs is not None  # its kept prediction, not run again
    assert not errors



def test_the_technician_names_the_ecg_lead_and_it_is_kept(
        qtbot, tmp_path, gui_settings, tiny_model, windows, errors, monkeypatch):
    """A lead no name table knows (`Heart`): its beats stay on the EEG until Model → Channels the model reads… names
    it; the night is then read without them and pre-scored, the EEG and EOG still found by name; opened again, with
    the same lead and its kept prediction. Then "none": the beats are left in again. Control: the first opening."""
    from datetime import datetime

    from test_heartbeats import heart

    from sleepscope.gui import dialogs
    from sleepscope.io.export import write_edf
    from sleepscope.model.epoch_reading import ECG_SUBTRACTED

    n = 20 * 3000
    spikes, _ = heart(n)
    rng = np.random.default_rng(5)
    path = write_edf(tmp_path / "heart.edf", {
        "EEG Fpz-Cz": ((rng.normal(0, 15, n) + 60 * spikes).astype(np.float32), 100.0),
        "EOG horizontal": (rng.normal(0, 10, n).astype(np.float32), 100.0),
        "Heart": ((800 * spikes + rng.normal(0, 10, n)).astype(np.float32), 100.0)}, datetime(2024, 1, 1, 23))

    def subtracted(w) -> int:
        kept = w.scoring.latest_prediction()
        return int(np.count_nonzero(kept.reading & ECG_SUBTRACTED))

    w = windows(gui_settings, tiny_model)
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert open_and_wait(qtbot, w, path)
    assert w.recording.channel_choice.ecg is None and w.scoring.latest_prediction().ecg == "none"
    assert subtracted(w) == 0
    offered, pick = [], ["Heart"]

    def choose(self):
        offered.append((self.ecg.currentText(), [self.ecg.itemText(i) for i in range(self.ecg.count())]))
        self.ecg.setCurrentText(pick[0])
        return dialogs.ChannelDialog.DialogCode.Accepted

    monkeypatch.setattr(dialogs.ChannelDialog, "exec", choose)
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        w.act_model_channels.trigger()
        qtbot.waitUntil(lambda: w.recording is not None and w.recording.channel_choice.ecg == "Heart",
                        timeout=30_000)
    assert offered[0][0] == dialogs.ChannelDialog.NO_ECG and "Heart" in offered[0][1]
    assert w.scoring.latest_prediction().ecg == "Heart" and subtracted(w) == 20
    assert "chosen by the user" not in w.model_notice.label.toolTip()  # the EEG and EOG: still found by name
    w.close()
    w2 = windows(gui_settings, tiny_model)
    assert open_and_wait(qtbot, w2, path)
    assert w2.recording.channel_choice.ecg == "Heart"
    assert w2.job is None and w2.controller.probs is not None  # its kept prediction, not run again
    pick[0] = dialogs.ChannelDialog.NO_ECG
    with qtbot.waitSignal(w2.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        w2.act_model_channels.trigger()
        qtbot.waitUntil(lambda: w2.recording is not None and w2.recording.channel_choice.ecg is None,
                        timeout=30_000)
    assert offered[1][0] == "Heart"
    assert w2.scoring.latest_prediction().ecg == "none" and subtracted(w2) == 0
    assert not errors

def test_file_open_asks_for_the_ecg_lead_with_channels_no_table_knows(
        qtbot, tmp_path, gui_settings, tiny_model, windows, errors, monkeypatch):
    """File → Open of a file whose names no table knows asks for the EEG and EOG, and now for the ECG lead too (it
    offered none, so `Heart`'s beats stayed on the EEG): a lead found by name comes preset, `Heart` is chosen, the
    night is read without its beats and reopens with it. A lead chosen as the EEG too is refused. Control: "none"."""
    from datetime import datetime

    from test_heartbeats import heart

    from sleepscope.gui import dialogs
    from sleepscope.io.export import write_edf
    from sleepscope.model.epoch_reading import ECG_SUBTRACTED

    n = 20 * 3000
    spikes, _ = heart(n)
    rng = np.random.default_rng(5)

    def night(name: str, lead: str):
        return write_edf(tmp_path / f"{name}.edf", {
            "Chan A": ((rng.normal(0, 15, n) + 60 * spikes).astype(np.float32), 100.0),
            "Chan B": (rng.normal(0, 10, n).astype(np.float32), 100.0),
            lead: ((800 * spikes + rng.normal(0, 10, n)).astype(np.float32), 100.0)}, datetime(2024, 1, 1, 23))

    offered, pick = [], {"eeg": "Chan A", "ecg": dialogs.ChannelDialog.NO_ECG}

    def choose(self):
        offered.append((self.ecg.currentText(), [self.ecg.itemText(i) for i in range(self.ecg.count())]))
        self.eeg.setCurrentText(pick["eeg"])
        self.eog.setCurrentText("Chan B")
        self.ecg.setCurrentText(pick["ecg"])
        return dialogs.ChannelDialog.DialogCode.Accepted

    monkeypatch.setattr(dialogs.ChannelDialog, "exec", choose)

    def open_with(w, path) -> int:
        with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
            assert open_and_wait(qtbot, w, path)
        return int(np.count_nonzero(w.scoring.latest_prediction().reading & ECG_SUBTRACTED))

    w = windows(gui_settings, tiny_model)
    named = night("named", "ECG")
    assert open_with(w, named) == 0  # "none" chosen over the lead found by name: the beats are left in
    assert offered[0] == ("ECG", [dialogs.ChannelDialog.NO_ECG, "Chan A", "Chan B", "ECG"])  # found by name: preset
    assert w.recording.channel_choice.ecg is None and w.scoring.latest_prediction().ecg == "none"
    heart_file = night("heart", "Heart")
    pick["ecg"] = "Heart"
    assert open_with(w, heart_file) == 20
    assert offered[1][0] == dialogs.ChannelDialog.NO_ECG  # no name table knows `Heart`: nothing preset
    assert w.recording.channel_choice.ecg == "Heart" and w.scoring.latest_prediction().ecg == "Heart"
    w.close()
    w2 = windows(gui_settings, tiny_model)
    assert open_and_wait(qtbot, w2, heart_file)  # its channels were kept: not asked again, not run again
    assert len(offered) == 2 and w2.recording.channel_choice.ecg == "Heart" and w2.job is None
    w2.close()
    pick.update(eeg="Heart", ecg="Heart")
    w3 = windows(gui_settings, tiny_model)
    assert open_and_wait(qtbot, w3, night("twice", "Heart")) is False
    assert "as the EEG and as the ECG lead" in errors[-1][1] and w3.recording is None
    del errors[-1]
    assert not errors


def test_the_ecg_row_offers_recorded_channels_only(qtbot, tmp_path, gui_settings, tiny_model, windows, errors,
                                                   monkeypatch):
    """Model → Channels on a referential file offers the derivations computed from its electrodes (F4-M1, E1-M2) for
    the EEG and EOG, but only recorded channels as the ECG lead: a derivation computed from two scalp or eye
    electrodes is no heart's lead. Seen to fail when the window passes every channel to the ECG row."""
    from datetime import datetime

    from sleepscope.gui import dialogs
    from sleepscope.io.export import write_edf

    rng = np.random.default_rng(0)
    names = ("F4", "C4", "M1", "M2", "E1", "E2", "ECG")
    path = write_edf(tmp_path / "referential.edf", {n: (rng.normal(0, 20, 6000), 100.0) for n in names},
                     datetime(2021, 5, 1, 23, 0))
    offered = {}

    def look(self):
        offered["eeg"] = [self.eeg.itemText(i) for i in range(self.eeg.count())]
        offered["ecg"] = [self.ecg.itemText(i) for i in range(self.ecg.count())]
        return dialogs.ChannelDialog.DialogCode.Rejected

    monkeypatch.setattr(dialogs.ChannelDialog, "exec", look)
    w = windows(gui_settings, tiny_model)
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert open_and_wait(qtbot, w, path)
    w.act_model_channels.trigger()
    assert "F4-M1" in offered["eeg"] and "E1-M2" in offered["eeg"]
    assert offered["ecg"] == [dialogs.ChannelDialog.NO_ECG, *names]
    assert not errors


def test_next_doubtful_epoch_key(qtbot, tmp_path, gui_settings, windows):
    from sleepscope.io import Recording

    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.standard_normal(20 * 3000) * 20, rng.standard_normal(20 * 3000) * 20)
    w = windows(gui_settings, None)
    assert w.open_recording(rec, scoring_path=tmp_path / "r.sleepscope.h5")
    probs = np.full((20, 5), 0.05, np.float32)
    probs[:, 2] = 0.8
    probs[7] = [0.3, 0.3, 0.2, 0.1, 0.1]  # unsure
    w.controller.set_prediction(probs)
    key(qtbot, w, Qt.Key.Key_N)
    assert w.controller.current == 7
    w.controller.go_to(10)
    key(qtbot, w, Qt.Key.Key_3)  # disagrees with the model's N2 at epoch 10
    w.controller.go_to(8)
    key(qtbot, w, Qt.Key.Key_Tab)
    assert w.controller.current == 10
    key(qtbot, w, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
    assert w.controller.current == 7
    # Without a model: the message says so, nothing moves; Enter accepts nothing.
    w.controller.set_prediction(None)
    key(qtbot, w, Qt.Key.Key_N)
    key(qtbot, w, Qt.Key.Key_Return)
    assert w.controller.current == 7 and w.scoring.labels[7] == -1


def test_corrupt_file_gives_a_dialog(qtbot, tmp_path, gui_settings, windows, errors):
    bad = tmp_path / "broken.edf"
    bad.write_bytes(b"0       this is not an EDF header" + bytes(300))
    w = windows(gui_settings, None)
    assert open_and_wait(qtbot, w, bad) is False
    assert len(errors) == 1 and errors[0][0] == "Cannot open the recording"
    assert "broken.edf" in errors[0][1]
    assert w.scoring is None
    # Truncated: a real header, signals cut short.
    from sleepscope.data.synthetic import write_night

    psg, _ = write_night(tmp_path / "t", "SC4002E0", labels=[0] * 4)
    data = psg.read_bytes()
    cut = tmp_path / "cut-PSG.edf"
    cut.write_bytes(data[: len(data) // 3])
    assert open_and_wait(qtbot, w, cut) is False
    assert len(errors) == 2
    assert open_and_wait(qtbot, w, tmp_path / "missing.edf") is False
    assert "does not exist" in errors[2][1]


def test_unknown_channels_are_asked_for(qtbot, tmp_path, gui_settings, windows, errors, monkeypatch):
    from sleepscope.gui import dialogs
    from sleepscope.io.export import write_edf

    rng = np.random.default_rng(0)
    path = tmp_path / "odd.edf"
    write_edf(path, {"Chan A": (rng.standard_normal(6000) * 20, 100.0),
                     "Chan B": (rng.standard_normal(6000) * 20, 100.0)},
              start_time=__import__("datetime").datetime(2021, 5, 1, 23, 0))
    asked = []

    def fake_exec(self):
        asked.append([self.eeg.itemText(i) for i in range(self.eeg.count())])
        self.eeg.setCurrentText("Chan A")
        self.eog.setCurrentText("Chan B")
        return dialogs.ChannelDialog.DialogCode.Accepted

    monkeypatch.setattr(dialogs.ChannelDialog, "exec", fake_exec)
    w = windows(gui_settings, None)
    assert open_and_wait(qtbot, w, path)
    assert asked == [["Chan A", "Chan B", dialogs.ChannelDialog.NONE]]
    assert (w.recording.eeg_name, w.recording.eog_name) == ("Chan A", "Chan B")
    assert not errors
    # No model: the status bar says how to get one; Enter does nothing harmful.
    key(qtbot, w, Qt.Key.Key_Return)
    assert w.scoring.labels[0] == -1


def test_an_eog_only_file_opens_pre_scored_with_its_spectrogram_and_evidence_saying_so(
        qtbot, tmp_path, gui_settings, tiny_model, windows, errors):
    """A recording with an EOG and no EEG used to fail to open ("KeyError: None" from the spectrogram of its
    missing EEG): it opens, is pre-scored, the spectrogram row shows its EOG and says so, and "Why this stage"
    says what it cannot read. The control: the same file with an EEG beside it."""
    from datetime import datetime

    from sleepscope.io.export import write_edf

    rng = np.random.default_rng(0)
    eog = {"EOG horizontal": (rng.normal(0, 20, 20 * 3000), 100.0)}
    both = {**eog, "EEG Fpz-Cz": (rng.normal(0, 20, 20 * 3000), 100.0)}
    for name, signals in (("both", both), ("eog", eog)):
        path = write_edf(tmp_path / f"{name}.edf", signals, datetime(2021, 5, 1, 23, 0))
        w = windows(gui_settings, tiny_model)
        with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
            assert open_and_wait(qtbot, w, path)
        assert w.recording.eog_name == "EOG horizontal" and w.controller.probs is not None
        spectrogram, evidence = w.analysis.spectrogram, w.analysis.evidence
        qtbot.waitUntil(lambda: spectrogram.status == "ready", timeout=30_000)
        no_eeg = name == "eog"
        assert ("of the EOG: no EEG" in spectrogram._label.text) == no_eeg
        w.analysis.evidence_dock.raise_()
        qtbot.waitUntil(evidence.isVisible, timeout=5000)
        w.controller.go_to(3)
        qtbot.waitUntil(lambda: evidence.evidence is not None or "has no" in evidence.events_label.text(),
                        timeout=60_000)
        assert ("has no EEG" in evidence.events_label.text()) == no_eeg and (evidence.evidence is None) == no_eeg
        w.close()
    assert not errors

def test_a_file_without_eog_opens_without_asking_and_a_referential_one_reads_its_derivations(
        qtbot, tmp_path, gui_settings, windows, errors, monkeypatch):
    """File → Open of an EEG-only file used to ask for an EOG (offering the chin EMG); a referential file is read as
    C4-M1 and E1-M2 computed from its electrodes and mastoids; a file with neither recognised lets the technician
    choose "none" for one of them."""
    from datetime import datetime

    from sleepscope.gui import dialogs
    from sleepscope.io.export import write_edf

    rng = np.random.default_rng(0)
    asked = []

    def fake_exec(self):
        from PySide6.QtWidgets import QLabel

        asked.append([self.eog.itemText(i) for i in range(self.eog.count())])
        text = self.findChild(QLabel).text()
        assert text.startswith("Found neither an EEG nor an EOG") and "--eeg" not in text  # no command-line hint
        self.eeg.setCurrentText("Chan A")
        self.eog.setCurrentText(dialogs.ChannelDialog.NONE)
        return dialogs.ChannelDialog.DialogCode.Accepted

    monkeypatch.setattr(dialogs.ChannelDialog, "exec", fake_exec)
    start = datetime(2021, 5, 1, 23, 0)
    w = windows(gui_settings, None)

    eeg_only = write_edf(tmp_path / "eeg-only.edf", {"C3-A1": (rng.normal(0, 20, 6000), 100.0),
                                                     "EMG chin": (rng.normal(0, 5, 6000), 100.0)}, start)
    assert open_and_wait(qtbot, w, eeg_only)
    assert asked == []
    assert (w.recording.eeg_name, w.recording.eog_name) == ("C3-A1", None)
    assert "No EOG channel" in w.model_notice.text()

    referential = write_edf(tmp_path / "referential.edf", {
        name: (rng.normal(0, 20, 6000), 100.0) for name in ("F4", "C3", "C4", "M1", "M2", "E1", "E2", "Chin")}, start)
    assert open_and_wait(qtbot, w, referential)
    assert asked == []
    assert (w.recording.eeg_name, w.recording.eog_name) == ("F4-M1", "E1-M2")
    assert "computed as F4 - M1" in w.model_notice.label.toolTip()
    # the central EEG (AASM montages show it; the second opinion reads it) and the chin EMG come as traces,
    # and the other eye (E2-M1, computed too), EEG lanes first
    assert list(w.recording.channels) == ["F4-M1", "E1-M2", "C4-M1", "E2-M1", "Chin"]
    assert w.trace.shown_channels == ["F4-M1", "C4-M1", "E1-M2", "E2-M1", "Chin"]
    # View → Channels offers the computed derivations too: one hidden, another read and shown
    w._fill_channels_menu()
    offered = [a.text() for a in w.channels_menu.actions() if a.isCheckable()]
    assert offered[:8] == ["F4", "C3", "C4", "M1", "M2", "E1", "E2", "Chin"] and "C3-M2" in offered[8:]
    checked = {a.text(): a.isChecked() for a in w.channels_menu.actions() if a.isCheckable()}
    assert checked["C4-M1"] and not checked["C3-M2"]
    w.toggle_channel("C4-M1", False)
    w.toggle_channel("C3-M2", True)
    qtbot.waitUntil(lambda: "C3-M2" in w.trace.shown_channels, timeout=30_000)
    assert np.isfinite(w.recording.channels["C3-M2"]).all()
    assert w.trace.shown_channels == ["F4-M1", "C3-M2", "E1-M2", "E2-M1", "Chin"]  # below the last EEG lane
    assert w.trace._display["C4-M1"].kind == "eeg"  # drawn with the EEG's gain and filters, not as "other"

    odd = write_edf(tmp_path / "odd.edf", {"Chan A": (rng.normal(0, 20, 6000), 100.0),
                                           "Chan B": (rng.normal(0, 20, 6000), 100.0)}, start)
    assert open_and_wait(qtbot, w, odd)
    assert asked == [["Chan A", "Chan B", dialogs.ChannelDialog.NONE]]
    assert (w.recording.eeg_name, w.recording.eog_name) == ("Chan A", None)
    assert not errors


def test_cancel_and_stale_job(qtbot, tmp_path, gui_settings, tiny_model, windows, errors):
    from sleepscope.io import Recording

    rng = np.random.default_rng(0)
    a = Recording.from_arrays(rng.standard_normal(200 * 3000) * 20, rng.standard_normal(200 * 3000) * 20)
    b = Recording.from_arrays(rng.standard_normal(30 * 3000) * 20, rng.standard_normal(30 * 3000) * 20)
    w = windows(gui_settings, tiny_model)
    assert w.open_recording(a, scoring_path=tmp_path / "a.sleepscope.h5")
    job = w.job
    qtbot.mouseClick(w.cancel_button, Qt.MouseButton.LeftButton)
    # (The worker's own signals come from its thread: wait on the window's state instead.)
    qtbot.waitUntil(lambda: w.job is None, timeout=PRESCORE_TIMEOUT_MS)
    assert job.thread.wait(20000)
    assert w.job is None and w.controller.probs is None and w.scoring.latest_prediction() is None
    assert "cancelled" in w.statusBar().currentMessage()

    # A job still running when another recording opens is dropped, not delivered.
    assert w.start_prescore()
    stale = w.job
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert w.open_recording(b, scoring_path=tmp_path / "b.sleepscope.h5")
        assert stale.worker.cancel_token.cancelled
    assert w.controller.probs.shape == (30, 5)
    assert stale.thread.wait(20000)
    assert not errors


def test_worker_error_reaches_a_dialog(qtbot, tmp_path, gui_settings, windows, errors):
    from sleepscope.io import Recording

    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a model")
    (tmp_path / "broken.json").write_text("{not json")
    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.standard_normal(10 * 3000), rng.standard_normal(10 * 3000))
    w = windows(gui_settings, broken)
    assert w.open_recording(rec, scoring_path=tmp_path / "r.sleepscope.h5")
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=PRESCORE_TIMEOUT_MS)
    assert errors[0][0] == "Pre-scoring failed" and "model card" in errors[0][1]
    assert w.job is None


def test_settings_remembered(qtbot, tmp_path, gui_settings, windows):
    psg, _ = write_short_night(tmp_path, n=20)
    w = windows(gui_settings, None)
    assert open_and_wait(qtbot, w, psg)
    w.panel.gains["eeg"].setValue(40.0)
    w.panel.highpass["eeg"].setValue(0.5)
    w.panel.notch.setCurrentIndex(1)
    w.panel.context.setChecked(False)
    w.close()
    assert gui_settings.geometry() is not None and gui_settings.window_state() is not None
    w2 = windows(gui_settings, None)
    assert gui_settings.recent_files()[0] == str(psg)
    assert w2.recent_menu.actions()[0].text() == str(psg)
    assert w2.panel.highpass["eeg"].value() == 0.5 and w2.panel.notch.currentData() == 50.0
    assert not w2.trace.context
    assert open_and_wait(qtbot, w2, psg)
    assert w2.trace.display("EEG Fpz-Cz").gain == 40.0


def test_screenshot(qtbot, tmp_path, gui_settings, tiny_model, windows):
    psg, _ = write_short_night(tmp_path, n=120)
    w = windows(gui_settings, tiny_model)
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert open_and_wait(qtbot, w, psg)
    for k in (Qt.Key.Key_W, Qt.Key.Key_W, Qt.Key.Key_1, Qt.Key.Key_2):
        key(qtbot, w, k)
    out = tmp_path / "main.png"
    assert w.grab().save(str(out))
    assert out.stat().st_size > 20_000


def test_no_model_then_choose_one(qtbot, tmp_path, gui_settings, tiny_model, windows, errors, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from sleepscope.io import Recording

    w = windows(gui_settings, None)
    assert w.model_path is None
    # The fine-tuning entries live in the Model menu too.
    assert w.model_actions.finetune_action.text().startswith("&Fine-tune")
    assert "No model available" in w.statusBar().currentMessage()
    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.standard_normal(12 * 3000) * 20, rng.standard_normal(12 * 3000) * 20)
    assert w.open_recording(rec, scoring_path=tmp_path / "r.sleepscope.h5")
    assert w.job is None and not w.act_prescore.isEnabled()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tiny_model), ""))
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        w.choose_model()  # Model → Choose model file…: becomes active and pre-scores the open night
    assert w.model_path == tiny_model
    assert not any("model" in k for k in gui_settings._s.allKeys())  # the registry, not QSettings, keeps models
    assert w.controller.probs.shape == (12, 5)
    assert "NOT a usable" in w.model_card.notes
    # A file that is not a model is refused with a dialog; the active model stays.
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"junk")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    w.choose_model()
    assert errors and errors[-1][0] == "Cannot use this model" and w.model_path == tiny_model


def test_export_and_added_channel(qtbot, tmp_path, gui_settings, windows, errors, monkeypatch):
    import csv

    from PySide6.QtWidgets import QFileDialog

    psg, _ = write_short_night(tmp_path, n=20)
    w = windows(gui_settings, None)
    assert open_and_wait(qtbot, w, psg)
    for k in (Qt.Key.Key_W, Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4):  # 4 is REM, its code
        key(qtbot, w, k)
    out = {}
    for kind, name in (("csv", "h.csv"), ("edf", "h-Hypnogram.edf"), ("stats", "stats.txt")):
        target = tmp_path / name
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, t=target, **k: (str(t), ""))
        out[kind] = w.export(kind)
        assert out[kind] is not None and out[kind].exists()
    with open(out["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["stage"] for r in rows[:6]] == ["W", "N1", "N2", "N3", "REM", "?"]
    from sleepscope.io.hypnogram import read_hypnogram

    assert read_hypnogram(out["edf"], n_epochs=20)[:5].tolist() == [0, 1, 2, 3, 4]
    assert "Total sleep time (TST):       2.0 min" in out["stats"].read_text()  # N1, N2, N3, REM
    assert not errors

    # Opened with the model's two channels, Pz-Oz beside the EEG (the wake alpha) and the chin, EEG lanes first.
    assert w.trace.shown_channels == ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental"]
    # View → Channels: another channel of the file is read and drawn in its own lane; one shown is hidden.
    w.toggle_channel("Resp oro-nasal", True)  # read on the loader thread
    qtbot.waitUntil(lambda: "Resp oro-nasal" in w.trace.shown_channels, timeout=30_000)
    assert w.trace.shown_channels[-1] == "Resp oro-nasal"
    xs, ys = w.trace._curves["Resp oro-nasal"].getData()
    assert len(xs) > 0 and np.isfinite(ys).all()
    w.toggle_channel("EEG Pz-Oz", False)
    assert "EEG Pz-Oz" not in w.trace.shown_channels and "EEG Pz-Oz" not in w.panel.kinds_shown.text()
    # the next night of the lab opens as the technician left the last one
    other, _ = write_short_night(tmp_path / "next", n=20, seed=1)
    assert open_and_wait(qtbot, w, other)
    assert w.trace.shown_channels == ["EEG Fpz-Cz", "EOG horizontal", "EMG submental", "Resp oro-nasal"]
    w.toggle_channel("EEG Pz-Oz", True)
    qtbot.waitUntil(lambda: "EEG Pz-Oz" in w.trace.shown_channels, timeout=30_000)
    assert gui_settings.hidden_channels == [] and gui_settings.added_channels == ["Resp oro-nasal", "EEG Pz-Oz"]
    # View → Channels → Standard montage: the lanes of a night before any choice, and the choices forgotten
    w.toggle_channel("EEG Pz-Oz", False)
    assert open_and_wait(qtbot, w, psg)  # opened without Pz-Oz: it is read again for the standard montage
    assert "EEG Pz-Oz" not in w.recording.channels
    w.standard_montage()
    qtbot.waitUntil(lambda: "EEG Pz-Oz" in w.trace.shown_channels, timeout=30_000)
    assert w.trace.shown_channels == ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental"]
    assert gui_settings.hidden_channels == [] and gui_settings.added_channels == []
    assert not errors


def test_reference_scorer_copied_as_one_undoable_edit(qtbot, tmp_path, gui_settings, windows, errors):
    psg, hyp = write_short_night(tmp_path, n=30)
    w = windows(gui_settings, None)
    assert open_and_wait(qtbot, w, psg)
    assert w.reference_name == hyp.name and hyp.name in w.scoring.scorer_sets
    assert w.act_import_reference.isEnabled()
    w.act_import_reference.trigger()
    ref = w.reference
    scored = ref >= 0
    assert np.array_equal(w.scoring.labels[scored], ref[scored])
    assert set(w.scoring.sources[scored]) == {f"import:{hyp.name}"}
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (w.scoring.labels == -1).all()
    assert not errors


def test_unexpected_reader_failure_is_a_dialog(qtbot, tmp_path, gui_settings, windows, errors, monkeypatch):
    import sleepscope.io

    psg, _ = write_short_night(tmp_path, n=10)

    def broken(*a, **k):
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(sleepscope.io, "open_recording", broken)
    w = windows(gui_settings, None)
    assert open_and_wait(qtbot, w, psg) is False
    assert errors and "RuntimeError: decoder exploded" in errors[0][1]
    assert w.scoring is None and w.isVisible()


def test_a_night_left_for_the_next_is_let_go(qtbot, tmp_path, gui_settings, tiny_model, windows, errors):
    """A day's nights opened in turn in one window: the night left is freed (recording and scoring file) once
    the jobs that read it have ended; the open one is held (the control)."""
    import gc
    import weakref

    first, _ = write_short_night(tmp_path / "first", n=60)
    second, _ = write_short_night(tmp_path / "second", n=60, seed=1)
    w = windows(gui_settings, tiny_model)
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert open_and_wait(qtbot, w, first)
    left = weakref.ref(w.recording), weakref.ref(w.scoring)
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert open_and_wait(qtbot, w, second)
    shown = weakref.ref(w.recording), weakref.ref(w.scoring)
    assert w.second_opinion.wait(PRESCORE_TIMEOUT_MS)
    qtbot.wait(50)
    gc.collect()
    assert [r() for r in left] == [None, None]
    assert all(r() is not None for r in shown)
    assert not errors


def test_the_standard_montage_shows_the_chin_emg_not_a_leg_emg_listed_first():
    """The montage's EMG lane is the chin's (REM's atonia is scored on it), the one the model reads."""
    from sleepscope.gui.main_window import _standard_montage

    names = ["C4-M1", "E1-M2", "EMG Leg L", "LAT", "Chin1-Chin2", "ECG"]
    assert _standard_montage(names, "C4-M1", "E1-M2")[-2:] == ["Chin1-Chin2", "ECG"]  # the ECG last
    assert _standard_montage(["C4-M1", "E1-M2", "Leg EMG"], "C4-M1", "E1-M2") == []
    # a referential file: the chin EMG computed from its electrodes, as the model reads it
    assert _standard_montage(["C4", "M1", "E1", "M2", "Chin1", "ChinZ"], "C4-M1", "E1-M2")[-1] == "Chin1-ChinZ"


def test_the_night_shows_before_its_other_lanes_are_read_and_prescoring_waits_for_them(
        qtbot, tmp_path, gui_settings, tiny_model, windows, errors):
    """The model's two channels are read first and the night shown; the montage's other lanes follow on the lane
    loader, which reads those only; pre-scoring and the chin row start once they are there (they read the backup EEG
    and the chin from them, not from the file a second time)."""
    psg, _ = write_short_night(tmp_path, n=40)
    w = windows(gui_settings, tiny_model)
    shown, lanes = [], []
    w.openFinished.connect(lambda ok: shown.append((ok, dict(w.recording.channels), w.channel_loader.busy, w.job,
                                                    w.analysis.chin_tone.status)))
    w.channel_loader.loaded.connect(lambda result: lanes.append(sorted(result.channels)))
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert open_and_wait(qtbot, w, psg)
    ok, channels, reading, job, chin = shown[0]
    assert ok and sorted(channels) == ["EEG Fpz-Cz", "EOG horizontal"] and reading and job is None
    assert chin == "waiting"  # the chin row takes the chin EMG from the lanes, not from a reading of its own
    qtbot.waitUntil(lambda: w.analysis.chin_tone.status == "ready", timeout=30_000)
    assert lanes == [["EEG Pz-Oz", "EMG submental"]]
    assert w.trace.shown_channels == ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental"]
    n = len(w.recording.eeg)
    assert all(len(v) == n for v in w.recording.channels.values())
    assert w.scoring.latest_prediction() is not None and not errors
    # a lane added from View → Channels reads that lane alone
    w.toggle_channel("Resp oro-nasal", True)
    qtbot.waitUntil(lambda: "Resp oro-nasal" in w.trace.shown_channels, timeout=30_000)
    assert lanes[-1] == ["Resp oro-nasal"]


def test_read_lanes_reads_those_channels_alone_as_the_recording_reads_them(tmp_path):
    from sleepscope.io import open_recording
    from sleepscope.io.recording import read_lanes

    psg, _ = write_short_night(tmp_path, n=20)
    whole = open_recording(psg, extra=["EEG Pz-Oz", "EMG submental"])
    channels, rates = read_lanes(psg, ["EEG Pz-Oz", "EMG submental"])
    assert sorted(channels) == ["EEG Pz-Oz", "EMG submental"] and rates == {"EEG Pz-Oz": 100.0, "EMG submental": 1.0}
    for name, x in channels.items():
        np.testing.assert_array_equal(x, whole.channels[name])


def test_a_lane_that_cannot_be_read_costs_the_night_nothing(qtbot, tmp_path, gui_settings, tiny_model, windows,
                                                           errors):
    """An occipital EEG written in volts (±500 V, no body signal) beside a good EEG and EOG: the night opens and is
    pre-scored from its two channels, and the lane's refusal names it. (Read with the night, it refused the night.)"""
    import edfio

    from sleepscope.data.synthetic import real_hypnogram, synth_night

    night = synth_night(np.asarray(real_hypnogram("SC4001E0")[340:360]), subject=0, seed=0)
    signals = [edfio.EdfSignal(night.signals[k].astype(np.float64), sampling_frequency=100, label=k,
                               physical_range=(-500, 500), physical_dimension="uV")
               for k in ("EEG Fpz-Cz", "EOG horizontal")]
    signals.append(edfio.EdfSignal(night.signals["EEG Pz-Oz"].astype(np.float64) * 1e-6, sampling_frequency=100,
                                   label="EEG Pz-Oz", physical_range=(-500, 500), physical_dimension="V"))
    edfio.Edf(signals, starttime=night.start_time.time()).write(tmp_path / "volts.edf")
    w = windows(gui_settings, tiny_model)
    with qtbot.waitSignal(w.prescoreDone, timeout=PRESCORE_TIMEOUT_MS):
        assert open_and_wait(qtbot, w, tmp_path / "volts.edf")
    assert w.trace.shown_channels == ["EEG Fpz-Cz", "EOG horizontal"]
    assert w.scoring.latest_prediction() is not None
    assert [title for title, _ in errors] == ["Cannot read the channel"] and "'EEG Pz-Oz'" in errors[0][1]


def test_the_ecg_comes_as_a_lane_of_its_own_below_the_emg(qtbot, tmp_path, gui_settings, windows):
    """A PSG's ECG lead is shown (the model reads the EEG and EOG without its beats) in its own kind: its own gain
    and filters in the Display dock, a millivolt filling its lane; a channel merely named like a heart rate is
    not it."""
    from datetime import datetime

    from sleepscope.io.export import write_edf

    rng = np.random.default_rng(4)
    path = write_edf(tmp_path / "psg.edf", {
        "C4-M1": (rng.normal(0, 20, 6000), 100.0), "E1-M2": (rng.normal(0, 20, 6000), 100.0),
        "ECG II": (rng.normal(0, 300, 6000), 100.0), "HR": (rng.normal(60, 2, 6000), 100.0),
        "Chin1-Chin2": (rng.normal(0, 5, 6000), 100.0)}, datetime(2021, 5, 1, 23))
    w = windows(gui_settings, None)
    assert open_and_wait(qtbot, w, path)
    assert w.recording.channel_choice.ecg == "ECG II"
    assert w.trace.shown_channels == ["C4-M1", "E1-M2", "Chin1-Chin2", "ECG II"]
    shown = w.trace._display["ECG II"]
    assert shown.kind == "ecg" and shown.gain == 250.0 and not shown.reference_lines
    assert "ECG: ECG II" in w.panel.kinds_shown.text()
    w.panel.gains["ecg"].setValue(500.0)
    assert w.trace._display["ECG II"].gain == 500.0 and w.trace._display["C4-M1"].gain == 50.0
