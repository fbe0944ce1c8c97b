"""Statistics exports and the report of an EDF+D night: gap epochs are "no signal", not unscored.

The scoring file does not keep the gaps: the CLI reads them from the header of
the recording beside it, and says so when that recording is not there.
"""

import json

import numpy as np
import pytest

from test_edf_discontinuous import _night_with_gap

from sleepscope.cli import main
from sleepscope.io import open_recording
from sleepscope.scoring.export import export_stats, recording_no_signal, statistics_summary
from sleepscope.scoring.report import build_report
from sleepscope.scoring.scoring_file import ScoringFile

BEFORE, GAP, AFTER = 300, 600, 300
N_GAP = GAP // 30


@pytest.fixture
def gap_night(tmp_path):
    """An EDF+D night whose every recorded epoch is scored, its scoring file beside it."""
    path, *_ = _night_with_gap(tmp_path, before_s=BEFORE, gap_s=GAP, after_s=AFTER)
    rec = open_recording(path)
    scoring = tmp_path / "gap.sleepscope.h5"
    stages = np.where(np.arange(rec.n_epochs) % 7 == 0, 0, 2)
    with ScoringFile.open(rec, scoring, scorer="ann") as sf:
        for i in np.flatnonzero(~rec.gap):
            sf.set_stage(int(i), int(stages[i]))
    return path, rec, scoring


def test_gaps_read_from_the_recording_beside_the_scoring_file(gap_night, capsys):
    path, rec, scoring = gap_night
    sf = ScoringFile.read(scoring)
    gap, note = recording_no_signal(sf)
    assert note is None and np.array_equal(gap, rec.gap)  # the header gives the mask reading the file gives
    summary = statistics_summary(sf)
    assert "warning" not in summary and "no_signal_note" not in summary
    assert summary["no_signal_epochs"] == N_GAP and summary["scored_epochs"] == rec.n_epochs - N_GAP
    assert summary["statistics"]["unscored_min"] == 0
    assert summary["statistics"]["no_signal_min"] == pytest.approx(N_GAP / 2)
    assert main(["export", str(scoring), "--format", "stats"]) == 0
    text = capsys.readouterr().out
    assert "WARNING" not in text and "Partly scored" not in text
    assert f"Epochs scored: {rec.n_epochs - N_GAP} of {rec.n_epochs - N_GAP}" in text
    assert f"No signal (recording gaps):   {N_GAP / 2:.1f} min" in text
    report = build_report(sf)
    assert report.warnings() == ["This night has not been signed off."] and not report.partial
    assert ("No signal (recording gaps)", f"{N_GAP / 2:.1f} min") in report.stats_rows()


def test_without_the_recording_the_export_and_report_say_so(gap_night, tmp_path):
    path, rec, scoring = gap_night
    path.rename(tmp_path / "elsewhere.edf")
    sf = ScoringFile.read(scoring)
    # The control: gaps unknown, so they count as unscored (the old figures), and the export says why.
    summary = statistics_summary(sf)
    assert summary["no_signal_epochs"] is None and "gap.edf was not available" in summary["no_signal_note"]
    assert f"{rec.n_epochs - N_GAP} of {rec.n_epochs} epochs are scored" in summary["warning"]
    text = export_stats(sf, tmp_path / "stats.txt")
    assert "NOTE: gap.edf was not available" in text
    report = build_report(sf)
    assert any("was not available" in w for w in report.warnings())
    assert ("No signal (recording gaps)", "unknown: recording not available") in report.stats_rows()
    # With the mask of the open recording (the GUI), the gaps are known again.
    out = tmp_path / "stats.json"
    export_stats(sf, out, no_signal=rec.gap)
    data = json.loads(out.read_text())
    assert "warning" not in data and "no_signal_note" not in data and data["no_signal_epochs"] == N_GAP
    assert not any("Partly" in w or "not available" in w for w in build_report(sf, no_signal=rec.gap).warnings())
