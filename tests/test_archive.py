"""The lab's archive: pairing by name in every format, subjects from names, the held-out split, and
`sleepscope train --recordings` (child against parent on held-out nights)."""

import json
from types import SimpleNamespace
from datetime import datetime, timedelta

import edfio
import numpy as np
import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.io.archive import ArchivePair, check_archive, scan_archive, split_archive, subject_of
from sleepscope.io.hypnogram import (AASM_TO_RK, HypnogramNotice, read_hypnogram, stage_runs, write_csv_hypnogram,
                                     write_edf_hypnogram)
from sleepscope.stages import Stage

START = datetime(2022, 2, 3, 22, 0, 0)
STAGES = np.array([0, 0, 1, 2, 2, 3, 3, 2, 4, 4, 2, 0], dtype=np.int8)  # 12 epochs = 6 minutes
NSRR_CODE = {Stage.W: "Wake|0", Stage.N1: "Stage 1 sleep|1", Stage.N2: "Stage 2 sleep|2",
             Stage.N3: "Stage 3 sleep|3", Stage.REM: "REM sleep|5"}


def write_recording(path, n_epochs=len(STAGES), seed=0, annotations=()):
    """A small EDF(+) PSG with Sleep-EDF's EEG and EOG names, 100 Hz, noise at EEG amplitudes."""
    rng = np.random.default_rng(seed)
    n = n_epochs * 3000
    sigs = [edfio.EdfSignal(rng.normal(0, 20, n), sampling_frequency=100, label=label,
                            physical_range=(-500, 500), physical_dimension="uV")
            for label in ("EEG Fpz-Cz", "EOG horizontal")]
    edf = edfio.Edf(sigs, recording=edfio.Recording(startdate=START.date()), starttime=START.time(),
                    annotations=[edfio.EdfAnnotation(o, d, t) for o, d, t in annotations])
    path.parent.mkdir(parents=True, exist_ok=True)
    edf.write(path)
    return path


def nsrr_xml(labels):
    events = "".join(
        f"<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>{NSRR_CODE[Stage(c)]}</EventConcept>"
        f"<Start>{a * 30}.0</Start><Duration>{n * 30}.0</Duration></ScoredEvent>\n"
        for a, n, c in stage_runs(labels))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<PSGAnnotation><EpochLength>30</EpochLength>'
            f"<ScoredEvents>\n{events}</ScoredEvents></PSGAnnotation>\n")


def profusion_xml(labels):
    rk = {0: 0, 1: 1, 2: 2, 3: 3, 4: 5, -1: 9}
    body = "".join(f"<SleepStage>{rk[int(c)]}</SleepStage>" for c in labels)
    return f"<CMPStudyConfig><EpochLength>30</EpochLength><SleepStages>{body}</SleepStages></CMPStudyConfig>"


@pytest.fixture
def archive(tmp_path):
    """One folder tree holding every format a lab's archive may have."""
    root = tmp_path / "archive"
    # Sleep-EDF: two nights of subject 00, one of subject 01
    for name, hyp in (("SC4001E0", "SC4001EC"), ("SC4002E0", "SC4002EC"), ("SC4011E0", "SC4011EH")):
        write_recording(root / "sleep-edf" / f"{name}-PSG.edf")
        write_edf_hypnogram(root / "sleep-edf" / f"{hyp}-Hypnogram.edf", STAGES, START)
    # NSRR: EDF and XML in separate folders
    write_recording(root / "shhs" / "edfs" / "shhs1-200001.edf")
    (root / "shhs" / "annotations-events-nsrr").mkdir(parents=True)
    (root / "shhs" / "annotations-events-nsrr" / "shhs1-200001-nsrr.xml").write_text(nsrr_xml(STAGES))
    write_recording(root / "shhs" / "edfs" / "shhs2-200001.edf")  # the same subject's second visit
    (root / "shhs" / "annotations-events-profusion").mkdir(parents=True)
    (root / "shhs" / "annotations-events-profusion" / "shhs2-200001-profusion.xml").write_text(profusion_xml(STAGES))
    # CSV with names, TSV with codes, EDF+ with its own stage annotations
    write_recording(root / "lab" / "patient07_night1.edf")
    write_csv_hypnogram(root / "lab" / "patient07_night1.csv", STAGES)
    write_recording(root / "lab" / "patient08_night1.edf")
    (root / "lab" / "patient08_night1.tsv").write_text("epoch\tstage\n" + "".join(
        f"{i}\t{c}\n" for i, c in enumerate(STAGES)))
    write_recording(root / "lab" / "patient09_night1.edf", annotations=[
        (a * 30.0, n * 30.0, AASM_TO_RK[Stage(c)]) for a, n, c in stage_runs(STAGES)])
    # no hypnogram at all
    write_recording(root / "lab" / "unscored.edf")
    return root


def test_scan_pairs_every_format(archive):
    scan = scan_archive([archive])
    got = {p.name: (p.hypnogram.name, p.subject) for p in scan.pairs}
    assert got == {
        "SC4001E0-PSG": ("SC4001EC-Hypnogram.edf", "SC400"),
        "SC4002E0-PSG": ("SC4002EC-Hypnogram.edf", "SC400"),
        "SC4011E0-PSG": ("SC4011EH-Hypnogram.edf", "SC401"),
        "shhs1-200001": ("shhs1-200001-nsrr.xml", "shhs-200001"),
        "shhs2-200001": ("shhs2-200001-profusion.xml", "shhs-200001"),
        "patient07_night1": ("patient07_night1.csv", "patient07"),
        "patient08_night1": ("patient08_night1.tsv", "patient08"),
        "patient09_night1": ("patient09_night1.edf", "patient09"),  # its own annotations
    }
    assert [p.name for p in scan.unpaired] == ["unscored.edf"]
    checked = check_archive(scan.pairs)
    assert not checked.refused
    for c in checked.usable:  # every format reads back the same night
        assert read_hypnogram(c.pair.hypnogram, n_epochs=c.n_epochs).tolist() == STAGES.tolist(), c.pair.name


def test_scan_pairs_isruc_and_cap_text_scorings_not_a_note(tmp_path):
    """ISRUC-Sleep's 7.rec with its first scorer's 7_1.txt; the CAP Sleep Database's n1.edf with its REMlogic
    export n1.txt (a block about the patient above the table); a note named like its recording is no scoring."""
    root = tmp_path / "archive"
    write_recording(root / "lab" / "unscored.edf")
    (root / "lab" / "unscored.txt").write_text("electrode C3 re-glued at 02:10\n")
    write_recording(root / "isruc" / "7.rec")
    (root / "isruc" / "7_1.txt").write_text("".join(f"{ {4: 5}.get(int(c), int(c))}\n" for c in STAGES))
    write_recording(root / "cap" / "n1.edf")
    rk = {0: "SLEEP-S0", 1: "SLEEP-S1", 2: "SLEEP-S2", 3: "SLEEP-S3", 4: "SLEEP-REM"}
    (root / "cap" / "n1.txt").write_text(
        "Patient Information:\nName:\tn1\n\nEvents Included:\nSLEEP-S0\n\n"
        "Sleep Stage\tPosition\tTime [hh:mm:ss]\tEvent\tDuration[s]\tLocation\n" + "".join(
            f"x\tUnknown\t{(START + timedelta(seconds=30 * i)):%H.%M.%S}\t{rk[int(c)]}\t30\tC4-A1\n"
            for i, c in enumerate(STAGES)))
    scan = scan_archive([root])
    assert {p.name: p.hypnogram.name for p in scan.pairs} == {"7": "7_1.txt", "n1": "n1.txt"}
    assert [p.name for p in scan.unpaired] == ["unscored.edf"]
    checked = check_archive(scan.pairs)
    assert not checked.refused
    # the stages read, pooled: a numbering read the wrong way shows before anything is trained on it
    assert checked.stages_text() == "stages read over 2 nights: W 6, N1 2, N2 8, N3 4, REM 4"
    with pytest.warns(UserWarning, match="R&K numbering"):
        for c in checked.usable:
            assert read_hypnogram(c.pair.hypnogram, n_epochs=c.n_epochs,
                                  start_time=START).tolist() == STAGES.tolist(), c.pair.name


def test_hypnogram_of_another_length_refused_with_both_lengths(tmp_path):
    write_recording(tmp_path / "a.edf", n_epochs=12)
    write_csv_hypnogram(tmp_path / "a.csv", np.zeros(30, np.int8))  # scored 18 epochs past the end
    write_recording(tmp_path / "b.edf", n_epochs=12)
    write_csv_hypnogram(tmp_path / "b.csv", np.zeros(5, np.int8))  # stops 7 epochs short
    write_recording(tmp_path / "c.edf", n_epochs=12)
    write_csv_hypnogram(tmp_path / "c.csv", np.zeros(11, np.int8))  # one epoch short: within tolerance
    checked = check_archive(scan_archive([tmp_path]).pairs)
    refused = {p.name: why for p, why in checked.refused}
    assert set(refused) == {"a", "b"}
    assert "covers 30 epochs" in refused["a"] and "the recording 12 epochs" in refused["a"]
    assert "covers 5 epochs" in refused["b"] and "the recording 12 epochs" in refused["b"]
    assert [c.pair.name for c in checked.usable] == ["c"]


@pytest.mark.parametrize("name, subject", [
    ("SC4001E0-PSG.edf", "SC400"), ("ST7152J0-PSG.edf", "ST715"), ("sub-03_ses-2_task-sleep_eeg.edf", "sub-03"),
    ("shhs2-200077.edf", "shhs-200077"), ("patient07_night2.edf", "patient07"), ("mesa-visit1-0001.edf", "mesa-0001"),
    ("recording.edf", None), ("night.edf", None), ("2021-03-04.edf", None),
])
def test_subject_from_name(name, subject):
    assert subject_of(name) == subject


def _pairs(*subjects):
    return [ArchivePair(f"{s}_night{k}", __import__("pathlib").Path(f"/a/{s}_night{k}.edf"),
                        __import__("pathlib").Path(f"/a/{s}_night{k}.csv"), s, True)
            for s, k in subjects]


def test_split_keeps_subjects_apart():
    pairs = _pairs(*[(f"p{i}", k) for i in range(10) for k in (1, 2)])
    split = split_archive(pairs, seed=3)
    sides = [{p.subject for p in part} for part in (split.train, split.validation, split.heldout)]
    assert sides[0].isdisjoint(sides[1]) and sides[0].isdisjoint(sides[2]) and sides[1].isdisjoint(sides[2])
    assert len(sides[2]) == 2 and len(sides[1]) == 2 and len(sides[0]) == 6  # 20 % held out, 15 % validation
    assert len(split.train) + len(split.validation) + len(split.heldout) == 20
    assert split.by == "subject"
    assert split_archive(pairs, seed=3) == split  # deterministic
    two = split_archive(_pairs(("a", 1), ("b", 1), ("b", 2)))
    assert len({p.subject for p in two.heldout}) == 1 and not two.validation and two.train


def test_one_subject_refused_and_says_why():
    with pytest.raises(SleepScopeError, match=r"all 3 scored recordings are of one subject \(p1.*no night can be "
                                              r"held out fairly"):
        split_archive(_pairs(("p1", 1), ("p1", 2), ("p1", 3)))
    with pytest.raises(SleepScopeError, match="one scored recording only"):
        split_archive(_pairs(("p1", 1)))


def test_cli_train_on_archive_reports_child_against_parent(archive, tmp_path, capsys):
    from sleepscope.cli import main
    from sleepscope.model.checkpoint import read_card, save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    import torch

    torch.manual_seed(0)
    parent = tmp_path / "parent"
    save_model(SleepStager(get_config("tiny")), parent)
    out = tmp_path / "child"
    rc = main(["train", "--recordings", str(archive), "--init", str(parent), "--out", str(out),
               "--max-steps", "2", "--seq-len", "4", "--cache", str(tmp_path / "cache.h5"), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "new model" in captured.out and "parent" in captured.out and "not registered or activated" in captured.out
    card = read_card(out)
    h = card.metrics["heldout"]
    assert set(h) >= {"child", "parent", "nights"} and h["child"]["n_epochs"] == h["parent"]["n_epochs"] > 0
    held = set(h["nights"])
    trained = set(card.metrics["train_nights"]) | set(card.metrics["validation_nights"])
    assert held and held.isdisjoint(trained)
    # a subject's nights stay on one side: both SHHS visits, both SC400 nights
    for a, b in (("shhs1-200001", "shhs2-200001"), ("SC4001E0-PSG", "SC4002E0-PSG")):
        assert (a in held) == (b in held)
    assert json.dumps(card.metrics)  # plain data


def test_cli_train_on_archive_applies_channel_dropout(archive, tmp_path, monkeypatch):
    from sleepscope.cli import main
    from sleepscope.model import train as train_module

    seen = []
    real = train_module.train
    monkeypatch.setattr(train_module, "train", lambda *a, **k: seen.append(a[3]) or real(*a, **k))
    rc = main(["train", "--recordings", str(archive), "--config", "tiny", "--out", str(tmp_path / "child"),
               "--max-steps", "1", "--seq-len", "4", "--cache", str(tmp_path / "cache.h5"), "--quiet",
               "--channel-dropout", "0.4"])
    assert rc == 0 and [c.channel_dropout for c in seen] == [0.4]


def test_cli_train_passes_the_learning_rate(archive, tmp_path, monkeypatch):
    from sleepscope.cli import main
    from sleepscope.model import train as train_module

    seen = []
    real = train_module.train
    monkeypatch.setattr(train_module, "train", lambda *a, **k: seen.append(a[3]) or real(*a, **k))
    rc = main(["train", "--recordings", str(archive), "--config", "tiny", "--out", str(tmp_path / "child"),
               "--max-steps", "1", "--seq-len", "4", "--cache", str(tmp_path / "cache.h5"), "--quiet", "--lr", "3e-4"])
    assert rc == 0 and [c.lr for c in seen] == [3e-4]
    assert main(["train", "--recordings", str(archive), "--config", "tiny", "--out", str(tmp_path / "c"),
                 "--lr", "0"]) == 2


def test_archive_child_is_averaged_with_its_parent(archive, tmp_path, capsys):
    import torch

    from sleepscope.cli import main
    from sleepscope.model.checkpoint import load_model, read_card

    parent = _parent_with_a_chain(tmp_path / "parent")
    children = {}
    for share in ("0", "0.5", "choose"):
        out = tmp_path / f"child-{share}"
        # the choice is the default (reports/archive-training-synthetic/); a share given alone is kept as given
        how = [] if share == "choose" else ["--keep-parent", share, "--no-choose-share"]
        assert main(["train", "--recordings", str(archive), "--init", str(parent), "--out", str(out),
                     "--max-steps", "2", "--seq-len", "4", "--cache", str(tmp_path / "cache.h5"), "--quiet",
                     *how]) == 0
        children[share] = load_model(out)[0].state_dict()
    p = load_model(parent)[0].state_dict()
    moved = [k for k in p if p[k].is_floating_point() and not torch.equal(children["0"][k], p[k])]
    assert moved  # the control: training changed the weights
    for k in moved:
        torch.testing.assert_close(children["0.5"][k], 0.5 * children["0"][k] + 0.5 * p[k])
    assert "averaged with" in read_card(tmp_path / "child-0.5").notes
    assert "averaged with" not in read_card(tmp_path / "child-0").notes
    assert "share_choice" not in read_card(tmp_path / "child-0.5").metrics
    # Chosen on the validation nights (another subject's): the card says which, and the weights are that one.
    out = capsys.readouterr().out  # said even with --quiet, beside the file written
    assert out.count("on the validation nights the trained weights scored") == 1  # once: for the run that chose
    chosen = read_card(tmp_path / "child-choose")
    choice = chosen.metrics["share_choice"]
    assert choice["method"] == "validation nights" and choice["nights"] and choice["n_epochs"] > 0
    assert ("kept the trained weights" if choice["kept"] == "child" else "averaged with") in chosen.notes
    kept = children["0" if choice["kept"] == "child" else "0.5"]
    assert all(torch.equal(children["choose"][k], kept[k]) for k in moved)


def test_cli_train_on_one_subject_exits_2(tmp_path, capsys):
    from sleepscope.cli import main

    for k in (1, 2):
        write_recording(tmp_path / f"sub-01_ses-{k}_eeg.edf")
        write_csv_hypnogram(tmp_path / f"sub-01_ses-{k}_eeg.csv", STAGES)
    rc = main(["train", "--recordings", str(tmp_path), "--config", "tiny", "--out", str(tmp_path / "m"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "one subject (sub-01" in err and "Traceback" not in err
    assert not (tmp_path / "m.safetensors").exists()


def test_hypnogram_starting_later_is_aligned_in_the_training_cache(tmp_path):
    """An EDF+ hypnogram that starts a minute after its recording: its first stage lands on epoch 2."""
    from datetime import timedelta

    import h5py

    from sleepscope.data.datasets import build_cache
    from sleepscope.model.archive_train import archive_nights

    write_recording(tmp_path / "n" / "night.edf", n_epochs=12)
    write_edf_hypnogram(tmp_path / "n" / "night-Hypnogram.edf", STAGES[:10], START + timedelta(minutes=1))
    scan = scan_archive([tmp_path / "n"])
    assert not check_archive(scan.pairs).refused
    nights = archive_nights(scan.pairs)
    cache = build_cache(nights, tmp_path / "c.h5", margin_epochs=100)
    with h5py.File(cache) as f:
        assert f["nights"]["night"]["y"][:].tolist() == [-1, -1] + STAGES[:10].tolist()


def test_scoring_on_a_grid_of_its_own_is_learned_from_on_its_epochs(tmp_path):
    """A lab's table whose 30-s epochs begin 18 s into the recording's (scored from lights off): the training
    cache holds the lab's epochs, the signal read from 18 s on, each label its own epoch's; read on the
    recording's epochs instead, the first epoch ends before the lab's first begins and every stage comes one
    epoch late (the control)."""
    import h5py

    from sleepscope.data.datasets import build_cache
    from sleepscope.io import open_recording
    from sleepscope.model.archive_train import _as_read_by, archive_nights
    from sleepscope.model.inputs import model_input

    rec_path = write_recording(tmp_path / "n" / "night.edf", n_epochs=13)
    names = {0: "W", 1: "N1", 2: "N2", 3: "N3", 4: "REM"}
    (tmp_path / "n" / "night.csv").write_text(
        "onset,duration,description\n" + "".join(f"{18 + 30 * i},30,{names[int(c)]}\n" for i, c in enumerate(STAGES)))
    scan = scan_archive([tmp_path / "n"])
    # the check reads it as training does, and says so instead of the stage changes inside epochs
    (checked,) = check_archive(scan.pairs).usable
    assert checked.notes == ("its 30-s epochs begin 18 s into the recording's: learned from on those epochs, the "
                             "recording read from there",)
    nights = archive_nights(scan.pairs)
    cache = build_cache(nights, tmp_path / "c.h5", margin_epochs=100)
    rec = open_recording(rec_path)
    with h5py.File(cache) as f:
        g = f["nights"]["night"]
        assert g["y"][:].tolist() == STAGES.tolist() and g.attrs["grid_offset"] == 18
        assert np.array_equal(g["x"][:], model_input(rec.cropped(18), "epoch")[:12])
        assert np.array_equal(_as_read_by(SimpleNamespace(config=SimpleNamespace(normalisation="epoch")), nights[0],
                                          g, 12), g["x"][:])
    with pytest.warns(HypnogramNotice, match="epochs begin 18 s into the recording's"):
        assert read_hypnogram(tmp_path / "n" / "night.csv", n_epochs=13).tolist() == [-1] + STAGES.tolist()


STICKY = np.full((5, 5), 0.01) + np.eye(5) * 0.95


def _parent_with_a_chain(path, normalisation="epoch+amplitude"):
    """A tiny parent as the shipped one is: amplitude input, a calibration with real nights' transitions."""
    import torch

    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager, with_normalisation

    torch.manual_seed(0)
    model = with_normalisation(SleepStager(get_config("tiny").with_(night_statistics=True)), normalisation)
    calibration = {"temperature": 1.0, "unsure_threshold": 0.77, "transitions": STICKY.tolist(),
                   "smoothed_temperature": 1.5, "transitions_from": "the parent's nights"}
    save_model(model, path, ModelCard(config=model.config, calibration=calibration))
    return path


def test_archive_child_is_calibrated_on_the_labs_nights_and_reads_them_through_the_labs_transitions(
        archive, tmp_path, capsys):
    import h5py

    from sleepscope.cli import main
    from sleepscope.io import open_recording
    from sleepscope.io.hypnogram import read_hypnogram, trim_wake
    from sleepscope.model.checkpoint import read_card
    from sleepscope.model.inputs import model_input
    from sleepscope.model.transitions import count_transitions

    parent = _parent_with_a_chain(tmp_path / "parent")
    out, cache = tmp_path / "child", tmp_path / "cache.h5"
    rc = main(["train", "--recordings", str(archive), "--init", str(parent), "--out", str(out),
               "--max-steps", "2", "--seq-len", "4", "--cache", str(cache), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    card = read_card(out)
    c, m = card.calibration, card.metrics
    assert c["n_nights"] == len(m["validation_nights"]) >= 1 and "unsure_threshold" in c and "temperature" in c
    assert "night_limit" in card.familiarity
    assert card.config.night_statistics is False  # the heads learned on the trained statistics
    lab = count_transitions([STAGES] * (len(m["train_nights"]) + len(m["validation_nights"])))
    np.testing.assert_allclose(c["transitions"], lab, atol=1e-6)
    assert not np.allclose(c["transitions"], STICKY)  # the control: not the parent's chain
    n = len(m["train_nights"]) + len(m["validation_nights"])
    assert c["transitions_from"].startswith(f"the hypnograms of the archive's {n} training and validation nights: ")
    # the training inputs are the model's own (amplitude and all), as `predict` gives them at the workstation
    psg = next(archive.rglob("patient07_night1.edf"))
    rec = open_recording(psg)
    w = trim_wake(read_hypnogram(psg.with_suffix(".csv"), n_epochs=rec.n_epochs), 60)
    with h5py.File(cache, "r") as f:
        cached = f["nights"]["patient07_night1"]["x"][:]
    np.testing.assert_allclose(cached, model_input(rec, "epoch+amplitude")[w], atol=1e-5)
    assert not np.allclose(cached, model_input(rec, "epoch")[w], atol=1e-3)


def test_archive_child_without_validation_nights_keeps_its_parents_threshold_and_chain(tmp_path, capsys):
    from sleepscope.cli import main
    from sleepscope.model.checkpoint import read_card

    root = tmp_path / "archive"
    for k in range(3):  # three subjects: one held out, two trained on, none left to validate on
        write_recording(root / f"patient{k:02d}_night1.edf", seed=k)
        write_csv_hypnogram(root / f"patient{k:02d}_night1.csv", STAGES)
    parent = _parent_with_a_chain(tmp_path / "parent")
    rc = main(["train", "--recordings", str(root), "--init", str(parent), "--out", str(tmp_path / "child"),
               "--max-steps", "1", "--seq-len", "4", "--cache", str(tmp_path / "cache.h5")])
    err = capsys.readouterr().err
    assert rc == 0, err
    card = read_card(tmp_path / "child")
    assert card.metrics["validation_nights"] == []
    assert card.calibration["unsure_threshold"] == 0.77 and card.calibration["transitions"] == STICKY.tolist()
    assert "temperature" not in card.calibration and "night_limit" not in card.familiarity
    assert "no validation nights" in err


def test_an_unreadable_recording_is_named_with_why_and_the_rest_trains(archive, tmp_path, capsys):
    from sleepscope.cli import main
    from sleepscope.model.checkpoint import read_card

    broken = archive / "lab" / "patient10_night1.edf"
    whole = write_recording(broken, seed=10).read_bytes()
    broken.write_bytes(whole[: len(whole) // 2])  # cut mid-record, as an interrupted copy leaves it
    write_csv_hypnogram(archive / "lab" / "patient10_night1.csv", STAGES)
    scan = scan_archive([archive])
    assert [(r.name, "truncated" in why) for r, why in scan.unreadable] == [("patient10_night1.edf", True)]
    assert [p.name for p in scan.unpaired] == ["unscored.edf"]  # the control: a recording without a hypnogram
    assert "1 unreadable recording left out" in scan.summary()
    rc = main(["train", "--recordings", str(archive), "--config", "tiny", "--out", str(tmp_path / "child"),
               "--max-steps", "1", "--seq-len", "4", "--cache", str(tmp_path / "cache.h5"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "sleepscope: skipped patient10_night1.edf:" in err and "truncated" in err
    refused = read_card(tmp_path / "child").metrics["refused"]
    assert [r["recording"].endswith("patient10_night1.edf") for r in refused] == [True]


def test_archive_training_from_a_site_pretrained_encoder_gives_a_stager(archive, tmp_path, capsys):
    import torch

    from sleepscope.cli import main
    from sleepscope.io import open_recording
    from sleepscope.model.checkpoint import ModelCard, default_model_path, load_model, save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.infer import predict
    from sleepscope.model.network import SleepStager

    torch.manual_seed(0)
    encoder = SleepStager(get_config("tiny"))
    save_model(encoder, tmp_path / "encoder", ModelCard(config=encoder.config, metrics={"encoder_only": True}))
    out = tmp_path / "child"
    rc = main(["train", "--recordings", str(archive), "--init", str(tmp_path / "encoder"), "--out", str(out),
               "--max-steps", "1", "--seq-len", "4", "--cache", str(tmp_path / "cache.h5"), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    child, card = load_model(out)
    assert not child.encoder_only and "averaged with" not in card.notes
    assert card.metrics["heldout"]["parent_model"] == load_model(default_model_path())[1].version
    assert "shipped model" in captured.out
    predict(open_recording(next(archive.rglob("patient07_night1.edf"))), child)  # it stages


#: UCD St Vincent's stage codes (REM = 1, each NREM stage one up, 7 indeterminate), as a lab's system may number.
UCD_CODES = {Stage.W: 0, Stage.REM: 1, Stage.N1: 2, Stage.N2: 3, Stage.N3: 4, Stage.UNSCORED: 7}
UCD_DECLARED = "0=W,1=REM,2=N1,3=N2,4=N3,5=N3,6=?,7=?"


def test_a_stage_numbering_read_the_wrong_way_is_doubted_and_kept_out_of_training(tmp_path, capsys):
    """Every real Sleep-EDF night shipped reads as a night (control); each, written in UCD's numbering and read
    by the default rules (REM as N1, every stage one deeper), is doubted. Such a file says why and how to
    declare its codes; the archive refuses it from training until they are declared, then trains on it read
    right (`train --recordings --codes`), its training cache too."""
    from sleepscope.cli import main
    from sleepscope.data.synthetic import hypnogram_names, real_hypnogram
    from sleepscope.io.hypnogram import load_hypnogram, trim_wake
    from sleepscope.io.hypnogram_tables import parse_codes
    from sleepscope.io.pairing import find_hypnogram
    from sleepscope.scoring import ScoringFile
    from sleepscope.stages import unusual_mix

    misread = {0: Stage.W, 1: Stage.N1, 2: Stage.N2, 3: Stage.N3, 4: Stage.N3, 7: Stage.UNSCORED}  # R&K rules
    for name in hypnogram_names():
        real = real_hypnogram(name)
        assert unusual_mix(real) is None, name
        assert unusual_mix(np.array([misread[UCD_CODES[int(s)]] for s in real])) is not None, name
    real = real_hypnogram("SC4001E0")
    night = tmp_path / "ucddb002.rec"
    write_recording(night, n_epochs=len(real))
    hyp = tmp_path / "ucddb002_stage.txt"
    hyp.write_text("".join(f"{UCD_CODES[int(s)]}\n" for s in real))
    assert find_hypnogram(night) == hyp
    read = load_hypnogram(hyp, n_epochs=len(real))
    assert "declare its codes (--codes" in read.doubt_note and read.doubt_note in read.notes
    declared = load_hypnogram(hyp, n_epochs=len(real), codes=parse_codes(UCD_DECLARED))
    assert not declared.doubt and declared.labels.tolist() == real.tolist()
    ours = tmp_path / "ours.txt"
    ours.write_text("".join(f"{int(s)}\n" for s in real))
    assert not load_hypnogram(ours).doubt
    pair, = scan_archive([tmp_path]).pairs
    (refused, why), = check_archive([pair]).refused
    assert refused == pair and "--codes" in why
    usable, = check_archive([pair], codes=parse_codes(UCD_DECLARED)).usable
    assert usable.stage_counts == tuple(int((real == s).sum()) for s in range(5))
    # the training cache reads the nights by the codes declared, and is built again when they change
    import h5py

    from sleepscope.data.datasets import build_cache
    from sleepscope.model.archive_train import archive_nights

    def cached(codes):
        cache = build_cache(archive_nights([pair], codes), tmp_path / "cache.h5")
        with h5py.File(cache) as f:
            return np.concatenate([g["y"][:] for g in f["nights"].values()])

    assert cached(parse_codes(UCD_DECLARED)).tolist() == real[trim_wake(real)].tolist()
    with pytest.raises(SleepScopeError, match="declare its codes"):
        cached(None)  # read as the default rules would, it would have been built from the misread stages
    # the command line: refused without the codes (nothing to train on); a declaration that misses a code
    out = tmp_path / "m"
    assert main(["train", "--recordings", str(tmp_path), "--config", "tiny", "--out", str(out), "--quiet"]) == 2
    assert "declare its codes" in capsys.readouterr().err
    assert main(["train", "--recordings", str(tmp_path), "--config", "tiny", "--out", str(out), "--quiet",
                 "--codes", "0=W,1=REM"]) == 2
    assert "none of the declared codes" in capsys.readouterr().err
    # import refuses it as read and imports it with its codes declared
    assert main(["import", str(night), str(hyp)]) == 2
    assert "ucddb002_stage.txt was not read: N2 is 9% of its sleep" in capsys.readouterr().err
    assert main(["import", str(night), str(hyp), "--codes", UCD_DECLARED, "--scorer", "ucd"]) == 0
    assert ScoringFile.read(tmp_path / "ucddb002.sleepscope.h5").scorer_sets["ucd"].labels.tolist() == real.tolist()
    # prescore's comparison with the lab says why there is none, and makes it with the codes declared
    model = ["--model", "tests/data/tiny-parent-AB.safetensors", "--quiet"]
    assert main(["prescore", str(night), "--out", str(tmp_path / "p.csv"), *model]) == 0
    assert "NOTE: the lab's scoring ucddb002_stage.txt was not read: N2 is 9%" in capsys.readouterr().err
    assert main(["prescore", str(night), "--out", str(tmp_path / "p.csv"), *model, "--codes", UCD_DECLARED]) == 0
    assert f"against the lab's scoring (ucddb002_stage.txt): {len(real)} epochs" in capsys.readouterr().err
    # `info` says the scoring is not taken, and why; written in our numbering it is, with its stages counted
    assert main(["info", str(night)]) == 0
    assert "scoring: ucddb002_stage.txt beside it, not read: N2 is 9% of its sleep" in capsys.readouterr().out
    assert main(["info", str(night), "--codes", UCD_DECLARED]) == 0
    assert f"scoring: ucddb002_stage.txt beside it, {len(real)} of {len(real)} epochs scored" in capsys.readouterr().out
    hyp.write_text("".join(f"{int(s)}\n" for s in real))
    assert main(["info", str(night)]) == 0
    counts = ", ".join(f"{n} {int((real == s).sum())}" for s, n in enumerate(("W", "N1", "N2", "N3", "REM")))
    assert f"{int((real >= 0).sum())} of {len(real)} epochs scored ({counts};" in capsys.readouterr().out
