"""The fused two-branch inference form (fast_eval) computes the reference forward, and predict uses it."""

import numpy as np
import pytest
import torch
from torch import nn

from sleepscope.model.config import DEFAULT, TINY
from sleepscope.model.fast_eval import FastStager
from sleepscope.model.infer import predict
from sleepscope.model.network import SleepStager


def _trained_looking(cfg, seed):
    """Random weights AND batch-norm statistics far from their initial values, so folding is exercised."""
    torch.manual_seed(seed)
    model = SleepStager(cfg)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.normal_(0.0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
    return model.eval()


@pytest.mark.parametrize("cfg", [TINY, DEFAULT], ids=lambda c: c.name)
def test_fast_form_equals_reference_forward(cfg):
    torch.set_num_threads(1)
    model = _trained_looking(cfg, seed=1)
    fast = FastStager(model)
    x = torch.randn(5, 2, 3000)
    feats = torch.randn(2, 7, cfg.head_channels)
    with torch.inference_mode():
        ref = model.epoch_features(x)
        got = fast.epoch_features(x)
        assert got.shape == ref.shape
        assert (got - ref).abs().max().item() <= 1e-5
        assert ref.abs().max().item() > 1e-3  # not a vacuous comparison of zeros
        torch.testing.assert_close(fast.sequence_logits(feats), model.sequence_logits(feats), rtol=0, atol=1e-6)
        # the whole classifier, through the fast form's two halves
        seq = torch.randn(1, 4, 2, 3000)
        whole = model(seq)
        split = fast.sequence_logits(fast.epoch_features(seq[0]).unsqueeze(0))
        assert (whole - split).abs().max().item() <= 1e-5


def test_fast_form_is_a_snapshot_that_leaves_the_model_alone():
    model = _trained_looking(TINY, seed=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    FastStager(model)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training is False


def test_predict_on_cpu_runs_the_fast_form(monkeypatch):
    from sleepscope.model import fast_eval, infer

    model = _trained_looking(TINY, seed=3)
    calls = []
    original = fast_eval.FastStager.epoch_features

    def spy(self, x):
        calls.append(x.shape[0])
        return original(self, x)

    monkeypatch.setattr(fast_eval.FastStager, "epoch_features", spy)
    x = np.random.default_rng(0).standard_normal((45, 2, 3000)).astype(np.float32)
    pred = predict(x, model, device="cpu", threads=1, batch_size=16)
    assert isinstance(infer._FOLDED[model][2], FastStager)
    assert sum(calls) == 45
    # the probabilities equal the reference model's, window by window
    with torch.inference_mode():
        f = model.epoch_features(torch.from_numpy(x))
        plan = infer.window_plan(45, model.config.seq_len)
        ref = np.empty((45, 5), np.float32)
        for w in plan:
            p = torch.softmax(model.sequence_logits(f[w.start:w.start + w.length].unsqueeze(0)), -1)[0]
            ref[w.keep_from:w.keep_to] = p[w.keep_from - w.start:w.keep_to - w.start].numpy()
    assert np.abs(pred.probs - ref).max() <= 1e-5
