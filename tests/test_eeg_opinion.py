"""The EEG-alone second opinion: mixed into the probabilities as the card says, only where a night has both channels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sleepscope.errors import SleepScopeError
from sleepscope.model.config import CONFIGS, ModelConfig
from sleepscope.model.infer import night_outputs, predict
from sleepscope.model.network import SleepStager


@pytest.fixture(scope="module")
def nets():
    """(one-opinion model, the same weights with eeg_opinion 0.3)."""
    torch.manual_seed(0)
    plain = SleepStager(CONFIGS["tiny"]).eval()
    with torch.no_grad():  # a random network is nearly uniform: make its opinions decided enough to differ
        plain.classifier.weight.mul_(200.0)
    mixed = SleepStager(CONFIGS["tiny"].with_(eeg_opinion=0.3)).eval()
    mixed.load_state_dict(plain.state_dict())
    return plain, mixed


def _night(n: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2, 3000)).astype(np.float32)


def test_the_mixture_is_the_weighted_mean_of_the_two_opinions(nets):
    plain, mixed = nets
    x = _night()
    _, whole, _ = night_outputs(x, plain, threads=1)
    eeg_alone = x.copy()
    eeg_alone[:, 1] = 0
    _, eeg, _ = night_outputs(eeg_alone, plain, threads=1)
    feats, got, version = night_outputs(x, mixed, threads=1)
    expected = 0.7 * torch.softmax(whole, -1) + 0.3 * torch.softmax(eeg, -1)
    np.testing.assert_allclose(torch.softmax(got, -1).numpy(), expected.numpy(), atol=1e-5)
    assert not np.allclose(torch.softmax(got, -1).numpy(), torch.softmax(whole, -1).numpy(), atol=1e-3)
    np.testing.assert_array_equal(feats.numpy(), night_outputs(x, plain, threads=1)[0].numpy())
    assert version == night_outputs(x, plain, threads=1)[2]  # same weights, same version


@pytest.mark.parametrize("missing", [0, 1])
def test_one_channel_nights_get_one_opinion(nets, missing):
    plain, mixed = nets
    x = _night()
    x[:, missing] = 0
    np.testing.assert_array_equal(night_outputs(x, mixed, threads=1)[1].numpy(),
                                  night_outputs(x, plain, threads=1)[1].numpy())


@pytest.mark.parametrize("normalisation", ["epoch", "epoch+amplitude"])
def test_one_pass_gives_both_opinions_features_in_both_forms(normalisation):
    from sleepscope.model.fast_eval import FastStager

    torch.manual_seed(1)
    model = SleepStager(CONFIGS["tiny"].with_(normalisation=normalisation)).eval()
    if normalisation == "epoch+amplitude":  # it starts as the identity: make it read the amplitude inputs
        torch.nn.init.normal_(model.amplitude.out.weight)
    x = torch.tensor(_night(6)) + torch.tensor([0.5, -1.0]).view(1, 2, 1)  # amplitudes of both channels
    no_eog = x.clone()
    no_eog[:, 1] = 0
    with torch.no_grad():
        whole, alone = model.epoch_features(x), model.epoch_features(no_eog)
        for net in (model, FastStager(model)):
            pair = net.epoch_features_pair(x)
            np.testing.assert_allclose(pair[:, 0].numpy(), whole.numpy(), atol=1e-5)
            np.testing.assert_allclose(pair[:, 1].numpy(), alone.numpy(), atol=1e-5)
    assert not np.allclose(whole.numpy(), alone.numpy(), atol=1e-3)


def test_predict_applies_it_and_the_card_keeps_it(nets, tmp_path):
    from sleepscope.model.checkpoint import load_model, save_model

    plain, mixed = nets
    x = _night()
    assert not np.allclose(predict(x, mixed, threads=1).probs, predict(x, plain, threads=1).probs, atol=1e-3)
    save_model(mixed, tmp_path / "m")
    loaded, card = load_model(tmp_path / "m.safetensors")
    assert card.config.eeg_opinion == 0.3
    np.testing.assert_allclose(predict(x, loaded, threads=1).probs, predict(x, mixed, threads=1).probs, atol=1e-6)


def test_cards_from_before_the_option_mean_one_opinion_and_bad_weights_are_refused():
    data = CONFIGS["tiny"].to_dict()
    del data["eeg_opinion"]
    assert ModelConfig.from_dict(data).eeg_opinion == 0.0
    with pytest.raises(SleepScopeError, match="eeg_opinion"):
        CONFIGS["tiny"].with_(eeg_opinion=1.5)


def test_sequence_scores_mix_the_opinions_as_pre_scoring_does(nets):
    from sleepscope.model.network import mix_opinions
    from sleepscope.model.train import predict_dataset

    plain, mixed = nets
    x = torch.tensor(_night(12)).reshape(3, 4, 2, 3000)
    x[2, :, 1] = 0  # a sequence without EOG: one opinion
    no_eog = x.clone()
    no_eog[:, :, 1] = 0
    with torch.no_grad():
        got = mixed.stage_scores(x)
        expected = mix_opinions(plain(x), plain(no_eog), 0.3)
        np.testing.assert_allclose(got[:2].numpy(), expected[:2].numpy(), atol=1e-5)
        np.testing.assert_allclose(got[2].numpy(), plain(x)[2].numpy(), atol=1e-5)
        np.testing.assert_array_equal(plain.stage_scores(x).numpy(), plain(x).numpy())
    # validation and fine-tuning's child-versus-parent figures judge what pre-scoring will show: its scores

    class ScoresSay3(SleepStager):
        def stage_scores(self, x):
            out = torch.zeros(*x.shape[:2], 5)
            out[..., 3] = 1
            return out

    probe = ScoresSay3(CONFIGS["tiny"]).eval()
    y = torch.zeros(3, 4, dtype=torch.long)
    _, stages = predict_dataset(probe, torch.utils.data.TensorDataset(x, y), 8, torch.device("cpu"))
    assert (stages == 3).all()
