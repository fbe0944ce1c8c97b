"""The one-channel opinions (the EEG alone, the EOG alone): mixed into the probabilities as the card says, only where
a night has both channels, and the EOG's only in the epochs that have one."""

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


@pytest.fixture(scope="module")
def three(nets):
    """The same weights with eeg_opinion 0.3 and eog_opinion 0.25."""
    m = SleepStager(CONFIGS["tiny"].with_(eeg_opinion=0.3, eog_opinion=0.25)).eval()
    m.load_state_dict(nets[0].state_dict())
    return m


def _without(x: np.ndarray, channel: int) -> np.ndarray:
    out = x.copy()
    out[:, channel] = 0
    return out


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
        no_eeg = x.clone()
        no_eeg[:, 0] = 0
        eog_alone = model.epoch_features(no_eeg)
        for net in (model, FastStager(model)):
            assert net.epoch_features_opinions(x).shape[1] == 2  # the third costs a head pass: only when weighed
            got = net.epoch_features_opinions(x, eog_alone=True)
            np.testing.assert_allclose(got[:, 0].numpy(), whole.numpy(), atol=1e-5)
            np.testing.assert_allclose(got[:, 1].numpy(), alone.numpy(), atol=1e-5)
            np.testing.assert_allclose(got[:, 2].numpy(), eog_alone.numpy(), atol=1e-5)
    assert not np.allclose(whole.numpy(), alone.numpy(), atol=1e-3)
    assert not np.allclose(whole.numpy(), eog_alone.numpy(), atol=1e-3)


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
    del data["eeg_opinion"], data["eog_opinion"]
    assert ModelConfig.from_dict(data).eeg_opinion == ModelConfig.from_dict(data).eog_opinion == 0.0
    with pytest.raises(SleepScopeError, match="eeg_opinion"):
        CONFIGS["tiny"].with_(eeg_opinion=1.5)
    with pytest.raises(SleepScopeError, match="eog_opinion"):  # the whole input's weight would be negative
        CONFIGS["tiny"].with_(eeg_opinion=0.5, eog_opinion=0.6)
    assert CONFIGS["tiny"].with_(eeg_opinion=0.5, eog_opinion=0.5).eog_opinion == 0.5


def test_three_opinions_are_the_weighted_mean_and_the_card_keeps_them(nets, three, tmp_path):
    from sleepscope.model.checkpoint import load_model, save_model

    plain, mixed = nets
    x = _night()
    p = [torch.softmax(night_outputs(v, plain, threads=1)[1], -1) for v in (x, _without(x, 1), _without(x, 0))]
    got = torch.softmax(night_outputs(x, three, threads=1)[1], -1)
    np.testing.assert_allclose(got.numpy(), (0.45 * p[0] + 0.3 * p[1] + 0.25 * p[2]).numpy(), atol=1e-5)
    two = torch.softmax(night_outputs(x, mixed, threads=1)[1], -1)
    assert np.abs(got.numpy() - two.numpy()).max() > 1e-4  # control, 10x the tolerance: the EOG's opinion is in it
    save_model(three, tmp_path / "m3")
    loaded, card = load_model(tmp_path / "m3.safetensors")
    assert (card.config.eeg_opinion, card.config.eog_opinion) == (0.3, 0.25)
    np.testing.assert_allclose(predict(x, loaded, threads=1).probs, predict(x, three, threads=1).probs, atol=1e-6)


def test_epochs_whose_eog_is_zeros_get_no_eog_alone_opinion(nets, three):
    """An EOG that failed in some epochs (zeros there, ``EpochQuality.eeg_alone``) gives those epochs no EOG-alone
    opinion: it would read two absent channels. The rest of the night keeps all three."""
    plain, _ = nets
    x = _night()
    x[8:12, 1] = 0
    p = [torch.softmax(night_outputs(v, plain, threads=1)[1], -1) for v in (x, _without(x, 1), _without(x, 0))]
    got = torch.softmax(night_outputs(x, three, threads=1)[1], -1).numpy()
    failed = slice(8, 12)
    np.testing.assert_allclose(got[failed], (0.7 * p[0] + 0.3 * p[1])[failed].numpy(), atol=1e-5)
    with_eog = (0.45 * p[0] + 0.3 * p[1] + 0.25 * p[2]).numpy()
    np.testing.assert_allclose(got[:8], with_eog[:8], atol=1e-5)
    assert np.abs(got[failed] - with_eog[failed]).max() > 1e-4  # control: there it would have mattered
    # the sequence scores that validation and fine-tuning judge do the same
    xs = torch.tensor(x).reshape(2, 12, 2, 3000)
    with torch.no_grad():
        scores = torch.softmax(three.stage_scores(xs), -1).reshape(24, 5).numpy()
        seq = [torch.softmax(plain(torch.tensor(v).reshape(2, 12, 2, 3000)), -1).reshape(24, 5)
               for v in (x, _without(x, 1), _without(x, 0))]
    np.testing.assert_allclose(scores[failed], (0.7 * seq[0] + 0.3 * seq[1])[failed].numpy(), atol=1e-5)
    np.testing.assert_allclose(scores[:8], (0.45 * seq[0] + 0.3 * seq[1] + 0.25 * seq[2])[:8].numpy(), atol=1e-5)


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
