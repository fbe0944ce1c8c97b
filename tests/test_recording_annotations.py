"""A recording's own EDF+ annotations: read beside its signals, stages left to the hypnogram, lights found."""

import json
from pathlib import Path

import edfio
import numpy as np
import pytest

from sleepscope.cli import main
from sleepscope.io import open_recording
from sleepscope.io.annotations import Annotation, lights_of, read_annotations
from test_edf_discontinuous import write_raw_edf

DATA = Path(__file__).parent / "data"


def _edf_plus(path: Path, annotations) -> Path:
    rng = np.random.default_rng(0)
    signals = [edfio.EdfSignal(rng.normal(0, 20, 100 * 300), 100, label=label, physical_dimension="uV",
                               physical_range=(-500, 500)) for label in ("EEG C4-M1", "EOG E1-M2")]
    edfio.Edf(signals, annotations=[edfio.EdfAnnotation(*a) for a in annotations]).write(path)
    return path


def test_annotations_other_than_stages_are_read_in_time_order_and_the_lights_found(tmp_path):
    path = _edf_plus(tmp_path / "night.edf", [(200.0, None, "LIGHTS_ON"), (31.5, None, "Lights out"),
                                              (60.0, 30.0, "Sleep stage 2"), (90.0, 12.5, "Arousal"),
                                              (5.0, None, "Lights on"), (100.0, None, "  ")])
    annotations, problem = read_annotations(path)
    assert problem is None
    assert annotations == [Annotation(5.0, 0.0, "Lights on"), Annotation(31.5, 0.0, "Lights out"),
                           Annotation(90.0, 12.5, "Arousal"), Annotation(200.0, 0.0, "LIGHTS_ON")]
    assert lights_of(annotations) == (31.5, 200.0)
    assert lights_of(annotations[:3]) == (31.5, None)  # a lights-on before the lights-off is not the night's end
    assert lights_of([Annotation(10.0, 0.0, "Licht aus"), Annotation(99.0, 0.0, "Licht an")]) == (10.0, 99.0)
    assert lights_of([Annotation(10.0, 0.0, "Lights only partly dimmed")]) == (None, None)


def test_files_without_or_with_unreadable_annotations_give_none_and_never_raise(tmp_path):
    assert read_annotations(DATA / "SC4001E0-PSG-first300s.edf") == ([], None)  # plain EDF
    assert read_annotations(DATA / "SC4001EC-Hypnogram.edf") == ([], None)  # stages only: a hypnogram
    cut = tmp_path / "cut.edf"
    cut.write_bytes(_edf_plus(tmp_path / "whole.edf", [(1.0, None, "Lights off")]).read_bytes()[:300])
    annotations, problem = read_annotations(cut)
    assert annotations == [] and "truncated" in problem


def test_info_lists_them(tmp_path, capsys):
    path = _edf_plus(tmp_path / "night.edf", [(31.5, None, "Lights off"), (90.0, 12.5, "Arousal")])
    assert main(["info", str(path)]) == 0
    assert "annotations: 2 of its own, besides sleep stages (lights off" in capsys.readouterr().out
    assert main(["info", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["annotations"][1] == {"onset_s": 90.0, "duration_s": 12.5, "text": "Arousal"}
    assert shown["own_stages"] is None
    scored = _edf_plus(tmp_path / "scored.edf", [(0.0, 60.0, "Sleep stage W"), (60.0, 90.0, "Sleep stage 2")])
    assert main(["info", str(scored)]) == 0
    assert "sleep stages: 5 of 10 epochs scored in its annotations" in capsys.readouterr().out
    assert main(["info", str(scored), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["own_stages"] == {"scored_epochs": 5}


def test_info_names_the_scoring_beside_the_recording(tmp_path, capsys):
    """`info` says which file the workstation and prescore take for the lab's scoring and how much it scores, or
    why it cannot be read: how a lab checks its archive's pairing before training on it."""
    path = _edf_plus(tmp_path / "night.edf", [])
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scoring"] is None
    (tmp_path / "night.rml").write_text(
        '<PatientStudy xmlns="http://www.respironics.com/PatientStudy.xsd"><ScoringData><StagingData><UserStaging>'
        '<NeuroAdultAASMStaging><Stage Type="Wake" Start="0" /><Stage Type="NonREM2" Start="60" />'
        '<Stage Type="NotScored" Start="150" /></NeuroAdultAASMStaging></UserStaging></StagingData></ScoringData>'
        '</PatientStudy>')
    assert main(["info", str(path)]) == 0
    assert "scoring: night.rml beside it, 5 of 10 epochs scored" in capsys.readouterr().out
    assert main(["info", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["scoring"]
    assert shown["file"].endswith("night.rml") and shown["scored_epochs"] == 5 and not shown["own"]
    assert shown["stage_epochs"] == {"W": 2, "N1": 0, "N2": 3, "N3": 0, "REM": 0}
    (tmp_path / "night.rml").write_text("<PatientStudy><ScoringData/></PatientStudy>")
    assert main(["info", str(path)]) == 0
    assert "scoring: night.rml beside it, not read: cannot read the hypnogram" in capsys.readouterr().out


def _signals(seconds: int) -> list[dict]:
    t = np.arange(100 * seconds) / 100
    return [{"label": "EEG C4-M1", "rate": 100, "data": 20 * np.sin(2 * np.pi * t)},
            {"label": "EOG E1-M2", "rate": 100, "data": np.arange(100 * seconds) // 100}]  # its record's number


def test_onsets_are_on_the_clock_the_signals_are_read_on(tmp_path):
    """A contiguous file's first record may start a fraction of a second after the header's start time (EDF+
    writes it in the first time-keeping entry): its signals are read from their first sample, and so are the
    annotations. A discontinuous file is read on the header's clock, its annotations too. MNE agrees."""
    import mne

    late = write_raw_edf(tmp_path / "late.edf", _signals(10), onsets=[r + 0.5 for r in range(10)],
                         tals={3: b"+3.75\x152\x14Lights off\x14\x00"})
    assert read_annotations(late) == ([Annotation(3.25, 2.0, "Lights off")], None)
    assert mne.read_annotations(late).onset.tolist() == [3.25]
    gaps = write_raw_edf(tmp_path / "gaps.edf", _signals(40), onsets=[0, 1, 2, *range(10, 47)], reserved="EDF+D",
                         tals={4: b"+11.5\x14Electrode fixed\x14Impedance checked\x14\x00"})
    found, _ = read_annotations(gaps)
    assert found == [Annotation(11.5, 0.0, "Electrode fixed"), Annotation(11.5, 0.0, "Impedance checked")]
    rec = open_recording(gaps)
    # the annotated instant holds the record the note was written in
    assert rec.eog[int(11.5 * rec.fs)] == pytest.approx(4, abs=0.05)


def test_latin1_annotations_of_older_exporters_keep_their_accents(tmp_path):
    """EDF+ annotations are UTF-8, but older exporters wrote Latin-1: 'Micro-\\xe9veil' read as 'Micro-\\ufffdveil',
    a note instead of an arousal, and 'Stade \\xe9veil' as no stage. UTF-8 in the same file reads as before."""
    from sleepscope.io.annotations import event_kind
    from sleepscope.io.hypnogram import read_hypnogram

    path = _edf_plus(tmp_path / "nuit.edf", [(0.0, 30.0, "Stade Xveil"), (30.0, 30.0, "Stade 2"),
                                             (40.0, 5.0, "Micro-Xveil"), (70.0, 2.0, "Réveil noté")])
    data = path.read_bytes()
    assert data.count(b"Xveil") == 2
    path.write_bytes(data.replace(b"Xveil", b"\xe9veil"))
    annotations, problem = read_annotations(path)
    assert problem is None
    assert [a.text for a in annotations] == ["Micro-\u00e9veil", "R\u00e9veil not\u00e9"]
    assert event_kind(annotations[0].text) == "arousal"
    assert read_hypnogram(path, n_epochs=2).tolist() == [0, 2]


def test_a_nights_annotations_are_parsed_once_on_opening_and_again_when_the_file_changes(tmp_path, monkeypatch):
    """Opening a recording that carries its own stages asked for its annotations three times (is there a scoring,
    the scoring, the other annotations), each a parse of the whole annotation channel (0.11 s on a 24-h file of
    1-s records). Once now; a file written again is read again."""
    import os

    import sleepscope.io.edfheader as edfheader
    from sleepscope.io.hypnogram import read_hypnogram
    from sleepscope.io.pairing import find_scoring

    path = _edf_plus(tmp_path / "night.edf", [(0.0, 30.0, "Sleep stage W"), (30.0, 30.0, "Sleep stage 2"),
                                              (40.0, 3.0, "Arousal")])
    parses = []
    real = edfheader.annotation_records
    monkeypatch.setattr(edfheader, "annotation_records", lambda hdr: parses.append(hdr.path) or real(hdr))
    assert find_scoring(path) == path
    assert read_hypnogram(path, n_epochs=2).tolist() == [0, 2]
    assert [a.text for a in read_annotations(path)[0]] == ["Arousal"]
    assert len(parses) == 1
    _edf_plus(path, [(0.0, 30.0, "Sleep stage W"), (30.0, 30.0, "Sleep stage 3"), (40.0, 3.0, "Snoring")])
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a new time, whatever the clock's grain
    assert [a.text for a in read_annotations(path)[0]] == ["Snoring"]
    assert read_hypnogram(path, n_epochs=2).tolist() == [0, 3] and len(parses) == 2
