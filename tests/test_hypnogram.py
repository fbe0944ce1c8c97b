"""Hypnograms: the real Sleep-EDF file, trimming, pairing, CSV/text/EDF+ round trips."""

import gzip
import json
import re
from datetime import datetime
from importlib import resources

import mne
import numpy as np
import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.io.hypnogram import (
    LENGTH_TOLERANCE_EPOCHS,
    HypnogramNotice,
    annotation_stage,
    has_stage_annotations,
    load_hypnogram,
    read_hypnogram,
    read_sleepedf_hypnogram,
    stage_runs,
    trim_wake,
    write_csv_hypnogram,
    write_edf_hypnogram,
)
from sleepscope.io.pairing import find_hypnogram, hypnogram_key, recording_key
from sleepscope.stages import Stage

REAL_HYP = "tests/data/SC4001EC-Hypnogram.edf"


def _rk_epoch_counts(path):
    """Per R&K text, the 30-s epochs its annotations cover (straight from MNE's annotations)."""
    ann = mne.read_annotations(path)
    counts = {}
    for d, text in zip(ann.duration, ann.description):
        counts[text] = counts.get(text, 0) + d / 30
    return counts


def test_real_hypnogram_published_rk_counts():
    ann = mne.read_annotations(REAL_HYP)
    assert len(ann) == 154
    # the R&K epoch counts of SC4001 as written in the file: 2,880 epochs = 24 h of annotations
    counts = _rk_epoch_counts(REAL_HYP)
    assert counts == {"Sleep stage W": 1997, "Sleep stage 1": 58, "Sleep stage 2": 250,
                      "Sleep stage 3": 101, "Sleep stage 4": 119, "Sleep stage R": 125,
                      "Sleep stage ?": 230}
    y = read_sleepedf_hypnogram(REAL_HYP)
    assert y.dtype == np.int8 and len(y) == 2880
    got = {Stage(int(k)): int(v) for k, v in zip(*np.unique(y, return_counts=True))}
    assert got == {Stage.W: 1997, Stage.N1: 58, Stage.N2: 250, Stage.N3: 101 + 119,
                   Stage.REM: 125, Stage.UNSCORED: 230}
    assert (y[:1021] == Stage.W).all() and y[1021] == Stage.N1  # W for 30,630 s, then S1


def test_trim_matches_shipped_consensus_night():
    y = read_hypnogram(REAL_HYP)
    s = trim_wake(y)
    assert (s.start, s.stop) == (961, 1801)
    raw = resources.files("sleepscope.data").joinpath("hypnograms/sleep-edf-78-30s.json.gz").read_bytes()
    shipped = np.array(json.loads(gzip.decompress(raw))["SC4001E0"], dtype=np.int8)
    np.testing.assert_array_equal(y[s], shipped)


def test_trim_edges():
    y = np.array([0] * 10 + [2] * 3 + [0] * 10, dtype=np.int8)
    assert trim_wake(y, margin_epochs=4) == slice(6, 16)
    assert trim_wake(y, margin_epochs=60) == slice(0, 23)
    assert trim_wake(np.zeros(5, dtype=np.int8)) == slice(0, 5)
    assert trim_wake(np.array([-1, -1, 4, -1], dtype=np.int8), 1) == slice(1, 3)


def test_n_epochs_pads_and_cuts_with_both_lengths_named():
    # Sleep-EDF's file runs 230 unscored epochs past its PSG (2,650 epochs): cut without a word
    hyp = load_hypnogram(REAL_HYP, n_epochs=2650)
    assert len(hyp.labels) == 2650 and hyp.source_epochs == 2880 and hyp.notes == ()
    hyp = load_hypnogram(REAL_HYP, n_epochs=2900)
    assert len(hyp.labels) == 2900 and (hyp.labels[2880:] == Stage.UNSCORED).all()
    assert len(hyp.notes) == 1 and "2880 epochs" in hyp.notes[0] and "2900 epochs" in hyp.notes[0]
    with pytest.warns(HypnogramNotice, match="the last 20 epochs of the recording are left unscored"):
        read_hypnogram(REAL_HYP, n_epochs=2900)


def test_hypnogram_that_cannot_be_the_recordings_is_refused():
    # its scored epochs run 2,640 epochs past a 10-epoch recording's end
    with pytest.raises(SleepScopeError, match=r"covers 2880 epochs .*the recording 10 epochs"):
        read_hypnogram(REAL_HYP, n_epochs=10)
    with pytest.raises(SleepScopeError, match="cannot be"):
        read_sleepedf_hypnogram(REAL_HYP, n_epochs=10)


def test_scored_overhang_within_tolerance_cut_and_said(tmp_path):
    p = tmp_path / "h.txt"
    p.write_text("W\nN1\nN2\nN2\nREM\n")
    hyp = load_hypnogram(p, n_epochs=LENGTH_TOLERANCE_EPOCHS + 3 - LENGTH_TOLERANCE_EPOCHS)
    assert hyp.labels.tolist() == [0, 1, 2]
    assert "covers 5 epochs" in hyp.notes[0] and "the recording 3 epochs" in hyp.notes[0] \
        and "2 scored epochs past the recording's end were dropped" in hyp.notes[0]
    with pytest.raises(SleepScopeError, match="covers 5 epochs .*the recording 2 epochs"):
        load_hypnogram(p, n_epochs=5 - LENGTH_TOLERANCE_EPOCHS - 1)


def test_strict_refuses_a_hypnogram_that_stops_short(tmp_path):
    p = tmp_path / "h.txt"
    p.write_text("W\nN1\nN2\n")
    assert load_hypnogram(p, n_epochs=3 + LENGTH_TOLERANCE_EPOCHS, strict=True).labels.tolist() == [0, 1, 2, -1, -1]
    with pytest.raises(SleepScopeError, match="covers 3 epochs .*the recording 6 epochs.*stops 3 epochs before"):
        load_hypnogram(p, n_epochs=6, strict=True)
    assert len(load_hypnogram(p, n_epochs=6).labels) == 6  # not strict: padded, and said


def test_hypnogram_start_offset(tmp_path):
    labels = np.array([0, 0, 1, 2, 2, 4], dtype=np.int8)
    p = tmp_path / "h.edf"
    write_edf_hypnogram(p, labels, datetime(2020, 1, 1, 23, 1, 0))
    # the recording started one minute (2 epochs) earlier than the hypnogram
    y = read_sleepedf_hypnogram(p, start_time=datetime(2020, 1, 1, 23, 0, 0))
    np.testing.assert_array_equal(y, [-1, -1, 0, 0, 1, 2, 2, 4])


def test_edf_round_trip_sleep_edf_style(tmp_path):
    y = read_hypnogram(REAL_HYP)
    p = tmp_path / "SC4001EC-Hypnogram.edf"
    write_edf_hypnogram(p, y, datetime(1989, 4, 24, 16, 13))
    ann = mne.read_annotations(p)
    assert len(ann) == len(stage_runs(y))  # one annotation per run of equal stages
    assert set(ann.description) <= {"Sleep stage W", "Sleep stage 1", "Sleep stage 2", "Sleep stage 3",
                                     "Sleep stage R", "Sleep stage ?"}
    np.testing.assert_array_equal(read_hypnogram(p), y)


def test_csv_round_trip(tmp_path):
    y = np.array([0, 1, 2, 3, 4, -1, 2], dtype=np.int8)
    p = tmp_path / "h.csv"
    write_csv_hypnogram(p, y, start_time=datetime(2020, 5, 6, 22, 0))
    lines = p.read_text().splitlines()
    assert lines[0] == "epoch,onset_s,stage,time"
    assert lines[2] == "1,30,N1,2020-05-06 22:00:30"
    np.testing.assert_array_equal(read_hypnogram(p), y)
    write_csv_hypnogram(p, y)
    assert p.read_text().splitlines()[5] == "4,120,REM"
    np.testing.assert_array_equal(read_hypnogram(p), y)


def test_yasa_style_text(tmp_path):
    p = tmp_path / "hyp.txt"
    p.write_text("W\nN1\nN2\nN3\nR\nArt\n")
    np.testing.assert_array_equal(read_hypnogram(p), [0, 1, 2, 3, 4, -1])
    p.write_text("0\n1\n2\n3\n4\n-2\n")
    np.testing.assert_array_equal(read_hypnogram(p), [0, 1, 2, 3, 4, -1])


def test_find_hypnogram_sleep_edf_rule(tmp_path):
    psg = tmp_path / "SC4001E0-PSG.edf"
    psg.write_bytes(b"")
    assert find_hypnogram(psg) is None
    (tmp_path / "SC4002EC-Hypnogram.edf").write_bytes(b"")  # other night of the subject
    (tmp_path / "SC4011EH-Hypnogram.edf").write_bytes(b"")  # other subject
    assert find_hypnogram(psg) is None
    hyp = tmp_path / "SC4001EC-Hypnogram.edf"
    hyp.write_bytes(b"")
    assert find_hypnogram(psg) == hyp
    other = tmp_path / "night.edf"
    other.write_bytes(b"")
    (tmp_path / "night.csv").write_text("stage\nW\n")
    assert find_hypnogram(other) == tmp_path / "night.csv"


@pytest.mark.parametrize("content, match", [
    (b"\x00\x01\x02garbage" * 10, "cannot read the hypnogram"),
    ("W\nN2\nbanana\n".encode(), "line 3"),
    (b"", "no stages"),
])
def test_unreadable_hypnogram(tmp_path, content, match):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(SleepScopeError, match=match):
        read_hypnogram(p)


def test_unreadable_edf_hypnogram(tmp_path):
    p = tmp_path / "bad-Hypnogram.edf"
    p.write_bytes(open(REAL_HYP, "rb").read()[:300])
    with pytest.raises(SleepScopeError, match="cannot read the hypnogram"):
        read_hypnogram(p)
    p.write_text("this is not an EDF file\n")
    with pytest.raises(SleepScopeError, match="cannot read the hypnogram"):
        read_hypnogram(p)
    # a recording without stage annotations
    with pytest.raises(SleepScopeError, match="no sleep-stage annotations"):
        read_hypnogram("tests/data/SC4001E0-PSG-first300s.edf")


# ---------------------------------------------------------------- every format, written the way other software writes it
def _write_edf_annotations(path, annotations, start=datetime(2021, 3, 4, 22, 30, 0)):
    """An annotation-only EDF+ file with the given (onset s, duration s, text) annotations."""
    import edfio

    edf = edfio.Edf([], recording=edfio.Recording(startdate=start.date()), starttime=start.time(),
                    annotations=[edfio.EdfAnnotation(float(o), float(d), t) for o, d, t in annotations])
    edf.write(path)


def test_whole_rk_table_read_back_from_a_written_edf(tmp_path):
    # every R&K text Sleep-EDF uses, one 30-s epoch each, and the AASM stage it must become
    table = [("Sleep stage W", Stage.W), ("Sleep stage 1", Stage.N1), ("Sleep stage 2", Stage.N2),
             ("Sleep stage 3", Stage.N3), ("Sleep stage 4", Stage.N3), ("Sleep stage R", Stage.REM),
             ("Sleep stage ?", Stage.UNSCORED), ("Movement time", Stage.UNSCORED)]
    # a scored epoch after each, so that an unscored one is never only the padding
    annotations = []
    for i, (text, _) in enumerate(table):
        annotations += [(60 * i, 30, text), (60 * i + 30, 30, "Sleep stage 2")]
    annotations.append((0, 0, "Lights off"))  # not a stage: ignored
    p = tmp_path / "RK-Hypnogram.edf"
    _write_edf_annotations(p, annotations)
    y = read_hypnogram(p)
    assert y[0::2].tolist() == [int(stage) for _, stage in table]
    assert (y[1::2] == Stage.N2).all() and len(y) == 2 * len(table)


def test_overlapping_annotations_say_which_won(tmp_path):
    p = tmp_path / "overlap-Hypnogram.edf"
    _write_edf_annotations(p, [(0, 120, "Sleep stage W"), (60, 90, "Sleep stage 2"), (150, 30, "Sleep stage 2")])
    hyp = load_hypnogram(p)
    assert hyp.labels.tolist() == [0, 0, 2, 2, 2, 2]
    assert len(hyp.notes) == 1
    note = hyp.notes[0]
    assert "overlap on 2 epochs" in note and "at epoch 2, W (from 0 s, 120 s) and N2 (from 60 s, 90 s)" in note
    assert "starts later was kept" in note
    # the same stage twice is no clash
    _write_edf_annotations(p, [(0, 90, "Sleep stage 2"), (30, 60, "Sleep stage 2")])
    assert load_hypnogram(p).notes == ()


def test_recording_with_its_own_stage_annotations(tmp_path):
    import edfio

    p = tmp_path / "night.edf"
    sig = edfio.EdfSignal(np.zeros(100 * 150), sampling_frequency=100, label="EEG Fpz-Cz",
                          physical_range=(-500, 500), physical_dimension="uV")
    edf = edfio.Edf([sig], annotations=[edfio.EdfAnnotation(0, 60, "Sleep stage W"),
                                        edfio.EdfAnnotation(60, 90, "Sleep stage 2")])
    edf.write(p)
    assert has_stage_annotations(p)
    assert read_hypnogram(p, n_epochs=5).tolist() == [0, 0, 2, 2, 2]
    assert not has_stage_annotations("tests/data/SC4001E0-PSG-first300s.edf")
    # an exporter that adds the annotation channel to a plain EDF (its header's reserved field left blank)
    with open(p, "r+b") as f:
        f.seek(192)
        f.write(b" " * 44)
    assert has_stage_annotations(p) and read_hypnogram(p, n_epochs=5).tolist() == [0, 0, 2, 2, 2]


NSRR_XML = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<PSGAnnotation>
<SoftwareVersion>Compumedics</SoftwareVersion>
<EpochLength>30</EpochLength>
<ScoredEvents>
<ScoredEvent>
<EventType/>
<EventConcept>Recording Start Time</EventConcept>
<Start>0</Start>
<Duration>270.0</Duration>
<ClockTime>00.00.00 22.30.00</ClockTime>
</ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Wake|0</EventConcept>
<Start>0.0</Start><Duration>60.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 1 sleep|1</EventConcept>
<Start>60.0</Start><Duration>30.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Respiratory|Respiratory</EventType><EventConcept>Hypopnea|Hypopnea</EventConcept>
<Start>70.5</Start><Duration>12.0</Duration><SignalLocation>ABDO RES</SignalLocation></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 2 sleep|2</EventConcept>
<Start>90.0</Start><Duration>30.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 3 sleep|3</EventConcept>
<Start>120.0</Start><Duration>30.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 4 sleep|4</EventConcept>
<Start>150.0</Start><Duration>30.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>REM sleep|5</EventConcept>
<Start>180.0</Start><Duration>60.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Unscored|9</EventConcept>
<Start>240.0</Start><Duration>30.0</Duration></ScoredEvent>
</ScoredEvents>
</PSGAnnotation>
"""

PROFUSION_XML = """<?xml version="1.0" encoding="utf-8"?>
<CMPStudyConfig>
<EpochLength>30</EpochLength>
<StepChannels><StepChannel><Input>Position</Input></StepChannel></StepChannels>
<ScoredEvents>
<ScoredEvent><Name>Hypopnea</Name><Start>70.5</Start><Duration>12</Duration><Input>ABDO RES</Input></ScoredEvent>
</ScoredEvents>
<SleepStages>
<SleepStage>0</SleepStage>
<SleepStage>0</SleepStage>
<SleepStage>1</SleepStage>
<SleepStage>2</SleepStage>
<SleepStage>3</SleepStage>
<SleepStage>4</SleepStage>
<SleepStage>5</SleepStage>
<SleepStage>5</SleepStage>
<SleepStage>9</SleepStage>
</SleepStages>
</CMPStudyConfig>
"""

EXPECTED_9 = [0, 0, 1, 2, 3, 3, 4, 4, -1]


@pytest.mark.parametrize("name, text, fmt", [
    ("shhs1-200001-nsrr.xml", NSRR_XML, "nsrr-xml"),
    ("shhs1-200001-profusion.xml", PROFUSION_XML, "profusion-xml"),
    ("night.csv", "epoch,onset_s,stage\n" + "".join(f"{i},{30 * i},{s}\n" for i, s in
                                                   enumerate(["W", "Wake", "N1", "S2", "N3", "S4", "REM", "R", "?"])),
     "csv"),
    ("night.tsv", "Epoch\tStage\n" + "".join(f"{i}\t{s}\n" for i, s in
                                             enumerate(["W", "W", "N1", "N2", "N3", "N3", "REM", "REM", "U"])), "tsv"),
    ("night_codes.csv", "".join(f"{i},{c}\n" for i, c in enumerate([0, 0, 1, 2, 3, 3, 4, 4, -1])), "csv"),
    ("night_rk.csv", "stage\n" + "".join(f"{c}\n" for c in [0, 0, 1, 2, 3, 4, 5, 5, 9]), "csv"),
    ("night.txt", "W\nW\nN1\nN2\nN3\nN3\nR\nREM\nArt\n", "text"),
    # what other software writes: epochs counted from 1, R&K stages in words, quoted cells, one row of stages
    ("from_one.csv", "Epoch,Stage\n" + "".join(f"{i + 1},{s}\n" for i, s in
                                               enumerate(["W", "W", "N1", "N2", "N3", "N3", "R", "R", "?"])), "csv"),
    ("words.txt", "Wake\nStage W\nStage 1\nStage 2 sleep\nStage 3\nStage 4\nREM sleep\nStage R\n"
                  "Movement time\n", "text"),
    ("quoted.txt", '"W"\n"W"\n"N1"\n"N2"\n"N3"\n"N3"\n"REM"\n"R"\n"?"\n', "text"),
    ("row.csv", "W;W;N1;N2;N3;N3;R;R;?\n", "csv"),
    # event tables: MNE's annotations CSV in seconds, and a CAP/REMlogic export in clock times with other events
    ("mne.csv", "onset,duration,description\n0.0,60.0,Sleep stage W\n60.0,30.0,Sleep stage 1\n90,30,Sleep stage 2\n"
                "120,60,Sleep stage 3\n150,5,Arousal\n180,60,Sleep stage R\n240,30,Sleep stage ?\n", "csv"),
    ("cap.txt", "Sleep Stage\tPosition\tTime [hh:mm:ss]\tEvent\tDuration[s]\n"
                "W\tSupine\t23:59:00\tSLEEP-S0\t30\nW\tSupine\t23:59:30\tSLEEP-S0\t30\n"
                "S1\tSupine\t00:00:00\tSLEEP-S1\t30\nS2\tSupine\t00:00:30\tSLEEP-S2\t30\n"
                "S2\tSupine\t00:00:41\tMCAP-A1\t4\nS3\tSupine\t00:01:00\tSLEEP-S3\t30\n"
                "S4\tSupine\t00:01:30\tSLEEP-S4\t30\nR\tSupine\t00:02:00\tSLEEP-REM\t60\n"
                "MT\tSupine\t00:03:00\tSLEEP-MT\t30\n", "tsv"),
    # the CAP Sleep Database's REMlogic export as it is: a block about the patient and the events first, times
    # written with dots
    ("n1.txt", "Patient Information:\nName:\tn1\n\nRecording Date:\t01/01/2020\n\nEvents Included:\nSLEEP-S0\n"
               "SLEEP-REM\nMCAP-A1\n\nSleep Stage\tPosition\tTime [hh:mm:ss]\tEvent\tDuration[s]\tLocation\n"
               "W\tUnknown\t23.59.00\tSLEEP-S0\t30\tROC-LOC\nW\tUnknown\t23.59.30\tSLEEP-S0\t30\tROC-LOC\n"
               "S1\tUnknown\t00.00.00\tSLEEP-S1\t30\tROC-LOC\nS2\tUnknown\t00.00.30\tSLEEP-S2\t30\tC4-A1\n"
               "S2\tUnknown\t00.00.41\tMCAP-A1\t4\tC4-A1\nS3\tUnknown\t00.01.00\tSLEEP-S3\t30\tC4-A1\n"
               "S4\tUnknown\t00.01.30\tSLEEP-S4\t30\tC4-A1\nREM\tUnknown\t00.02.00\tSLEEP-REM\t60\tROC-LOC\n"
               "MT\tUnknown\t00.03.00\tSLEEP-MT\t30\tC4-A1\n", "tsv"),
])
def test_every_archive_format(tmp_path, name, text, fmt):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    hyp = load_hypnogram(p, n_epochs=9)
    assert hyp.format == fmt
    assert hyp.labels.tolist() == EXPECTED_9
    if name == "night_rk.csv":  # the R&K numbering is announced: 4 means stage 4 there, REM elsewhere
        assert any("R&K numbering" in n for n in hyp.notes)
    if name == "from_one.csv":
        assert any("numbered from 1" in n for n in hyp.notes)
    if name in ("mne.csv", "cap.txt", "n1.txt"):
        assert any("no sleep stage w" in n and "left out" in n for n in hyp.notes)


@pytest.mark.parametrize("name, encoding, text", [
    # a German export in Windows-1252, a French one saved by Excel as "Unicode text" (UTF-16), Spanish, Italian
    ("de.txt", "cp1252", "Wach\nWach\nStadium 1\nN2\nStadium 3\nStadium 4\nREM-Schlaf\nREM\nBewegungszeit\n"),
    ("fr.txt", "utf-16", "Éveil\nVeille\nStade 1\nStade N2\nStade 3\nStade 4\nSommeil paradoxal\nParadoxal\n"
                        "Mouvement\n"),
    ("es.csv", "cp1252", "Época;Fase\n" + "".join(f"{i + 1};{s}\n" for i, s in enumerate(
        ["Vigilia", "Despierto", "Fase 1", "Fase 2", "Fase 3", "Fase 4", "Sueño MOR", "MOR", "Artefacto"]))),
    ("it.txt", "utf-8", "Veglia\nVeglia\nFase N1\nFase N2\nFase N3\nFase N3\nREM\nR\nArtefatto\n"),
    # "Stadio" (Italian) and "Estadio" (Latin American Spanish) before the stage
    ("it-stadio.txt", "utf-8", "Veglia\nVeglia\nStadio 1\nStadio 2\nStadio 3\nStadio 4\nStadio REM\nSonno REM\n"
                               "Artefatto\n"),
    ("es-estadio.txt", "cp1252", "Vigilia\nDespierto\nEstadio 1\nEstadio N2\nEstadio 3\nEstadio 4\nEstadio MOR\n"
                                 "Sueño MOR\nArtefacto\n"),
])
def test_stage_names_and_encodings_of_european_exports(tmp_path, name, encoding, text):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    assert load_hypnogram(p, n_epochs=9).labels.tolist() == EXPECTED_9


def test_a_binary_file_is_not_read_as_text(tmp_path):
    p = tmp_path / "night.txt"
    p.write_bytes(b"W\nW\x00\x01\x02N1\n")
    with pytest.raises(SleepScopeError, match="neither an EDF\\+ file, XML nor text"):
        load_hypnogram(p)


def test_event_table_times_are_placed_from_the_recording_start(tmp_path):
    """Clock times and dates name when a stage began: a recording started 30 s before the first scored stage gets
    one unscored epoch first; midnight is crossed; without the recording's start the first event is epoch 0."""
    cap = tmp_path / "cap.txt"
    cap.write_text("Time [hh:mm:ss]\tEvent\tDuration[s]\n23:59:30\tSLEEP-S0\t30\n00:00:00\tSLEEP-S2\t60\n"
                   "00:01:00\tSLEEP-REM\t30\n")
    assert load_hypnogram(cap).labels.tolist() == [0, 2, 2, 4]
    hyp = load_hypnogram(cap, n_epochs=6, start_time=datetime(2021, 5, 1, 23, 59, 0))
    assert hyp.labels.tolist() == [-1, 0, 2, 2, 4, -1]
    mne_csv = tmp_path / "mne.csv"
    mne_csv.write_text("onset,duration,description\n2021-05-01 23:00:30.000000,30.0,Sleep stage W\n"
                       "2021-05-01 23:01:00.000000,30.0,Sleep stage 2\n")
    assert load_hypnogram(mne_csv, n_epochs=3, start_time=datetime(2021, 5, 1, 23, 0)).labels.tolist() == [-1, 0, 2]
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("onset,duration,description\n0,30,W\n00:00:30,30,N2\n")
    with pytest.raises(SleepScopeError, match="mix seconds, clock times and dates"):
        load_hypnogram(mixed)
    none = tmp_path / "events.csv"
    none.write_text("onset,duration,description\n0,3,Arousal\n10,15,Apnea\n")
    with pytest.raises(SleepScopeError, match="none of its 2 events is a sleep stage"):
        load_hypnogram(none)


def test_mass_scoring_in_20_s_epochs_off_the_recordings_grid_is_said(tmp_path):
    # MASS's R&K nights: `NAME Base.edf` scores 20-s epochs from a few seconds into the recording
    stages = ["Sleep stage W"] * 6 + ["Sleep stage 1"] * 3 + ["Sleep stage 2"] * 9 + ["Sleep stage R"] * 3
    base = tmp_path / "01-01-0001 Base.edf"
    _write_edf_annotations(base, [(3.5 + 20 * i, 20, s) for i, s in enumerate(stages)])
    hyp = load_hypnogram(base)
    # each 30-s epoch takes the 20-s epoch at its middle: epoch 3 (middle 105 s) the sixth, still W
    assert hyp.labels.tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 4, 4]
    assert [n for n in hyp.notes if "change of scored stage" in n] == [
        "3 of the recording's 30-s epochs hold a change of scored stage (its epochs are 20 s long): each took the "
        "stage scored at its middle"]
    # control: the same stages in 30-s epochs on the recording's grid give no such note
    aligned = tmp_path / "aligned.edf"
    _write_edf_annotations(aligned, [(30 * i, 30, s) for i, s in enumerate(stages)])
    assert not [n for n in load_hypnogram(aligned).notes if "change of scored stage" in n]


def test_table_whose_epochs_begin_seconds_into_the_recordings_is_said(tmp_path):
    # scored from lights off on a grid of its own: every stage change falls 12 s into a recording epoch
    stages = ["W"] * 4 + ["N1"] * 2 + ["N2"] * 5 + ["N3"] * 3 + ["N2"] * 2 + ["REM"] * 4
    rows = "".join(f"{12 + 30 * i},30,{s}\n" for i, s in enumerate(stages))
    shifted = tmp_path / "shifted.csv"
    shifted.write_text("onset,duration,description\n" + rows)
    hyp = load_hypnogram(shifted)
    assert hyp.labels.tolist()[:6] == [0, 0, 0, 0, 1, 1]
    assert ("5 of the recording's 30-s epochs hold a change of scored stage (its epochs begin 12 s into the "
            "recording's): each took the stage scored at its middle") in hyp.notes
    # scored in runs (one annotation a stage), the last cut short by the end of the recording: still the offset
    runs = tmp_path / "runs.csv"
    runs.write_text("onset,duration,description\n12,120,W\n132,60,N1\n192,150,N2\n342,9,N3\n")
    assert any("its epochs begin 12 s into the recording's" in n for n in load_hypnogram(runs).notes)
    # control: the same table one 30-s epoch later is on the grid
    aligned = tmp_path / "aligned.csv"
    aligned.write_text("onset,duration,description\n"
                       + "".join(f"{30 + 30 * i},30,{s}\n" for i, s in enumerate(stages)))
    assert not [n for n in load_hypnogram(aligned).notes if "change of scored stage" in n]


def test_profusion_epoch_length_other_than_30_s(tmp_path):
    p = tmp_path / "x.xml"
    p.write_text(PROFUSION_XML.replace("<EpochLength>30</EpochLength>", "<EpochLength>15</EpochLength>"))
    # 15-s epochs: each 30-s epoch takes the stage at its middle (the second 15-s epoch of each pair);
    # the ninth 15-s epoch ends at 135 s, before the middle of a fifth 30-s epoch
    with pytest.warns(HypnogramNotice, match=r"hold a change of scored stage \(its epochs are 15 s long\)"):
        assert read_hypnogram(p).tolist() == [0, 2, 3, 4]


@pytest.mark.parametrize("name, content, match", [
    ("empty.csv", "", "the file is empty"),
    ("blank.csv", "\n\n  \n", "the file is empty"),
    ("header_only.csv", "epoch,stage\n", "no rows"),
    ("words.csv", "epoch,stage\n0,W\n1,banana\n", "line 3: 'banana' is not a stage"),
    ("bad_epoch.csv", "epoch,stage\nzero,W\n", "epoch 'zero' is not a number"),
    ("no_stage_col.csv", "time,value\n1,2\n", "no 'stage' column"),
    ("code.csv", "stage\n0\n12\n", "'12' is not a stage"),
    ("bad.xml", "<PSGAnnotation><ScoredEvents>", "not well-formed XML"),
    ("nostage.xml", "<PSGAnnotation><ScoredEvents></ScoredEvents></PSGAnnotation>", "no sleep-stage events"),
    ("badcode.xml", "<CMPStudyConfig><SleepStages><SleepStage>x</SleepStage></SleepStages></CMPStudyConfig>",
     "SleepStage 1: 'x' is not a stage code"),
    ("badstart.xml", NSRR_XML.replace("<Start>60.0</Start>", "<Start>sixty</Start>"), "Start is 'sixty'"),
])
def test_malformed_hypnograms_one_message(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(SleepScopeError, match=match):
        read_hypnogram(p)


def test_cli_import_of_a_bad_csv_exits_2_with_one_message(tmp_path, capsys):
    from sleepscope.cli import main
    from sleepscope.io import Recording
    from sleepscope.scoring import ScoringFile

    rec = Recording.from_arrays(np.random.default_rng(0).normal(size=3000 * 4), np.zeros(3000 * 4))
    path = tmp_path / "night.sleepscope.h5"
    ScoringFile.open(rec, path).close()
    for content in ("", "epoch,stage\nx,W\n", "stage\nbanana\n"):
        bad = tmp_path / "bad.csv"
        bad.write_text(content)
        capsys.readouterr()
        assert main(["import", str(path), str(bad)]) == 2
        err = capsys.readouterr().err
        assert err.count("sleepscope: error:") == 1 and "Traceback" not in err and "bad.csv" in err
    good = tmp_path / "short.csv"
    good.write_text("stage\nW\nN2\n")
    assert main(["import", str(path), str(good)]) == 0
    out = capsys.readouterr()
    assert "covers 2 epochs" in out.err and "the recording 4 epochs" in out.err and "Traceback" not in out.err


def test_find_hypnogram_other_names(tmp_path):
    psg = tmp_path / "shhs1-200001.edf"
    psg.write_bytes(b"")
    assert find_hypnogram(psg) is None
    (tmp_path / "shhs1-200001.csv").write_text("stage\nW\n")
    (tmp_path / "shhs1-200001-profusion.xml").write_text(PROFUSION_XML)
    assert find_hypnogram(psg) == tmp_path / "shhs1-200001-profusion.xml"
    (tmp_path / "shhs1-200001-nsrr.xml").write_text(NSRR_XML)
    assert find_hypnogram(psg) == tmp_path / "shhs1-200001-nsrr.xml"
    (tmp_path / "shhs1-200002-nsrr.xml").write_text(NSRR_XML)  # another subject
    assert find_hypnogram(psg) == tmp_path / "shhs1-200001-nsrr.xml"
    assert recording_key("SC4001E0-PSG.edf") == hypnogram_key("SC4001EC-Hypnogram.edf") == "sc4001"
    assert hypnogram_key("SC4001E0-PSG.edf") is None
    # other public sets' pairs: MASS, HMC, a CAP-style text export; a bare note beside a recording is not taken
    for psg, hyp in (("01-01-0001 PSG.edf", "01-01-0001 Base.edf"), ("SN001.edf", "SN001_sleepscoring.edf"),
                     ("n5.edf", "n5-hypnogram.txt"), ("night3_PSG.edf", "night3_hypnogram.csv")):
        assert recording_key(psg) == hypnogram_key(hyp), (psg, hyp)
    (tmp_path / "SN001.edf").write_bytes(b"")
    (tmp_path / "SN001.txt").write_text("lights off late\n")
    assert find_hypnogram(tmp_path / "SN001.edf") is None
    # a bare NAME.txt that holds stages (the CAP Sleep Database's n1.edf and n1.txt) is taken, after the named
    (tmp_path / "n1.edf").write_bytes(b"")
    (tmp_path / "n1.txt").write_text("Sleep Stage\tTime [hh:mm:ss]\tEvent\tDuration[s]\nW\t23.59.00\tSLEEP-S0\t30\n")
    assert find_hypnogram(tmp_path / "n1.edf") == tmp_path / "n1.txt"
    (tmp_path / "n1.xml").write_text(PROFUSION_XML)
    assert find_hypnogram(tmp_path / "n1.edf") == tmp_path / "n1.xml"
    # ISRUC-Sleep: subject 7's 7.rec with its two scorers' 7_1.txt and 7_2.txt (R&K codes, 5 for REM); the first
    isruc = tmp_path / "isruc"
    isruc.mkdir()
    (isruc / "7.rec").write_bytes(b"")
    (isruc / "7_2.txt").write_text("0\n0\n2\n")
    assert find_hypnogram(isruc / "7.rec") == isruc / "7_2.txt"
    (isruc / "7_1.txt").write_text("0\n1\n2\n3\n5\n")
    assert find_hypnogram(isruc / "7.rec") == isruc / "7_1.txt"
    with pytest.warns(HypnogramNotice, match="R&K numbering"):
        assert read_hypnogram(isruc / "7_1.txt").tolist() == [0, 1, 2, 3, 4]
    (tmp_path / "SN001_sleepscoring.txt").write_text("W\n")
    assert find_hypnogram(tmp_path / "SN001.edf") == tmp_path / "SN001_sleepscoring.txt"
    (tmp_path / "SN001_sleepscoring.edf").write_bytes(b"")
    assert find_hypnogram(tmp_path / "SN001.edf") == tmp_path / "SN001_sleepscoring.edf"


@pytest.mark.parametrize("name, text", [("night-nsrr.xml", NSRR_XML), ("night-profusion.xml", PROFUSION_XML),
                                        ("night.tsv", "stage\n" + "".join(f"{s}\n" for s in
                                                                          ["W", "W", "N1", "N2", "N3", "N3", "REM",
                                                                           "REM", "?"]))])
def test_cli_import_reads_the_archive_formats(tmp_path, capsys, name, text):
    from sleepscope.cli import main
    from sleepscope.io import Recording
    from sleepscope.scoring import ScoringFile

    rec = Recording.from_arrays(np.random.default_rng(0).normal(size=3000 * 9), np.zeros(3000 * 9))
    path = tmp_path / "night.sleepscope.h5"
    ScoringFile.open(rec, path).close()
    hyp = tmp_path / name
    hyp.write_text(text)
    assert main(["import", str(path), str(hyp), "--scorer", "lab"]) == 0, capsys.readouterr().err
    assert ScoringFile.read(path).scorer_sets["lab"].labels.tolist() == EXPECTED_9
    # the stages read are counted, so that a numbering read the wrong way shows before it is trusted
    assert "imported 8 scored epochs of 9 as scorer 'lab' (W 2, N1 1, N2 1, N3 2, REM 2)" in capsys.readouterr().out


def test_import_reads_a_systems_own_stage_codes_when_declared(tmp_path, capsys):
    """UCD St Vincent's numbering (0 W, 1 REM, 2-5 S1-S4, 6-7 artefact and indeterminate) reads by the default
    rules as R&K (REM as N1, N1 as N2...), which the counts printed show; declared with --codes it reads right.
    A bad declaration is refused before any scoring file is made; declared codes on a named format are refused."""
    from sleepscope.cli import main
    from sleepscope.io import Recording
    from sleepscope.scoring import ScoringFile

    rec = Recording.from_arrays(np.random.default_rng(0).normal(size=3000 * 10), np.zeros(3000 * 10))
    path = tmp_path / "night.sleepscope.h5"
    ScoringFile.open(rec, path).close()
    hyp = tmp_path / "ucddb002_stage.txt"
    hyp.write_text("0\n0\n2\n3\n4\n5\n1\n1\n6\n7\n")
    assert main(["import", str(path), str(hyp), "--scorer", "guessed"]) == 0
    assert "(W 2, N1 2, N2 1, N3 2, REM 1)" in capsys.readouterr().out  # the default rules misread it
    ucd = "0=W,1=REM,2=N1,3=N2,4=N3,5=N3,6=?,7=?"
    assert main(["import", str(path), str(hyp), "--scorer", "ucd", "--codes", ucd]) == 0
    assert "(W 2, N1 1, N2 1, N3 2, REM 2)" in capsys.readouterr().out
    assert ScoringFile.read(path).scorer_sets["ucd"].labels.tolist() == [0, 0, 1, 2, 3, 3, 4, 4, -1, -1]
    edf = tmp_path / "other.edf"  # a recording: importing into it makes its scoring file, unless refused first
    edf.write_bytes(open("tests/data/SC4001E0-PSG-first300s.edf", "rb").read())
    assert main(["import", str(edf), str(hyp), "--codes", "0=W,1=Dream"]) == 2
    assert "'1=Dream' is not CODE=STAGE" in capsys.readouterr().err
    assert not list(tmp_path.glob("other.sleepscope.h5*"))
    assert main(["import", str(path), str(hyp), "--codes", "0=W,1=REM"]) == 2  # 2..7 undeclared
    assert "line 3: '2' is none of the declared codes (0, 1)" in capsys.readouterr().err
    xml = tmp_path / "night.xml"
    xml.write_text(NSRR_XML)
    assert main(["import", str(path), str(xml), "--codes", ucd]) == 2
    assert "stage codes were declared, but its stages are named" in capsys.readouterr().err


def test_clock_time_tables_are_placed_at_the_recording_start_by_import_and_by_the_window(tmp_path, capsys):
    """`sleepscope import` and the window's paired hypnogram read a clock-time event table from the recording's
    start (both used to read it from its first row: one epoch early here)."""
    from sleepscope.cli import main
    from sleepscope.gui.loader import read_paired_hypnogram
    from sleepscope.io import Recording
    from sleepscope.scoring import ScoringFile

    rec = Recording.from_arrays(np.zeros(3000 * 4), np.zeros(3000 * 4))
    first = rec.start_time + __import__("datetime").timedelta(seconds=30)
    table = tmp_path / "night.tsv"
    table.write_text("Time [hh:mm:ss]\tEvent\tDuration[s]\n"
                     f"{first:%H:%M:%S}\tSLEEP-S0\t30\n{first + __import__('datetime').timedelta(seconds=30):%H:%M:%S}"
                     "\tSLEEP-S2\t60\n")
    path = tmp_path / "night.sleepscope.h5"
    ScoringFile.open(rec, path).close()
    assert main(["import", str(path), str(table), "--scorer", "lab"]) == 0, capsys.readouterr().err
    assert ScoringFile.read(path).scorer_sets["lab"].labels.tolist() == [-1, 0, 2, 2]
    paired = read_paired_hypnogram(table, rec.n_epochs, rec.start_time)
    assert paired.problem is None and paired.labels.tolist() == [-1, 0, 2, 2]


#: (what systems write as a stage annotation in EDF+, the stage; None: not a stage, an event or a note)
ANNOTATION_STAGES = [
    ("Sleep stage W", Stage.W), ("Sleep stage 4", Stage.N3), ("Sleep stage ?", Stage.UNSCORED),
    ("Stage - W", Stage.W), ("Stage - N1", Stage.N1), ("Stage - R", Stage.REM), ("Stage - No Stage", Stage.UNSCORED),
    ("SLEEP-S2", Stage.N2), ("SLEEP-S4", Stage.N3), ("SLEEP-REM", Stage.REM), ("SLEEP-MT", Stage.UNSCORED),
    ("Stage 2 sleep|2", Stage.N2), ("Wake|0", Stage.W), ("Stage 4 sleep|4", Stage.N3), ("REM sleep|5", Stage.REM),
    ("Unscored|9", Stage.UNSCORED), ("Stage N3", Stage.N3), ("Stadium 2", Stage.N2),
    ("W", Stage.W), ("N2", Stage.N2), ("REM", Stage.REM), ("Wake", Stage.W),
    ("sleep-n2", Stage.N2), ("sleep-rem", Stage.REM), ("Sleep N2", Stage.N2), ("Sleep REM", Stage.REM),
    ("Wakefulness", Stage.W), ("Sleep onset", None), ("Sleep spindle", None),
    ("2", None), ("4", None), ("Movement", None), ("Arousal", None), ("Lights off", None),
    ("Stage change noted", None), ("Hypopnea|1", None), ("Limb movement", None), ("EEG arousal|1", None),
]


@pytest.mark.parametrize("text,stage", ANNOTATION_STAGES)
def test_stage_annotations_as_systems_write_them(text, stage):
    assert annotation_stage(text) == stage


def test_a_recording_scored_in_another_systems_words_is_its_own_hypnogram(tmp_path):
    """'Stage - W' style stages make the recording its own hypnogram and are not listed among its annotations."""
    import edfio

    from sleepscope.io.annotations import read_annotations

    p = tmp_path / "night.edf"
    sig = edfio.EdfSignal(np.zeros(100 * 150), sampling_frequency=100, label="EEG C4-M1",
                          physical_range=(-500, 500), physical_dimension="uV")
    edfio.Edf([sig], annotations=[edfio.EdfAnnotation(0, 60, "Stage - W"), edfio.EdfAnnotation(60, 30, "Stage - N1"),
                                  edfio.EdfAnnotation(90, 60, "Stage - N2"),
                                  edfio.EdfAnnotation(95, 3, "Arousal (ARO SPONT)")]).write(p)
    assert has_stage_annotations(p) and read_hypnogram(p, n_epochs=5).tolist() == [0, 0, 1, 2, 2]
    assert [a.text for a in read_annotations(p)[0]] == ["Arousal (ARO SPONT)"]
    # a device's table under the night's name that holds no stages (oximetry) does not hide them; one that does
    # is the scoring
    from sleepscope.io.archive import scan_archive
    from sleepscope.io.pairing import find_scoring

    table = tmp_path / "night.csv"
    table.write_text("time,spo2\n" + "".join(f"{i},97\n" for i in range(150)))
    assert find_scoring(p) == p and [q.hypnogram for q in scan_archive([tmp_path]).pairs] == [p]
    table.write_text("stage\nW\nN1\nN1\nN2\nN2\n")
    assert find_scoring(p) == table and [q.hypnogram for q in scan_archive([tmp_path]).pairs] == [table]


@pytest.mark.filterwarnings("ignore::sleepscope.io.hypnogram.HypnogramNotice")  # the unscored end, said
def test_stages_written_as_instants_last_until_the_next(tmp_path):
    """Stage annotations without a duration (where each stage begins: per epoch, or at each change) last until the
    next one, the last one epoch; the same stages with durations read the same."""
    import edfio

    p = tmp_path / "night.edf"
    sig = edfio.EdfSignal(np.zeros(100 * 300), sampling_frequency=100, label="EEG C4-M1",
                          physical_range=(-500, 500), physical_dimension="uV")
    changes = [(0, "Sleep stage W"), (90, "Sleep stage N1"), (150, "Sleep stage N2")]
    edfio.Edf([sig], annotations=[edfio.EdfAnnotation(t, None, s) for t, s in changes]).write(p)
    assert read_hypnogram(p, n_epochs=10).tolist() == [0, 0, 0, 1, 1, 2, -1, -1, -1, -1]
    per_epoch = ["W", "W", "N1", "N2", "N2", "N2", "REM"]
    edfio.Edf([sig], annotations=[edfio.EdfAnnotation(30 * i, None, s) for i, s in enumerate(per_epoch)]).write(p)
    assert read_hypnogram(p, n_epochs=10).tolist() == [0, 0, 1, 2, 2, 2, 4, -1, -1, -1]
    edfio.Edf([sig], annotations=[edfio.EdfAnnotation(30 * i, 30, s) for i, s in enumerate(per_epoch)]).write(p)
    assert read_hypnogram(p, n_epochs=10).tolist() == [0, 0, 1, 2, 2, 2, 4, -1, -1, -1]
    # an instant among stages with durations (a "Wake" written at a moment) overwrites none of them
    edfio.Edf([sig], annotations=[*(edfio.EdfAnnotation(30 * i, 30, s) for i, s in enumerate(per_epoch)),
                                  edfio.EdfAnnotation(100, None, "Wake")]).write(p)
    assert read_hypnogram(p, n_epochs=10).tolist() == [0, 0, 1, 2, 2, 2, 4, -1, -1, -1]


RML = """<?xml version="1.0" encoding="utf-8"?>
<PatientStudy xmlns="http://www.respironics.com/PatientStudy.xsd">
  <Acquisition><Sessions><Session>
    <RecordingStart>2020-01-01T23:00:00</RecordingStart><Duration>300</Duration>
  </Session></Sessions></Acquisition>
  <ScoringData>
    <Events>
      <Event Family="Neuro" Type="Arousal" Start="95.5" Duration="6" />
      <Event Family="Respiratory" Type="ObstructiveApnea" Start="130" Duration="14.5" />
    </Events>
    <StagingData>
      <MachineStaging><NeuroAdultAASMStaging><Stage Type="NonREM2" Start="0" /></NeuroAdultAASMStaging></MachineStaging>
      <UserStaging><NeuroAdultAASMStaging>
        <Stage Type="Wake" Start="0" /><Stage Type="NonREM1" Start="60" /><Stage Type="NonREM2" Start="90" />
        <Stage Type="NonREM4" Start="150" /><Stage Type="REM" Start="210" /><Stage Type="NotScored" Start="270" />
      </NeuroAdultAASMStaging></UserStaging>
    </StagingData>
  </ScoringData>
</PatientStudy>
"""


def test_the_attach_dialog_offers_every_kind_of_scoring_file():
    from sleepscope.io.pairing import HYPNOGRAM_PATTERNS, HYPNOGRAM_SUFFIXES

    assert HYPNOGRAM_PATTERNS == "*.csv *.edf *.rml *.tsv *.txt *.xml"
    assert all("*." + s.rsplit(".", 1)[-1] in HYPNOGRAM_PATTERNS.split() for s in HYPNOGRAM_SUFFIXES)


def test_philips_sleepware_rml(tmp_path):
    """An Alice/Sleepware RML beside its EDF export: the technician's staging (a stage at each change, the last until
    the session's end), not the machine's beside it; placed by the session's start against the recording's; its
    events listed; pairs as NAME.rml. A file with the machine's staging only is refused and says so."""
    from sleepscope.io.annotations import event_kind, hypnogram_file_events

    rml = tmp_path / "PSG0001.rml"
    rml.write_text(RML)
    hyp = load_hypnogram(rml, n_epochs=10, start_time=datetime(2020, 1, 1, 23, 0, 0))
    assert hyp.format == "rml" and hyp.labels.tolist() == [0, 0, 1, 2, 2, 3, 3, 4, 4, -1]
    later = load_hypnogram(rml, n_epochs=10, start_time=datetime(2020, 1, 1, 22, 59, 0))  # the EDF starts 1 min early
    assert later.labels.tolist() == [-1, -1, 0, 0, 1, 2, 2, 3, 3, 4]
    events, problem = hypnogram_file_events(rml, datetime(2020, 1, 1, 22, 59, 0))
    assert problem is None
    assert [(e.onset, e.duration, e.text) for e in events] == [(155.5, 6.0, "Arousal"),
                                                               (190.0, 14.5, "Obstructive Apnea")]
    assert event_kind(events[0].text) == "arousal"
    (tmp_path / "PSG0001.edf").write_bytes(b"")
    assert find_hypnogram(tmp_path / "PSG0001.edf") == rml
    machine_only = tmp_path / "machine.rml"
    machine_only.write_text(re.sub(r"<UserStaging>.*</UserStaging>", "", RML, flags=re.DOTALL))
    with pytest.raises(SleepScopeError, match=r"no technician's staging \(UserStaging\), only the machine's"):
        load_hypnogram(machine_only)


DOMINO = ("Signal ID: SchlafProfil\\profil\nStart Time: 01.01.2020 23:59:00\nUnit:\nSignal Type: Discret\n"
          "Events list: N3,N2,N1,Rem,Wach,Artefakt\nRate: 30 s\n\n"
          + "".join(f"{t},000; {s}\n" for t, s in zip(
              ["23:59:00", "23:59:30", "00:00:00", "00:00:30", "00:01:00", "00:01:30", "00:02:00", "00:02:30",
               "00:03:00"], ["Wach", "Wake", "N1", "N2", "N3", "N4", "Rem", "REM", "A"])))


def test_somnomedics_domino_sleep_profile(tmp_path):
    """A DOMINO 'Sleep profile' export (German or English words, 'A' for an artefact, clock times past midnight)
    reads, placed at the recording's start; it pairs with the one recording of its folder, and with none where
    the folder holds two. Another DOMINO export (a spindle list) is refused for what it is."""
    from sleepscope.io.archive import scan_archive

    night = tmp_path / "night"
    night.mkdir()
    prof = night / "Sleep profile.txt"
    prof.write_text(DOMINO, encoding="cp1252")
    hyp = load_hypnogram(prof, n_epochs=10, start_time=datetime(2020, 1, 1, 23, 58, 30))
    assert hyp.format == "domino" and hyp.labels.tolist() == [-1] + EXPECTED_9
    edf_bytes = open("tests/data/SC4001E0-PSG-first300s.edf", "rb").read()
    (night / "patient 12.edf").write_bytes(edf_bytes)
    assert find_hypnogram(night / "patient 12.edf") == prof
    assert [p.hypnogram for p in scan_archive([tmp_path]).pairs] == [prof]
    (night / "patient 13.edf").write_bytes(edf_bytes)  # whose profile is it now? nobody's
    assert find_hypnogram(night / "patient 12.edf") is None
    other = tmp_path / "Spindle K.txt"
    other.write_text(DOMINO.replace("SchlafProfil\\profil", "Spindel\\spindel"))
    with pytest.raises(SleepScopeError, match="DOMINO export of 'Spindel"):
        load_hypnogram(other)


def test_dreams_hypnograms_in_5_s_steps(tmp_path):
    """A DREAMS hypnogram (`[HypnogramAASM]`, a code every 5 s: 5 wake, 4 REM, 3-1 N1-N3, 0 R&K stage 4, -2
    unknown) reads as 30-s epochs; an epoch whose steps disagree takes the stage most of them hold, and says so.
    It pairs with its recording by the name's beginning, the AASM scoring before the R&K one."""
    from sleepscope.io.archive import scan_archive

    codes = [5] * 6 + [3] * 6 + [2] * 6 + [1] * 6 + [0] * 6 + [4] * 6 + [-2] * 6 + [2, 2, 2, 4, 2, 2] + [5, 5]
    night = tmp_path / "dreams"
    night.mkdir()
    aasm = night / "HypnogramAASM_subject3.txt"
    aasm.write_text("[HypnogramAASM]\r\n" + "".join(f"{c}\r\n" for c in codes))
    hyp = load_hypnogram(aasm, n_epochs=9)
    assert hyp.format == "dreams" and hyp.source_epochs == 9
    assert hyp.labels.tolist() == [0, 1, 2, 3, 3, 4, -1, 2, 0]
    assert any("1 epoch of 30 s held 5-s steps of different stages" in n for n in hyp.notes)
    # a recording of 2 epochs cannot hold 9 epochs' scoring: read as steps of 30 s it would have been refused too
    with pytest.raises(SleepScopeError, match="past the recording's end"):
        load_hypnogram(aasm, n_epochs=2)
    rk = night / "HypnogramR&K_subject3.txt"
    rk.write_text("[HypnogramR&K]\n" + "5\n" * 54)
    psg = night / "subject3.edf"
    psg.write_bytes(open("tests/data/SC4001E0-PSG-first300s.edf", "rb").read())
    assert find_hypnogram(psg) == aasm
    aasm.unlink()
    assert find_hypnogram(psg) == rk
    assert [p.hypnogram for p in scan_archive([tmp_path]).pairs] == [rk]
    assert find_hypnogram(night / "subject31.edf") is None
    bad = tmp_path / "HypnogramAASM_subject4.txt"
    bad.write_text("[HypnogramAASM]\n5\n7\n")
    with pytest.raises(SleepScopeError, match="line 3: '7' is not a DREAMS stage code"):
        load_hypnogram(bad)


def test_bids_events_pair_with_their_recording(tmp_path):
    """A BIDS folder: `sub-01_ses-1_task-sleep_eeg.edf` pairs with the events file of the same entities (stages
    in `trial_type`, a duration BIDS leaves `n/a` lasting one epoch), never with another session's nor with its
    channels table; the archive finds the pair and the subject."""
    from sleepscope.io.archive import scan_archive

    eeg = tmp_path / "sub-01" / "ses-1" / "eeg"
    eeg.mkdir(parents=True)
    psg = eeg / "sub-01_ses-1_task-sleep_eeg.edf"
    psg.write_bytes(open("tests/data/SC4001E0-PSG-first300s.edf", "rb").read())
    (eeg / "sub-01_ses-1_task-sleep_channels.tsv").write_text("name\ttype\tunits\nFpz-Cz\tEEG\tuV\n")
    (eeg / "sub-01_ses-2_task-sleep_events.tsv").write_text("onset\tduration\ttrial_type\n0\t30\tW\n")
    assert find_hypnogram(psg) is None
    events = eeg / "sub-01_ses-1_task-sleep_events.tsv"
    events.write_text("onset\tduration\ttrial_type\tvalue\n0\t60\tSleep stage W\t1\n60\tn/a\tN1\t2\n"
                      "75\t3.5\tArousal\tn/a\n90\t30\tN2\t3\n")
    assert find_hypnogram(psg) == events
    hyp = load_hypnogram(events, n_epochs=10)
    assert hyp.labels.tolist() == [0, 0, 1, 2] + [-1] * 6
    pair, = scan_archive([tmp_path]).pairs
    assert (pair.hypnogram, pair.subject) == (events, "sub-01")


def test_a_table_of_epochs_with_their_times_is_placed_by_them(tmp_path):
    """A table of one stage per epoch with a time column (Philips Alice's CSV: `Epoch Number, Start Time, Sleep
    Stage`, a 12-hour clock, `WK` for wake) is placed by its times against the recording's start: a scoring that
    begins two epochs after the recording was read from its first epoch. Times from 00:00:00 are the time since
    the start (said), not midnight; without the recording's start, the first row is its first epoch."""
    alice = tmp_path / "PSG0001.csv"
    alice.write_text(" Epoch Number ,Start Time ,Sleep Stage\n1,11:59:00 PM,WK\n2,11:59:30 PM,N1\n"
                     "3,12:00:00 AM,N2\n4,12:00:30 AM,REM\n")
    start = datetime(2020, 1, 1, 23, 58, 0)
    assert load_hypnogram(alice, n_epochs=8, start_time=start).labels.tolist() == [-1, -1, 0, 1, 2, 4, -1, -1]
    assert load_hypnogram(alice).labels.tolist() == [0, 1, 2, 4]
    at_start = load_hypnogram(alice, n_epochs=8, start_time=datetime(2020, 1, 1, 23, 59, 0))
    assert at_start.labels.tolist() == [0, 1, 2, 4, -1, -1, -1, -1]
    late = load_hypnogram(alice, n_epochs=8, start_time=datetime(2020, 1, 1, 23, 59, 30))  # began before it
    assert late.labels.tolist() == [1, 2, 4] + [-1] * 5
    assert "1 scored epoch of the hypnogram lies before the recording's start and was left out" in late.notes
    # dated otherwise than the recording (an anonymised header's 1985-01-01): placed by the time of day, said
    dated = tmp_path / "dated.csv"
    dated.write_text("epoch,time,stage\n0,2019-03-05 23:59:00,W\n1,2019-03-05 23:59:30,N1\n2,2019-03-06 00:00:00,N2\n")
    hyp = load_hypnogram(dated, n_epochs=6, start_time=datetime(1985, 1, 1, 23, 58, 0))
    assert hyp.labels.tolist() == [-1, -1, 0, 1, 2, -1] and "placed by the time of day" in " ".join(hyp.notes)
    same_day = load_hypnogram(dated, n_epochs=6, start_time=datetime(2019, 3, 5, 23, 58, 0))
    assert same_day.labels.tolist() == [-1, -1, 0, 1, 2, -1] and "time of day" not in " ".join(same_day.notes)
    elapsed = tmp_path / "elapsed.csv"
    elapsed.write_text("Epoch,Time,Stage\n1,00:00:00,W\n2,00:00:30,N1\n3,00:01:00,N2\n")
    hyp = load_hypnogram(elapsed, n_epochs=4, start_time=datetime(2020, 1, 1, 22, 59, 0))
    assert hyp.labels.tolist() == [0, 1, 2, -1]
    assert any("read as the time since the recording's start" in n for n in hyp.notes)


def test_times_that_are_no_times_of_one_recording_are_refused_without_filling_memory(tmp_path):
    """Onsets in milliseconds since 1970 (an export's timestamps): its epochs would need 49 GiB and the reader
    died of a MemoryError. It is refused, saying why; three days of scoring (an ambulatory recording) read."""
    ms = tmp_path / "ms.csv"
    ms.write_text("onset,duration,description\n1583103600000,30000,W\n1583103630000,30000,N2\n")
    with pytest.raises(SleepScopeError, match="days after the recording's start: its times are not those of one"):
        load_hypnogram(ms, n_epochs=10)
    days = tmp_path / "days.csv"
    days.write_text("onset,duration,description\n0,30,W\n" + f"{3 * 86400 - 30},30,N2\n")
    assert load_hypnogram(days).labels[[0, -1]].tolist() == [0, 2]


@pytest.mark.parametrize("name, text", [
    ("night.xml", PROFUSION_XML.replace('encoding="utf-8"', 'encoding="utf0.0-8"')),  # an encoding unknown
    ("night.tsv", "epoch\tstage\n0\tW\n1e309\tN1\n"),  # an epoch number past a float's range
    ("night.csv", ",\n,,\n"),  # delimiters and nothing else
])
def test_damaged_hypnograms_found_by_fuzzing_are_refused_with_a_reason(tmp_path, name, text):
    """Mutated hypnograms that raised LookupError, OverflowError and IndexError (a traceback from import): each
    is refused as unreadable, saying why."""
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(SleepScopeError, match="cannot read the hypnogram"):
        load_hypnogram(p, n_epochs=10)


def test_tables_in_other_locales_are_placed_by_their_dates_and_times(tmp_path):
    """European day.month.year date-times, a US-style slashed date with a 12-hour clock (day or month first:
    its time of day places it), and a German event table (Beginn, Dauer, Ereignis) are all placed against the
    recording's start, across midnight; they were read from the first epoch or refused."""
    start = datetime(2019, 3, 5, 23, 58, 0)
    eu = tmp_path / "eu.csv"
    eu.write_text("Epoch;Zeit;Stadium\n1;05.03.2019 23:59:00;Wach\n2;05.03.2019 23:59:30;N1\n3;06.03.2019 00:00:00;N2\n")
    us = tmp_path / "us.csv"
    us.write_text("Epoch,Time,Stage\n1,03/05/2019 11:59:00 PM,W\n2,03/05/2019 11:59:30 PM,N1\n"
                  "3,03/06/2019 12:00:00 AM,N2\n")
    for table in (eu, us):
        assert load_hypnogram(table, n_epochs=6, start_time=start).labels.tolist() == [-1, -1, 0, 1, 2, -1], table
    events = tmp_path / "ereignisse.csv"
    events.write_text("Beginn;Dauer;Ereignis\n23:59:00;60;Wach\n00:00:00;30;Stadium 2\n00:00:10;5;Arousal\n",
                      encoding="cp1252")
    hyp = load_hypnogram(events, n_epochs=6, start_time=start)
    assert hyp.labels.tolist() == [-1, -1, 0, 0, 2, -1]
    assert "1 event that is no sleep stage was left out" in hyp.notes


def test_where_a_scorings_own_30_s_epochs_begin_and_reading_it_on_them(tmp_path):
    """`grid_offset`: whole 30-s epochs scored from 12 s into the recording (a table from lights off; MASS's
    2.38 s with its clock's jitter); read from there (`origin`), each epoch is the lab's own and nothing is said."""
    from sleepscope.io.hypnogram import grid_offset

    stages = ["W"] * 4 + ["N1"] * 2 + ["N2"] * 5 + ["N3"] * 3 + ["N2"] * 2 + ["REM"] * 4
    codes = [0] * 4 + [1] * 2 + [2] * 5 + [3] * 3 + [2] * 2 + [4] * 4
    shifted = tmp_path / "shifted.csv"
    shifted.write_text("onset,duration,description\n"
                       + "".join(f"{12 + 30 * i},30,{s}\n" for i, s in enumerate(stages)))
    hyp = load_hypnogram(shifted)
    assert hyp.grid_offset == 12
    on_its_own = load_hypnogram(shifted, origin=12)
    assert on_its_own.labels.tolist() == codes
    assert not [n for n in on_its_own.notes if "change of scored stage" in n]
    # control: read on the recording's epochs, each change of stage falls inside one
    assert any("change of scored stage" in n for n in hyp.notes)
    # 18 s in, the recording's first epoch (middle at 15 s) is before the lab's first: read from there, it is not
    late = tmp_path / "late.csv"
    late.write_text("onset,duration,description\n" + "".join(f"{18 + 30 * i},30,{s}\n" for i, s in enumerate(stages)))
    assert load_hypnogram(late).labels.tolist() == [-1] + codes
    assert load_hypnogram(late, origin=load_hypnogram(late).grid_offset).labels.tolist() == codes
    n = len(stages)
    on = np.arange(n) * 30.0
    thirty, flat = np.full(n, 30.0), np.asarray(codes)
    rng = np.random.default_rng(0)
    assert grid_offset(2.38 + on + rng.uniform(-0.2, 0.2, n), thirty, flat) == pytest.approx(2.38, abs=0.1)
    # runs of a stage, the last cut short, still on the lab's grid
    assert grid_offset(np.array([12.0, 132, 192, 342]), np.array([120.0, 60, 150, 9]), np.array([0, 1, 2, 3])) == 12
    # on the recording's grid give or take a rounded clock (29.7 s is 0.3 s before it), in 20-s epochs, or
    # onsets on no one grid: nothing to align to
    assert grid_offset(on + 29.7, thirty, flat) == 0
    assert grid_offset(on + 0.4, thirty, flat) == 0
    assert grid_offset(3.5 + np.arange(n) * 20.0, np.full(n, 20.0), flat) == 0
    assert grid_offset(on + rng.uniform(0, 30, n), thirty, flat) == 0


def test_a_stage_per_line_in_20_s_epochs_is_read_as_such_where_30_s_would_overrun_the_recording(tmp_path):
    """R&K-era scorings of a row per 20-s (or 15-s) epoch, and no times: 540 rows for a 3-hour recording cover
    it at 20 s and would run 1.5 hours past it at 30 s (refused as another night's before)."""
    rows = ["W"] * 7 + ["N1"] * 3 + ["N2"] * 530
    path = tmp_path / "night.txt"
    path.write_text("\n".join(rows) + "\n")
    hyp = load_hypnogram(path, n_epochs=360)
    # 30-s epoch i takes the 20-s row at its middle (30 i + 15 s): rows 0, 2, 3, 5, 6, 8, 9, 11, ...
    assert hyp.labels.tolist() == [0, 0, 0, 0, 0, 1, 1] + [2] * 353
    assert hyp.notes[0] == ("its 540 rows were read as 20-s epochs: as 30-s epochs they would run 4.50 h against "
                            "the recording's 3.00 h, as 20-s epochs they cover it")
    assert any("2 of the recording's 30-s epochs hold a change of scored stage (its epochs are 20 s long)" in n
               for n in hyp.notes)
    # 15-s rows: 480 of them for a 2-hour recording (20-s rows would overrun it by 40 minutes)
    quarter = tmp_path / "quarter.txt"
    quarter.write_text("W\n" * 240 + "N2\n" * 240)
    hyp = load_hypnogram(quarter, n_epochs=240)
    assert hyp.labels.tolist() == [0] * 120 + [2] * 120 and "read as 15-s epochs" in hyp.notes[0]
    # controls: the rows of a recording as long as them are 30-s epochs; a file that fits no epoch length, a
    # table that says its times and a recording under an hour are refused as before
    assert load_hypnogram(path, n_epochs=540).labels.tolist() == [0] * 7 + [1] * 3 + [2] * 530
    with pytest.raises(SleepScopeError, match="cannot be this recording's"):
        load_hypnogram(path, n_epochs=300)
    timed = tmp_path / "timed.csv"
    timed.write_text("onset,duration,description\n" + "".join(f"{30 * i},30,{s}\n" for i, s in enumerate(rows)))
    with pytest.raises(SleepScopeError, match="cannot be this recording's"):
        load_hypnogram(timed, n_epochs=360)
    short = tmp_path / "short.txt"
    short.write_text("W\n" * 90)
    with pytest.raises(SleepScopeError, match="cannot be this recording's"):
        load_hypnogram(short, n_epochs=60)
