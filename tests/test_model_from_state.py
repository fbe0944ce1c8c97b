"""models/model_from_state.py: a stopped run's best validated weights written as a model."""

from __future__ import annotations

import pytest
import torch
from recipes import load_recipe

from sleepscope.model.checkpoint import load_model, save_model
from sleepscope.model.config import get_config
from sleepscope.model.network import SleepStager, with_normalisation
from sleepscope.model.train_state import LoopState, save_state


def _recipe():
    return load_recipe("model_from_state")


def _stopped_run(tmp_path, with_best=True):
    torch.manual_seed(0)
    init_card = save_model(SleepStager(get_config("tiny")), tmp_path / "clip")
    model = with_normalisation(load_model(tmp_path / "clip")[0], "epoch+amplitude")
    best = {k: v.clone() + 0.01 if v.is_floating_point() else v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(1, 20, 2, 3000)).sum().backward()
    opt.step()
    loop = LoopState(kind="train", step=10, epoch=2, batch_in_epoch=3, best_metric=0.7, best_epoch=1, best_step=8)
    state = save_state(tmp_path / "run", model, opt, loop, best_weights=best if with_best else None)
    return state, best, model.state_dict(), init_card


def test_the_best_weights_are_written_not_the_last_ones(tmp_path):
    state, best, last, init_card = _stopped_run(tmp_path)
    assert _recipe().main([str(state), "--init", str(tmp_path / "clip"), "--out", str(tmp_path / "parent"),
                           "--passes", "15", "--eeg-opinion", "0.5"]) == 0
    model, card = load_model(tmp_path / "parent")
    written = model.state_dict()
    assert all(torch.equal(written[k], best[k]) for k in best)
    # the control: the state's last weights are another model
    assert not all(torch.equal(written[k], last[k]) for k in best)
    assert card.parent == init_card.version and card.config.normalisation == "epoch+amplitude"
    assert card.config.eeg_opinion == 0.5
    assert card.metrics["best_pass"] == 2 and card.metrics["passes_done"] == 2
    assert "of the 15 asked for" in card.data and card.familiarity["channel_dropout"] == 0.3


def test_a_run_without_validated_weights_is_refused(tmp_path):
    state, *_ = _stopped_run(tmp_path, with_best=False)
    with pytest.raises(SystemExit, match="no validated best weights"):
        _recipe().main([str(state), "--init", str(tmp_path / "clip"), "--out", str(tmp_path / "parent")])
    assert not (tmp_path / "parent.safetensors").exists()
