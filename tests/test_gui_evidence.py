""""Why this stage": band powers, YASA's spindles / slow waves / eye movements around an epoch, and the panel."""

from __future__ import annotations

import numpy as np
import pytest

from sleepscope.analysis import evidence as evmod
from sleepscope.analysis.evidence import NO_YASA, REM, SLOW_WAVE, SPINDLE, Leads, epoch_evidence

FS = 100.0
N = 12
SPINDLE_EPOCH, SW_EPOCH, ALPHA_EPOCH = 3, 7, 10


def _night(seed=0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    eeg = rng.normal(0, 8, N * 3000)
    eog = rng.normal(0, 8, N * 3000)
    t = np.arange(100) / FS
    for k in range(4):  # four 1-s 13-Hz spindles with a smooth envelope
        a = SPINDLE_EPOCH * 3000 + 300 + k * 600
        eeg[a:a + 100] += 50 * np.hanning(100) * np.sin(2 * np.pi * 13 * t)
    tt = np.arange(3000) / FS
    eeg[SW_EPOCH * 3000:(SW_EPOCH + 1) * 3000] += 90 * np.sin(2 * np.pi * 0.8 * tt)  # 180 µV slow waves
    eeg[ALPHA_EPOCH * 3000:(ALPHA_EPOCH + 1) * 3000] += 40 * np.sin(2 * np.pi * 10 * tt)
    return eeg.astype(np.float32), eog.astype(np.float32)


pytest.importorskip("yasa")


def test_detectors_find_what_was_put_there_and_not_elsewhere():
    eeg, eog = _night()
    sp = epoch_evidence(eeg, eog, FS, SPINDLE_EPOCH)
    assert sp.detector_note is None
    assert sp.count(SPINDLE) >= 3 and sp.count(SLOW_WAVE) == 0
    assert max(sp.band_powers, key=sp.band_powers.get) in ("sigma", "beta") or sp.band_powers["sigma"] > 0.15
    sw = epoch_evidence(eeg, eog, FS, SW_EPOCH)
    assert sw.count(SLOW_WAVE) >= 10 and sw.count(SPINDLE) == 0
    assert sw.band_powers["delta"] > 0.9
    # every event lies in the epoch's window of three epochs, in seconds from the recording start
    assert all((SW_EPOCH - 1) * 30 <= e.start_s < e.end_s <= (SW_EPOCH + 2) * 30 for e in sw.events)
    control = epoch_evidence(eeg, eog, FS, 0)
    assert control.count(SPINDLE) == 0 and control.count(SLOW_WAVE) == 0
    alpha = epoch_evidence(eeg, eog, FS, ALPHA_EPOCH, detectors=False)
    assert max(alpha.band_powers, key=alpha.band_powers.get) == "alpha" and alpha.events == []


def test_without_yasa_the_band_powers_remain(monkeypatch):
    eeg, eog = _night()
    monkeypatch.setattr(evmod, "yasa_available", lambda: False)
    ev = epoch_evidence(eeg, eog, FS, SW_EPOCH)
    assert ev.detector_note == NO_YASA and ev.events == []
    assert ev.band_powers["delta"] > 0.9


def test_epoch_outside_the_recording_is_refused():
    eeg, eog = _night()
    with pytest.raises(ValueError):
        epoch_evidence(eeg, eog, FS, N)


# -- the panel --------------------------------------------------------------

pytest.importorskip("pytestqt")


@pytest.fixture
def panel(qtbot):
    from sleepscope.gui.evidence_panel import EvidencePanel
    from sleepscope.io import Recording

    eeg, eog = _night()
    rec = Recording.from_arrays(eeg, eog)
    probs = np.tile(np.array([0.1, 0.1, 0.6, 0.1, 0.1], np.float32), (N, 1))
    p = EvidencePanel()
    qtbot.addWidget(p)
    p.show()
    p.set_recording(rec, lambda epoch: probs[epoch])
    yield p
    assert p.wait(10000)


def test_panel_shows_the_epochs_evidence_once_the_technician_stays(qtbot, panel):
    with qtbot.waitSignal(panel.evidenceReady, timeout=60000) as sig:
        panel.set_epoch(SPINDLE_EPOCH)
        assert panel.probs.values == pytest.approx([0.1, 0.1, 0.6, 0.1, 0.1])  # at once, no detector needed
    ev = sig.args[0]
    assert ev.epoch == SPINDLE_EPOCH and panel.evidence is ev
    assert "spindles" in panel.events_label.text()
    assert panel.bands.values == pytest.approx([ev.band_powers[k] for k in ev.band_powers])


def test_flipping_through_pages_runs_the_detectors_only_where_the_technician_stops(qtbot, panel, monkeypatch):
    from sleepscope.gui import evidence_panel

    started = []
    real = evidence_panel.EvidenceJob.start

    def counting_start(self, *a):
        started.append(self.epoch)
        real(self, *a)

    monkeypatch.setattr(evidence_panel.EvidenceJob, "start", counting_start)
    with qtbot.waitSignal(panel.evidenceReady, timeout=60000):
        for e in range(0, 8):  # eight page flips in quick succession
            panel.set_epoch(e)
    assert started == [7]
    # back to a page already explained: shown from the cache, no new job
    panel.set_epoch(6)
    with qtbot.waitSignal(panel.evidenceReady, timeout=60000):
        panel.set_epoch(7)
    qtbot.wait(2 * evidence_panel.SETTLE_MS)
    assert started == [7]  # page 6 was left at once, page 7 came from the cache


def test_overlay_marks_events_on_their_lanes(qtbot, panel):
    import pyqtgraph as pg

    from sleepscope.gui.evidence_panel import EventOverlay

    with qtbot.waitSignal(panel.evidenceReady, timeout=60000) as sig:
        panel.set_epoch(SW_EPOCH)
    ev = sig.args[0]
    plot = pg.PlotItem()
    overlay = EventOverlay(plot, lambda kind: (-1.0, 1.0) if kind == "eeg" else None)  # EOG lane hidden
    overlay.show(ev)
    eeg_events = [e for e in ev.events if e.channel == "eeg"]
    assert overlay.n_shown == len(eeg_events) >= 10
    overlay.show(None)
    assert overlay.n_shown == 0


# -- both eyes ----------------------------------------------------------------

def _eyes(conjugate: bool, seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three epochs; in the middle one, five 0.6-s deflections of 150 µV in each eye: opposite in the two eyes (a
    conjugate eye movement) or alike (what reaches both eyes from elsewhere: frontal EEG, a blink)."""
    rng = np.random.default_rng(seed)
    eeg, left, right = (rng.normal(0, 5, 3 * 3000) for _ in range(3))
    for k in range(5):
        a = 3000 + 200 + 500 * k
        left[a:a + 60] += 150 * np.hanning(60)
        right[a:a + 60] += (-150 if conjugate else 150) * np.hanning(60)
    return eeg.astype(np.float32), left.astype(np.float32), right.astype(np.float32)


def test_eye_movements_are_told_by_the_two_eyes_when_both_are_there():
    eeg, left, right = _eyes(conjugate=False)
    # control: from one eye's channel every deflection of the right shape counts
    assert epoch_evidence(eeg, left, FS, 1).count(REM) >= 4
    # with both eyes, deflections alike in the two are no eye movement
    assert epoch_evidence(eeg, left, FS, 1, leads=Leads(eyes=(left, right))).count(REM) == 0
    eeg, left, right = _eyes(conjugate=True)
    assert epoch_evidence(eeg, left, FS, 1, leads=Leads(eyes=(left, right))).count(REM) >= 4


def test_the_eye_pair_among_the_loaded_channels():
    from sleepscope.analysis.evidence import eye_pair

    e1, e2, fz = np.zeros(3), np.ones(3), np.full(3, 2.0)
    pair = eye_pair({"EEG F4-M1": fz, "EOG E2-M1": e2, "EOG E1-M2": e1}, "EOG E2-M1")
    assert pair is not None and pair[0] is e1 and pair[1] is e2  # left eye first, whichever the model reads
    assert eye_pair({"LOC-A2": e1, "ROC-A1": e2}, None)[1] is e2
    assert eye_pair({"EEG F4-M1": fz, "EOG E1-M2": e1}, "EOG E1-M2") is None  # one eye
    assert eye_pair({"EEG Fpz-Cz": fz, "EOG horizontal": e1}, "EOG horizontal") is None  # bipolar: both in one


def test_panel_reads_both_eyes_once_the_window_shows_the_other(qtbot):
    """The window loads the other eye with the AASM montage (`scoring_montage`); the panel then finds eye movements
    from the pair: deflections alike in both eyes are none. Before the other eye is loaded (control): one eye."""
    from sleepscope.gui.evidence_panel import EvidencePanel
    from sleepscope.io import Recording

    eeg, left, right = _eyes(conjugate=False)
    rec = Recording.from_arrays(eeg, left, eog_name="EOG E1-M2")
    p = EvidencePanel()
    qtbot.addWidget(p)
    p.show()
    p.set_recording(rec, lambda epoch: None)
    with qtbot.waitSignal(p.evidenceReady, timeout=60000) as sig:
        p.set_epoch(1)
    assert sig.args[0].count(REM) >= 4
    rec.channels["EOG E2-M1"] = right
    p.set_recording(rec, lambda epoch: None)
    with qtbot.waitSignal(p.evidenceReady, timeout=60000) as sig:
        p.set_epoch(1)
    assert sig.args[0].count(REM) == 0
    assert p.wait(10000)


def test_the_window_reads_both_eyes_for_the_panel_and_again_once_the_other_is_added(
        qtbot, tmp_path, main_windows, monkeypatch):
    """An AASM file opens with both eyes (the montage), and Why this stage finds no eye movement in deflections alike
    in both; with the other eye hidden (the technician's choice, kept in the settings) one eye counts them, until
    View → Channels reads the other eye again."""
    from datetime import datetime

    from PySide6.QtCore import QSettings
    from test_gui_support import open_and_wait

    from sleepscope.gui.second_opinion import SecondOpinion
    from sleepscope.gui.settings import Settings
    from sleepscope.io.export import write_edf

    monkeypatch.setattr(SecondOpinion, "start", lambda self: False)
    eeg, left, right = _eyes(conjugate=False)
    path = write_edf(tmp_path / "aasm.edf", {"EEG F4-M1": (eeg, FS), "EOG E1-M2": (left, FS),
                                              "EOG E2-M1": (right, FS)}, datetime(2021, 5, 1, 23, 0))
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))

    def rems(w) -> int:
        panel = w.analysis.evidence
        w.analysis.evidence_dock.raise_()
        qtbot.waitUntil(panel.isVisible, timeout=2000)
        qtbot.waitUntil(lambda: panel.evidence is not None and panel.evidence.epoch == 1, timeout=60000)
        return panel.evidence.count(REM)

    w = main_windows(settings, prescore=False)
    assert open_and_wait(qtbot, w, path)
    w.controller.go_to(1)
    assert "EOG E2-M1" in w.trace.shown_channels and rems(w) == 0
    w.toggle_channel("EOG E2-M1", False)  # hidden, and so on the next opening
    w.close_recording()
    assert open_and_wait(qtbot, w, path)
    assert "EOG E2-M1" not in w.recording.channels
    w.controller.go_to(1)
    assert rems(w) >= 4  # control: one eye
    w.toggle_channel("EOG E2-M1", True)  # read on the loader thread
    qtbot.waitUntil(lambda: "EOG E2-M1" in w.trace.shown_channels, timeout=30000)
    assert rems(w) == 0


# -- spindles on the central lead ---------------------------------------------

def _central_spindles(seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three epochs of frontal EEG, EOG and central EEG; four 13-Hz spindles in the middle epoch, on the central
    lead only (spindles are largest centrally; a frontal lead may show them weakly or not at all)."""
    rng = np.random.default_rng(seed)
    frontal, eog, central = (rng.normal(0, 8, 3 * 3000) for _ in range(3))
    t = np.arange(100) / FS
    for k in range(4):
        a = 3000 + 300 + k * 600
        central[a:a + 100] += 50 * np.hanning(100) * np.sin(2 * np.pi * 13 * t)
    return frontal.astype(np.float32), eog.astype(np.float32), central.astype(np.float32)


def test_spindles_are_found_on_the_central_lead_where_there_is_one():
    from sleepscope.analysis.evidence import leads_of

    frontal, eog, central = _central_spindles()
    assert epoch_evidence(frontal, eog, FS, 1).count(SPINDLE) == 0  # control: the frontal lead alone
    ev = epoch_evidence(frontal, eog, FS, 1, leads=Leads(central=("EEG C4-M1", central)))
    assert ev.count(SPINDLE) >= 3
    assert {e.channel for e in ev.events if e.kind == SPINDLE} == {"EEG C4-M1"}  # marked on that lane
    channels = {"EEG F4-M1": frontal, "EOG E1-M2": eog, "EEG C4-M1": central}
    assert leads_of(channels, "EEG F4-M1", "EOG E1-M2").central[0] == "EEG C4-M1"
    assert leads_of(channels, "EEG C4-M1", "EOG E1-M2").central is None  # the model reads it already
    assert leads_of({"EEG F4-M1": frontal, "C4": central, "M1": central}, "EEG F4-M1", None).central is None


def test_the_window_marks_central_spindles_on_the_central_lane(qtbot, tmp_path, main_windows, monkeypatch):
    from datetime import datetime

    from PySide6.QtCore import QSettings
    from test_gui_support import open_and_wait

    from sleepscope.gui.settings import Settings

    from sleepscope.gui.second_opinion import SecondOpinion
    from sleepscope.io.export import write_edf

    monkeypatch.setattr(SecondOpinion, "start", lambda self: False)
    frontal, eog, central = _central_spindles()
    path = write_edf(tmp_path / "aasm.edf", {"EEG F4-M1": (frontal, FS), "EEG C4-M1": (central, FS),
                                              "EOG E1-M2": (eog, FS)}, datetime(2021, 5, 1, 23, 0))
    w = main_windows(Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)), prescore=False)
    assert open_and_wait(qtbot, w, path)
    assert w.recording.eeg_name == "EEG F4-M1" and "EEG C4-M1" in w.trace.shown_channels
    w.analysis.evidence_dock.raise_()
    panel = w.analysis.evidence
    qtbot.waitUntil(panel.isVisible, timeout=2000)
    with qtbot.waitSignal(panel.evidenceReady, timeout=60000) as sig:
        w.controller.go_to(1)
    spindles = [e for e in sig.args[0].events if e.kind == SPINDLE]
    assert len(spindles) >= 3 and {e.channel for e in spindles} == {"EEG C4-M1"}
    lo, hi = w.analysis._lane_span("EEG C4-M1")
    lane = w.trace.baseline(w.trace.shown_channels.index("EEG C4-M1"))
    assert lo < lane < hi and w.analysis.overlay.n_shown == len(sig.args[0].events)


def test_the_occipital_leads_alpha_is_shown_beside_a_frontal_model_eeg(qtbot):
    """Wake's alpha is largest over the occiput: with O2-M1 loaded beside the model's frontal lead, the panel says how
    much of O2-M1's power is alpha; the frontal lead's bars alone (control) hardly show it."""
    from sleepscope.analysis.evidence import leads_of
    from sleepscope.gui.evidence_panel import EvidencePanel
    from sleepscope.io import Recording

    rng = np.random.default_rng(0)
    frontal, eog, occipital = (rng.normal(0, 8, 3 * 3000).astype(np.float32) for _ in range(3))
    occipital[3000:6000] += (40 * np.sin(2 * np.pi * 10 * np.arange(3000) / FS)).astype(np.float32)
    channels = {"EEG F4-M1": frontal, "EOG E1-M2": eog, "EEG O2-M1": occipital}
    leads = leads_of(channels, "EEG F4-M1", "EOG E1-M2")
    assert leads.occipital[0] == "EEG O2-M1"
    ev = epoch_evidence(frontal, eog, FS, 1, detectors=False, leads=leads)
    assert ev.occipital_alpha[0] == "EEG O2-M1" and ev.occipital_alpha[1] > 0.8
    assert ev.band_powers["alpha"] < 0.3  # control: the frontal lead the bars show
    assert epoch_evidence(frontal, eog, FS, 1, detectors=False).occipital_alpha is None
    assert leads_of({"EEG Pz-Oz": occipital, "EOG horizontal": eog}, "EEG Pz-Oz", "EOG horizontal").occipital is None

    rec = Recording.from_arrays(frontal, eog, eeg_name="EEG F4-M1", eog_name="EOG E1-M2")
    rec.channels["EEG O2-M1"] = occipital
    p = EvidencePanel()
    qtbot.addWidget(p)
    p.show()
    p.detectors = False
    p.set_recording(rec, lambda epoch: None)
    with qtbot.waitSignal(p.evidenceReady, timeout=60000):
        p.set_epoch(1)
    assert p.alpha_label.isVisible() and p.alpha_label.text().startswith("Alpha on EEG O2-M1: ")
    p.set_recording(None)
    assert not p.alpha_label.isVisible()
    assert p.wait(10000)
