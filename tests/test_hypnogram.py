"""Hypnograms: the real Sleep-EDF file, trimming, pairing, CSV/text/EDF+ round trips."""

import gzip
import json
from datetime import datetime
from importlib import resources

import mne
import numpy as np
import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.io.hypnogram import (
    find_hypnogram,
    read_hypnogram,
    read_sleepedf_hypnogram,
    stage_runs,
    trim_wake,
    write_csv_hypnogram,
    write_edf_hypnogram,
)
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


def test_n_epochs_cuts_and_pads():
    y = read_hypnogram(REAL_HYP, n_epochs=10)
    assert len(y) == 10 and (y == 0).all()
    y = read_hypnogram(REAL_HYP, n_epochs=2900)
    assert len(y) == 2900 and (y[2880:] == Stage.UNSCORED).all()


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
