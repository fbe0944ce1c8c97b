"""Training loops: supervised training, early stopping, freezing, cancel + resume, and the CLI."""

from __future__ import annotations

import json
import math
import re

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from sleepscope.errors import SleepScopeError
from sleepscope.model.config import CONFIGS
from sleepscope.model.network import SleepStager
from sleepscope.model.pretrain import PretrainConfig, pretrain
from sleepscope.model.train import TrainConfig, inverse_frequency_weights, train
from sleepscope.model.train_state import read_loop_state, state_paths
from sleepscope.tasks import CancelToken, Cancelled

FREQS = (1.0, 6.0, 13.0, 2.0, 9.0)  # a made-up tone per stage: learnable in a few steps


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a shared 2-core machine two spinning threads per test run far slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class ToneSequences(Dataset):
    """In-memory sequences (L, 2, 3000) whose stage sets the tone of the epoch."""

    def __init__(self, n: int, seq_len: int = 3, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 5, (n, seq_len), generator=g)
        self.y[0, 0] = -1  # one unscored epoch: the loss must ignore it
        t = torch.arange(3000) / 100.0
        x = torch.empty(n, seq_len, 2, 3000)
        for i in range(n):
            for j in range(seq_len):
                f = FREQS[max(0, int(self.y[i, j]))]
                x[i, j, 0] = torch.sin(2 * math.pi * f * t)
                x[i, j, 1] = torch.cos(2 * math.pi * f / 2 * t)
        x += 0.5 * torch.randn(x.shape, generator=g)
        self.x = (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


class ToneEpochs(Dataset):
    def __init__(self, seqs: ToneSequences) -> None:
        self.x = seqs.x.reshape(-1, 2, 3000)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], torch.tensor(-1)


def _stager(seed: int = 0) -> SleepStager:
    torch.manual_seed(seed)
    return SleepStager(CONFIGS["tiny"])


def test_inverse_frequency_weights():
    w = inverse_frequency_weights(np.array([0, 0, 0, 2, 2, 4, -1]))
    # counts 3, 0, 2, 0, 1 -> 1/3, 0, 1/2, 0, 1, scaled to mean 1 over the 3 present
    raw = np.array([1 / 3, 0, 1 / 2, 0, 1])
    assert np.allclose(w.numpy(), raw * 3 / raw.sum(), atol=1e-6)


def test_supervised_loss_falls_and_best_validation_weights_are_kept():
    data = ToneSequences(8, seed=1)
    val = ToneSequences(4, seed=2)
    model = _stager()
    cfg = TrainConfig(epochs=4, batch_size=4, patience=10, seed=0)
    result = train(model, data, val, cfg)
    assert result.steps == 8 and result.epochs == 4
    assert np.mean(result.losses[-2:]) < np.mean(result.losses[:2])
    assert len(result.history) == 4
    best = max(h["val_macro_f1"] for h in result.history)
    assert result.validation["macro_f1"] == pytest.approx(best)
    assert result.history[result.best_epoch]["val_macro_f1"] == pytest.approx(best)


def test_early_stopping_after_patience_passes_without_improvement():
    data = ToneSequences(4, seed=1)
    val = ToneSequences(2, seed=2)
    model = _stager()
    # lr 0: the model never changes, so validation never improves after the first pass
    cfg = TrainConfig(epochs=20, batch_size=4, patience=2, lr=0.0)
    result = train(model, data, val, cfg)
    assert result.stopped_early
    assert result.epochs == 3 and result.best_epoch == 0


def test_freeze_encoders_keeps_encoder_weights_and_trains_the_rest():
    model = _stager()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, ToneSequences(4), None, TrainConfig(epochs=1, batch_size=2, freeze_encoders=True))
    after = model.state_dict()
    enc = [k for k in before if ".encoder." in k]
    other = [k for k in before if ".encoder." not in k and before[k].is_floating_point()]
    assert enc and all(torch.equal(before[k], after[k]) for k in enc)  # batch-norm statistics included
    assert any(not torch.equal(before[k], after[k]) for k in other)


def test_slow_encoders_move_a_tenth_as_far_as_at_the_full_rate():
    def moved(scale: float) -> tuple[float, float]:
        model = _stager()
        before = {k: v.detach().clone() for k, v in model.named_parameters()}
        train(model, ToneSequences(4), None, TrainConfig(epochs=1, batch_size=2, encoder_lr_scale=scale))
        dist = {"enc": 0.0, "rest": 0.0}
        for k, v in model.named_parameters():
            if "projection" not in k:
                dist["enc" if ".encoder." in k else "rest"] += float((v.detach() - before[k]).abs().sum())
        return dist["enc"], dist["rest"]

    enc_full, rest_full = moved(1.0)
    enc_slow, rest_slow = moved(0.1)
    # Adam's step is proportional to the rate: the encoders' displacement scales with it, the rest's does not.
    assert enc_slow / enc_full == pytest.approx(0.1, rel=0.3)
    assert rest_slow / rest_full == pytest.approx(1.0, rel=0.3)
    with pytest.raises(SleepScopeError, match="learning-rate scale"):
        moved(0.0)


def test_an_optimiser_state_saved_before_encoder_rates_still_loads():
    from sleepscope.model.train import parameter_groups

    model = _stager()
    old = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)  # one group, as before
    model(torch.randn(1, 2, 2, 3000)).sum().backward()
    old.step()
    saved = old.state_dict()
    torch.optim.Adam(parameter_groups(model, TrainConfig()), lr=1e-3).load_state_dict(saved)
    # Control: with the encoders at another rate the groups differ, and such a state cannot load.
    with pytest.raises(ValueError, match="parameter groups"):
        torch.optim.Adam(parameter_groups(model, TrainConfig(encoder_lr_scale=0.5)), lr=1e-3).load_state_dict(saved)


def test_training_interrupted_and_resumed_continues_the_step_count_and_matches(tmp_path):
    data, val = ToneSequences(6, seed=3), ToneSequences(2, seed=4)
    cfg = TrainConfig(epochs=2, batch_size=2, patience=5, checkpoint_every=2)

    reference = _stager()
    ref = train(reference, data, val, cfg, state_path=tmp_path / "ref")

    token = CancelToken()

    def stop_after_four(done, total, message):
        if done == 4:  # mid-way through the second pass
            token.cancel()

    model = _stager()
    with pytest.raises(Cancelled):
        train(model, data, val, cfg, state_path=tmp_path / "run", progress=stop_after_four, cancel=token)
    assert read_loop_state(tmp_path / "run").step == 4
    resumed_model = _stager(seed=99)  # different initial weights: all must come from the state file
    seen = []
    res = train(resumed_model, data, val, cfg, state_path=tmp_path / "run", resume=True,
                progress=lambda d, t, m: seen.append(d))
    assert seen[0] == 5 and res.steps == ref.steps == 6
    assert res.losses == pytest.approx(ref.losses, rel=1e-5)
    for k, v in reference.state_dict().items():
        assert torch.allclose(v.float(), resumed_model.state_dict()[k].float(), atol=1e-5), k
    # the state directory keeps one tensors file: older ones are removed as the new state is committed
    assert len(list(tmp_path.glob("run.state-*.safetensors"))) == 1


def test_pretraining_interrupted_and_resumed_continues(tmp_path):
    epochs = ToneEpochs(ToneSequences(4, seed=5))
    cfg = PretrainConfig(method="clip", epochs=2, batch_size=4, checkpoint_every=100)
    ref = pretrain(_stager(), epochs, cfg)
    token = CancelToken()
    with pytest.raises(Cancelled):
        pretrain(_stager(), epochs, cfg, state_path=tmp_path / "p",
                 progress=lambda d, t, m: token.cancel() if d == 2 else None, cancel=token)
    assert read_loop_state(tmp_path / "p").step == 2
    model = _stager(seed=7)
    res = pretrain(model, epochs, cfg, state_path=tmp_path / "p", resume=True)
    assert res.steps == ref.steps == 6
    assert res.losses == pytest.approx(ref.losses, rel=1e-5)


def test_pretraining_changes_only_the_encoders():
    model = _stager()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pretrain(model, ToneEpochs(ToneSequences(4)), PretrainConfig(method="simclr", epochs=1, batch_size=6))
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".encoder." in k for k in changed)


def _cohort(folder):
    from sleepscope.data.synthetic import write_cohort

    rng = np.random.default_rng(0)
    names = ["SC4001E0", "SC4011E0", "SC4021E0", "SC4101E0", "SC4201E0", "SC4211E0"]
    labels = {n: [0, 0] + rng.integers(0, 5, 8).tolist() + [0, 0] for n in names}
    write_cohort(folder, names, seed=0, workers=1, labels=labels)


def test_cli_pretrain_then_fine_tune_on_a_tiny_synthetic_cohort(tmp_path):
    from sleepscope.cli import main
    from sleepscope.model.checkpoint import load_model

    data = tmp_path / "cohort"
    _cohort(data)
    pre = tmp_path / "pre"
    assert main(["pretrain", "--method", "clip", "--data", str(data), "--out", str(pre), "--config", "tiny",
                 "--batch-size", "8", "--max-steps", "2", "--device", "cpu", "--quiet"]) == 0
    pre_model, pre_card = load_model(pre)
    assert pre_card.metrics["method"] == "clip" and pre_card.metrics["pretrain_steps"] == 2
    assert "2 nights of 2 subjects" in pre_card.data

    out = tmp_path / "ft"
    assert main(["train", "--data", str(data), "--subjects", "0,1", "--val-subjects", "10", "--test-subjects", "2",
                 "--init", str(pre), "--out", str(out), "--seq-len", "3", "--epochs", "2", "--batch-size", "2",
                 "--class-weights", "--device", "cpu", "--quiet"]) == 0
    model, card = load_model(out)
    assert card.parent == pre_card.version
    assert card.metrics["train_subjects"] == [0, 1]
    for split in ("validation", "test"):
        m = card.metrics[split]
        assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["macro_f1"] <= 1.0
        assert math.isnan(m["kappa"]) or -1.0 <= m["kappa"] <= 1.0
    assert card.metrics["test"]["n_epochs"] > 0
    assert state_paths(out).exists()
    # pre-training reads the nights as the paper did; training as pre-scoring will read them
    from sleepscope.model.train_commands import _default_cache

    manifests = {}
    for what in ("pretrain", "labelled"):
        with h5py.File(_default_cache(data, what), "r") as f:
            manifests[what] = json.loads(f.attrs["manifest"])
    assert manifests["pretrain"].get("as_recorded") is True and "as_recorded" not in manifests["labelled"]

    # a resumed run that is already finished writes the same model again
    assert main(["train", "--data", str(data), "--subjects", "0,1", "--val-subjects", "10", "--init", str(pre),
                 "--out", str(out), "--seq-len", "3", "--epochs", "2", "--batch-size", "2", "--resume",
                 "--device", "cpu", "--quiet"]) == 0
    assert json.loads(out.with_name("ft.json").read_text())["version"] == card.version


def test_cli_errors_are_explained(tmp_path, capsys):
    from sleepscope.cli import main

    data = tmp_path / "cohort"
    _cohort(data)
    code = main(["train", "--data", str(data), "--subjects", "0,10", "--val-subjects", "10",
                 "--out", str(tmp_path / "m"), "--quiet"])
    assert code == 2 and "both trained on and evaluated on" in capsys.readouterr().err
    code = main(["train", "--data", str(data), "--subjects", "5", "--val-subjects", "none",
                 "--out", str(tmp_path / "m"), "--quiet"])
    assert code == 2 and "[5]" in capsys.readouterr().err
    code = main(["pretrain", "--data", str(data), "--out", str(tmp_path / "m"), "--resume", "--config", "tiny",
                 "--batch-size", "4", "--quiet", "--device", "cpu"])
    assert code == 2 and "no saved state" in capsys.readouterr().err


def test_ctrl_c_stops_between_steps_saves_the_state_and_resume_continues(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from sleepscope.model.checkpoint import read_card

    data = tmp_path / "cohort"
    _cohort(data)
    out = tmp_path / "pre"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    base = [sys.executable, "-m", "sleepscope", "pretrain", "--method", "clip", "--data", str(data), "--out", str(out),
            "--config", "tiny", "--batch-size", "4", "--epochs", "1000", "--device", "cpu", "--quiet"]
    proc = subprocess.Popen(base + ["--checkpoint-every", "2"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not state_paths(out).exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err
    stopped_at = read_loop_state(out).step
    assert stopped_at >= 2
    assert not out.with_name("pre.json").exists()  # no model until the run finishes

    done = subprocess.run(base + ["--resume", "--max-steps", str(stopped_at + 2)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert read_card(out).metrics["pretrain_steps"] == stopped_at + 2
    assert len(read_loop_state(out).losses) == stopped_at + 2


def test_resuming_with_other_settings_is_refused(tmp_path):
    from sleepscope.errors import SleepScopeError

    data = ToneSequences(4)
    train(_stager(), data, None, TrainConfig(epochs=1, batch_size=2, max_steps=1), state_path=tmp_path / "m")
    with pytest.raises(SleepScopeError, match="freeze_encoders was False, now True"):
        train(_stager(), data, None, TrainConfig(epochs=1, batch_size=2, freeze_encoders=True),
              state_path=tmp_path / "m", resume=True)
    with pytest.raises(SleepScopeError, match="not a pre-training run"):
        pretrain(_stager(), ToneEpochs(data), PretrainConfig(batch_size=4), state_path=tmp_path / "m", resume=True)


# -- the loop's hooks ---------------------------------------------------------------------------

def test_hooks_see_every_step_and_validation_every_k_steps():
    data, val = ToneSequences(8, seed=1), ToneSequences(4, seed=2)
    steps, validations = [], []
    result = train(_stager(), data, val, TrainConfig(epochs=3, batch_size=2, val_every=3, patience=10),
                   on_step=steps.append, on_validation=validations.append)
    # 4 steps per pass, 12 in all: validated at 3, 6, 9 and 12 (every K steps, whatever the pass)
    assert [v.step for v in validations] == [3, 6, 9, 12] == [h["step"] for h in result.history]
    assert [s.step for s in steps] == list(range(1, 13)) and {s.total for s in steps} == {12}
    assert [s.loss for s in steps] == result.losses  # the loss itself, not text to parse
    assert [s.epoch for s in steps] == [0] * 4 + [1] * 4 + [2] * 4
    best = max(v.score for v in validations)
    assert result.validation["macro_f1"] == pytest.approx(best)
    assert validations[-1].best_score == pytest.approx(best)
    assert [v.improved for v in validations][0] is True


def test_a_validation_hook_returning_true_stops_training_and_the_best_weights_are_kept(tmp_path):
    data, val = ToneSequences(8, seed=1), ToneSequences(4, seed=2)
    seen = []

    def stop_at_the_second(v):
        seen.append(v)
        return len(seen) == 2

    model = _stager()
    result = train(model, data, val, TrainConfig(epochs=50, batch_size=2, val_every=2, patience=100),
                   on_validation=stop_at_the_second, state_path=tmp_path / "m")
    assert result.steps == 4 and len(result.history) == 2 and not result.stopped_early
    state = read_loop_state(tmp_path / "m")
    assert state.finished and state.step == 4
    from sleepscope.model.train import evaluate

    kept = evaluate(model, val).macro_f1
    assert kept == pytest.approx(max(v.score for v in seen))
    # a finished run resumed does nothing more
    again = train(_stager(seed=5), data, val, TrainConfig(epochs=50, batch_size=2, val_every=2, patience=100),
                  state_path=tmp_path / "m", resume=True)
    assert again.steps == 4


def test_a_step_hook_returning_true_stops_pretraining_too():
    stops = []
    result = pretrain(_stager(), ToneEpochs(ToneSequences(4, seed=5)), PretrainConfig(method="clip", epochs=5,
                      batch_size=4), on_step=lambda e: stops.append(e.loss) or e.step == 2)
    assert result.steps == 2 and result.losses == stops


def test_patience_counts_validations_every_k_steps():
    # lr 0: nothing improves after the first validation; patience 2 -> stop at the third
    result = train(_stager(), ToneSequences(8, seed=1), ToneSequences(2, seed=2),
                   TrainConfig(epochs=20, batch_size=2, val_every=3, patience=2, lr=0.0))
    assert result.stopped_early and [h["step"] for h in result.history] == [3, 6, 9] and result.steps == 9
    assert result.best_step == 3


def test_fine_tuning_and_the_paper_experiment_follow_the_loop_through_hooks_not_text_or_exceptions(tmp_path):
    """The loss comes from the step hook (full precision, not parsed from progress text); early stopping is the
    loop's return path (no exception class raised from a callback)."""
    import inspect

    import sleepscope.experiments.paper as paper
    import sleepscope.model.finetune as finetune_module
    from sleepscope.tasks import Cancelled as CancelledBase
    from test_finetune import correction_set

    for module in (finetune_module, paper):
        source = inspect.getsource(module)
        assert not re.search(r"^\s*(import re\b|from re import)", source, re.M) and "re.compile" not in source
        assert not [c for _, c in inspect.getmembers(module, inspect.isclass)
                    if issubclass(c, CancelledBase) and c is not CancelledBase]
        assert "register_forward_hook" not in source

    cs = correction_set(n=120)
    events = []
    torch.manual_seed(0)
    model = SleepStager(CONFIGS["tiny"])
    from sleepscope.model.checkpoint import ModelCard
    from sleepscope.model.finetune import FineTuneOptions, finetune

    res = finetune(model, ModelCard(config=model.config), cs, None,
                   FineTuneOptions(epochs=2, batch_size=2, lr=1e-3, patience=5), events=events.append)
    step_losses = [e["loss"] for e in events if e["event"] == "step"]
    assert step_losses == res.losses  # exactly: text would have rounded them to 4 decimals
    assert any(round(v, 4) != v for v in step_losses)


def test_pretraining_and_training_run_through_the_one_loop(monkeypatch):
    import sleepscope.model.loop as loop
    import sleepscope.model.pretrain as pretrain_module
    import sleepscope.model.train as train_module

    calls = []

    def counting(state, *args, **kwargs):
        calls.append(state.kind)
        return loop.run_loop(state, *args, **kwargs)

    monkeypatch.setattr(train_module, "run_loop", counting)
    monkeypatch.setattr(pretrain_module, "run_loop", counting)
    train(_stager(), ToneSequences(4), None, TrainConfig(epochs=1, batch_size=2))
    pretrain(_stager(), ToneEpochs(ToneSequences(4)), PretrainConfig(method="clip", epochs=1, batch_size=4))
    assert calls == ["train", "pretrain"]


def test_training_from_a_stager_that_scores_with_night_statistics_learns_on_the_trained_ones(tmp_path, capsys):
    from sleepscope.cli import main
    from sleepscope.model.checkpoint import load_model, save_model
    from sleepscope.model.network import SleepStager

    data = tmp_path / "cohort"
    _cohort(data)
    init = tmp_path / "init"
    save_model(SleepStager(CONFIGS["tiny"].with_(night_statistics=True)), init)
    out = tmp_path / "child"
    args = ["train", "--data", str(data), "--subjects", "0,1", "--val-subjects", "10", "--init", str(init),
            "--out", str(out), "--seq-len", "3", "--max-steps", "1", "--batch-size", "2", "--device", "cpu", "--quiet"]
    assert main(args) == 0
    assert load_model(init)[1].config.night_statistics and not load_model(out)[1].config.night_statistics
    # averaging with the parent belongs to archive training
    assert main([*args, "--keep-parent", "0.5"]) == 2
    assert "--keep-parent applies to training on an archive" in capsys.readouterr().err


def test_distillation_keeps_the_child_near_its_teacher_where_labels_pull_away():
    data = ToneSequences(8, seed=1)
    teacher = _stager()
    # 20 passes: after 8 the teacher knew nothing on some CPUs, and a uniform teacher holds no child anywhere
    train(teacher, data, None, TrainConfig(epochs=20, batch_size=4, lr=3e-3, seed=0))
    with torch.no_grad():
        assert (teacher(data.x).argmax(-1) == data.y)[data.y >= 0].float().mean() > 0.6
    moved = ToneSequences(8, seed=1)
    moved.y = torch.where(moved.y >= 0, (moved.y + 1) % 5, moved.y)  # labels that contradict the teacher

    def divergence(weight: float) -> float:
        child = _stager()
        child.load_state_dict(teacher.state_dict())
        train(child, moved, None, TrainConfig(epochs=8, batch_size=4, lr=3e-3, seed=0, distill=weight), teacher=teacher)
        with torch.no_grad():
            own = torch.log_softmax(child(data.x), -1)
            target = torch.softmax(teacher(data.x), -1)
        return float(torch.nn.functional.kl_div(own, target, reduction="batchmean"))

    # the control: the same steps without the teacher's term move further away
    assert divergence(5.0) < 0.5 * divergence(0.0)


def test_distillation_without_a_teacher_is_refused():
    with pytest.raises(SleepScopeError, match="needs a teacher"):
        train(_stager(), ToneSequences(4), None, TrainConfig(epochs=1, batch_size=2, distill=1.0))


def test_distilling_where_agreed_leaves_epochs_the_teacher_gets_wrong_to_the_labels():
    data = ToneSequences(8, seed=1)
    teacher = _stager()
    train(teacher, data, None, TrainConfig(epochs=2, batch_size=4, lr=3e-3, seed=0))
    with torch.no_grad():
        guess = teacher(data.x).argmax(-1)
    wrong = ToneSequences(8, seed=1)
    wrong.y = (guess + 1) % 5  # every label contradicts the teacher

    def child(**distill) -> dict:
        model = _stager()
        model.load_state_dict(teacher.state_dict())
        train(model, wrong, None, TrainConfig(epochs=2, batch_size=4, seed=0, **distill), teacher=teacher)
        return model.state_dict()

    plain, agreed, everywhere = child(), child(distill=5.0, distill_agreed=True), child(distill=5.0)
    assert all(torch.equal(plain[k], agreed[k]) for k in plain)
    # the control: distilled everywhere, the same labels give another model
    assert not all(torch.equal(plain[k], everywhere[k]) for k in plain)
