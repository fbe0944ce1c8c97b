"""Stage-balanced pseudo-labels: the agreed epochs are mostly W/N2/REM; rare stages must not be starved."""

import numpy as np
import pytest
import torch

from sleepscope.model.correction_data import CorrectionSequences, Weighted, contiguous_runs
from sleepscope.model.finetune import FineTuneOptions, finetune
from sleepscope.model.pseudo_labels import (BALANCE_FLOOR, MAX_STAGE_WEIGHT, PSEUDO_SOURCE, balanced,
                                            stage_weights)
from sleepscope.scoring.corrections import CorrectionSet


def pseudo_set(runs: list[tuple[int, int]], samples: int = 3000) -> CorrectionSet:
    """Agreed epochs of one night in runs of (stage, length), a one-epoch gap between runs."""
    y, ep, at = [], [], 0
    for stage, n in runs:
        y += [stage] * n
        ep += list(range(at, at + n))
        at += n + 1
    n = len(y)
    x = np.random.default_rng(0).normal(size=(n, 2, samples)).astype(np.float32)
    return CorrectionSet(x, np.asarray(y, np.int64), np.full(n, "fp").astype(str), np.asarray(ep, np.int64),
                         np.full(n, PSEUDO_SOURCE).astype(str), {"fp": "night.edf"})


# W and N2 plentiful, REM some, N1 and N3 a handful: what two opinions agree on in a new lab
RUNS = [(0, 300), (2, 250), (1, 6), (2, 250), (4, 120), (3, 9), (0, 300), (2, 200), (1, 5), (4, 100)]


def test_balanced_keeps_every_rare_epoch_and_cuts_the_common_stages_in_stretches():
    ps = pseudo_set(RUNS, samples=8)
    before = np.bincount(ps.y, minlength=5)
    out = balanced(ps, stretch=20, seed=0)
    after = np.bincount(out.y, minlength=5)
    assert after[1] == before[1] and after[3] == before[3]  # N1 and N3: all kept
    cap = max(4 * before[before > 0].min(), BALANCE_FLOOR)
    assert np.all(after <= np.maximum(cap + 20, before)) and after[0] < before[0] and after[2] < before[2]
    # control: the common stages were the bulk before, and are no longer
    assert before[[0, 2]].sum() / before.sum() > 0.75 > after[[0, 2]].sum() / after.sum()
    # kept epochs come in stretches of consecutive epochs of the night, with their own inputs
    runs = contiguous_runs(out)
    assert np.mean([r.size for r in runs]) >= 10
    pos = {int(e): i for i, e in enumerate(ps.epoch)}
    assert all(np.array_equal(out.x[i], ps.x[pos[int(out.epoch[i])]]) for i in range(0, len(out), 37))
    assert set(out.source) == {PSEUDO_SOURCE}


def test_stage_weights_favour_rare_stages_with_a_cap():
    y = np.array([0] * 500 + [2] * 300 + [1] * 5 + [3] * 50)
    w = stage_weights(y)
    assert w.mean() == pytest.approx(1.0, abs=1e-5)
    assert w[y == 3][0] > w[y == 2][0] > w[y == 0][0]
    # N1's 5 epochs would weigh 100 times wake's; the cap holds them near MAX_STAGE_WEIGHT times the mean
    assert w[y == 1][0] <= MAX_STAGE_WEIGHT * 1.5 and w[y == 1][0] >= w[y == 3][0]


def test_finetune_balances_and_weighs_pseudo_labels_only_when_asked():
    ps = pseudo_set(RUNS)
    tech = pseudo_set([(0, 30), (2, 40), (3, 30), (4, 20)])
    tech = CorrectionSet(tech.x, tech.y, np.full(len(tech), "tech").astype(str), tech.epoch,
                         np.full(len(tech), "technician").astype(str), {"tech": "t.edf"})
    w = stage_weights(balanced(ps, 20, 0).y)
    data = Weighted(CorrectionSequences(balanced(ps, 20, 0), contiguous_runs(balanced(ps, 20, 0)), 20), 0.5, w)
    for i in range(0, len(data), 7):
        _, y, wi = data[i]
        idx = data.data.items[i][0]
        assert torch.allclose(wi[: idx.size], torch.from_numpy(0.5 * w[idx]))
    import dataclasses

    from sleepscope.model.checkpoint import ModelCard
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    torch.manual_seed(0)
    m = SleepStager(dataclasses.replace(get_config("tiny"), stem_stride=2, stem_kernel=15, stem_pool=10,
                                        pools=(5, 3, 2)))
    card = ModelCard(config=m.config, version="p")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = {b: finetune(m, card, tech, None, FineTuneOptions(max_steps=2, min_steps=0, pseudo_balance=b), pseudo=ps)
                for b in (False, True)}
    finally:
        torch.set_num_threads(old)
    plain, bal = (runs[b].card.metrics["finetune"] for b in (False, True))
    assert plain["n_pseudo"] == len(ps) and not plain["pseudo_balance"]
    assert bal["n_pseudo"] == len(balanced(ps, 20, 0)) < len(ps) and bal["pseudo_balance"]
