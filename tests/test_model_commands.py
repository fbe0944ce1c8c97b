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
