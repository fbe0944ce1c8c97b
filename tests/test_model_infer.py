"""Full-night inference: windows cover every epoch once, determinism, cancellation, input kinds."""

import os
import threading

import numpy as np
import pytest
import torch
from torch import nn

from sleepscope.errors import SleepScopeError
from sleepscope.model.config import TINY
from sleepscope.model.infer import Prediction, physical_cores, pick_device, window_plan
from sleepscope.model.infer import predict as _predict
from sleepscope.model.network import SleepStager
from sleepscope.tasks import CancelToken, Cancelled


def predict(*args, **kwargs):
    return _predict(*args, threads=1, **kwargs)


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return SleepStager(TINY).eval()


def night(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 2, 3000)).astype(np.float32)


@pytest.mark.parametrize("seq_len", [1, 2, 5, 20])
@pytest.mark.parametrize("stride", [None, 1, 3])
def test_window_plan_partitions_every_night(seq_len, stride):
    for n in [1, 2, 3, 7, 19, 20, 21, 39, 40, 41, 57, 100, 1003]:
        if stride is not None and stride > seq_len:
            continue
        plan = window_plan(n, seq_len, stride)
        covered = np.zeros(n, int)
        for w in plan:
            assert 0 <= w.start <= w.keep_from < w.keep_to <= w.start + w.length <= n
            covered[w.keep_from:w.keep_to] += 1
        assert (covered == 1).all(), (n, seq_len, stride)
        assert all(w.length == min(n, seq_len) for w in plan)


def test_window_plan_keeps_the_centre():
    plan = window_plan(100, 20, 10)
    for w in plan[1:-1]:
        # at least 5 epochs of context on each side of every kept epoch
        assert w.keep_from - w.start >= 5 and w.start + w.length - w.keep_to >= 5
    assert plan[0].keep_from == 0 and plan[-1].keep_to == 100


class EpochIdModel(nn.Module):
    """Features = the epoch id written in the input; logits point to id % 5.

    A kept part taken from the wrong offset of its window would give an epoch
    another epoch's stage."""

    class _Cfg:
        seq_len = 6
        n_classes = 5

    config = _Cfg()

    def epoch_features(self, x):
        return x[:, 0, :1]

    def sequence_logits(self, f):
        ids = f[..., 0].round().long()
        return nn.functional.one_hot(ids % 5, 5).float() * 20

    def forward(self, x):
        raise AssertionError("predict must use the split API")


@pytest.mark.parametrize("n", [1, 5, 6, 7, 13, 50])
def test_predict_gives_each_epoch_its_own_output(n):
    x = np.zeros((n, 2, 3000), np.float32)
    x[:, 0, 0] = np.arange(n)
    pred = predict(x, EpochIdModel(), batch_size=4, device="cpu")
    assert pred.probs.shape == (n, 5) and pred.stages.dtype == np.int8
    assert (pred.stages == np.arange(n) % 5).all()


@pytest.mark.parametrize("n", [1, 7, 20, 47])
def test_predict_equals_the_network_on_the_whole_night(tiny, n):
    # the sequence head sees 2 epochs each side; windows of 20 with stride 10 keep
    # at least 5, so the windowed result is the network's on the whole night.
    x = night(n)
    pred = predict(x, tiny, batch_size=8, device="cpu")
    with torch.no_grad():
        full = torch.softmax(tiny(torch.from_numpy(x)[None]), -1)[0].numpy()
    assert np.allclose(pred.probs, full, atol=1e-5)
    assert np.allclose(pred.probs.sum(1), 1, atol=1e-5)
    assert (pred.stages == pred.probs.argmax(1)).all()


def test_predict_is_deterministic_and_leaves_the_model_alone(tiny):
    tiny.train()
    before = {k: v.clone() for k, v in tiny.state_dict().items()}
    x = night(33, seed=3)
    a = predict(x, tiny, device="cpu", batch_size=8)
    b = predict(x, tiny, device="cpu", batch_size=8)
    assert np.array_equal(a.probs, b.probs) and a.model_version == b.model_version
    assert tiny.training
    assert all(torch.equal(before[k], v) for k, v in tiny.state_dict().items())
    assert len(a.model_version) == 16


def test_predict_with_seq_len_1(tiny):
    x = night(9)
    pred = predict(x, tiny, seq_len=1, device="cpu")
    with torch.no_grad():
        single = torch.softmax(tiny(torch.from_numpy(x)[:, None]), -1)[:, 0].numpy()
    assert np.allclose(pred.probs, single, atol=1e-5)


def test_predict_accepts_a_recording(tiny):
    from sleepscope.io import Recording

    rng = np.random.default_rng(5)
    rec = Recording.from_arrays(rng.standard_normal(3000 * 4 + 123).astype(np.float32) * 30,
                                rng.standard_normal(3000 * 4 + 123).astype(np.float32) * 50)
    pred = predict(rec, tiny, device="cpu")
    assert isinstance(pred, Prediction) and pred.n_epochs == rec.n_epochs == 4
    assert np.array_equal(pred.probs, predict(rec.model_input(), tiny, device="cpu").probs)


def test_progress_and_cancellation(tiny):
    calls = []
    predict(night(20), tiny, batch_size=5, device="cpu", progress=lambda d, t, m: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] and len(calls) >= 4
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)

    token = CancelToken()

    def cancel_after_first(done, total, msg):
        token.cancel()

    with pytest.raises(Cancelled):
        predict(night(20), tiny, batch_size=5, device="cpu", progress=cancel_after_first, cancel=token)


def test_bad_input_explained(tiny):
    with pytest.raises(SleepScopeError, match="shaped"):
        predict(np.zeros((3, 3000), np.float32), tiny)
    with pytest.raises(SleepScopeError, match="shorter than one"):
        predict(np.zeros((0, 2, 3000), np.float32), tiny)
    bad = night(2)
    bad[1, 0, 5] = np.nan
    with pytest.raises(SleepScopeError, match="NaN"):
        predict(bad, tiny)


def test_device_and_threads():
    assert pick_device("cpu").type == "cpu"
    assert pick_device().type in ("cpu", "cuda", "mps")
    assert 1 <= physical_cores() <= (os.cpu_count() or 1)


class BarrierModel(EpochIdModel):
    """Each batch waits until another worker holds a batch too: one worker alone would time out."""

    def __init__(self, workers):
        super().__init__()
        self.barrier = threading.Barrier(workers, timeout=10)
        self.seen = []

    def epoch_features(self, x):
        self.seen.append((threading.current_thread().name, torch.get_num_threads()))
        self.barrier.wait()
        return super().epoch_features(x)


@pytest.mark.parametrize("threads", [2, None])  # None: one worker per physical core
def test_cpu_batches_run_side_by_side_on_one_torch_thread_each(threads):
    workers = threads or physical_cores()
    n = 24
    x = np.zeros((n, 2, 3000), np.float32)
    x[:, 0, 0] = np.arange(n)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        m = BarrierModel(workers)
        pred = _predict(x, m, batch_size=4, device="cpu", threads=threads)
        assert torch.get_num_threads() == 2  # the caller's setting is restored
    finally:
        torch.set_num_threads(old)
    assert (pred.stages == np.arange(n) % 5).all()
    assert len(m.seen) == 6 and {t for _, t in m.seen} == {1}
    assert len({name for name, _ in m.seen}) == min(workers, 6)
    assert threading.current_thread().name not in dict(m.seen)


def test_cpu_result_does_not_depend_on_the_worker_count(tiny):
    x = night(70, seed=4)
    one = _predict(x, tiny, device="cpu", threads=1, batch_size=16)
    assert np.array_equal(one.probs, _predict(x, tiny, device="cpu", threads=3, batch_size=16).probs)


class CancellingModel(EpochIdModel):
    """Cancels the job from inside its first batch, as a user's Cancel arriving mid-night."""

    def __init__(self, token):
        super().__init__()
        self.token = token
        self.batches = 0

    def epoch_features(self, x):
        self.batches += 1
        self.token.cancel()
        return super().epoch_features(x)


def test_cancel_stops_the_workers():
    token = CancelToken()
    m = CancellingModel(token)
    with pytest.raises(Cancelled):
        _predict(np.zeros((64, 2, 3000), np.float32), m, device="cpu", threads=2, batch_size=2, cancel=token)
    assert m.batches <= 2  # the batches already started when it fired, not the 32 of the night


def test_folded_copy_is_reused_until_the_weights_change(tiny):
    from sleepscope.model import infer

    x = night(3)
    a = predict(x, tiny, device="cpu")
    first = infer._FOLDED[tiny][2]
    predict(x, tiny, device="cpu")
    assert infer._FOLDED[tiny][2] is first
    with torch.no_grad():
        tiny.classifier.bias += 1.0  # fine-tuned in memory: a new version, a new copy
    b = predict(x, tiny, device="cpu")
    assert infer._FOLDED[tiny][2] is not first and b.model_version != a.model_version
    assert not np.array_equal(a.probs, b.probs)
