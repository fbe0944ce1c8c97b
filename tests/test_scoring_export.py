"""Import of hypnograms into a scoring file; export as EDF+ (read back by MNE), CSV, statistics; the CLI."""

import csv
import json
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sleepscope.cli import main
from sleepscope.errors import SleepScopeError
from sleepscope.io import Recording
from sleepscope.io.hypnogram import read_hypnogram
from sleepscope.scoring.export import (
    epoch_at,
    export_csv,
    export_edf,
    export_stats,
    import_hypnogram,
    statistics_summary,
)
from sleepscope.scoring.scoring_file import ScoringFile

DATA = Path(__file__).parent / "data"
N = 12
START = datetime(2021, 3, 4, 23, 50, 0)
LABELS = [0, 0, 1, 2, 2, 0, 2, 3, 3, 4, 4, -1]


@pytest.fixture
def scored(tmp_path):
    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.normal(size=N * 3000), rng.normal(size=N * 3000), start_time=START)
    path = tmp_path / "night.sleepscope.h5"
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        for i, s in enumerate(LABELS[:6]):
            sf.set_stage(i, s)
        probs = np.full((N, 5), 0.05, np.float32)
        probs[np.arange(N), [0, 1, 1, 2, 2, 0, 2, 3, 2, 4, 4, 0]] = 0.8
        sf.add_prediction("m1", probs)
        sf.accept_prediction(range(6, 11))  # model says 2 3 2 4 4
        sf.set_stage(8, 3)                   # the technician corrects epoch 8
    return rec, path


def test_export_edf_read_back_by_mne(scored, tmp_path):
    import mne

    _, path = scored
    out = export_edf(ScoringFile.read(path), tmp_path / "out-Hypnogram.edf")
    ann = mne.read_annotations(out)
    assert list(ann.description) == ["Sleep stage W", "Sleep stage 1", "Sleep stage 2", "Sleep stage W",
                                     "Sleep stage 2", "Sleep stage 3", "Sleep stage R", "Sleep stage ?"]
    np.testing.assert_allclose(ann.onset, [0, 60, 90, 150, 180, 210, 270, 330])
    np.testing.assert_allclose(ann.duration, [60, 30, 60, 30, 30, 60, 60, 30])
    import edfio

    edf = edfio.read_edf(out)
    assert datetime.combine(edf.startdate, edf.starttime) == START
    np.testing.assert_array_equal(read_hypnogram(out, n_epochs=N), LABELS)


def test_export_csv_read_back(scored, tmp_path):
    _, path = scored
    out = export_csv(ScoringFile.read(path), tmp_path / "h.csv")
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["epoch", "onset_s", "clock_time", "stage", "source", "scorer", "model_stage",
                             "model_confidence", "model_read_from"]
    assert len(rows) == N
    assert rows[1] == {"epoch": "1", "onset_s": "30", "clock_time": "2021-03-04 23:50:30", "stage": "W",
                       "source": "technician", "scorer": "ann", "model_stage": "N1", "model_confidence": "0.8000",
                       "model_read_from": ""}
    assert rows[7]["source"] == "model" and rows[7]["stage"] == "N3"
    assert rows[8]["source"] == "technician" and rows[8]["stage"] == "N3" and rows[8]["model_stage"] == "N2"
    assert rows[11]["stage"] == "?" and rows[11]["source"] == ""
    assert rows[11]["clock_time"] == "2021-03-04 23:55:30"
    # the io reader takes our CSV back as a hypnogram
    np.testing.assert_array_equal(read_hypnogram(out), LABELS)


def test_stats_summary_text_and_json(scored, tmp_path):
    _, path = scored
    sf = ScoringFile.read(path)
    summary = statistics_summary(sf)
    st = summary["statistics"]
    assert st["tst_min"] == pytest.approx(4.0) and st["sol_min"] == pytest.approx(1.0)
    assert st["n_awakenings"] == 1 and st["unscored_min"] == pytest.approx(0.5)
    agr = summary["model_agreement"]
    assert agr["model_version"] == "m1" and agr["n_epochs"] == 11
    assert agr["accuracy"] == pytest.approx(9 / 11)  # epochs 1 (N1 vs W) and 8 differ
    js = tmp_path / "s.json"
    export_stats(sf, js)
    assert json.loads(js.read_text())["statistics"]["tst_min"] == pytest.approx(4.0)
    text = export_stats(sf, None)
    assert "Total sleep time (TST):       4.0 min" in text and "Technician vs model m1" in text
    assert epoch_at(sf, "23:51") == 2 and epoch_at(sf, "00:00:30") == 21 and epoch_at(sf, "7") == 7
    with pytest.raises(SleepScopeError, match="clock time"):
        epoch_at(sf, "late")


def test_import_csv_text_and_apply(scored, tmp_path):
    rec, path = scored
    yasa = tmp_path / "yasa.txt"
    yasa.write_text("\n".join(["W", "N1", "N2", "N3", "R", "-2"] + ["N2"] * 6) + "\n")
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        before = sf.labels.copy()
        labels, edit = import_hypnogram(sf, yasa, scorer_name="yasa")
        assert edit is None and labels.tolist() == [0, 1, 2, 3, 4, -1] + [2] * 6
        # without --apply the technician's labels stay as they were (and differ from the import,
        # so that an import applied by mistake would show)
        assert (before != labels).any()
        np.testing.assert_array_equal(sf.labels, before)
        cs = tmp_path / "other.csv"
        cs.write_text("epoch,stage\n" + "".join(f"{i},N3\n" for i in range(N)))
        _, edit = import_hypnogram(sf, cs, scorer_name="dr_b", apply=True)
        assert edit.source == "import:other.csv" and len(edit.epochs) == N
        assert (sf.labels == 3).all()
        sf.undo()
        np.testing.assert_array_equal(sf.labels, before)
    ro = ScoringFile.read(path)
    assert set(ro.scorer_sets) == {"yasa", "dr_b"}
    assert ro.scorer_sets["yasa"].source_file.endswith("yasa.txt")
    with ScoringFile.open(rec, path) as sf:
        with pytest.raises(SleepScopeError, match="no such hypnogram"):
            import_hypnogram(sf, tmp_path / "missing.csv")


def test_import_real_sleepedf_hypnogram(tmp_path):
    from sleepscope.io import open_recording

    folder = tmp_path / "rec"
    folder.mkdir()
    psg = folder / "SC4001E0-PSG.edf"
    shutil.copy(DATA / "SC4001E0-PSG-first300s.edf", psg)
    rec = open_recording(psg)
    with ScoringFile.open(rec, scorer="ann") as sf:
        assert sf.path == folder / "SC4001E0-PSG.sleepscope.h5"
        # the whole night's hypnogram cannot be this 5-minute cut's (issue 14, item 11)
        with pytest.raises(SleepScopeError, match="covers 2880 epochs .*the recording 10 epochs"):
            import_hypnogram(sf, DATA / "SC4001EC-Hypnogram.edf", scorer_name="sleep-edf", apply=True)
        from sleepscope.io.hypnogram import read_hypnogram, write_edf_hypnogram

        cut = folder / "SC4001EC-Hypnogram.edf"
        write_edf_hypnogram(cut, read_hypnogram(DATA / "SC4001EC-Hypnogram.edf")[:10], rec.start_time)
        labels, edit = import_hypnogram(sf, cut, scorer_name="sleep-edf", apply=True)
        assert labels.tolist() == [0] * 10  # the first five minutes are wake (lights on)
        assert edit.source == "import:SC4001EC-Hypnogram.edf"
        assert sf.identity.file_name == "SC4001E0-PSG.edf"


def test_cli_export_and_import(scored, tmp_path, capsys):
    rec, path = scored
    assert main(["export", str(path), "--format", "csv"]) == 0
    assert (tmp_path / "night.sleepscope-hypnogram.csv").exists()
    assert main(["export", str(path), "--format", "edf", "--out", str(tmp_path / "x.edf")]) == 0
    np.testing.assert_array_equal(read_hypnogram(tmp_path / "x.edf", n_epochs=N), LABELS)
    capsys.readouterr()
    assert main(["export", str(path), "--format", "stats", "--json", "--lights-off", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["statistics"]["sol_min"] == 0.0 and out["statistics"]["tib_min"] == pytest.approx(5.0)
    hyp = tmp_path / "h.txt"
    hyp.write_text("\n".join(["N2"] * N))
    assert main(["import", str(path), str(hyp), "--scorer", "tech2", "--apply"]) == 0
    ro = ScoringFile.read(path)
    assert "tech2" in ro.scorer_sets and (ro.labels == 2).all()
    assert main(["export", str(tmp_path / "nope.sleepscope.h5"), "--format", "csv"]) == 2


def test_cli_takes_the_recording_for_its_scoring_file(tmp_path, capsys):
    """A lab's archive night never opened in the workstation: importing its hypnogram names the recording, and
    export and report find the scoring file that import made beside it."""
    psg = tmp_path / "SC4001E0-PSG.edf"
    shutil.copy(DATA / "SC4001E0-PSG-first300s.edf", psg)
    scoring = tmp_path / "SC4001E0-PSG.sleepscope.h5"
    assert main(["export", str(psg), "--format", "csv"]) == 2  # nothing to export yet, and nothing made
    assert "has no scoring file yet" in capsys.readouterr().err and not scoring.exists()
    hyp = tmp_path / "night.txt"
    hyp.write_text("W\nW\nW\nN1\nN1\nN2\nN2\nN2\nN2\nN2\n")
    assert main(["import", str(psg), str(hyp), "--apply"]) == 0
    assert ScoringFile.read(scoring).labels.tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
    for fmt in ("csv", "edf", "stats"):
        assert main(["export", str(psg), "--format", fmt]) == 0
    assert (tmp_path / "SC4001E0-PSG.sleepscope-hypnogram.csv").exists()
    assert main(["report", str(psg)]) == 0 and (tmp_path / "SC4001E0-PSG.sleepscope-report.pdf").exists()
    # the technician's export is never taken back as the lab's scoring of the night (it started from the
    # model's suggestions): the same file under a lab's name is
    from sleepscope.io.pairing import find_hypnogram

    assert find_hypnogram(psg) is None
    shutil.copy(tmp_path / "SC4001E0-PSG.sleepscope-hypnogram.csv", tmp_path / "SC4001E0-PSG.hypnogram.csv")
    assert find_hypnogram(psg) == tmp_path / "SC4001E0-PSG.hypnogram.csv"
    assert main(["report", str(psg), "--out", str(tmp_path / "r.html")]) == 0
    assert "SC4001E0-PSG.edf" in (tmp_path / "r.html").read_text()
    # a scoring file that does not exist is not made: it would belong to no recording
    assert main(["import", str(tmp_path / "other.sleepscope.h5"), str(hyp)]) == 2
    assert "Name the recording" in capsys.readouterr().err


def test_export_needs_labels(tmp_path):
    rng = np.random.default_rng(1)
    rec = Recording.from_arrays(rng.normal(size=3000 * 2), rng.normal(size=3000 * 2))
    with ScoringFile.open(rec, tmp_path / "e.sleepscope.h5") as sf:
        with pytest.raises(SleepScopeError, match="no technician labels"):
            export_csv(sf, tmp_path / "e.csv")


def test_export_csv_says_where_the_model_gave_no_stage_and_what_it_read(tmp_path):
    from sleepscope.model.epoch_reading import ARTEFACT, BACKUP_EEG, EEG_ALONE
    from sleepscope.stages import no_stage_probs

    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.normal(size=N * 3000), rng.normal(size=N * 3000), start_time=START)
    probs = np.full((N, 5), 0.05, np.float32)
    probs[:, 2] = 0.8
    probs[3:5] = no_stage_probs(2)
    reading = np.zeros(N, np.uint8)
    reading[3:5], reading[6], reading[7] = ARTEFACT, BACKUP_EEG, EEG_ALONE
    with ScoringFile.open(rec, tmp_path / "n.sleepscope.h5") as sf:
        sf.add_prediction("m1", probs, reading=reading)
        sf.set_stage(0, "W")
        out = export_csv(sf, tmp_path / "h.csv")
    rows = list(csv.DictReader(out.open()))
    assert [r["model_stage"] for r in rows[2:8]] == ["N2", "?", "?", "N2", "N2", "N2"]  # not W, the first column
    assert [r["model_read_from"] for r in rows[5:9]] == ["", "backup EEG", "EEG alone", ""]
