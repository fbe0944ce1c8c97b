"""Backup channels (`sleepscope.model.backups`): where the model's EEG fails and another EEG derivation of the
file does not, the model reads that one there instead of giving no stage; where a one-eye EOG fails, the other
eye; where the EOG still fails, the EEG alone. The window still shows the channels as recorded."""

import csv
from datetime import datetime

import edfio
import numpy as np
import pytest
import torch

from sleepscope.io import Recording, open_recording
from sleepscope.io.channels import choose_channels
from sleepscope.model.backups import with_backups
from sleepscope.model.config import TINY
from sleepscope.model.infer import predict
from sleepscope.model.network import SleepStager

NAMES = ("EEG F4-M1", "EEG F3-M2", "EOG E1-M2")
FAILED = slice(2, 5)  # epochs where F4-M1 came off


def signals(n_epochs=8, seed=0):
    rng = np.random.default_rng(seed)
    out = {k: rng.normal(0, 20, n_epochs * 3000).astype(np.float32) for k in NAMES}
    out["EEG F4-M1"][FAILED.start * 3000:FAILED.stop * 3000] = 0.0  # flat: an electrode off
    return out


def recording(chans, names=NAMES):
    choice = choose_channels(list(names))
    return Recording(path=None, start_time=datetime(2024, 1, 1, 23), fs=100.0, channels=chans,
                     eeg_name=choice.eeg, eog_name=choice.eog, source_rates={k: 100.0 for k in chans},
                     channel_choice=choice)


def write_night(path, chans):
    edfio.Edf([edfio.EdfSignal(v.astype(np.float64), sampling_frequency=100, label=k, physical_range=(-500, 500),
                               physical_dimension="uV") for k, v in chans.items()],
              starttime=datetime(2024, 1, 1, 23).time()).write(path)
    return path


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return SleepStager(TINY).eval()


def test_the_backup_is_the_next_eeg_derivation_the_table_names():
    assert choose_channels(["F4-M1", "C4-M1", "O2-M1", "F3-M2", "C3-M2", "E1-M2", "E2-M1"]).backup_eeg == "F3-M2"
    assert choose_channels(["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]).backup_eeg == "EEG Pz-Oz"
    # computed from a referential file, as the model's EEG may be
    assert choose_channels(["F4", "C4", "M1", "M2", "E1", "E2"]).backup_eeg == "C4-M1"
    # a channel merely typed EEG, an eye or the EOG is no backup; nor is anything when there is no EEG
    assert choose_channels(["C4-A1", "EEG", "EOG1", "EOG2"]).backup_eeg is None
    assert choose_channels(["EOG horizontal", "E2-M1"]).backup_eeg is None
    lines = choose_channels(["F4-M1", "F3-M2", "E1-M2"]).lines()
    assert lines[-1] == "backup EEG: 'F3-M2' (read in the epochs where 'F4-M1' fails)"
    # the other eye backs up a one-eye EOG; a bipolar EOG has none
    assert choose_channels(["F4-M1", "E1-M2", "E2-M1"]).backup_eog == "E2-M1"
    assert choose_channels(["C4-A1", "EOG(L)", "EOG(R)"]).backup_eog == "EOG(R)"
    assert choose_channels(["F4", "C4", "M1", "M2", "E1", "E2"]).backup_eog == "E2-M1"
    assert choose_channels(["F4-M1", "E1-M2", "E1-E2"]).backup_eog is None  # the bipolar one is chosen
    assert choose_channels(["F4-M1", "E1-M2"]).backup_eog is None
    assert choose_channels(["F4-M1", "E1-M2", "E2-M1"]).lines()[-1] == (
        "backup EOG: 'E2-M1', the other eye (read in the epochs where 'E1-M2' fails)")


def test_failed_epochs_are_read_from_the_backup_and_staged(tiny):
    chans = signals()
    rec = recording(chans)
    pred = predict(rec, tiny)
    assert not pred.artefact[FAILED].any() and (pred.stages[FAILED] >= 0).all()
    assert np.flatnonzero(pred.backups[0].epochs).tolist() == [2, 3, 4]
    assert ("the EEG 'EEG F4-M1' failed in 3 epochs (flat in 3): the model read the backup EEG 'EEG F3-M2' there"
            in pred.notes())
    assert pred.to_dict()["backups"][0]["epochs"] == [2, 3, 4]
    assert not rec.eeg[FAILED.start * 3000:FAILED.stop * 3000].any()  # the EEG as recorded, for the window
    # the model read exactly the backup's samples there, and the EEG's elsewhere
    read, _ = with_backups(rec)
    assert np.array_equal(read.epochs("eeg")[FAILED], rec.epochs("EEG F3-M2")[FAILED])
    assert np.array_equal(read.epochs("eeg")[5:], rec.epochs("eeg")[5:])
    # controls: without a backup, or with the backup failing there too, those epochs get no stage
    alone = recording({k: v for k, v in chans.items() if k != "EEG F3-M2"}, names=("EEG F4-M1", "EOG E1-M2"))
    assert predict(alone, tiny).artefact[FAILED].all()
    both = dict(chans)
    both["EEG F3-M2"] = both["EEG F3-M2"].copy()
    both["EEG F3-M2"][3 * 3000:4 * 3000] = 0.0
    pred = predict(recording(both), tiny)
    assert pred.artefact.tolist()[2:5] == [False, True, False]
    assert np.flatnonzero(pred.backups[0].epochs).tolist() == [2, 4]  # said of the epochs read from it only
    # nothing failed: nothing read from the backup, nothing said
    clean = predict(recording(signals(seed=1) | {"EEG F4-M1": signals(seed=1)["EEG F3-M2"] * 1.1}), tiny)
    assert clean.backups == () and not any("backup EEG" in n for n in clean.notes())


def test_a_backup_not_loaded_is_read_from_the_file_on_the_recordings_epochs(tmp_path, tiny):
    path = write_night(tmp_path / "night.edf", signals(n_epochs=10))
    rec = open_recording(path)
    assert rec.channel_choice.backup_eeg == "EEG F3-M2" and "EEG F3-M2" not in rec.channels  # not read to open
    file_backup = open_recording(path, eeg="EEG F3-M2").eeg
    read, (used,) = with_backups(rec)
    assert np.flatnonzero(used.epochs).tolist() == [2, 3, 4]
    assert np.array_equal(read.epochs("eeg")[FAILED], file_backup.reshape(10, 3000)[FAILED])
    assert predict(rec, tiny).backups
    # cropped (a lab's epochs 12 s in): the backup read from the file lines up with the cropped EEG
    cropped = rec.cropped(12)
    read, (used,) = with_backups(cropped)
    epochs = np.flatnonzero(used.epochs)
    assert epochs.tolist() == [2, 3, 4]  # 60-150 s flat: cropped epochs 2, 3 and 4 are more than half flat
    assert np.array_equal(read.epochs("eeg")[epochs], file_backup[1200:1200 + 9 * 3000].reshape(9, 3000)[epochs])


def test_a_channel_not_loaded_is_read_alone(tmp_path, monkeypatch):
    """Reading a backup (or the chin EMG) from the file reads that channel, not the EEG and EOG again beside it."""
    import sleepscope.io.recording as rio
    from sleepscope.model.backups import channel_samples

    path = write_night(tmp_path / "night.edf", signals(n_epochs=4))
    rec = open_recording(path)
    read, real = [], rio._read
    monkeypatch.setattr(rio, "_read", lambda path, hdr, names, wanted, *rest: read.append(list(wanted))
                        or real(path, hdr, names, wanted, *rest))
    samples, rate = channel_samples(rec, "EEG F3-M2")
    assert read == [["EEG F3-M2"]] and rate == 100.0 and len(samples) == rec.n_samples


def test_prescore_says_which_backup_it_read_and_where(tmp_path, capsys):
    from sleepscope.cli import main

    path = write_night(tmp_path / "night.edf", signals(n_epochs=10))
    out = tmp_path / "p.csv"
    assert main(["prescore", str(path), "--model", "tests/data/tiny-parent-AB.safetensors", "--quiet",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "  backup EEG: 'EEG F3-M2' (read in the epochs where 'EEG F4-M1' fails)" in err
    assert "NOTE: the EEG 'EEG F4-M1' failed in 3 epochs (flat in 3): the model read the backup EEG 'EEG F3-M2'" in err
    rows = list(csv.DictReader(out.open()))
    assert [r["artefact"] for r in rows[1:6]] == ["0"] * 5  # staged, not left artefact epochs
    assert [r["read_from"] for r in rows[1:6]] == ["", "backup EEG", "backup EEG", "backup EEG", ""]


def test_yasas_second_opinion_reads_the_backup_where_the_model_does():
    """Where the EEG failed, YASA reads the backup the model read: otherwise the two opinions disagree there by
    construction and the review queue fills with a flat stretch."""
    pytest.importorskip("yasa")
    from sleepscope.scorers.yasa_scorer import YasaScorer

    names = ("C4-M1", "C3-M2", "E1-M2")
    rng = np.random.default_rng(3)
    chans = {k: rng.normal(0, 20, 14 * 3000).astype(np.float32) for k in names}
    chans["C4-M1"][4 * 3000:8 * 3000] = 0.0
    got = YasaScorer().score(recording(chans, names))
    mended = dict(chans)
    mended["C4-M1"] = chans["C4-M1"].copy()
    mended["C4-M1"][4 * 3000:8 * 3000] = chans["C3-M2"][4 * 3000:8 * 3000]
    assert np.allclose(got.probs, YasaScorer().score(recording(mended, names)).probs)
    # control: YASA on the flat stretch as recorded reads it otherwise
    bare = {k: v for k, v in chans.items() if k != "C3-M2"}
    assert not np.allclose(got.probs, YasaScorer().score(recording(bare, ("C4-M1", "E1-M2"))).probs)


def test_epochs_whose_eog_alone_failed_are_read_from_the_eeg_alone(tiny):
    """The EOG clipped for three epochs: those are staged from the EEG with the EOG input zeroed (as channel
    dropout trained the model), not left without a stage; the EEG failing there too leaves them artefact."""
    from sleepscope.model.inputs import model_input

    chans = signals(n_epochs=10, seed=2)
    chans["EEG F4-M1"] = chans["EEG F3-M2"] * 1.2  # the EEG whole
    eog = chans["EOG E1-M2"] = chans["EOG E1-M2"].copy()
    eog[5 * 3000:8 * 3000] = np.clip(eog[5 * 3000:8 * 3000] * 40, -400, 400)  # saturated
    rec = recording(chans)
    pred = predict(rec, tiny)
    assert pred.quality.eeg_alone.tolist()[4:9] == [False, True, True, True, False]
    assert not pred.artefact[5:8].any() and (pred.stages[5:8] >= 0).all()
    assert "3 epochs read from the EEG alone (3 EOG clipped/saturated)" in pred.quality.summary()
    # the model was given no EOG there: the same as a night whose EOG is zeros in those epochs
    x = model_input(rec, tiny.config.normalisation)
    assert x[5:8, 1].any()
    x[5:8, 1] = 0.0
    assert np.allclose(predict(x, tiny).probs[5:8], pred.probs[5:8], atol=1e-5)
    # control: the EEG failing there too (and no backup) leaves them artefact
    both = {k: v for k, v in chans.items() if k != "EEG F3-M2"}
    both["EEG F4-M1"] = both["EEG F4-M1"].copy()
    both["EEG F4-M1"][5 * 3000:8 * 3000] = 0.0
    pred = predict(recording(both, names=("EEG F4-M1", "EOG E1-M2")), tiny)
    assert pred.artefact[5:8].all() and not pred.quality.eeg_alone.any()


def test_a_failed_eye_is_read_from_the_other_eye_where_the_file_has_it(tiny):
    """E1-M2 flat for three epochs beside a clean E2-M1: the model reads E2-M1 there (YASA's second opinion, which
    reads the EOG as it is, read 0.63 of such a stretch right without it and 0.79 with it on synthetic nights);
    without the other eye, the EEG alone."""
    names = ("EEG F4-M1", "EOG E1-M2", "EOG E2-M1")
    rng = np.random.default_rng(4)
    chans = {k: rng.normal(0, 20, 10 * 3000).astype(np.float32) for k in names}
    chans["EOG E1-M2"][5 * 3000:8 * 3000] = 0.0
    pred = predict(recording(chans, names), tiny)
    (used,) = pred.backups
    assert used.kind == "eog" and np.flatnonzero(used.epochs).tolist() == [5, 6, 7]
    assert "the EOG 'EOG E1-M2' failed in 3 epochs (flat in 3): the model read the other eye 'EOG E2-M1' there" \
        in pred.notes()
    assert not pred.quality.eeg_alone.any() and not pred.artefact.any()
    # control: without the other eye, those epochs are read from the EEG alone
    alone = predict(recording({k: v for k, v in chans.items() if k != "EOG E2-M1"}, names[:2]), tiny)
    assert alone.backups == () and alone.quality.eeg_alone.tolist()[5:8] == [True] * 3


def test_yasa_gives_no_stage_where_its_eeg_fails_and_no_backup_helps():
    """A flat stretch of the only EEG: YASA's opinion there is what a flat line earns, which the review queue and
    the familiarity check would take up; it gives those epochs no stage, as the model does."""
    pytest.importorskip("yasa")
    from sleepscope.scorers.yasa_scorer import YasaScorer

    names = ("C4-M1", "E1-M2")
    rng = np.random.default_rng(3)
    chans = {k: rng.normal(0, 20, 14 * 3000).astype(np.float32) for k in names}
    whole = YasaScorer().score(recording(dict(chans), names))
    chans["C4-M1"] = chans["C4-M1"].copy()
    chans["C4-M1"][4 * 3000:8 * 3000] = 0.0
    got = YasaScorer().score(recording(chans, names))
    assert got.stages[4:8].tolist() == [-1] * 4 and got.artefact.tolist() == [False] * 4 + [True] * 4 + [False] * 6
    assert (whole.stages >= 0).all() and not whole.artefact.any()  # control: the EEG whole
