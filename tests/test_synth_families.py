"""Synthetic physiology families and randomised acquisition: API, determinism, files, the pinned family A."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from sleepscope.cli import main
from sleepscope.data import synthetic as syn
from sleepscope.errors import SleepScopeError

SHORT = np.array([0] * 5 + [1] * 3 + [2] * 8 + [3] * 6 + [2] * 2 + [4] * 5 + [-1], dtype=np.int8)


def _digest(night) -> str:
    h = hashlib.sha256()
    for group in (night.signals, night.aux):
        for k in sorted(group):
            h.update(k.encode())
            h.update(group[k].tobytes())
    return h.hexdigest()


def test_family_a_default_is_the_generator_from_before_families():
    # Caches, the paper's experiment and the shipped model's card rely on these
    # bytes: hashes taken before families and randomised acquisition existed.
    n = syn.synth_night(SHORT, subject=3, night=1, seed=7)
    assert _digest(n) == "5a2f15a6f59370a5c76b776f839eec22d4f7870fb02382d3f5edad8804df2741"
    assert _digest(syn.synth_night(SHORT, subject=3, night=1, seed=7, family="a")) == _digest(n)


def test_family_a_default_files_are_byte_identical_to_before(tmp_path):
    psg, hyp = syn.write_night(tmp_path, "SC4031E0", seed=7, labels=SHORT)
    assert hashlib.sha256(psg.read_bytes()).hexdigest() == (
        "4d3ad41e890cd44fa03948d2ace73861e9a72c408f33fd81e771082aed1b7058")
    assert hashlib.sha256(hyp.read_bytes()).hexdigest() == (
        "263a535c761c430785dca75523e8c5c2d3831b4c7d4a81571d2f2cd65d5bb478")


@pytest.mark.parametrize("family", ["A", "B"])
@pytest.mark.parametrize("randomise", [False, True])
def test_every_family_and_set_up_is_deterministic_per_seed(family, randomise):
    a = syn.synth_night(SHORT, subject=2, night=1, seed=11, family=family, randomise=randomise)
    b = syn.synth_night(SHORT, subject=2, night=1, seed=11, family=family, randomise=randomise)
    c = syn.synth_night(SHORT, subject=2, night=1, seed=12, family=family, randomise=randomise)
    assert _digest(a) == _digest(b) != _digest(c)
    assert a.family == family and a.randomised == randomise
    assert a.acquisition == b.acquisition
    for label, x in a.signals.items():
        assert x.dtype == np.float32 and len(x) == len(SHORT) * 30 * a.fs and np.isfinite(x).all()
        assert a.rates[label] == a.fs
    assert set(a.channels_of("eeg")) | set(a.channels_of("eog")) == set(a.signals)
    assert a.channels_of("eeg") and a.channels_of("eog")


def test_families_differ_but_share_the_acquisition_draw():
    a = syn.synth_night(SHORT, subject=4, night=2, seed=3, family="A", randomise=True)
    b = syn.synth_night(SHORT, subject=4, night=2, seed=3, family="B", randomise=True)
    assert a.acquisition["channels"] == b.acquisition["channels"] and a.fs == b.fs
    assert _digest(a) != _digest(b)


def test_unknown_family_is_refused(tmp_path):
    with pytest.raises(SleepScopeError, match="family"):
        syn.synth_night(SHORT, subject=0, family="Z")
    with pytest.raises(SystemExit) as exit_:
        main(["synth", "--out", str(tmp_path), "--nights", "SC4001E0", "--family", "Z", "--quiet"])
    assert exit_.value.code == 2
    with pytest.raises(SleepScopeError, match="family"):
        syn.write_cohort(tmp_path, ["SC4001E0"], family="Z")


def test_a_randomised_night_opens_through_sleepscope_io(tmp_path):
    from sleepscope.io import open_recording
    from sleepscope.io.hypnogram import find_hypnogram, read_hypnogram

    psg, hyp = syn.write_night(tmp_path, "SC4052E0", seed=1, labels=SHORT, family="B", randomise=True)
    n = syn.synth_night(SHORT, subject=5, night=2, seed=1, family="B", randomise=True)
    eeg, eog = n.channels_of("eeg")[0], n.channels_of("eog")[0]
    rec = open_recording(psg, eeg=eeg, eog=eog)
    assert rec.eeg_name == eeg and rec.eog_name == eog
    assert rec.fs == 100.0 and rec.n_epochs == len(SHORT)
    assert find_hypnogram(psg) == hyp
    assert read_hypnogram(hyp, n_epochs=rec.n_epochs).tolist() == SHORT.tolist()
    # The signal read back is the generated one (at 100 Hz after the reader's resampling).
    from sleepscope.io.recording import resample_to_target

    want = resample_to_target(n.signals[eeg], n.fs)
    assert np.corrcoef(rec.eeg, want)[0, 1] > 0.99


def test_cli_writes_a_randomised_family_b_cohort_and_marks_it(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["synth", "--out", str(out), "--nights", "SC4001E0", "--quiet", "--workers", "1",
                 "--family", "b", "--randomise"]) == 0
    assert (out / "SC4001E0-PSG.edf").exists()
    mark = json.loads((out / syn.SYNTHETIC_MARKER).read_text())
    assert mark["family"] == "B" and mark["randomised"] is True and mark["nights"] == ["SC4001E0"]
    assert "family B" in capsys.readouterr().out
    # One folder holds one cohort: another family is refused before anything is written.
    assert main(["synth", "--out", str(out), "--nights", "SC4002E0", "--quiet", "--workers", "1"]) == 2
    assert not (out / "SC4002E0-PSG.edf").exists()
