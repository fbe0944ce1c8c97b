""""Why this stage": band powers, YASA's spindles / slow waves / eye movements around an epoch, and the panel."""

from __future__ import annotations

import numpy as np
import pytest

from sleepscope.analysis import evidence as evmod
from sleepscope.analysis.evidence import NO_YASA, REM, SLOW_WAVE, SPINDLE, epoch_evidence

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
