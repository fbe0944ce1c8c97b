"""An EDF+D night scored to the last recorded epoch: the statistics panel, the export and the report
leave the gap out ("no signal") and warn of no partial scoring."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pytestqt")

from test_gui_gaps import FIRST_AFTER, FIRST_GAP, N, gap_window, no_shipped_model  # noqa: E402,F401
from test_gui_support import gui_settings  # noqa: E402,F401

N_GAP = FIRST_AFTER - FIRST_GAP


def test_every_recorded_epoch_scored_no_partial_warning(qtbot, gap_window, tmp_path, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog

    w = gap_window
    w.analysis.stats_dock.raise_()
    panel = w.analysis.stats
    qtbot.waitUntil(panel.isVisible, timeout=2000)
    panel.refresh()
    assert "0 of 20 epochs scored: figures of a partly scored night" in panel.stats_label.text()
    recorded = [i for i in range(N) if not FIRST_GAP <= i < FIRST_AFTER]
    for i in recorded:  # the technician scores every epoch that has signal, with the keys
        w.controller.go_to(i)
        qtbot.keyClick(w.surface, Qt.Key.Key_0 if i in (0, FIRST_AFTER) else Qt.Key.Key_2)
    assert all(int(w.scoring.labels[i]) >= 0 for i in recorded)
    assert (w.scoring.labels[FIRST_GAP:FIRST_AFTER] == -1).all()  # the gap can never be scored
    qtbot.waitUntil(lambda: panel.stats.tst_min == (len(recorded) - 2) / 2, timeout=3000)
    text = panel.stats_label.text()
    assert "partly scored" not in text
    assert f"{len(recorded)} of {len(recorded)} epochs scored" in text
    assert f"{N_GAP} epochs without signal" in text
    assert "No signal (gaps)" in text and f"{N_GAP / 2:.1f} min" in text
    assert panel.stats.unscored_min == 0 and panel.stats.no_signal_min == N_GAP / 2
    assert w.controller.reviewed_fraction() == 1.0  # the status bar's share: of the epochs with signal
    assert "Reviewed 100.0%" in w.status.reviewed.text()
    assert panel.stats.n_awakenings == 1  # W before the gap is before sleep onset; the W after it is one awakening

    # Export and report from the window use the open recording's gaps, even with the file moved away.
    w.recording.path.rename(tmp_path / "moved.edf")
    out = tmp_path / "stats.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    w.export("stats")
    summary = json.loads(out.read_text())
    assert "warning" not in summary and "no_signal_note" not in summary
    assert summary["no_signal_epochs"] == N_GAP and summary["statistics"]["unscored_min"] == 0
    html = w.analysis.write_report(tmp_path / "night.html").read_text(encoding="utf-8")
    assert "Partly scored" not in html and "not available" not in html
    assert "No signal (recording gaps)" in html
