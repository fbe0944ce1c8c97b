"""Events, notes and lights in the scoring file: journalled with provenance, undoable, in the snapshot,
used by the statistics and exported (EDF+ annotations, CSV)."""

import csv
from datetime import datetime

import numpy as np
import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.io import Recording
from sleepscope.scoring import snapshot as snapmod
from sleepscope.scoring.events import MarkEdit
from sleepscope.scoring.export import export_edf, export_events_csv, export_stats, statistics_summary
from sleepscope.scoring.scoring_file import ScoringFile, journal_path
from sleepscope.stages import Stage

N = 40


@pytest.fixture
def rec():
    rng = np.random.default_rng(3)
    return Recording.from_arrays(rng.normal(0, 20, N * 3000).astype(np.float32),
                                 rng.normal(0, 20, N * 3000).astype(np.float32),
                                 start_time=datetime(2021, 3, 4, 22, 0))


@pytest.fixture
def path(tmp_path):
    return tmp_path / "night.sleepscope.h5"


def test_event_journalled_with_provenance_undone_and_reopened(rec, path):
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        ev = sf.add_event("artefact", 95.0, 70.0, channel="EEG Fpz-Cz")
        assert (ev.kind, ev.start, ev.end, ev.scorer, ev.channel) == ("artefact", 70.0, 95.0, "ann", "EEG Fpz-Cz")
        assert ev.time > 0 and list(ev.epochs(30.0)) == [2, 3]
        note = sf.add_event("note", 300, 330, text="electrode re-attached")
        entry = sf.history()[-1]
        assert entry["op"] == "event" and entry["scorer"] == "ann" and entry["old"] is None
        # the journal holds it before the call returned
        assert "electrode re-attached" in journal_path(path).read_text()
        undone = sf.undo()
        assert isinstance(undone, MarkEdit) and undone.epochs == (10,) and "electrode" in undone.what
        assert [e.id for e in sf.events] == [ev.id]
        assert sf.redo().seq == note.id and [e.id for e in sf.events] == [ev.id, note.id]
        sf.change_event(note.id, text="electrode re-attached at 22:05")
        sf.remove_event(ev.id)
        assert [e.text for e in sf.events] == ["electrode re-attached at 22:05"]
        sf.undo()  # the removal
        assert [e.id for e in sf.events] == [ev.id, note.id]
    # replayed from the journal (no snapshot since the edits), then from a snapshot
    for _ in range(2):
        with ScoringFile.open(rec, path, scorer="bob") as sf:
            assert [(e.kind, e.start, e.end, e.scorer) for e in sf.events] == [
                ("artefact", 70.0, 95.0, "ann"), ("note", 300.0, 330.0, "ann")]
            assert sf.events[1].text == "electrode re-attached at 22:05"
            sf.save()
    ro = ScoringFile.read(path)
    assert len(ro.events) == 2
    ro.close()


def test_events_and_lights_undo_interleave_with_stage_edits(rec, path):
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.set_stage(5, Stage.N2)
        sf.set_lights("off", 60.0)
        sf.add_event("arousal", 200, 212)
        sf.set_stage(6, Stage.N3)
        assert [type(e).__name__ for e in sf.undo_stack()] == ["Edit", "MarkEdit", "MarkEdit", "Edit"]
        sf.undo()
        assert sf.labels[6] == -1 and len(sf.events) == 1
        sf.undo()
        assert sf.events == [] and sf.lights.off == 60.0
        sf.undo()
        assert sf.lights.off is None and sf.labels[5] == Stage.N2
        sf.redo()
        assert sf.lights.off == 60.0


def test_lights_checked_and_used_by_statistics(rec, path):
    labels = np.array([0] * 4 + [2] * 30 + [0] * 6)
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.set_stages(np.arange(N), labels)
        before = statistics_summary(sf)["statistics"]
        assert before["tib_min"] == 20.0 and before["sol_min"] == 2.0
        sf.set_lights("off", 2 * 30.0)
        sf.set_lights("on", 36 * 30.0)
        with pytest.raises(SleepScopeError, match="before lights on"):
            sf.set_lights("off", 37 * 30.0)
        with pytest.raises(SleepScopeError, match="outside the recording"):
            sf.set_lights("on", N * 30.0 + 1)
        s = statistics_summary(sf)["statistics"]
        assert (s["lights_off_epoch"], s["lights_on_epoch"]) == (2, 36)
        assert s["tib_min"] == 17.0 and s["sol_min"] == 1.0 and s["waso_min"] == 1.0
        assert s["se_pct"] == pytest.approx(100 * 15 / 17)
        # explicit epochs (the CLI's --lights-off/--lights-on) still win
        assert statistics_summary(sf, lights_off=0)["statistics"]["tib_min"] == 18.0
        text = export_stats(sf, None)
        assert "Lights off: 22:01:00 (epoch 3)" in text and "lights on: 22:18:00 (epoch 37)" in text
    with ScoringFile.open(rec, path) as sf:
        assert (sf.lights.off, sf.lights.on) == (60.0, 1080.0)


def test_export_edf_annotations_and_events_csv(rec, path, tmp_path):
    import edfio

    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.set_stages(np.arange(N), np.full(N, 2))
        sf.set_lights("off", 30.0)
        sf.add_event("arousal", 400.0, 409.5)
        sf.add_event("note", 600, 630, text="snoring")
        edf = export_edf(sf, tmp_path / "h.edf")
        ev_csv = export_events_csv(sf, tmp_path / "e.csv")
    anns = [(a.onset, a.duration, a.text) for a in edfio.read_edf(edf).annotations]
    assert (30.0, None, "Lights off") in anns
    assert (400.0, 9.5, "Arousal") in anns and (600.0, 30.0, "snoring") in anns
    assert any(t.startswith("Sleep stage 2") for _, _, t in anns)
    # the stages read back unchanged: the extra annotations are not stages
    from sleepscope.io.hypnogram import read_sleepedf_hypnogram

    assert (read_sleepedf_hypnogram(edf, n_epochs=N) == 2).all()
    rows = list(csv.DictReader(open(ev_csv, encoding="utf-8")))
    assert [r["kind"] for r in rows] == ["lights off", "arousal", "note"]
    assert rows[1]["duration_s"] == "9.5" and rows[1]["scorer"] == "ann"
    assert rows[2]["text"] == "snoring" and rows[2]["clock_time"] == "2021-03-04 22:10:00"


def test_bad_events_refused_and_nothing_written(rec, path):
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        seq = sf.seq
        with pytest.raises(SleepScopeError, match="outside the recording"):
            sf.add_event("arousal", N * 30 + 5, N * 30 + 9)
        with pytest.raises(SleepScopeError, match="artefact, arousal, note"):
            sf.add_event("spindle", 1, 2)
        with pytest.raises(SleepScopeError, match="no event"):
            sf.remove_event(999)
        with pytest.raises(SleepScopeError, match="nothing to export|no events"):
            export_events_csv(sf, path.with_name("e.csv"))
        assert sf.seq == seq and not path.with_name("e.csv").exists()


def test_failed_write_changes_no_event(rec, path, monkeypatch):
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.add_event("artefact", 0, 10)

        def full(*a, **k):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(sf, "_writer_append", full)
        with pytest.raises(SleepScopeError, match="full"):
            sf.add_event("arousal", 50, 60)
        with pytest.raises(SleepScopeError, match="full"):
            sf.undo()
        with pytest.raises(SleepScopeError, match="full"):
            sf.set_lights("on", 300)
        assert [e.kind for e in sf.events] == ["artefact"] and sf.lights.on is None
        assert len(sf.undo_stack()) == 1


def test_marks_in_checksummed_snapshot(rec, path):
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.add_event("note", 10, 20, text="abc")
        sf.set_lights("on", 900)
    state = snapmod.read_snapshot(path)
    assert [e.text for e in state.events.values()] == ["abc"] and state.lights["on"] == 900.0
    data = bytearray(path.read_bytes())
    i = data.find(b'"abc"')
    assert i > 0
    data[i + 1] = ord("x")
    path.write_bytes(bytes(data))
    with pytest.raises(snapmod.SnapshotDamaged, match="checksum"):
        snapmod.read_snapshot(path)


def test_sign_off_counts_label_changes_not_events(rec, path):
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.set_stage(1, Stage.W)
        sf.sign_off()
        sf.add_event("arousal", 30, 40)
        sf.undo()
        assert sf.signed_off.changes_since == 0
        sf.set_stage(2, Stage.W)
        sf.undo()
        assert sf.signed_off.changes_since == 2


def test_report_shows_lights_and_events_and_uses_the_period(rec, path, tmp_path):
    from sleepscope.scoring.report import build_report, write_report

    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.set_stages(np.arange(N), np.array([0] * 10 + [2] * 30))
        sf.set_lights("off", 8 * 30.0)
        sf.add_event("arousal", 500, 515)
        sf.add_event("note", 700, 730, text="patient & cable <loose>")
        report = build_report(sf)
    assert report.stats.tib_min == 16.0 and report.stats.sol_min == 1.0
    rows = dict(report.stats_rows())
    assert rows["Lights off"] == "22:04:00" and rows["Lights on"].startswith("not marked")
    html_out = write_report(report, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Events and notes" in html_out and "patient &amp; cable &lt;loose&gt;" in html_out
    assert "22:08:20" in html_out and "Arousal" in html_out
    pdf = write_report(report, tmp_path / "r.pdf")
    import re

    # identity and statistics, agreement and notes, then the events page
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes())) == 3


def test_cli_exports_events_and_uses_the_lights(rec, path, tmp_path, capsys):
    from sleepscope.cli import main

    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.set_stages(np.arange(N), np.array([0] * 10 + [2] * 30))
        sf.set_lights("off", 8 * 30.0)
        sf.add_event("artefact", 60, 75)
    assert main(["export", str(path), "--format", "events"]) == 0
    out = tmp_path / "night.sleepscope-events.csv"
    assert [r["kind"] for r in csv.DictReader(open(out, encoding="utf-8"))] == ["artefact", "lights off"]
    capsys.readouterr()
    assert main(["export", str(path), "--format", "stats", "--json"]) == 0
    stats = __import__("json").loads(capsys.readouterr().out)
    assert stats["statistics"]["lights_off_epoch"] == 8 and stats["lights"]["off_s"] == 240.0
    assert stats["events"] == {"artefact": 1, "arousal": 0, "note": 0}
