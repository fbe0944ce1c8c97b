"""Weight-space averaging (models/train_robust.py --average-with)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sleepscope.errors import SleepScopeError
from sleepscope.model.config import TINY
from sleepscope.model.network import SleepStager
from sleepscope.model.weight_average import average_weights


def two_models():
    torch.manual_seed(0)
    a = SleepStager(TINY)
    torch.manual_seed(1)
    b = SleepStager(TINY)
    for m, steps in ((a, 3), (b, 7)):  # batch norm counts the steps it has seen: an integer buffer
        m.train()
        for _ in range(steps):
            m(torch.randn(2, TINY.seq_len, 2, TINY.epoch_samples))
    return a, b


def test_the_average_lies_between_the_two_and_keeps_the_first_counters():
    a, b = two_models()
    sa, sb = a.state_dict(), b.state_dict()
    for w in (0.0, 0.5, 1.0):
        avg = average_weights(a, b, w)
        for k, v in avg.items():
            if v.is_floating_point():
                torch.testing.assert_close(v, (1 - w) * sa[k] + w * sb[k])
            else:
                assert torch.equal(v, sa[k])
    assert any(not v.is_floating_point() and v.item() == 3 for v in average_weights(a, b, 0.5).values())
    m = SleepStager(TINY)
    m.load_state_dict(average_weights(a, b, 0.5))  # a loadable state dict


def test_models_of_other_shapes_or_weights_out_of_range_are_refused():
    a, _ = two_models()
    other = SleepStager(TINY.with_(head_channels=TINY.head_channels * 2))
    with pytest.raises(SleepScopeError, match="not the same network"):
        average_weights(a, other, 0.5)
    with pytest.raises(SleepScopeError, match="between 0 and 1"):
        average_weights(a, a, 1.5)


def test_the_model_as_trained_is_kept_only_when_clearly_better_over_blocks():
    from sleepscope.model.weight_average import share_verdict

    rng = np.random.default_rng(0)
    block = np.repeat(np.arange(30), 40)
    average = rng.random(block.size) < 0.8
    better = average | (rng.random(block.size) < 0.3)  # right wherever the average is, and on more
    got = share_verdict(better, average, block)
    assert got["kept"] == "child" and got["gap"] > got["standard_error"] > 0 and got["blocks"] == 30
    # Controls: the same epochs right (no gap), and the two swapped: the average is kept.
    assert share_verdict(average, average, block)["kept"] == "average"
    assert share_verdict(average, better, block)["kept"] == "average"
    assert share_verdict(better[:40], average[:40], block[:40])["kept"] == "average"  # one block: no spread to judge


def test_night_blocks_never_share_a_block_between_nights():
    from sleepscope.model.paired_gap import night_blocks

    block = night_blocks([2000, 30, 45], 40)
    assert len(block) == 2075 and np.unique(block).size == 50 + 1 + 2
    # each night's blocks are its own, in order
    assert set(block[:2000]).isdisjoint(block[2000:2030]) and set(block[2000:2030]).isdisjoint(block[2030:])
    assert np.all(np.diff(block) >= 0)
