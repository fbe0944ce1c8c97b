"""Pseudo-labels: agreed, confident epochs of unlabelled nights as their own, weighted label source."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sleepscope.model.pseudo_labels import PSEUDO_SOURCE, agreed, pseudo_label_set


def onehot(stages, p):
    out = np.full((len(stages), 5), (1 - p) / 4, np.float32)
    out[np.arange(len(stages)), stages] = p
    return out


def test_agreed_needs_the_same_stage_both_confident_and_no_artefact():
    a = onehot([0, 1, 2, 3, 4, 2], 0.9)
    b = onehot([0, 1, 3, 3, 4, 2], 0.9)
    b[3] = onehot([3], 0.5)[0]  # same stage, the second opinion unsure
    artefact = np.array([0, 0, 0, 0, 1, 0], bool)
    assert agreed(a, b, 0.8, artefact).tolist() == [True, True, False, False, False, True]
    assert agreed(a, b, 0.4, artefact).tolist() == [True, True, False, True, False, True]


class FakeScorer:
    def __init__(self, stages, p, artefact=None):
        self.stages, self.p, self.artefact = np.asarray(stages), p, artefact

    def score(self, recording, progress=None, cancel=None):
        n = recording.n_epochs
        art = np.zeros(n, bool) if self.artefact is None else self.artefact
        return SimpleNamespace(probs=onehot(self.stages[:n], self.p), artefact=art, n_epochs=n)


def test_pseudo_label_set_holds_the_agreed_epochs_as_their_own_source():
    from sleepscope.io import Recording

    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.normal(0, 20, 6 * 3000), rng.normal(0, 20, 6 * 3000))
    ours = FakeScorer([0, 2, 2, 3, 4, 4], 0.95, artefact=np.array([0, 0, 0, 0, 0, 1], bool))
    yasa = FakeScorer([0, 1, 2, 3, 4, 4], 0.9)
    cs = pseudo_label_set(ours, yasa, [rec], threshold=0.8)
    assert cs.epoch.tolist() == [0, 2, 3, 4]
    assert cs.y.tolist() == [0, 2, 3, 4]
    assert set(cs.source) == {PSEUDO_SOURCE}
    assert cs.x.shape == (4, 2, 3000)


def test_epochs_read_from_the_eeg_alone_give_no_pseudo_label():
    """The recording holds the failed EOG of those epochs, which fine-tuning would learn from with the label."""
    from sleepscope.io import Recording

    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.normal(0, 20, 6 * 3000), rng.normal(0, 20, 6 * 3000))
    ours = FakeScorer([0, 2, 2, 3, 4, 4], 0.95)
    alone = np.array([0, 0, 1, 0, 0, 0], bool)

    def with_quality(eeg_alone):
        def score(recording, progress=None, cancel=None):
            out = FakeScorer.score(ours, recording)
            out.quality = SimpleNamespace(eeg_alone=eeg_alone)
            return out
        return SimpleNamespace(score=score)

    yasa = FakeScorer([0, 2, 2, 3, 4, 4], 0.9)
    assert pseudo_label_set(with_quality(alone), yasa, [rec], threshold=0.8).epoch.tolist() == [0, 1, 3, 4, 5]
    # control: none read from the EEG alone, every agreed epoch
    assert pseudo_label_set(with_quality(~alone & alone), yasa, [rec], threshold=0.8).epoch.tolist() == list(range(6))


def test_a_pseudo_label_is_learned_from_the_input_both_opinions_read():
    """F4-M1 flat in epochs 2-4 beside a clean F3-M2: pre-scoring read F3-M2 there, so the pseudo-labelled
    epochs hold F3-M2, not the flat channel the recording holds (which fine-tuning would learn the label from)."""
    from test_backups import recording, signals

    from sleepscope.model.backups import read_for_model
    from sleepscope.model.inputs import model_input

    rec = recording(signals(n_epochs=6))
    agree = FakeScorer([0, 2, 2, 3, 4, 4], 0.95)
    cs = pseudo_label_set(agree, FakeScorer([0, 2, 2, 3, 4, 4], 0.9), [rec], threshold=0.8)
    assert cs.epoch.tolist() == list(range(6))
    np.testing.assert_array_equal(cs.x, read_for_model(rec, "epoch").x)
    as_recorded = model_input(rec, "epoch")
    assert not as_recorded[2:5, 0].any() and cs.x[2:5, 0].any()  # flat as recorded; the backup in the set
    np.testing.assert_array_equal(cs.x[[0, 1, 5]], as_recorded[[0, 1, 5]])  # control: the epochs around


def _weighted_first_loss(items, weights=None):
    """First-step loss of train() on these (x, y) sequence items, with per-item loss weights."""
    from sleepscope.model.config import get_config
    from sleepscope.model.correction_data import Weighted
    from sleepscope.model.network import SleepStager
    from sleepscope.model.train import TrainConfig, train

    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return len(items)

        def __getitem__(self, i):
            return items[i]

    data = Items()
    if weights is not None:
        parts = [Weighted(torch.utils.data.Subset(data, [i]), w) for i, w in enumerate(weights)]
        data = torch.utils.data.ConcatDataset(parts)
    torch.manual_seed(0)
    model = SleepStager(get_config("tiny"))
    r = train(model, data, None, TrainConfig(epochs=1, batch_size=len(items), max_steps=1, seed=0))
    return r.losses[0]


def test_a_pseudo_label_weighs_in_the_loss_by_its_weight():
    rng = np.random.default_rng(1)
    x = [torch.from_numpy(rng.normal(0, 1, (4, 2, 3000)).astype(np.float32)) for _ in range(2)]
    tech = (x[0], torch.tensor([0, 2, 2, 4]))
    wrong = (x[1], torch.tensor([3, 3, 1, 1]))
    ignored = (x[1], torch.tensor([-1, -1, -1, -1]))
    plain = _weighted_first_loss([tech, wrong])
    assert _weighted_first_loss([tech, wrong], [1.0, 1.0]) == pytest.approx(plain, rel=1e-5)
    tech_only = _weighted_first_loss([tech, ignored])
    # the same batch (same batch-norm statistics); the pseudo item at weight ~0 counts for nothing
    assert _weighted_first_loss([tech, wrong], [1.0, 1e-6]) == pytest.approx(tech_only, rel=1e-4)
    half = _weighted_first_loss([tech, wrong], [1.0, 0.5])
    assert min(plain, tech_only) < half < max(plain, tech_only)


def test_finetuning_with_pseudo_labels_never_holds_them_out():
    from sleepscope.model.checkpoint import ModelCard
    from sleepscope.model.config import get_config
    from sleepscope.model.finetune import FineTuneOptions, finetune
    from sleepscope.model.network import SleepStager
    from sleepscope.scoring.corrections import CorrectionSet

    rng = np.random.default_rng(2)

    def cs(n, name, source):
        y = np.repeat(np.arange(5), n // 5 + 1)[:n]
        return CorrectionSet(rng.normal(0, 1, (n, 2, 3000)).astype(np.float32), y.astype(np.int64),
                             np.full(n, name).astype(str), np.arange(n), np.full(n, source).astype(str))

    torch.manual_seed(0)
    parent = SleepStager(get_config("tiny"))
    card = ModelCard(config=parent.config, version="0" * 16)
    corrections = cs(100, "night", "technician")
    opts = FineTuneOptions(epochs=1, seq_len=10, max_steps=2)
    without = finetune(parent, card, corrections, None, opts)
    with_pseudo = finetune(parent, card, corrections, None, opts, pseudo=cs(60, "other", PSEUDO_SOURCE))
    m0, m1 = without.card.metrics, with_pseudo.card.metrics
    assert m1["finetune"]["n_pseudo"] == 60 and m0["finetune"]["n_pseudo"] == 0
    assert m1["data_identity"] == m0["data_identity"]  # the corrections, not the pseudo-labels
    assert m1["heldout"]["n_epochs"] == m0["heldout"]["n_epochs"]
    assert with_pseudo.split.report.tolist() == without.split.report.tolist()
    # more training data: more steps would be needed per pass (the cap keeps both at 2)
    assert m1["finetune"]["steps"] == m0["finetune"]["steps"] == 2


def test_finetune_command_learns_from_pseudo_labels(tmp_path, capsys):
    import json

    from sleepscope.cli import main
    from sleepscope.data.synthetic import write_night
    from test_finetune import corrected_night_files, tiny_model_file

    pytest.importorskip("yasa")
    _, scoring = corrected_night_files(tmp_path / "rec", n=100)
    labels = np.array([0] * 10 + [2] * 30 + [3] * 10 + [4] * 10, np.int8)
    unlabelled, _ = write_night(tmp_path / "lab", "SC4021E0", seed=1, labels=labels, family="B")
    parent = tiny_model_file(tmp_path / "parent")
    args = ["finetune", "--scoring", str(scoring), "--from", str(parent), "--epochs", "1", "--max-steps", "2",
            "--progress", "none"]
    assert main([*args, "--out", str(tmp_path / "plain")]) == 0
    assert main([*args, "--out", str(tmp_path / "pseudo"), "--pseudo-labels", str(tmp_path / "lab"),
                 "--pseudo-threshold", "0", "--pseudo-weight", "0.25"]) == 0
    plain = json.loads((tmp_path / "plain.json").read_text())["metrics"]
    pseudo = json.loads((tmp_path / "pseudo.json").read_text())["metrics"]
    assert plain["finetune"]["n_pseudo"] == 0
    assert 0 < pseudo["finetune"]["n_pseudo"] <= 60 and pseudo["finetune"]["pseudo_weight"] == 0.25
    # the corrections and their held-out part are the same: pseudo-labels are only trained on
    assert pseudo["data_identity"] == plain["data_identity"]
    assert pseudo["heldout"]["n_epochs"] == plain["heldout"]["n_epochs"]
