"""Batch-norm statistics of the night being scored: taken over its sleep period, only where there is one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sleepscope.model.config import CONFIGS, ModelConfig
from sleepscope.model.infer import night_outputs
from sleepscope.model.network import SleepStager
from sleepscope.model.night_norm import MIN_EPOCHS, sample_epochs, sleep_window, with_statistics


def _stages(n_sleep: int = 600, wake: int = 100) -> np.ndarray:
    rng = np.random.default_rng(0)
    sleep = rng.choice([1, 2, 2, 2, 3, 4], size=n_sleep)
    sleep[rng.random(n_sleep) < 0.08] = 0  # wake after sleep onset
    return np.concatenate([np.zeros(wake, int), sleep, np.zeros(wake, int)])


def test_hours_of_wake_around_the_night_do_not_move_the_sample():
    night = _stages()
    padded = np.concatenate([np.zeros(1200, int), night, np.zeros(1200, int)])
    padded[400] = 2  # a stray epoch scored sleep in the afternoon
    np.testing.assert_array_equal(sample_epochs(padded), sample_epochs(night) + 1200)
    w, unpadded = sleep_window(padded), sleep_window(night)
    assert (w.start, w.stop) == (1200 + unpadded.start, 1200 + unpadded.stop)
    assert 30 <= unpadded.start <= 50 and len(night) - 50 <= unpadded.stop <= len(night) - 30  # 30 min of wake kept


def test_unscored_epochs_are_left_out_of_the_sample():
    night = _stages()
    night[100:140] = -1
    idx = sample_epochs(night)
    assert (night[idx] >= 0).all() and len(idx) == 512


@pytest.mark.parametrize("stages", [np.full(10, 0), np.full(3000, 0), np.full(MIN_EPOCHS - 1, 2)],
                         ids=["5-min clip", "a day of wake", "under two hours of sleep"])
def test_no_sleep_period_long_enough_keeps_the_trained_statistics(stages):
    assert sample_epochs(stages) is None


@pytest.fixture(scope="module")
def net() -> SleepStager:
    torch.manual_seed(0)
    m = SleepStager(CONFIGS["tiny"]).eval()
    with torch.no_grad():
        m.classifier.bias.zero_()
        m.classifier.bias[2] = 50.0  # every epoch N2: the whole night is its sleep period
    return m


def _night(n: int, seed: int = 0, eog: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (3.0 * rng.standard_normal((n, 2, 3000)) + 1.0).astype(np.float32)
    if not eog:
        x[:, 1] = 0
    return x


def test_the_statistics_are_the_nights(net):
    x = _night(256)
    stages = np.full(256, 2)
    adapted = with_statistics(net, x[sample_epochs(stages)])
    first = adapted.eeg_branch.encoder.stages[0].conv_in  # the first batch norm: its input is the raw epoch's convolution
    with torch.no_grad():
        inputs = first.conv(torch.from_numpy(x[:, 0:1]))
    np.testing.assert_allclose(first.bn.running_mean.numpy(), inputs.mean(dim=(0, 2)).numpy(), rtol=1e-3, atol=1e-4)
    trained = net.eeg_branch.encoder.stages[0].conv_in.bn.running_mean
    assert not np.allclose(trained.numpy(), first.bn.running_mean.numpy(), atol=1e-3)
    assert trained.abs().max() == 0  # the model itself keeps its (here untrained) statistics


@pytest.mark.parametrize("eog", [True, False], ids=["both channels", "EOG absent"])
def test_the_encoders_of_present_channels_take_the_nights_statistics(net, eog):
    x = _night(256, eog=eog)
    adapted = with_statistics(net, x[sample_epochs(np.full(256, 2))])
    for (name, a), (_, b) in zip(net.named_buffers(), adapted.named_buffers()):
        if "running_" in name:
            moved = ".encoder." in name and (eog or not name.startswith("eog_branch."))
            assert torch.equal(a, b) != moved, name


def test_scoring_with_night_statistics_is_the_mean_of_both_passes(net):
    flagged = SleepStager(net.config.with_(night_statistics=True)).eval()
    flagged.load_state_dict(net.state_dict())
    with torch.no_grad():  # an opinion that varies from epoch to epoch, still all N2
        flagged.classifier.weight.normal_(0, 1.0)
        net_like = SleepStager(net.config).eval()
        net_like.load_state_dict(flagged.state_dict())
    x = _night(300, seed=1)
    _, plain_logits, version = night_outputs(x, net_like, threads=1)
    adapted = with_statistics(net_like, x[sample_epochs(plain_logits.numpy().argmax(axis=1))])
    _, expected, _ = night_outputs(x, adapted, threads=1)
    feats, got, got_version = night_outputs(x, flagged, threads=1)
    mean = 0.5 * torch.softmax(plain_logits, -1) + 0.5 * torch.softmax(expected, -1)
    np.testing.assert_allclose(torch.softmax(got, -1).numpy(), mean.numpy(), atol=1e-5)
    assert not np.allclose(got.numpy(), expected.numpy(), atol=1e-3)
    assert not np.allclose(got.numpy(), plain_logits.numpy(), atol=1e-3)
    assert got_version == version  # the weights' version: the statistics are the night's, not the model's


def test_a_short_recording_scores_as_without_the_option(net):
    flagged = SleepStager(net.config.with_(night_statistics=True)).eval()
    flagged.load_state_dict(net.state_dict())
    x = _night(40)
    np.testing.assert_array_equal(night_outputs(x, flagged, threads=1)[1].numpy(),
                                  night_outputs(x, net, threads=1)[1].numpy())


def test_progress_runs_to_its_end_with_and_without_a_second_pass(net):
    flagged = SleepStager(net.config.with_(night_statistics=True)).eval()
    flagged.load_state_dict(net.state_dict())
    for n in (40, 300):
        seen = []
        night_outputs(_night(n), flagged, threads=1, progress=lambda d, t, m: seen.append((d, t)))
        assert seen[-1][0] == seen[-1][1] == 2 * (n + 1)
        assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


def test_cards_without_the_option_score_as_before():
    cfg = ModelConfig.from_dict({k: v for k, v in CONFIGS["tiny"].to_dict().items() if k != "night_statistics"})
    assert cfg.night_statistics is False


def test_a_prediction_says_over_which_epochs_its_night_statistics_were_taken(net, capsys):
    from sleepscope.io import Recording
    from sleepscope.model.commands import print_prediction_notes
    from sleepscope.model.infer import predict

    flagged = SleepStager(net.config.with_(night_statistics=True)).eval()
    flagged.load_state_dict(net.state_dict())
    rng = np.random.default_rng(2)
    for n, expected in ((300, (0, 300)), (40, None)):
        rec = Recording.from_arrays(*(30.0 * rng.standard_normal((2, n * 3000))).astype(np.float32))
        pred = predict(rec, flagged, threads=1)
        assert pred.night_statistics == expected and pred.to_dict()["night_statistics"] == (
            None if expected is None else list(expected))
        assert predict(rec, net, threads=1).night_statistics is None  # the control: a model without the option
        print_prediction_notes(pred, rec)
        said = capsys.readouterr().err
        assert ("own statistics" in said) == (expected is not None), said
        if expected is not None:
            assert "epochs 1-300 of 300" in said
