"""The recording's own annotations taken as the scoring's events: which kind each becomes, one edit for all of
them (one write, one undo, on a full disk none), kept with where they came from; and the arousal index they give."""

import csv
import os
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.io.annotations import INSTANT_S, Annotation, as_events, event_kind
from sleepscope.scoring.events import FROM_RECORDING
from sleepscope.scoring.export import export_events_csv, export_stats, statistics_summary
from sleepscope.scoring.scoring_file import ScoringFile
from sleepscope.scoring.stats import arousals_text, sleep_statistics

sys.path.insert(0, str(Path(__file__).parent))
from scoring_faults import fill, small_tmpfs  # noqa: E402
from test_scoring_events import N, rec  # noqa: E402,F401  (the 40-epoch night and its fixture)

#: (text as acquisition systems and labs write it, the event it makes)
KINDS = [
    ("Arousal", "arousal"), ("Arousal (ARO SPONT)", "arousal"), ("EEG arousal", "arousal"), ("RERA", "arousal"),
    ("Arousal_Respiratory", "arousal"), ("Weckreaktion", "arousal"), ("Micro-éveil", "arousal"),
    ("Microdespertar", "arousal"), ("Artifact", "artefact"), ("Artefakt EEG", "artefact"),
    ("Body movement", "artefact"), ("Electrode pop C3", "artefact"), ("Lead off", "artefact"),
    ("Limb movement (left)", "note"), ("Obstructive apnea", "note"), ("Desaturation 4 %", "note"),
    ("Patient to bathroom", "note"), ("Éveil", "note"), ("Lights off", None), ("LIGHTS_ON", None),
    ("Licht aus", None),
]


@pytest.mark.parametrize("text,kind", KINDS)
def test_each_annotation_makes_the_event_its_words_say(text, kind):
    assert event_kind(text) == kind


def test_as_events_keeps_the_text_spans_instants_and_stays_in_the_recording():
    notes = [Annotation(10.0, 0.0, "EEG arousal"), Annotation(50.0, 12.5, "Obstructive apnea"),
             Annotation(100.0, 0.0, "Lights off"), Annotation(1195.0, 20.0, "Artifact"),
             Annotation(1300.0, 5.0, "after the end")]
    assert as_events(notes, 1200.0) == [("arousal", 10.0, 10.0 + INSTANT_S, "EEG arousal"),
                                        ("note", 50.0, 62.5, "Obstructive apnea"),
                                        ("artefact", 1195.0, 1200.0, "Artifact")]


TAKEN = [("arousal", 95.0, 104.0, "Arousal (ARO SPONT)"), ("note", 300.0, 301.0, "Desaturation"),
         ("artefact", 600.0, 630.0, "Electrode pop")]


def test_taken_together_undone_together_and_reopened_with_their_source(rec, tmp_path):
    path = tmp_path / "night.sleepscope.h5"
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.add_event("arousal", 30, 40)  # marked by hand before: its own edit
        taken = sf.add_events(TAKEN, source=FROM_RECORDING)
        assert [(e.kind, e.start, e.end, e.text, e.source, e.scorer) for e in taken] == [
            (*t, FROM_RECORDING, "ann") for t in TAKEN]
        # as the recording wrote them, the kind named once; read back, each is the kind it was
        assert [e.label for e in taken] == ["Arousal (ARO SPONT)", "Desaturation", "Artefact: Electrode pop"]
        assert [event_kind(e.label) for e in taken] == ["arousal", "note", "artefact"]
        # moved by the technician, it is still the recording's, changed by them
        moved = sf.change_event(taken[0].id, start=96.0)
        assert (moved.source, moved.scorer) == (FROM_RECORDING, "ann")
        sf.undo()
        # one entry of the undo stack, named for what it did
        assert len(sf.undo_stack()) == 2 and sf.undo_stack()[-1].what == "take 3 events from the recording"
        undone = sf.undo()
        assert undone.epochs == (3, 10, 20) and [e.start for e in sf.events] == [30.0]
        assert sf.redo().what == "take 3 events from the recording" and len(sf.events) == 4
        assert sf.undo() is not None and len(sf.events) == 1 and sf.undo() is not None and sf.events == []
        sf.redo()
        sf.redo()
        assert len(sf.events) == 4
        # each is an ordinary event entry of the journal (what an older SleepScope reads, one by one)
        assert {e["op"] for e in sf.history()} == {"event", "undo", "redo"}
    for _ in range(2):  # from the journal, then from the snapshot
        with ScoringFile.open(rec, path, scorer="bob") as sf:
            assert [(e.kind, e.text, e.source) for e in sf.events] == [
                ("arousal", "", ""), *((k, t, FROM_RECORDING) for k, _, _, t in TAKEN)]
            assert sf.undo_stack()[-1].what == "take 3 events from the recording"
            sf.save()
    with ScoringFile.open(rec, path, scorer="bob") as sf:
        sf.undo()
        assert [e.start for e in sf.events] == [30.0]
        out = export_events_csv(sf, tmp_path / "e.csv")
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [(r["kind"], r["source"]) for r in rows] == [("arousal", "")]


def test_one_bad_event_marks_none(rec, tmp_path):
    with ScoringFile.open(rec, tmp_path / "night.sleepscope.h5") as sf:
        with pytest.raises(SleepScopeError, match="outside the recording"):
            sf.add_events([*TAKEN, ("note", 5000.0, 5010.0, "late")])
        assert sf.events == [] and sf.history() == [] and sf.add_events([]) == []


def test_on_a_full_disk_none_is_taken_and_the_earlier_ones_stay(rec, tmp_path):
    with small_tmpfs(tmp_path / "disk") as disk:
        sf = ScoringFile.open(rec, disk / "night.sleepscope.h5")
        sf.add_events(TAKEN[:1], source=FROM_RECORDING)
        filler = fill(disk)
        os.truncate(filler, filler.stat().st_size - 16384)  # room for some of them, not for all
        with pytest.raises(SleepScopeError, match="full"):
            sf.add_events(TAKEN[1:] * 200, source=FROM_RECORDING)
        assert len(sf.events) == 1 and len(sf.undo_stack()) == 1
        filler.unlink()
        sf.close()
        with ScoringFile.open(rec, disk / "night.sleepscope.h5", readonly=True) as again:
            assert [e.text for e in again.events] == [TAKEN[0][3]]


def test_arousal_index_counts_arousals_in_sleep_within_the_lights():
    labels = np.array([0, 0, 2, 2, 2, 2, 0, 4, 4, 2] * 4)  # 40 epochs; 14 of sleep in the first 20: 7 min
    onsets = [5.0, 65.0, 70.0, 195.0, 215.0, 590.0, 700.0]  # W, N2, N2, W, REM, N2 (epoch 19), after lights on
    stats = sleep_statistics(labels, lights_on=20, arousals=onsets)
    assert stats.n_arousals == 4 and stats.tst_min == 7.0
    assert stats.arousal_index == pytest.approx(4 / (7.0 / 60.0))
    assert arousals_text(stats) == "4 (34.3 per hour of sleep)"
    assert sleep_statistics(labels, arousals=[]).n_arousals == 0
    assert arousals_text(sleep_statistics(labels, arousals=[])) == "none in scored sleep"
    assert sleep_statistics(labels).n_arousals is None  # nothing given to count
    assert "Arousals" not in sleep_statistics(labels).format_text()


def test_the_summary_counts_taken_arousals(rec, tmp_path):
    with ScoringFile.open(rec, tmp_path / "night.sleepscope.h5", scorer="ann") as sf:
        sf.set_stages(np.arange(N), np.full(N, 2))
        sf.add_events(TAKEN, source=FROM_RECORDING)
        stats = statistics_summary(sf, no_signal=np.zeros(N, bool))["statistics"]
        text = export_stats(sf, None)
    assert stats["n_arousals"] == 1 and stats["arousal_index"] == pytest.approx(1 / (N / 120))
    assert "Events: 1 artefact, 1 arousal, 1 note" in text and "Arousals:                     1 (3.0 per hour" in text


def test_import_takes_an_archive_nights_own_events_and_lights_once(tmp_path, capsys):
    """`sleepscope import NIGHT.edf --recording-events`: a night never opened gets its scoring file with the
    acquisition system's events and lights; a second run takes nothing twice; a scoring file is not a recording."""
    import edfio

    from sleepscope.cli import main

    rng = np.random.default_rng(0)
    signals = [edfio.EdfSignal(rng.normal(0, 20, 100 * 300), 100, label=label, physical_dimension="uV",
                               physical_range=(-500, 500)) for label in ("EEG C4-M1", "EOG E1-M2")]
    night = tmp_path / "night.edf"
    edfio.Edf(signals, annotations=[edfio.EdfAnnotation(*a) for a in [
        (31.5, None, "Lights out"), (90.0, 12.5, "Arousal"), (150.0, 10.0, "Hypopnea"),
        (240.0, None, "Lights on")]]).write(night)
    assert main(["import", str(night), "--recording-events"]) == 0
    said = capsys.readouterr().out
    assert "took 2 of the recording's annotations as events (1 arousal, 1 note)" in said
    assert "lights off at" in said and "lights on at" in said
    path = night.with_name("night.sleepscope.h5")
    with ScoringFile.read(path) as sf:
        assert [(e.kind, e.start, e.end, e.source) for e in sf.events] == [
            ("arousal", 90.0, 102.5, FROM_RECORDING), ("note", 150.0, 160.0, FROM_RECORDING)]
        assert (sf.lights.off, sf.lights.on) == (31.5, 240.0)
    assert main(["import", str(night), "--recording-events"]) == 0
    assert "taken before" in capsys.readouterr().out
    with ScoringFile.read(path) as sf:
        assert len(sf.events) == 2 and len(sf.history()) == 4
    assert main(["import", str(path), "--recording-events"]) == 2
    assert "name the recording" in capsys.readouterr().err
    assert main(["import", str(night)]) == 2
    assert "Name a hypnogram" in capsys.readouterr().err


def test_events_removed_together_come_back_together(rec, tmp_path):
    with ScoringFile.open(rec, tmp_path / "night.sleepscope.h5", scorer="ann") as sf:
        taken = sf.add_events(TAKEN, source=FROM_RECORDING)
        sf.remove_events([taken[0].id, taken[2].id, taken[0].id])  # a row listed twice is removed once
        assert [e.text for e in sf.events] == ["Desaturation"]
        assert sf.undo_stack()[-1].what == "remove 2 events"
        sf.remove_event(taken[1].id)
        assert "group" not in sf.history()[-1] and sf.events == []
        sf.undo()
        sf.undo()
        assert len(sf.events) == 3
        assert sf.undo().what == "take 3 events from the recording" and sf.events == []
        with pytest.raises(SleepScopeError, match="no event"):
            sf.remove_events([taken[0].id])


NSRR = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<PSGAnnotation><SoftwareVersion>Compumedics</SoftwareVersion><EpochLength>30</EpochLength><ScoredEvents>
<ScoredEvent><EventType/><EventConcept>Recording Start Time</EventConcept><Start>0</Start><Duration>1200.0</Duration>
<ClockTime>00.00.00 22.00.00</ClockTime></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Wake|0</EventConcept><Start>0</Start>
<Duration>300</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 2 sleep|2</EventConcept><Start>300</Start>
<Duration>900</Duration></ScoredEvent>
<ScoredEvent><EventType>Arousals|Arousals</EventType><EventConcept>ASDA arousal|Arousal (ASDA)</EventConcept>
<Start>400.5</Start><Duration>9.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Arousals|Arousals</EventType><EventConcept>Arousal|Arousal ()</EventConcept>
<Start>700</Start><Duration>5</Duration></ScoredEvent>
<ScoredEvent><EventType>Respiratory|Respiratory</EventType><EventConcept>SpO2 desaturation|SpO2 desaturation
</EventConcept><Start>410</Start><Duration>20</Duration><SignalLocation>SpO2</SignalLocation></ScoredEvent>
</ScoredEvents></PSGAnnotation>
"""


def test_a_hypnogram_files_scored_events_besides_its_stages(tmp_path):
    from datetime import timedelta

    import edfio

    from sleepscope.io.annotations import hypnogram_file_events

    xml = tmp_path / "night.xml"
    xml.write_text(NSRR)
    events, problem = hypnogram_file_events(xml)
    assert problem is None
    assert [(a.onset, a.duration, a.text, a.origin) for a in events] == [
        (400.5, 9.0, "Arousal (ASDA)", "night.xml"), (410.0, 20.0, "SpO2 desaturation", "night.xml"),
        (700.0, 5.0, "Arousal", "night.xml")]
    assert [k for k, *_ in as_events(events, 1200.0)] == ["arousal", "note", "arousal"]
    # an EDF+ scoring file (HMC's NAME_sleepscoring.edf) that starts 60 s after its recording: on the recording's clock
    start = datetime(2021, 3, 4, 22, 0)
    edf = tmp_path / "night_sleepscoring.edf"
    edfio.Edf([], annotations=[edfio.EdfAnnotation(0, 30, "Sleep stage W"), edfio.EdfAnnotation(5, None, "Lights off")],
              starttime=(start + timedelta(seconds=60)).time(),
              recording=edfio.Recording(startdate=start.date())).write(edf)
    events, problem = hypnogram_file_events(edf, start)
    assert problem is None and [(a.onset, a.text) for a in events] == [(65.0, "Lights off")]
    (tmp_path / "night.csv").write_text("epoch,stage\n0,W\n")
    assert hypnogram_file_events(tmp_path / "night.csv") == ([], None)
    (tmp_path / "cut.xml").write_text(NSRR[:300])
    events, problem = hypnogram_file_events(tmp_path / "cut.xml")
    assert events == [] and "not well-formed XML" in problem


def test_import_takes_the_hypnogram_files_events_too(tmp_path, capsys):
    import edfio

    from sleepscope.cli import main

    rng = np.random.default_rng(0)
    signals = [edfio.EdfSignal(rng.normal(0, 20, 100 * 1200), 100, label=label, physical_dimension="uV",
                               physical_range=(-500, 500)) for label in ("EEG C4-M1", "EOG E1-M2")]
    night = tmp_path / "night.edf"
    edfio.Edf(signals).write(night)
    (tmp_path / "night.xml").write_text(NSRR)
    assert main(["import", str(night), str(tmp_path / "night.xml"), "--recording-events"]) == 0
    assert "took 3 of the recording's annotations as events (2 arousals, 1 note)" in capsys.readouterr().out
    with ScoringFile.read(night.with_name("night.sleepscope.h5")) as sf:
        assert [(e.kind, e.start) for e in sf.events] == [("arousal", 400.5), ("note", 410.0), ("arousal", 700.0)]
        assert "night" in sf.scorer_sets


@pytest.mark.filterwarnings("ignore::sleepscope.io.hypnogram.HypnogramNotice")  # the events left out, said
def test_an_event_tables_rows_that_are_no_stage(tmp_path):
    """MNE's annotations CSV (onset in seconds) and a REMlogic-style export (clock times): the rows that are no
    stage, on the recording's clock; a comment row without a time is left out; the stages still read as before."""
    from sleepscope.io.annotations import hypnogram_file_events
    from sleepscope.io.hypnogram import read_hypnogram

    mne = tmp_path / "night-annot.csv"
    mne.write_text("onset,duration,description\n0,30,Sleep stage W\n30,30,Sleep stage W\n45,5,Arousal\n"
                   "60,30,Sleep stage N2\n62,,Lights off\n,,comment without a time\n")
    events, problem = hypnogram_file_events(mne)
    assert problem is None
    assert [(a.onset, a.duration, a.text) for a in events] == [(45.0, 5.0, "Arousal"), (62.0, 0.0, "Lights off")]
    assert read_hypnogram(mne, n_epochs=3).tolist() == [0, 0, 2]
    start = datetime(2021, 3, 4, 22, 0)
    remlogic = tmp_path / "night.txt"
    remlogic.write_text("Time [hh:mm:ss]\tEvent\tDuration[s]\n22:00:00\tSLEEP-S0\t30\n22:00:30\tSLEEP-S2\t30\n"
                        "22:00:40\tMCAP-A3\t12\n22:01:00\tSLEEP-S2\t30\n")
    events, problem = hypnogram_file_events(remlogic, start)
    assert problem is None and [(a.onset, a.text) for a in events] == [(40.0, "MCAP-A3")]
    assert [k for k, *_ in as_events(events, 120.0)] == ["note"]
