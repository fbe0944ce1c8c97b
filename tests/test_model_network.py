"""The two-branch U2-Net: shapes, gradients, fusion, embeddings, MAC counting, configs."""

import json

import pytest
import torch
from torch import nn

from sleepscope.errors import SleepScopeError
from sleepscope.model.blocks import PDC, RSU, fuse
from sleepscope.model.config import CONFIGS, ModelConfig, TINY, get_config
from sleepscope.model.network import (SleepStager, count_macs, count_parameters, fold_batchnorm,
                                      macs_per_epoch)


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return SleepStager(TINY)


@pytest.mark.parametrize("seq_len", [1, 20])
def test_forward_shapes(tiny, seq_len):
    x = torch.randn(2, seq_len, 2, 3000)
    assert tiny(x).shape == (2, seq_len, 5)


@pytest.mark.parametrize("seq_len", [1, 3])
def test_default_config_with_stem_shapes(seq_len):
    model = SleepStager(CONFIGS["default"])
    assert model(torch.randn(1, seq_len, 2, 3000)).shape == (1, seq_len, 5)
    assert model.fused(torch.randn(2, 2, 3000)).shape == (2, 16, 150)
    assert model.encode(torch.randn(2, 2, 3000))[1].shape == (2, 128)


def test_tiny_is_tiny_and_paper_is_paper_sized():
    assert count_parameters(SleepStager(TINY)) < 20_000
    paper = count_parameters(SleepStager(CONFIGS["paper"]))
    assert 2_000_000 < paper < 10_000_000  # SalientSleepNet: about 4.3 M


def test_gradients_reach_both_branches(tiny):
    x = torch.randn(2, 3, 2, 3000)
    loss = nn.functional.cross_entropy(tiny(x).reshape(-1, 5), torch.tensor([0, 1, 2, 3, 4, 0]))
    loss.backward()
    for branch in (tiny.eeg_branch, tiny.eog_branch):
        first = branch.encoder.stages[0].conv_in.conv.weight.grad
        assert first is not None and first.abs().sum() > 0
        assert branch.attention.saliency.weight.grad.abs().sum() > 0


def test_fusion_is_equation_1():
    x1 = torch.tensor([[1.0, -2.0, 0.5]])
    x2 = torch.tensor([[3.0, 4.0, -1.0]])
    assert torch.equal(fuse(x1, x2), torch.tensor([[1 + 3 + 3.0, -2 + 4 - 8.0, 0.5 - 1 - 0.5]]))


def test_model_fuses_the_two_branches_by_equation_1(tiny):
    tiny.eval()
    x = torch.randn(3, 2, 3000)
    with torch.no_grad():
        a, b = tiny.eeg_branch(x[:, :1]), tiny.eog_branch(x[:, 1:])
        assert torch.allclose(tiny.fused(x), a + b + a * b)


def test_embeddings_have_the_documented_size(tiny):
    eeg, eog = tiny.encode(torch.randn(7, 2, 3000))
    assert eeg.shape == eog.shape == (7, TINY.embedding_dim)
    assert SleepStager(CONFIGS["paper"]).config.embedding_dim == 128
    # each embedding depends on its own modality only
    x = torch.randn(2, 2, 3000)
    y = x.clone()
    y[:, 1] = torch.randn(2, 3000)
    tiny.eval()
    with torch.no_grad():
        assert torch.equal(tiny.encode(x)[0], tiny.encode(y)[0])
        assert not torch.equal(tiny.encode(x)[1], tiny.encode(y)[1])


def test_encoders_can_be_frozen(tiny):
    for p in tiny.eeg_encoder.parameters():
        p.requires_grad_(False)
    tiny(torch.randn(1, 2, 2, 3000)).sum().backward()
    assert all(p.grad is None for p in tiny.eeg_branch.encoder.parameters())
    assert tiny.eog_encoder.stages[0].conv_in.conv.weight.grad is not None


def test_mac_counter_matches_a_hand_count():
    conv = nn.Conv1d(3, 4, 5, padding=2)
    assert count_macs(conv, torch.zeros(1, 3, 100)) == 100 * 4 * 3 * 5
    lin = nn.Sequential(nn.Linear(10, 7), nn.ReLU(), nn.Linear(7, 2))
    assert count_macs(lin, torch.zeros(3, 10)) == 3 * (10 * 7 + 7 * 2)


def test_mac_counter_on_an_rsu_block():
    # RSU(in 1, mid 2, out 4, height 1, k 3) on 10 samples: conv_in 1->4, down 4->2,
    # bottom 2->2 (dilated), up 4->4; all at length 10.
    rsu = RSU(1, 2, 4, 1, kernel_size=3)
    assert count_macs(rsu, torch.zeros(1, 1, 10)) == 10 * 3 * (1 * 4 + 4 * 2 + 2 * 2 + 4 * 4)


def test_macs_per_epoch_ranks_the_configs():
    macs = {n: macs_per_epoch(SleepStager(c)) for n, c in CONFIGS.items()}
    assert macs["tiny"] < macs["default"] < macs["paper"]


def test_pdc_keeps_length_with_every_dilation():
    assert PDC(8, (1, 2, 3, 4), 5)(torch.randn(2, 8, 10)).shape == (2, 8, 10)


@pytest.mark.parametrize("name", ["tiny", "default"])
def test_fold_batchnorm_is_the_same_function(name):
    torch.manual_seed(0)
    model = SleepStager(CONFIGS[name])
    # give batch norm non-trivial statistics first
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(2, 2, 2, 3000) * 3 + 1)
    model.eval()
    folded = fold_batchnorm(model)
    x = torch.randn(4, 2, 3000)
    with torch.no_grad():
        assert torch.allclose(model.epoch_features(x), folded.epoch_features(x), atol=1e-5)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm1d) for m in model.modules())  # original untouched


def test_config_json_round_trip_and_validation():
    for cfg in CONFIGS.values():
        assert ModelConfig.from_json(cfg.to_json()) == cfg
    assert json.loads(TINY.to_json())["widths"] == [4, 4, 8, 8]
    with pytest.raises(SleepScopeError, match="does not divide"):
        ModelConfig(widths=(4, 8, 16, 32, 64), pools=(10, 8, 6, 4))  # SalientSleepNet's pools
    with pytest.raises(SleepScopeError, match="unknown fields"):
        ModelConfig.from_dict({**TINY.to_dict(), "shiny": 1})
    with pytest.raises(SleepScopeError, match="unknown model configuration"):
        get_config("huge")
    assert CONFIGS["default"].stage_lengths() == (150, 30, 10, 5)
    with pytest.raises(SleepScopeError, match="must divide"):
        ModelConfig(stem_stride=7, stem_kernel=15)
    assert CONFIGS["paper"].stage_lengths() == (3000, 600, 120, 30, 10)


def test_rejects_wrong_epoch_shape(tiny):
    with pytest.raises(ValueError, match="3000"):
        tiny.encode(torch.randn(2, 2, 2999))
