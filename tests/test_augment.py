"""Augmentations of the single-modal baselines: shapes, invariants, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sleepscope.model import augment


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_segment_shuffle_permutes_whole_segments():
    x = torch.arange(2 * 2 * 12, dtype=torch.float32).reshape(2, 2, 12)
    y = augment.segment_shuffle(x, _gen(), max_segments=3, min_segments=3)
    assert y.shape == x.shape
    for i in range(2):
        for c in range(2):
            row, out = x[i, c].numpy(), y[i, c].numpy()
            assert sorted(out.tolist()) == sorted(row.tolist())  # same samples
            assert not np.array_equal(out, row)  # never the identity permutation
            segments = [row[0:4], row[4:8], row[8:12]]
            got = [out[0:4], out[4:8], out[8:12]]
            assert all(any(np.array_equal(g, s) for s in segments) for g in got)


def test_segment_shuffle_keeps_length_when_segments_do_not_divide_it():
    x = torch.randn(3, 2, 3000)
    y = augment.segment_shuffle(x, _gen(1), max_segments=7, min_segments=7)
    assert y.shape == x.shape
    assert torch.allclose(y.sort(dim=-1).values, x.sort(dim=-1).values)


def test_crop_stretch_interpolates_a_window_linearly():
    t = 3000
    ramp = torch.arange(t, dtype=torch.float64).repeat(4, 2, 1)
    y = augment.crop_stretch(ramp, _gen(2), min_fraction=0.5)
    assert y.shape == ramp.shape
    for row in y.reshape(-1, t).numpy():
        # a ramp cropped and stretched is still a straight line ...
        steps = np.diff(row)
        assert np.allclose(steps, steps[0], atol=1e-6)
        # ... covering a window of at least half of the original length, inside it
        span = row[-1] - row[0]
        assert t / 2 - 2 <= span <= t - 1 + 1e-9
        assert row[0] >= 0 and row[-1] <= t - 1 + 1e-9


def test_crop_stretch_with_the_full_window_is_the_identity():
    x = torch.randn(2, 2, 3000)
    y = augment.crop_stretch(x, _gen(), min_fraction=1.0)
    assert torch.allclose(y, x, atol=1e-6)


def test_crop_stretch_matches_numpy_interp_for_a_known_window():
    """Recompute one row independently: draw the same window, interpolate with numpy."""
    x = torch.randn(1, 1, 3000, dtype=torch.float64)
    g = _gen(5)
    u = torch.rand(1, generator=_gen(5), dtype=torch.float64)
    g2 = _gen(5)
    torch.rand(1, generator=g2, dtype=torch.float64)
    v = torch.rand(1, generator=g2, dtype=torch.float64)
    min_len = 1500
    length = int(min_len + np.floor(float(u) * (3000 - min_len + 1)))
    start = int(np.floor(float(v) * (3000 - length + 1)))
    positions = start + (length - 1) * np.arange(3000) / 2999
    expected = np.interp(positions, np.arange(3000), x[0, 0].numpy())
    got = augment.crop_stretch(x, g, min_fraction=0.5)[0, 0].numpy()
    assert np.allclose(got, expected, atol=1e-9)


def test_views_are_reproducible_from_the_seed_and_differ_between_seeds():
    x = torch.randn(4, 2, 3000)
    for view in (lambda v, g: sum(augment.simclr_views(v, g)), augment.tstcc_weak, augment.tstcc_strong):
        a, b = view(x, _gen(7)), view(x, _gen(7))
        assert torch.equal(a, b)
        assert not torch.equal(a, view(x, _gen(8)))
        assert a.shape == x.shape and a.dtype == x.dtype


def _corr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a = a - a.mean(-1, keepdim=True)
    b = b - b.mean(-1, keepdim=True)
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def test_simclr_makes_one_augmentation_per_view_as_section_4_1():
    """On a known signal (a ramp): view 1 is the ramp's own segments shuffled, view 2 one straight window of it."""
    t = 3000
    ramp = torch.arange(t, dtype=torch.float64).repeat(8, 2, 1)
    v1, v2 = augment.simclr_views(ramp, _gen(4))
    assert v1.shape == v2.shape == ramp.shape
    for row in v1.reshape(-1, t).numpy():
        assert np.array_equal(np.sort(row), np.arange(t))  # every sample, once: nothing cropped or stretched
        jumps = np.flatnonzero(np.diff(row) != 1)
        assert 1 <= jumps.size <= 4  # 2-5 whole segments out of order
    for row in v2.reshape(-1, t).numpy():
        steps = np.diff(row)
        assert np.allclose(steps, steps[0]) and 0.5 - 1e-3 <= steps[0] < 1.0  # a window, stretched, in order
    # the two views of an epoch are built from the same epoch, for the positive pair
    tones = torch.stack([torch.sin(torch.linspace(0, f, t)) for f in (20.0, 200.0)])[:, None, :]
    w1, w2 = augment.simclr_views(tones, _gen(5))
    assert torch.allclose(w1.sort(-1).values, tones.sort(-1).values)
    assert not torch.allclose(w2, tones)


def test_simclr_positive_pairs_are_across_the_two_augmentations():
    """The objective's SimCLR loss is NT-Xent between the shuffled and the cropped view of each epoch."""
    from sleepscope.model.config import CONFIGS
    from sleepscope.model.network import SleepStager
    from sleepscope.model.objectives import nt_xent
    from sleepscope.model.pretrain import PretrainObjective

    torch.manual_seed(0)
    objective = PretrainObjective(SleepStager(CONFIGS["tiny"]), "simclr").eval()
    x = torch.randn(6, 2, 3000)
    got = objective(x, step_seed=11)
    v1, v2 = augment.simclr_views(x, torch.Generator().manual_seed(11 * 1009))
    expected = 0.5 * sum(
        nt_xent(head(enc.embed(v1[:, c : c + 1])), head(enc.embed(v2[:, c : c + 1])))
        for c, enc, head in ((0, objective.eeg_encoder, objective.eeg_head), (1, objective.eog_encoder, objective.eog_head)))
    assert float(got.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)


def test_tstcc_views_have_the_published_sleep_edf_strengths():
    """Weak: per-sample factor N(2, 1.5) keeps the order (corr = 2/sqrt(2²+1.5²) = 0.8); strong: order broken."""
    x = torch.randn(32, 2, 3000, dtype=torch.float64)
    weak = augment.tstcc_weak(x, _gen(3))
    factor = weak / x
    assert abs(float(factor.mean()) - 2.0) < 0.02 and abs(float(factor.std()) - 1.5) < 0.02
    assert float(_corr(weak, x).mean()) == pytest.approx(0.8, abs=0.02)
    ramp = torch.arange(3000, dtype=torch.float64).repeat(200, 1, 1)
    strong = augment.tstcc_strong(ramp, _gen(3))
    noise = strong - augment.segment_shuffle(ramp, _gen(3), max_segments=12)
    assert abs(float(noise.std()) - 2.0) < 0.01  # jitter σ 2 on top of the permutation
    jumps = (torch.diff(strong - noise, dim=-1).round() != 1).sum(-1)
    assert 1 <= int(jumps.min()) and 9 <= int(jumps.max()) <= 11  # 2 to 12 segments


def test_jitter_and_scaling_statistics():
    x = torch.zeros(200, 2, 3000)
    noise = augment.jitter(x, _gen(), sigma=0.5)
    assert abs(float(noise.std()) - 0.5) < 0.01
    ones = torch.ones(2000, 1, 10)
    scaled = augment.scaling(ones, _gen(), sigma=0.2)
    factors = scaled[:, 0, 0]
    assert torch.all(scaled == factors[:, None, None])  # one factor per signal
    assert abs(float(factors.mean()) - 1.0) < 0.02 and abs(float(factors.std()) - 0.2) < 0.02
