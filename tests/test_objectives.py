"""The self-supervised losses against independent plain-numpy computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sleepscope.model.objectives import (
    CLIP_TEMPERATURE,
    TemporalContrastHead,
    TSTCCWeights,
    clip_loss,
    nt_xent,
    temporal_contrast_loss,
)

EEG = np.array([[1.0, 0.0, 2.0], [0.5, -1.0, 0.0], [0.0, 3.0, -1.0], [-2.0, 1.0, 1.0]])
EOG = np.array([[0.8, 0.2, 1.5], [1.0, -1.0, 0.5], [-0.5, 2.0, -2.0], [-1.0, 0.0, 2.0]])


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a shared 2-core machine two spinning threads per test run far slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def _log_softmax_at(scores: list[float], i: int) -> float:
    m = max(s for s in scores if s != -math.inf)
    return scores[i] - (m + math.log(sum(math.exp(s - m) for s in scores if s != -math.inf)))


def _clip_by_hand(eeg: np.ndarray, eog: np.ndarray, tau: float) -> float:
    """Equation 2 written out term by term."""
    n = len(eeg)
    img = [_unit(list(r)) for r in eeg]
    txt = [_unit(list(r)) for r in eog]
    total = 0.0
    for i in range(n):
        row = [_dot(img[i], txt[k]) / tau for k in range(n)]
        col = [_dot(txt[i], img[k]) / tau for k in range(n)]
        total += _log_softmax_at(row, i) + _log_softmax_at(col, i)
    return -total / (2 * n)


def _nt_xent_by_hand(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    z = [_unit(list(r)) for r in np.concatenate([z1, z2])]
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        partner = i + n if i < n else i - n
        scores = [-math.inf if k == i else _dot(z[i], z[k]) / tau for k in range(2 * n)]
        total += _log_softmax_at(scores, partner)
    return -total / (2 * n)


def test_clip_loss_matches_equation_2():
    got = clip_loss(torch.tensor(EEG, dtype=torch.float64), torch.tensor(EOG, dtype=torch.float64))
    assert CLIP_TEMPERATURE == 0.06
    assert float(got) == pytest.approx(_clip_by_hand(EEG, EOG, 0.06), rel=1e-10)
    # an un-normalised input gives the same loss: s is the cosine similarity
    scaled = clip_loss(torch.tensor(EEG * 7.0), torch.tensor(EOG * 0.1))
    assert float(scaled) == pytest.approx(float(got), rel=1e-10)


def test_clip_loss_is_symmetric_in_the_two_modalities_and_small_for_aligned_pairs():
    a, b = torch.tensor(EEG), torch.tensor(EOG)
    assert float(clip_loss(a, b)) == pytest.approx(float(clip_loss(b, a)), rel=1e-12)
    assert float(clip_loss(a, a)) < 0.05 * float(clip_loss(a, b.flip(0)))


def test_nt_xent_matches_hand_computation():
    got = nt_xent(torch.tensor(EEG), torch.tensor(EOG), temperature=0.5)
    assert float(got) == pytest.approx(_nt_xent_by_hand(EEG, EOG, 0.5), rel=1e-10)


def test_temporal_contrast_loss_matches_hand_computation():
    rng = np.random.default_rng(3)
    pred = rng.normal(size=(2, 3, 4))  # K=2 horizons, N=3 samples, C=4 channels
    actual = rng.normal(size=(2, 3, 4))
    tau = 0.3
    total = 0.0
    for k in range(2):
        p = [_unit(list(r)) for r in pred[k]]
        a = [_unit(list(r)) for r in actual[k]]
        for i in range(3):
            total += _log_softmax_at([_dot(p[i], a[j]) / tau for j in range(3)], i)
    expected = -total / 6
    got = temporal_contrast_loss(torch.tensor(pred), torch.tensor(actual), temperature=tau)
    assert float(got) == pytest.approx(expected, rel=1e-10)


def test_tstcc_head_combines_temporal_and_contextual_terms():
    torch.manual_seed(0)
    head = TemporalContrastHead(n_channels=4, hidden=6, horizon=3, projection=5, min_context=2).double().eval()
    weak = torch.randn(5, 4, 8, dtype=torch.float64)
    strong = torch.randn(5, 4, 8, dtype=torch.float64)
    t = 2
    c_w, c_s = head.contexts(weak, t), head.contexts(strong, t)
    tc = temporal_contrast_loss(head.predict(c_w, 3), strong[:, :, 3:6].permute(2, 0, 1)) + temporal_contrast_loss(
        head.predict(c_s, 3), weak[:, :, 3:6].permute(2, 0, 1)
    )
    cc = nt_xent(head.projection(c_w), head.projection(c_s), 0.2)
    got = head(weak, strong, t, TSTCCWeights(temporal=1.0, contextual=0.7))
    assert got.item() == pytest.approx((tc + 0.7 * cc).item(), rel=1e-10)


def test_tstcc_context_is_causal():
    """The context at step t must not see steps after t (else predicting them is trivial)."""
    torch.manual_seed(0)
    head = TemporalContrastHead(n_channels=3, hidden=4, horizon=2).eval()
    x = torch.randn(2, 3, 6)
    y = x.clone()
    y[:, :, 3:] = torch.randn(2, 3, 3)
    assert torch.equal(head.contexts(x, 2), head.contexts(y, 2))
    assert not torch.equal(head.contexts(x, 3), head.contexts(y, 3))


def test_tstcc_refuses_a_context_end_without_enough_past_or_future():
    head = TemporalContrastHead(n_channels=3, hidden=4, horizon=4, min_context=3)
    x = torch.randn(2, 3, 8)
    assert head.context_ends(8) == range(2, 4)  # 3..4 steps of context, 4 to predict
    for t in (1, 4):
        with pytest.raises(ValueError):
            head(x, x, t=t)
    with pytest.raises(ValueError, match="at least 7 time steps"):
        head.context_ends(6)


@pytest.mark.parametrize("config", ["tiny", "default", "paper"])
def test_tstcc_contrasts_a_long_sequence_with_ten_steps_of_context_in_every_shipped_config(config):
    """The bottleneck alone (5-10 steps) would leave TS-TCC one step of past; what it really sees is recorded."""
    from sleepscope.model.config import CONFIGS
    from sleepscope.model.network import SleepStager
    from sleepscope.model.pretrain import PretrainObjective

    torch.manual_seed(0)
    objective = PretrainObjective(SleepStager(CONFIGS[config]), "tstcc")
    seen = []  # (context steps, steps of the sequence) per call
    for head in (objective.eeg_head, objective.eog_head):
        original = head.contexts

        def spy(steps, t, original=original):
            seen.append((t + 1, steps.shape[2]))
            return original(steps, t)

        head.contexts = spy
    x = torch.randn(4, 2, 3000)
    for step in range(6):  # several draws of the context end
        objective(x, step_seed=step)
    contexts, lengths = [c for c, _ in seen], {n for _, n in seen}
    assert min(contexts) >= 10, contexts
    (n_steps,) = lengths
    for head in (objective.eeg_head, objective.eog_head):
        assert head.context_ends(n_steps).start + 1 >= 10
        assert head.horizon >= 0.3 * n_steps  # a sizeable share of the sequence is predicted
    assert max(contexts) + objective.eeg_head.horizon <= n_steps
    # the draws vary the context length
    assert len(set(contexts)) > 1


@pytest.mark.parametrize("loss", ["clip", "simclr", "tstcc"])
def test_each_loss_falls_over_a_few_optimiser_steps(loss):
    """A tiny stager pre-trained on a fixed batch: the objective drops within a few Adam steps."""
    from sleepscope.model.config import CONFIGS
    from sleepscope.model.network import SleepStager
    from sleepscope.model.pretrain import PretrainObjective

    torch.manual_seed(0)
    stager = SleepStager(CONFIGS["tiny"])
    objective = PretrainObjective(stager, loss)
    opt = torch.optim.Adam([p for p in objective.parameters() if p.requires_grad], lr=1e-3)
    t = torch.linspace(0, 30, 3000)
    x = torch.stack([
        torch.stack([torch.sin(2 * math.pi * f * t) + 0.3 * torch.randn(3000),
                     torch.cos(2 * math.pi * (f / 3) * t) + 0.3 * torch.randn(3000)])
        for f in (0.7, 1.5, 2.5, 4.0, 6.0, 9.0, 11.0, 13.0)
    ])
    x = (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True)
    losses = []
    for step in range(12):
        opt.zero_grad()
        value = objective(x, step_seed=1000 + (step % 2))
        value.backward()
        opt.step()
        losses.append(float(value.detach()))
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3]), losses
