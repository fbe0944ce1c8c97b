"""The current model's confident reading of uncorrected epochs, learnt for the stages the corrections hardly hold."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sleepscope.model.parent_reading import SOURCE, for_scarce_stages, from_scoring, in_stretches, of_night
from sleepscope.scoring.corrections import CorrectionSet, build_correction_set

REM = 4


def _set(y: np.ndarray, epochs: np.ndarray | None = None, fp: str = "a") -> CorrectionSet:
    n = len(y)
    epochs = np.arange(n) if epochs is None else epochs
    return CorrectionSet(np.zeros((n, 2, 3000), np.float32), np.asarray(y, np.int64), np.full(n, fp).astype(str),
                         np.asarray(epochs, np.int64), np.full(n, SOURCE).astype(str), {fp: f"{fp}.edf"})


def test_of_night_keeps_the_confident_uncorrected_epochs_with_the_parents_stage():
    probs = np.full((10, 5), 0.01)
    probs[np.arange(10), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]] = 0.96
    probs[7] = 0.2  # unsure
    x = np.arange(10, dtype=np.float32)[:, None, None] * np.ones((10, 2, 3000), np.float32)
    out = of_night(x, probs, corrected=np.array([0, 1]), fingerprint="fp", name="n.edf",
                   exclude=np.arange(10) == 9)
    assert out.epoch.tolist() == [2, 3, 4, 5, 6, 8]
    assert out.y.tolist() == [2, 3, 4, 0, 1, 3]
    assert (out.x[:, 0, 0] == out.epoch).all() and set(out.source) == {SOURCE}
    assert out.recording_files == {"fp": "n.edf"}


def test_in_stretches_draws_whole_stretches_from_everywhere_and_keeps_a_small_set():
    cs = _set(np.zeros(1000, np.int64))
    out = in_stretches(cs, 200, stretch=20, seed=1)
    assert 200 <= len(out) < 220
    gaps = np.diff(out.epoch)
    starts = np.concatenate([[0], np.flatnonzero(gaps > 1) + 1])
    # stretches start on the 20-epoch grid and cover far more of the night than its first 220 epochs
    assert all(out.epoch[s] % 20 == 0 for s in starts) and out.epoch.max() > 500
    assert in_stretches(cs, 200, seed=1).epoch.tolist() == out.epoch.tolist()  # the seed decides
    assert in_stretches(cs, 200, seed=2).epoch.tolist() != out.epoch.tolist()
    small = _set(np.zeros(30, np.int64))
    assert in_stretches(small, 200).epoch.tolist() == list(range(30))


def test_only_the_stages_the_corrections_hardly_hold_at_most_a_share_of_each():
    confident = _set(np.repeat(np.arange(5), 300))  # 300 confident epochs of each stage
    corrections = _set(np.r_[np.repeat([0, 1, 2, 3], 25), np.full(5, REM)], fp="c")
    out = for_scarce_stages(confident, corrections, minimum=20, per_stage=200)
    assert set(out.y.tolist()) == {REM} and 200 <= len(out) < 220
    # control: corrections holding 20 or more of every stage add nothing
    enough = _set(np.repeat(np.arange(5), 20), fp="c")
    assert len(for_scarce_stages(confident, enough, minimum=20, per_stage=200)) == 0


def _rem_sure_model(path: Path) -> Path:
    """A tiny stager that reads every epoch REM at p > 0.99."""
    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    torch.manual_seed(0)
    m = SleepStager(get_config("tiny"))
    with torch.no_grad():
        m.classifier.bias[REM] = 30.0
    save_model(m, path, ModelCard(config=m.config, data="tiny, reads REM everywhere (tests)"))
    return path.with_suffix(".safetensors")


def _scored_night(folder: Path, labels: np.ndarray, n: int = 200) -> tuple[Path, Path]:
    """A synthetic n-epoch night whose first epochs a technician labelled `labels`."""
    from sleepscope.data.synthetic import write_night
    from sleepscope.io import open_recording
    from sleepscope.scoring.scoring_file import ScoringFile
    from test_finetune import night_labels

    psg, _ = write_night(folder, "SC4011E0", labels=night_labels("SC4011E0", n))
    with ScoringFile.open(open_recording(psg), scorer="tech") as sf:
        sf.set_stages(np.arange(labels.size), labels, source="technician")
        return psg, sf.path


NO_REM = np.tile(np.repeat(np.arange(4, dtype=np.int8), 20), 2)  # 160 epochs: 40 of W, N1, N2, N3; no REM


def test_from_scoring_reads_the_recordings_uncorrected_epochs_for_the_missing_stage(tmp_path):
    from sleepscope.model.checkpoint import load_model

    model, _ = load_model(_rem_sure_model(tmp_path / "rem"))
    _, scoring = _scored_night(tmp_path / "night", NO_REM)
    cs = build_correction_set([scoring], normalisation=model.config.normalisation)
    out = from_scoring([scoring], cs, model)
    assert len(out) == 40 and set(out.y.tolist()) == {REM}  # the 40 uncorrected epochs, all read REM
    assert out.epoch.min() >= 160 and set(out.source) == {SOURCE} and not out.skipped
    # control: corrections that hold REM as well get nothing added
    every = np.r_[NO_REM, np.full(20, REM, np.int8)]
    _, scoring = _scored_night(tmp_path / "every", every)
    cs = build_correction_set([scoring], normalisation=model.config.normalisation)
    assert len(from_scoring([scoring], cs, model)) == 0


def test_finetune_learns_the_parents_reading_when_asked_and_says_so(tmp_path, capsys):
    from sleepscope.cli import main

    parent = _rem_sure_model(tmp_path / "rem")
    _, scoring = _scored_night(tmp_path / "night", NO_REM)
    base = ["finetune", "--scoring", str(scoring), "--from", str(parent), "--epochs", "1", "--min-steps", "2",
            "--progress", "none"]
    assert main([*base, "--out", str(tmp_path / "child"), "--parent-reading"]) == 0
    ft = json.loads((tmp_path / "child.json").read_text())["metrics"]["finetune"]
    assert ft["parent_reading"] == {"REM": 40} and ft["n_pseudo"] == 40 and ft["n_corrections"] == 160
    err = capsys.readouterr().err
    assert "confident reading of REM" in err and "sleepscope: note: only 160 corrected epochs" in err
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0  # off by default
    ft = json.loads((tmp_path / "plain.json").read_text())["metrics"]["finetune"]
    assert ft["parent_reading"] == {} and ft["n_pseudo"] == 0
    err = capsys.readouterr().err
    assert "few corrected epochs of REM (0)" in err and "confident reading" not in err  # the note says what is done


def test_the_parents_reading_is_learned_from_the_input_the_parent_read(tmp_path):
    """F4-M1 flat in five uncorrected epochs beside a clean F3-M2: the parent read F3-M2 there, and the epochs
    added to fine-tuning hold that, not the flat channel the recording holds."""
    from test_backups import signals, write_night

    from sleepscope.io import open_recording
    from sleepscope.model.backups import read_for_model
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.inputs import model_input
    from sleepscope.scoring.scoring_file import ScoringFile

    chans = signals(n_epochs=200)
    chans["EEG F4-M1"][170 * 3000:175 * 3000] = 0.0
    rec = open_recording(write_night(tmp_path / "night.edf", chans))
    with ScoringFile.open(rec, scorer="tech") as sf:
        sf.set_stages(np.arange(NO_REM.size), NO_REM, source="technician")
        scoring = sf.path
    model, _ = load_model(_rem_sure_model(tmp_path / "rem"))
    out = from_scoring([scoring], build_correction_set([scoring], normalisation=model.config.normalisation), model)
    assert out.epoch.tolist() == list(range(160, 200))
    np.testing.assert_array_equal(out.x, read_for_model(rec, model.config.normalisation).x[160:])
    flat = slice(10, 15)  # epochs 170-174
    assert out.x[flat, 0].any() and not model_input(rec, model.config.normalisation)[170:175, 0].any()
