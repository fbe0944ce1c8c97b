"""Augmentations of the single-modal baselines: shapes, invariants, reproducibility."""

from __future__ import annotations

import numpy as np
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
    for view in (augment.simclr_view, augment.tstcc_weak, augment.tstcc_strong):
        a, b = view(x, _gen(7)), view(x, _gen(7))
        assert torch.equal(a, b)
        assert not torch.equal(a, view(x, _gen(8)))
        assert a.shape == x.shape and a.dtype == x.dtype


def test_weak_view_is_close_to_the_signal_and_strong_view_is_not():
    x = torch.randn(16, 2, 3000)
    weak = augment.tstcc_weak(x, _gen(3))
    strong = augment.tstcc_strong(x, _gen(3))

    def corr(a, b):
        a = a - a.mean(-1, keepdim=True)
        b = b - b.mean(-1, keepdim=True)
        return float(((a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))).abs().mean())

    assert corr(weak, x) > 0.9
    assert corr(strong, x) < 0.5


def test_jitter_and_scaling_statistics():
    x = torch.zeros(200, 2, 3000)
    noise = augment.jitter(x, _gen(), sigma=0.5)
    assert abs(float(noise.std()) - 0.5) < 0.01
    ones = torch.ones(2000, 1, 10)
    scaled = augment.scaling(ones, _gen(), sigma=0.2)
    factors = scaled[:, 0, 0]
    assert torch.all(scaled == factors[:, None, None])  # one factor per signal
    assert abs(float(factors.mean()) - 1.0) < 0.02 and abs(float(factors.std()) - 0.2) < 0.02
