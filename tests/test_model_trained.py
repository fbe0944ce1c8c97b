"""A tiny stager trained in-test for a few steps on a synthetic night: it learns, and the
`prescore` command runs it end to end on the real Sleep-EDF fixture. Nothing here is a
trained model of real sleep: the weights only learn the synthetic sinusoids below."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sleepscope.cli import main
from sleepscope.io import zscore_epochs
from sleepscope.model.checkpoint import ModelCard, load_model, save_model
from sleepscope.model.config import TINY
from sleepscope.model.infer import predict as _predict
from sleepscope.model.network import SleepStager


def predict(*args, **kwargs):
    return _predict(*args, threads=1, **kwargs)


DATA = Path(__file__).parent / "data"
#: EEG frequency per stage (Hz), spaced widely so that a few steps can separate them
EEG_HZ = (12.0, 6.0, 3.0, 0.75, 6.0)


def synthetic_night(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """(n, 2, 3000) z-scored epochs: a stage-specific EEG sinusoid, EOG bursts in W and REM."""
    rng = np.random.default_rng(seed)
    t = np.arange(3000) / 100.0
    x = np.empty((len(labels), 2, 3000), np.float32)
    for i, s in enumerate(labels):
        x[i, 0] = np.sin(2 * np.pi * EEG_HZ[s] * t + rng.uniform(0, 6.3)) + 0.3 * rng.standard_normal(3000)
        eog = 0.3 * rng.standard_normal(3000)
        if s in (0, 4):  # eye movements tell REM from N1 (same EEG frequency)
            eog += np.sign(np.sin(2 * np.pi * 0.5 * t + rng.uniform(0, 6.3))) * 2
        x[i, 1] = eog
    return zscore_epochs(x)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.manual_seed(0)
    labels = np.repeat(np.array([0, 1, 2, 3, 2, 4, 2, 0]), 6)  # 48 epochs, stage runs as in a night
    x = synthetic_night(labels)
    model = SleepStager(TINY)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xs = torch.from_numpy(x).reshape(8, 6, 2, 3000)
    ys = torch.from_numpy(labels).long().reshape(8, 6)
    model.train()
    # One thread: on a shared CI machine, spinning worker threads make small convolutions far slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for _ in range(25):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xs).reshape(-1, 5), ys.reshape(-1))
        loss.backward()
        opt.step()
    # After so few steps the running batch-norm statistics lag the weights: recompute them.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        model(xs)
    torch.set_num_threads(threads)
    model.eval()
    path = tmp_path_factory.mktemp("models") / "tiny-synthetic"
    card = save_model(model, path, ModelCard(
        config=TINY, data="48 synthetic epochs (stage-specific sinusoids), 25 Adam steps",
        notes="test fixture: learns the synthetic signals only, not real sleep"))
    return model, card, Path(str(path) + ".safetensors")


def test_a_few_steps_learn_the_synthetic_stages(trained):
    model, card, path = trained
    labels = np.array([2, 2, 0, 0, 3, 3, 3, 4, 4, 1, 1, 2, 2, 2, 0])
    pred = predict(synthetic_night(labels, seed=9), load_model(path)[0], device="cpu")
    assert pred.model_version == card.version
    assert (pred.stages == labels).mean() >= 0.6  # chance is 0.2


def test_prescore_writes_csv(trained, tmp_path):
    _, card, path = trained
    out = tmp_path / "night.csv"
    assert main(["prescore", str(DATA / "SC4001E0-PSG-first300s.edf"), "--model", str(path),
                 "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 10  # 300 s
    assert list(rows[0]) == ["epoch", "onset_s", "stage", "p_W", "p_N1", "p_N2", "p_N3", "p_REM", "unsure",
                             "artefact", "read_from"]
    assert all(r["artefact"] == "0" and r["read_from"] == "" for r in rows)  # real wake: read as recorded
    assert [int(r["epoch"]) for r in rows] == list(range(10))
    assert [float(r["onset_s"]) for r in rows] == [30.0 * i for i in range(10)]
    for r in rows:
        p = [float(r[k]) for k in ("p_W", "p_N1", "p_N2", "p_N3", "p_REM")]
        assert abs(sum(p) - 1) < 1e-4 and r["stage"] == ("W", "N1", "N2", "N3", "REM")[int(np.argmax(p))]


def test_prescore_json_and_channels(trained, tmp_path):
    _, card, path = trained
    out = tmp_path / "night.json"
    assert main(["prescore", str(DATA / "SC4001E0-PSG-first300s.edf"), "--model", str(path), "--json",
                 "--out", str(out), "--eeg", "EEG Pz-Oz", "--eog", "EOG horizontal", "--quiet"]) == 0
    data = json.loads(out.read_text())
    assert data["model_version"] == card.version and data["eeg"] == "EEG Pz-Oz"
    assert len(data["epochs"]) == 10 and set(data["epochs"][0]) >= {"stage", "p_REM"}


def test_prescore_without_a_model_is_an_error(tmp_path, capsys):
    rc = main(["prescore", str(DATA / "SC4001E0-PSG-first300s.edf"), "--model", str(tmp_path / "x.safetensors"),
               "--quiet"])
    assert rc == 2 and "no model at" in capsys.readouterr().err
