"""The corrections library: labelled epochs with their signals, counts, no double counting."""

import shutil
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sleepscope.io import Recording
from sleepscope.scoring.corrections import (FEW_EPOCHS, CorrectionSet, build_correction_set, collect_labels,
                                            few_note, label_counts)
from sleepscope.scoring.scoring_file import ScoringFile
from sleepscope.tasks import CancelToken, Cancelled

DATA = Path(__file__).parent / "data"


def make_recording(seed, n=10):
    rng = np.random.default_rng(seed)
    return Recording.from_arrays(rng.normal(0, 30, n * 3000), rng.normal(0, 30, n * 3000),
                                 start_time=datetime(2022, 5, 1, 23, 0))


def test_gathers_labelled_epochs_with_signals_and_provenance(tmp_path):
    a, b = make_recording(1), make_recording(2, n=6)
    pa, pb = tmp_path / "a.sleepscope.h5", tmp_path / "b.sleepscope.h5"
    with ScoringFile.open(a, pa, scorer="ann") as sf:
        sf.set_stage([0, 1], "W")
        sf.set_stage(4, "N2")
        sf.add_prediction("m", np.eye(5, dtype=np.float32)[np.arange(10) % 5])
        sf.accept_prediction([7])  # model says 7 % 5 = 2 -> N2
        sf.add_scorer_labels("other", np.full(10, 3), source_file="x.csv")  # not the technician's
    with ScoringFile.open(b, pb, scorer="bob") as sf:
        sf.set_stage(5, "REM")
        sf.set_stage(2, "N3")
        sf.undo()  # withdrawn: not a label
    progress = []
    cs = build_correction_set([pa, pb], recordings=[a, b], progress=lambda d, t, m: progress.append((d, t)))
    assert len(cs) == 5 and cs.x.shape == (5, 2, 3000) and cs.x.dtype == np.float32
    assert cs.y.tolist() == [0, 0, 2, 2, 4]
    assert cs.epoch.tolist() == [0, 1, 4, 7, 5]
    assert cs.source.tolist() == ["technician"] * 3 + ["model", "technician"]
    np.testing.assert_array_equal(cs.x[2], a.model_input()[4])
    np.testing.assert_array_equal(cs.x[4], b.model_input()[5])
    assert cs.counts_per_stage() == {"W": 2, "N1": 0, "N2": 2, "N3": 0, "REM": 1}
    per = cs.counts_per_recording()
    assert per[a.fingerprint()]["total"] == 4 and per[b.fingerprint()] == {
        "W": 0, "N1": 0, "N2": 0, "N3": 0, "REM": 1, "total": 1}
    assert label_counts([pa, pb]) == per
    assert progress[-1] == (2, 2)
    only_tech = build_correction_set([pa], recordings=[a], sources=("technician",))
    assert only_tech.epoch.tolist() == [0, 1, 4]
    # round trip through the file the fine-tuning process reads
    back = CorrectionSet.load(cs.save(tmp_path / "set.h5"))
    np.testing.assert_array_equal(back.x, cs.x)
    assert back.fingerprint.tolist() == cs.fingerprint.tolist() and back.source.tolist() == cs.source.tolist()
    assert back.recording_files == cs.recording_files


def test_recording_scored_twice_counted_once_latest_label_wins(tmp_path):
    rec = make_recording(3)
    p1, p2 = tmp_path / "one.sleepscope.h5", tmp_path / "two.sleepscope.h5"
    with ScoringFile.open(rec, p1, scorer="ann") as sf:
        sf.set_stage([0, 1, 2], "N2")
    time.sleep(0.01)
    with ScoringFile.open(rec, p2, scorer="bob") as sf:
        sf.set_stage([1, 2], "N3")
        sf.set_stage(2, "UNSCORED")  # bob withdraws epoch 2: his later decision wins
        sf.set_stage(3, "REM")
    time.sleep(0.01)
    with ScoringFile.open(rec, p1, scorer="ann") as sf:
        sf.set_stage(3, "N1")  # ann edits epoch 3 after bob
    labelled = collect_labels([p1, p2])
    assert len(labelled) == 1
    lr = labelled[0]
    assert lr.epochs.tolist() == [0, 1, 3] and lr.labels.tolist() == [2, 3, 1]
    assert sorted(p.name for p in lr.scoring_paths) == ["one.sleepscope.h5", "two.sleepscope.h5"]
    cs = build_correction_set([p2, p1], recordings=[rec])
    assert len(cs) == 3 and cs.counts_per_stage()["N3"] == 1


def test_recording_found_beside_scoring_file_or_skipped(tmp_path):
    from sleepscope.io import open_recording

    folder = tmp_path / "night"
    folder.mkdir()
    psg = folder / "SC4001E0-PSG.edf"
    shutil.copy(DATA / "SC4001E0-PSG-first300s.edf", psg)
    rec = open_recording(psg)
    with ScoringFile.open(rec, scorer="ann") as sf:
        sf.set_stage(range(3), "W")
        path = sf.path
    cs = build_correction_set([path])
    assert len(cs) == 3 and cs.recording_files == {rec.fingerprint(): "SC4001E0-PSG.edf"}
    np.testing.assert_array_equal(cs.x, rec.model_input()[:3])
    # the recording changed on disk since: skipped with a reason, not mixed up
    data = bytearray(psg.read_bytes())
    data[-10:] = b"\x01" * 10
    psg.write_bytes(bytes(data))
    cs = build_correction_set([path])
    assert len(cs) == 0 and "fingerprint differs" in cs.skipped[0][1]
    psg.unlink()
    cs = build_correction_set([path])
    assert "not found" in cs.skipped[0][1]


def test_cancel(tmp_path):
    rec = make_recording(4)
    p = tmp_path / "c.sleepscope.h5"
    with ScoringFile.open(rec, p) as sf:
        sf.set_stage(0, "W")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        build_correction_set([p], recordings=[rec], cancel=token)


def test_fewer_corrections_than_a_few_hundred_are_called_few():
    assert "only 299 corrected epochs" in few_note(FEW_EPOCHS - 1) and f"at least {FEW_EPOCHS}" in few_note(1)
    assert few_note(FEW_EPOCHS) is None and few_note(0) is None  # enough, or nothing corrected yet


def test_corrected_epochs_are_the_input_pre_scoring_read(tmp_path):
    """An epoch whose EOG was clipped is pre-scored from the EEG alone (its EOG input zeroed): fine-tuning learns
    the technician's label from that same input, not from the clipped EOG (control: a whole epoch's EOG kept)."""
    rec = make_recording(3)
    eog = rec.channels[rec.eog_name]
    eog[4 * 3000:5 * 3000] = np.clip(eog[4 * 3000:5 * 3000] * 50, -200, 200)
    path = tmp_path / "a.sleepscope.h5"
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.set_stage(4, "N2")
        sf.set_stage(6, "N3")
    cs = build_correction_set([path], recordings=[rec])
    assert cs.epoch.tolist() == [4, 6]
    assert not cs.x[0, 1].any() and cs.x[0, 0].any()  # the EEG alone
    assert cs.x[1, 1].any()  # control
    from sleepscope.model.backups import read_for_model

    np.testing.assert_array_equal(cs.x, read_for_model(rec, "epoch").x[[4, 6]])
