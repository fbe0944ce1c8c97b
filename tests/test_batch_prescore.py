"""`sleepscope prescore DIR…`: many recordings into their scoring files, resumable, a bad file skipped,
shared between processes by RANK / WORLD_SIZE."""

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import edfio
import numpy as np
import pytest

from sleepscope.cli import main
from sleepscope.scoring import ScoringFile


def write_recording(path, n_epochs=6, seed=0):
    rng = np.random.default_rng(seed)
    sigs = [edfio.EdfSignal(rng.normal(0, 20, n_epochs * 3000), sampling_frequency=100, label=label,
                            physical_range=(-500, 500), physical_dimension="uV")
            for label in ("EEG Fpz-Cz", "EOG horizontal")]
    path.parent.mkdir(parents=True, exist_ok=True)
    edfio.Edf(sigs, starttime=datetime(2020, 1, 1, 23).time()).write(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch

    from sleepscope.model.checkpoint import save_model, weights_version
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    torch.manual_seed(0)
    model = SleepStager(get_config("tiny"))
    path = tmp_path_factory.mktemp("model") / "tiny"
    save_model(model, path)
    return path, weights_version(model)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "nights"
    for i in range(4):
        write_recording(root / ("a" if i < 2 else "b/c") / f"night{i}.edf", seed=i)
    (root / "night0.csv").write_text("stage\nW\n")  # a hypnogram: not a recording
    edfio.Edf([], annotations=[edfio.EdfAnnotation(0, 30, "Sleep stage W")]).write(root / "a" / "events.edf")
    return root


def _scoring(path):
    return path.with_name(path.stem + ".sleepscope.h5")


def test_folder_prescored_bad_file_skipped_then_resumed(folder, tiny_model, capsys, monkeypatch):
    model, version = tiny_model
    bad = folder / "a" / "broken.edf"
    bad.write_bytes(b"0       " + b"garbage" * 40)
    rc = main(["prescore", str(folder), "--model", str(model)])
    err = capsys.readouterr().err
    assert rc == 1  # some failed
    recs = sorted(folder.rglob("night*.edf"))
    for r in recs:
        sf = ScoringFile.read(_scoring(r))
        assert list(sf.predictions) == [version] and sf.predictions[version].probs.shape == (6, 5)
        assert sf.predictions[version].reading.tolist() == [0] * 6  # kept: every epoch read as recorded
    lines = [ln for ln in err.splitlines() if ln.startswith("[")]
    assert len(lines) == 5 and sum("pre-scored by model" in ln for ln in lines) == 4  # one line per file
    assert "broken.edf: FAILED" in err and "4 pre-scored, 0 already scored by this model, 1 failed" in err
    assert "Traceback" not in err and not _scoring(bad).exists()

    # resumed: nothing read again, only the recording whose scoring file is gone
    bad.unlink()
    for leftover in recs[2].parent.glob(recs[2].stem + ".sleepscope.h5*"):  # its scoring file and journal
        leftover.unlink()
    import sleepscope.io

    opened = []
    real_open = sleepscope.io.open_recording
    monkeypatch.setattr(sleepscope.io, "open_recording", lambda p, **kw: opened.append(p) or real_open(p, **kw))
    assert main(["prescore", str(folder), "--model", str(model)]) == 0
    assert opened == [recs[2]]
    assert "1 pre-scored, 3 already scored by this model, 0 failed" in capsys.readouterr().err


def test_other_model_version_is_scored_again(folder, tiny_model, tmp_path, capsys):
    import torch

    from sleepscope.model.checkpoint import save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    model, version = tiny_model
    assert main(["prescore", str(folder), "--model", str(model), "--quiet"]) == 0
    torch.manual_seed(1)
    other = tmp_path / "other"
    card = save_model(SleepStager(get_config("tiny")), other)
    capsys.readouterr()
    assert main(["prescore", str(folder), "--model", str(other), "--quiet"]) == 0
    assert "4 pre-scored, 0 already scored" in capsys.readouterr().err
    sf = ScoringFile.read(_scoring(next(folder.rglob("night*.edf"))))
    assert set(sf.predictions) == {version, card.version}
    assert sf.latest_prediction().model_version == card.version


def _night_alone(tmp_path, labels) -> Path:
    """A 6-epoch night of noise on channels `labels`, alone in its folder."""
    rng = np.random.default_rng(0)
    sigs = [edfio.EdfSignal(rng.normal(0, 20, 6 * 3000), sampling_frequency=100, label=label,
                            physical_range=(-500, 500), physical_dimension="uV") for label in labels]
    night = tmp_path / "nights" / "night.edf"
    night.parent.mkdir()
    edfio.Edf(sigs).write(night)
    return night


def test_a_run_on_other_channels_is_scored_again(tmp_path, tiny_model, capsys):
    """A prediction kept from other channels (`--eog` naming another eye) is no reason to skip: the window would show
    it under the channels it reads now. The same channels again (control) are skipped, and so is a run that names
    none: it reads the channels chosen for the night before (the window's Model → Channels the model reads…)."""
    model, version = tiny_model
    night = _night_alone(tmp_path, ("EEG F4-M1", "EOG E1-M2", "EOG E2-M1"))
    folder = str(night.parent)
    assert main(["prescore", folder, "--model", str(model), "--eog", "EOG E2-M1"]) == 0
    assert ScoringFile.read(_scoring(night)).predictions[version].channels == ("EEG F4-M1", "EOG E2-M1")
    capsys.readouterr()
    assert main(["prescore", folder, "--model", str(model), "--eog", "EOG E2-M1"]) == 0
    assert "0 pre-scored, 1 already scored" in capsys.readouterr().err
    # none named: those kept (E2-M1), where choosing by name would read E1-M2 and score it again
    assert main(["prescore", folder, "--model", str(model)]) == 0
    assert "0 pre-scored, 1 already scored" in capsys.readouterr().err
    assert main(["prescore", folder, "--model", str(model), "--eog", "EOG E1-M2"]) == 0
    assert "1 pre-scored, 0 already scored" in capsys.readouterr().err
    assert ScoringFile.read(_scoring(night)).predictions[version].channels == ("EEG F4-M1", "EOG E1-M2")


def test_a_run_with_another_ecg_lead_is_scored_again_and_the_ecg_chosen_is_kept(tmp_path, tiny_model, capsys):
    """As for the EEG and EOG: a prediction made with the ECG's beats left in (`--ecg none`) is kept with it, a run
    naming nothing reads the night so again (skipped), and one naming the lead scores it again. Control: the same
    `--ecg none` again is skipped."""
    model, version = tiny_model
    night = _night_alone(tmp_path, ("EEG Fpz-Cz", "EOG horizontal", "ECG"))
    folder = str(night.parent)
    assert main(["prescore", folder, "--model", str(model), "--ecg", "none"]) == 0
    assert ScoringFile.read(_scoring(night)).predictions[version].ecg == "none"
    capsys.readouterr()
    assert main(["prescore", folder, "--model", str(model), "--ecg", "none"]) == 0
    assert "0 pre-scored, 1 already scored" in capsys.readouterr().err
    assert main(["prescore", folder, "--model", str(model)]) == 0
    assert "0 pre-scored, 1 already scored" in capsys.readouterr().err
    assert main(["prescore", folder, "--model", str(model), "--ecg", "ECG"]) == 0
    assert "1 pre-scored, 0 already scored" in capsys.readouterr().err
    assert ScoringFile.read(_scoring(night)).predictions[version].ecg == "ECG"
    assert main(["prescore", folder, "--model", str(model)]) == 0  # found by name now: nothing kept to differ
    assert "0 pre-scored, 1 already scored" in capsys.readouterr().err

def test_batch_mode_refuses_out_and_empty_folders(folder, tiny_model, tmp_path, capsys):
    model, _ = tiny_model
    assert main(["prescore", str(folder), "--model", str(model), "--out", str(tmp_path / "x.csv")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["prescore", str(empty), "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert "leave --out out" in err and "no EDF or BDF recording" in err and "Traceback" not in err


def test_two_processes_share_the_folder(folder, tiny_model):
    """RANK 0 and 1 of WORLD_SIZE 2 at the same time: every recording scored exactly once."""
    model, version = tiny_model
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, "-m", "sleepscope", "prescore", str(folder), "--model",
                                       str(model)], env=env, stderr=subprocess.PIPE, text=True))
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    done = [{ln.split("] ", 2)[2].split(":")[0] for ln in e.splitlines() if "pre-scored by model" in ln}
            for e in errs]
    assert done[0].isdisjoint(done[1]) and done[0] | done[1] == {f"night{i}.edf" for i in range(4)}
    assert all(len(d) == 2 for d in done) and "rank 1/2: 2 pre-scored" in errs[1]
    for r in folder.rglob("night*.edf"):
        assert list(ScoringFile.read(_scoring(r)).predictions) == [version]


@pytest.mark.skipif("yasa" not in sys.modules and __import__("importlib").util.find_spec("yasa") is None,
                    reason="the yasa extra is not installed")
def test_second_opinion_into_scoring_files(folder, tiny_model, capsys):
    model, version = tiny_model
    one = folder / "a"
    assert main(["prescore", str(one), "--model", str(model), "--quiet"]) == 0
    # the same model, now with the second opinion: scored again, YASA's stages kept as a label set
    assert main(["prescore", str(one), "--model", str(model), "--second-opinion"]) == 0
    err = capsys.readouterr().err
    assert "2 pre-scored" in err and "YASA disagrees on" in err
    sf = ScoringFile.read(_scoring(one / "night0.edf"))
    yasa_set = sf.scorer_sets["YASA"]
    assert yasa_set.source_file.startswith("yasa-") and yasa_set.labels.shape == (6,)
    assert sf.latest_prediction().model_version == version  # the model stays the suggestion shown
    assert main(["prescore", str(one), "--model", str(model), "--second-opinion"]) == 0
    assert "0 pre-scored, 2 already scored" in capsys.readouterr().err


@pytest.mark.skipif("yasa" not in sys.modules and __import__("importlib").util.find_spec("yasa") is None,
                    reason="the yasa extra is not installed")
def test_batch_says_when_the_second_opinion_makes_a_recording_unfamiliar(folder, tmp_path, capsys):
    """A card whose second-opinion limit the night exceeds gets a NOTE line per file; a lax limit is the control."""
    import re

    import torch

    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    torch.manual_seed(0)
    model = SleepStager(get_config("tiny"))
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([0.0, 0.0, 20.0, 0.0, 0.0]))  # N2 all night, whatever the signal
    one = folder / "a"
    err = {}
    for name, limit in (("strict", 0.25), ("lax", 1.0)):
        save_model(model, tmp_path / name, ModelCard(config=model.config, familiarity={
            "channel_dropout": 0.3, "second_opinion": {"scorer": "YASA test", "night_limit": limit}}))
        assert main(["prescore", str(one), "--model", str(tmp_path / f"{name}.safetensors"), "--second-opinion",
                     "--force"]) == 0
        err[name] = capsys.readouterr().err
    shares = [int(n) / 6 for n in re.findall(r"YASA disagrees on (\d+)", err["strict"])]
    assert len(shares) == 2 and all(s > 0.25 for s in shares), err["strict"]  # else the test proves nothing
    assert err["strict"].count("the second opinion, YASA test, disagrees with the model") == 2
    assert "second opinion, YASA test" not in err["lax"]


def test_the_pre_scoring_is_compared_with_the_labs_own_scoring(tmp_path, tiny_model, capsys):
    """Where the lab's scoring lies beside a recording (a hypnogram by name, or stages in its annotations), prescore
    says how the model agrees with it, per night and pooled; the figures are those of the prediction written.
    Control: a recording without one gets no such line."""
    import json

    from sleepscope.scoring.agreement import agreement

    model, version = tiny_model
    root = tmp_path / "lab"
    stages = {"night0": "W W N1 N2 N2 REM", "night1": "W W W N3 N3 W"}  # differ wherever the model stands
    for i, name in enumerate(("night0", "night1", "night2")):
        write_recording(root / f"{name}.edf", seed=i)
        if name in stages:
            (root / f"{name}.csv").write_text("stage\n" + "\n".join(stages[name].split()) + "\n")
    assert main(["prescore", str(root), "--model", str(model)]) == 0
    err = capsys.readouterr().err
    labs, preds = [], []
    for name, text in stages.items():
        lab = np.array([{"W": 0, "N1": 1, "N2": 2, "N3": 3, "REM": 4}[s] for s in text.split()])
        pred = ScoringFile.read(_scoring(root / f"{name}.edf")).predictions[version].stages
        a = agreement(lab, pred)
        assert f"{name}.edf: against the lab's scoring ({name}.csv): 6 epochs, accuracy {a.accuracy:.3f}" in err
        labs.append(lab)
        preds.append(pred)
    assert "night2.edf: against" not in err
    pooled = agreement(np.concatenate(labs), np.concatenate(preds))
    assert f"against the lab's own scoring of 2 recordings (12 epochs): accuracy {pooled.accuracy:.3f}" in err

    # one recording: the same comparison on stderr and in the JSON; its own stage annotations count too
    edf = edfio.read_edf(root / "night2.edf")
    edf.add_annotations([edfio.EdfAnnotation(30.0 * i, 30.0, f"Sleep stage {s}") for i, s in enumerate("WW1222")])
    edf.write(root / "night2.edf")
    out = tmp_path / "night2.json"
    assert main(["prescore", str(root / "night2.edf"), "--model", str(model), "--json", "--out", str(out)]) == 0
    assert "against the lab's scoring (stages in night2.edf): 6 epochs" in capsys.readouterr().err
    shown = json.loads(out.read_text())
    lab = np.array([0, 0, 1, 2, 2, 2])
    model_stages = np.array([{"W": 0, "N1": 1, "N2": 2, "N3": 3, "REM": 4}[e["stage"]] for e in shown["epochs"]])
    assert shown["lab_scoring"]["accuracy"] == pytest.approx(agreement(lab, model_stages).accuracy)


def test_two_recordings_sharing_a_name_each_get_their_scoring(tmp_path, tiny_model, capsys):
    """A night's raw `night.rec` and its `night.edf` export side by side: the second was refused ('night.sleepscope.h5
    belongs to another recording') and could be neither pre-scored nor scored. It gets `night.rec.sleepscope.h5`,
    found again by every path that looks beside a recording. A recording re-exported under its own name (its old
    scoring's recording gone) is still refused, so that nobody scores a changed file on an old scoring."""
    from sleepscope.errors import SleepScopeError
    from sleepscope.io import open_recording
    from sleepscope.model.batch_prescore import existing_scoring_files
    from sleepscope.scoring.locations import scoring_beside

    model, version = tiny_model
    edf = write_recording(tmp_path / "night.edf", seed=1)
    rec = tmp_path / "night.rec"
    rec.write_bytes(write_recording(tmp_path.parent / f"{tmp_path.name}-x.edf", seed=2).read_bytes())
    assert main(["prescore", str(tmp_path), "--model", str(model)]) == 0
    assert "2 pre-scored, 0 already scored by this model, 0 failed" in capsys.readouterr().err
    plain, full = tmp_path / "night.sleepscope.h5", tmp_path / "night.rec.sleepscope.h5"
    assert ScoringFile.read(plain).identity.file_name == "night.edf"
    assert ScoringFile.read(full).identity.file_name == "night.rec"
    assert scoring_beside(rec) == full and scoring_beside(edf) == plain
    assert existing_scoring_files(rec, ScoringFile.read(full).identity.fingerprint) == [full]
    with ScoringFile.open(open_recording(rec)) as sf:
        assert sf.path == full
    assert main(["prescore", str(tmp_path), "--model", str(model)]) == 0
    assert "0 pre-scored, 2 already scored by this model" in capsys.readouterr().err
    # control: night.edf re-exported with other content, nothing else beside it of that name
    full.unlink()
    rec.unlink()
    for p in tmp_path.glob("night.rec.sleepscope.h5*"):
        p.unlink()
    write_recording(edf, seed=3)
    with pytest.raises(SleepScopeError, match="belongs to another recording"):
        ScoringFile.open(open_recording(edf))


def test_batch_says_when_a_nights_suggestions_are_unlike_any_real_night(tmp_path, capsys):
    """A model that suggests N2 for five hours without one wake epoch gets a NOTE for the night; one that suggests
    wake throughout (too little sleep to judge a night's mix) does not (control)."""
    import torch

    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    night = write_recording(tmp_path / "nights" / "long.edf", n_epochs=600)
    err = {}
    for name, stage in (("n2", 2), ("wake", 0)):
        torch.manual_seed(0)
        model = SleepStager(get_config("tiny"))
        with torch.no_grad():
            bias = torch.zeros(5)
            bias[stage] = 20.0
            model.classifier.bias.copy_(bias)
        save_model(model, tmp_path / name, ModelCard(config=model.config))
        assert main(["prescore", str(night.parent), "--model", str(tmp_path / f"{name}.safetensors"),
                     "--force"]) == 0
        err[name] = capsys.readouterr().err
    assert "NOTE: the suggested stages are unlike any real night's scoring (no epoch of its 5.0 scored hours is " \
           "wake)" in err["n2"]
    assert "unlike any real night's" not in err["wake"]


def test_a_night_whose_electrode_came_off_is_said_in_the_batch(tmp_path, tiny_model, capsys):
    """A folder pre-scored overnight: the night with a flat EEG stretch gets the NOTE one recording's prescore
    gives, so the lab sees which night holds epochs without a stage; the intact night (control) gets none."""
    model, _ = tiny_model
    write_recording(tmp_path / "nights" / "intact.edf", seed=0)
    flat = write_recording(tmp_path / "nights" / "flat.edf", seed=1)
    import edfio

    edf = edfio.read_edf(flat)
    eeg = edf.signals[0].data.copy()
    eeg[3 * 3000:5 * 3000] = 0.0
    edf.signals[0].update_data(eeg)
    edf.write(flat)
    assert main(["prescore", str(tmp_path / "nights"), "--model", str(model)]) == 0
    notes = [ln for ln in capsys.readouterr().err.splitlines() if ": NOTE: " in ln]
    assert notes == ["[1/2] flat.edf: NOTE: 2 artefact epochs without a confident stage (2 EEG flat)"]
