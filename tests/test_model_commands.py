"""`sleepscope model-info`."""

import json

from sleepscope.cli import main
from sleepscope.model.checkpoint import ModelCard, save_model
from sleepscope.model.config import TINY
from sleepscope.model.network import SleepStager, count_parameters, macs_per_epoch


def test_model_info_of_a_configuration(capsys):
    assert main(["model-info", "--config", "tiny", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    model = SleepStager(TINY)
    assert info["parameters"] == count_parameters(model)
    assert info["macs_per_epoch"] == macs_per_epoch(model)
    assert info["config"]["name"] == "tiny" and info["trained"] is False and info["card"] is None
    assert info["stage_lengths"] == [3000, 300, 30, 10]


def test_model_info_of_a_checkpoint(tmp_path, capsys):
    card = save_model(SleepStager(TINY), tmp_path / "m", ModelCard(config=TINY, data="nothing", notes="untrained"))
    assert main(["model-info", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert card.version in out and "MACs per epoch" in out and "untrained" in out
    assert main(["model-info", str(tmp_path / "m.safetensors"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["card"]["version"] == card.version


def test_model_info_errors(tmp_path, capsys):
    assert main(["model-info", str(tmp_path / "none.safetensors")]) == 2
    assert "no model at" in capsys.readouterr().err
    assert main(["model-info", "--config", "giant"]) == 2
    assert "unknown model configuration" in capsys.readouterr().err


def test_model_info_says_how_the_probabilities_are_calibrated(tmp_path, capsys):
    calibration = {"temperature": 0.8, "confidence_map": {"x": [0.4, 0.9], "y": [0.5, 0.95]},
                   "ece_before": 0.08, "ece": 0.01, "unsure_threshold": 0.75,
                   "chin_emg": {"coefficients": [1.5, 1.25, 0.0, 0.0, -1.75], "clip": 2.0}}
    save_model(SleepStager(TINY), tmp_path / "m", ModelCard(config=TINY, calibration=calibration))
    save_model(SleepStager(TINY), tmp_path / "plain", ModelCard(config=TINY))
    assert main(["model-info", str(tmp_path / "m.safetensors")]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("calibration")][0]
    assert "temperature 0.800" in line and "confidence map (2 knots)" in line and "0.080 -> 0.010" in line
    assert "the chin EMG's relative tone (clipped to ±2) added where the night shows atonia: W +1.50" in line
    assert line.endswith("REM -1.75")
    assert main(["model-info", str(tmp_path / "plain.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "none (plain softmax" in out and "chin EMG" not in out


def test_model_info_says_what_the_familiarity_check_compares(tmp_path, capsys):
    familiarity = {"night_limit": 0.11, "channel_dropout": 0.3,
                   "second_opinion": {"scorer": "YASA test", "night_limit": 0.41}}
    save_model(SleepStager(TINY), tmp_path / "m", ModelCard(config=TINY, familiarity=familiarity))
    save_model(SleepStager(TINY), tmp_path / "plain", ModelCard(config=TINY))
    assert main(["model-info", str(tmp_path / "m.safetensors")]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("familiarity")][0]
    assert "over 11% outlying epochs" in line and "dropout 0.3" in line
    assert "the second opinion (YASA test) disagreeing on over 41%" in line
    assert main(["model-info", str(tmp_path / "plain.safetensors")]) == 0
    assert "familiarity      none (no check" in capsys.readouterr().out
