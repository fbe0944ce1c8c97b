"""Site pre-training (`sleepscope pretrain --recordings`): CLIP on a lab's unlabelled recordings.

Its loss falls on a few short synthetic nights of a family the parent never
saw, an interrupted run resumed ends where an uninterrupted one does, a bad
recording is listed and skipped, and the encoder-only result is refused by
pre-scoring and by activation but fine-tunes into a model that scores.
"""

import json
from datetime import datetime

import numpy as np
import pytest
import torch

from sleepscope.cli import main
from sleepscope.errors import SleepScopeError

LABELS = np.array([0] * 8 + [1] * 4 + [2] * 20 + [3] * 10 + [2] * 6 + [4] * 12, np.int8)  # 60 epochs


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Three short family-B nights (randomised acquisition) and a tiny parent model."""
    from sleepscope.data.synthetic import write_night
    from sleepscope.model.checkpoint import save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    root = tmp_path_factory.mktemp("lab")
    nights = root / "nights"
    for name in ("SC4011E0", "SC4021E0", "SC4031E0"):
        write_night(nights, name, seed=3, labels=LABELS, family="B", randomise=True)
    torch.manual_seed(0)
    parent = root / "parent"
    card = save_model(SleepStager(get_config("tiny")), parent)
    return nights, parent, card.version


def _run_args(nights, parent, out, *extra):
    return ["pretrain", "--recordings", str(nights), "--from", str(parent), "--out", str(out), "--epochs", "4",
            "--batch-size", "16", "--lr", "1e-3", "--quiet", *extra]


def test_loss_falls_and_result_is_encoder_only(lab, tmp_path, capsys):
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.infer import predict

    nights, parent, parent_version = lab
    out = tmp_path / "site"
    assert main(_run_args(nights, parent, out)) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    m = card["metrics"]
    assert m["encoder_only"] is True and card["parent"] == parent_version
    assert len(m["site_recordings"]) == 3 and m["site_epochs"] > 150
    assert m["pretrain_loss_end"] < 0.8 * m["pretrain_loss_start"]
    assert "encoder-only" in capsys.readouterr().out

    model, _ = load_model(out.with_suffix(".safetensors"))
    x = np.zeros((30, 2, 3000), np.float32)
    with pytest.raises(SleepScopeError, match="pre-trained encoder.*fine-tune"):
        predict(x, model)
    # the same weights without the card's mark score: the refusal is the mark's doing
    model.encoder_only = False
    assert predict(x, model).n_epochs == 30


def test_prescore_command_refuses_encoder_only(lab, tmp_path, capsys):
    nights, parent, _ = lab
    out = tmp_path / "site"
    assert main(_run_args(nights, parent, out, "--max-steps", "2")) == 0
    rec = sorted(nights.glob("*PSG.edf"))[0]
    assert main(["prescore", str(rec), "--model", str(out.with_suffix(".safetensors")),
                 "--out", str(tmp_path / "p.csv")]) == 2
    assert "pre-trained encoder" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()
    # the parent itself pre-scores the same recording
    assert main(["prescore", str(rec), "--model", str(parent.with_suffix(".safetensors")),
                 "--out", str(tmp_path / "p.csv")]) == 0


def test_resumed_run_ends_where_an_uninterrupted_one_does(lab, tmp_path):
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.pretrain import PretrainConfig
    from sleepscope.model.site_pretrain import read_unlabelled, site_pretrain
    from sleepscope.tasks import CancelToken, Cancelled

    nights, parent, _ = lab
    data = read_unlabelled([nights])
    # Anchored, so that the resumed run must also pull towards the encoders the run started from, not those it
    # resumed (the unanchored loop is the same loop with one term fewer).
    cfg = PretrainConfig(method="clip", epochs=2, batch_size=16, lr=1e-3, checkpoint_every=100, feature_anchor=10.0)

    whole, _ = load_model(parent.with_suffix(".safetensors"))
    full, _, _ = site_pretrain(whole, data, cfg, state_path=tmp_path / "whole")

    part, _ = load_model(parent.with_suffix(".safetensors"))
    token = CancelToken()

    def stop_at_5(e):
        if e.step == 5:
            token.cancel()

    with pytest.raises(Cancelled):
        site_pretrain(part, data, cfg, state_path=tmp_path / "part", on_step=stop_at_5, cancel=token)
    again, _ = load_model(parent.with_suffix(".safetensors"))
    steps_after = []
    resumed, _, _ = site_pretrain(again, data, cfg, state_path=tmp_path / "part", resume=True,
                                  on_step=lambda e: steps_after.append(e.step))
    assert resumed.steps == full.steps > 5
    assert steps_after == list(range(6, full.steps + 1))  # only the steps the interrupted run had not made
    assert resumed.losses == pytest.approx(full.losses, rel=1e-5)
    a, b = whole.state_dict(), again.state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)
    # control: the run interrupted and not resumed stands elsewhere
    assert not all(torch.allclose(a[k].float(), part.state_dict()[k].float(), atol=1e-6) for k in a)


def _drift_from(parent_path, model, x) -> float:
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.pretrain import feature_drift, frozen_copy

    start, _ = load_model(parent_path.with_suffix(".safetensors"))
    xb = torch.from_numpy(np.asarray(x, np.float32))
    with torch.no_grad():
        return float(np.mean([float(feature_drift(frozen_copy(getattr(model, b).encoder)(xb[:, c : c + 1]),
                                                  frozen_copy(getattr(start, b).encoder)(xb[:, c : c + 1])))
                              for c, b in ((0, "eeg_branch"), (1, "eog_branch"))]))


def test_feature_anchor_keeps_the_encoders_near_their_start_while_clip_learns(lab):
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.pretrain import PretrainConfig
    from sleepscope.model.site_pretrain import read_unlabelled, site_pretrain

    nights, parent, _ = lab
    data = read_unlabelled([nights])
    drift, result = {}, {}
    for w in (0.0, 10.0):  # the unanchored run is the control
        model, _ = load_model(parent.with_suffix(".safetensors"))
        cfg = PretrainConfig(method="clip", epochs=2, batch_size=16, lr=1e-3, feature_anchor=w)
        result[w], metrics, _ = site_pretrain(model, data, cfg)
        drift[w] = _drift_from(parent, model, data.x[:64])
    assert drift[0.0] > 0.1
    assert drift[10.0] < 0.5 * drift[0.0]
    assert result[10.0].losses[-1] < result[10.0].losses[0]  # CLIP still learns under the anchor


def test_feature_drift_is_zero_at_the_start_and_about_two_for_unrelated_features():
    from sleepscope.model.pretrain import feature_drift

    g = torch.Generator().manual_seed(0)
    ref = [torch.randn(64, 8, 50, generator=g) * 5, torch.randn(64, 16, 10, generator=g) * 0.1]
    assert float(feature_drift(ref, ref)) == 0.0
    other = [torch.randn(r.shape, generator=g) * r.std() for r in ref]
    assert float(feature_drift(other, ref)) == pytest.approx(2.0, abs=0.1)
    # relative to each stage's own scale: a stage of large outputs does not drown a small one
    assert float(feature_drift([ref[0] * 1.1, ref[1]], ref)) == pytest.approx(
        float(feature_drift([ref[0], ref[1] * 1.1], ref)), rel=0.05)


def test_feature_anchor_is_refused_where_it_means_nothing():
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager
    from sleepscope.model.pretrain import PretrainObjective

    for method, weight in (("simclr", 1.0), ("tstcc", 1.0), ("clip", -1.0)):
        with pytest.raises(SleepScopeError, match="feature anchor"):
            PretrainObjective(SleepStager(get_config("tiny")), method, feature_anchor=weight)
    PretrainObjective(SleepStager(get_config("tiny")), "clip", feature_anchor=0.0)  # control


def test_resuming_with_another_feature_anchor_is_refused(lab, tmp_path):
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.pretrain import PretrainConfig
    from sleepscope.model.site_pretrain import read_unlabelled, site_pretrain

    nights, parent, _ = lab
    data = read_unlabelled([nights])
    cfg = PretrainConfig(method="clip", epochs=1, batch_size=16, lr=1e-3, max_steps=2, checkpoint_every=1)
    model, _ = load_model(parent.with_suffix(".safetensors"))
    site_pretrain(model, data, cfg, state_path=tmp_path / "site")
    model, _ = load_model(parent.with_suffix(".safetensors"))
    with pytest.raises(SleepScopeError, match="feature_anchor"):
        site_pretrain(model, data, PretrainConfig(**{**cfg.__dict__, "feature_anchor": 5.0}),
                      state_path=tmp_path / "site", resume=True)
    model, _ = load_model(parent.with_suffix(".safetensors"))
    site_pretrain(model, data, cfg, state_path=tmp_path / "site", resume=True)  # control: the same settings resume
    # A state saved before the anchor existed holds no feature_anchor: it was an unanchored run, and resumes so.
    json_path = tmp_path / "site.state.json"
    doc = json.loads(json_path.read_text())
    del doc["loop"]["settings"]["feature_anchor"]
    json_path.write_text(json.dumps(doc))
    model, _ = load_model(parent.with_suffix(".safetensors"))
    site_pretrain(model, data, cfg, state_path=tmp_path / "site", resume=True)
    model, _ = load_model(parent.with_suffix(".safetensors"))
    with pytest.raises(SleepScopeError, match="feature_anchor was 0.0, now 5.0"):
        site_pretrain(model, data, PretrainConfig(**{**cfg.__dict__, "feature_anchor": 5.0}),
                      state_path=tmp_path / "site", resume=True)


def test_bad_recordings_are_listed_and_skipped(lab, tmp_path, capsys):
    from sleepscope.io.export import write_edf

    nights, parent, _ = lab
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for p in sorted(nights.glob("*PSG.edf"))[:2]:
        (mixed / p.name).write_bytes(p.read_bytes())
    (mixed / "garbage.edf").write_bytes(b"this is not an EDF file at all" * 20)
    rng = np.random.default_rng(0)
    write_edf(mixed / "no_eeg.edf", {"EMG submental": (rng.normal(0, 10, 60 * 30 * 100), 100),
                                     "Resp oro-nasal": (rng.normal(0, 10, 60 * 30 * 100), 100)},
              datetime(2022, 1, 1, 23, 0))
    write_edf(mixed / "eeg_only.edf", {"EEG Fpz-Cz": (rng.normal(0, 20, 60 * 30 * 100), 100)},
              datetime(2022, 1, 1, 23, 0))
    out = tmp_path / "site"
    assert main(_run_args(mixed, parent, out, "--max-steps", "2", "--progress", "jsonl")) == 0
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    rec_event = next(e for e in events if e["event"] == "recordings")
    skipped = {p.split("/")[-1]: why for p, why in rec_event["skipped"]}
    assert set(skipped) == {"garbage.edf", "no_eeg.edf", "eeg_only.edf"}
    assert "no EOG" in skipped["eeg_only.edf"]
    assert len(rec_event["used"]) == 2
    assert events[-1]["event"] == "done"
    assert "skipped" in captured.err and "garbage.edf" in captured.err
    assert len(json.loads(out.with_suffix(".json").read_text())["metrics"]["skipped_recordings"]) == 3


def test_nothing_usable_is_one_message(lab, tmp_path, capsys):
    nights, parent, _ = lab
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "garbage.edf").write_bytes(b"nonsense" * 50)
    out = tmp_path / "site"
    assert main(_run_args(bad, parent, out)) == 2
    assert "none of the recordings can be used" in capsys.readouterr().err
    assert not out.with_suffix(".safetensors").exists()


def test_registry_keeps_encoder_only_but_never_activates_it(lab, tmp_path, monkeypatch):
    from sleepscope.model.registry import ModelRegistry

    monkeypatch.setenv("SLEEPSCOPE_DATA_DIR", str(tmp_path / "data"))
    nights, parent, parent_version = lab
    out = tmp_path / "site"
    assert main(_run_args(nights, parent, out, "--max-steps", "2", "--register")) == 0
    reg = ModelRegistry()
    site = [v for v in reg.versions() if v.encoder_only]
    assert len(site) == 1 and parent_version in reg
    with pytest.raises(SleepScopeError, match="cannot be the active model"):
        reg.activate(site[0].version)
    assert reg.activate(parent_version).version == parent_version


def test_finetuning_starts_from_the_encoder_and_scores(lab, tmp_path):
    """An encoder-only model fine-tuned on labels is an ordinary model: it pre-scores."""
    from sleepscope.io import open_recording
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.finetune import FineTuneOptions, finetune
    from sleepscope.model.infer import predict
    from sleepscope.model.inputs import model_input
    from sleepscope.scoring.corrections import CorrectionSet

    nights, parent, _ = lab
    out = tmp_path / "site"
    assert main(_run_args(nights, parent, out, "--max-steps", "2")) == 0
    model, card = load_model(out.with_suffix(".safetensors"))
    xs = [model_input(open_recording(p)) for p in sorted(nights.glob("*PSG.edf"))[:2]]
    n = [len(x) for x in xs]
    cs = CorrectionSet(x=np.concatenate(xs), y=np.concatenate([LABELS[:k] for k in n]).astype(np.int64),
                       fingerprint=np.array(sum([[f"r{i}"] * k for i, k in enumerate(n)], [])),
                       epoch=np.concatenate([np.arange(k) for k in n]), source=np.array(["technician"] * sum(n)))
    result = finetune(model, card, cs, tmp_path / "child", FineTuneOptions(epochs=1, seq_len=10))
    child, child_card = load_model(tmp_path / "child.safetensors")
    assert child_card.parent == card.version and "encoder_only" not in child_card.metrics
    assert predict(xs[0], child).n_epochs == n[0]
    assert predict(xs[0], result.model).n_epochs == n[0]


def _corrections(model, nights):
    from sleepscope.io import open_recording
    from sleepscope.model.inputs import model_input
    from sleepscope.scoring.corrections import CorrectionSet

    xs = [model_input(open_recording(p), model.config.normalisation) for p in sorted(nights.glob("*PSG.edf"))]
    n = [len(x) for x in xs]
    return CorrectionSet(x=np.concatenate(xs), y=np.concatenate([LABELS[:k] for k in n]).astype(np.int64),
                         fingerprint=np.array(sum([[f"r{i}"] * k for i, k in enumerate(n)], [])),
                         epoch=np.concatenate([np.arange(k) for k in n]), source=np.array(["technician"] * sum(n)))


def test_finetuning_a_site_start_keeps_part_of_and_compares_with_its_stager(lab, tmp_path):
    """The encoder-only start cannot score: the child is averaged with the stager it was pre-trained from, and
    its held-out figures are compared with that stager's, not with the encoder's."""
    from dataclasses import replace

    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.correction_data import CorrectionSequences
    from sleepscope.model.finetune import FineTuneOptions, finetune
    from sleepscope.model.train import evaluate

    nights, parent_path, parent_version = lab
    out = tmp_path / "site"
    assert main(_run_args(nights, parent_path, out, "--max-steps", "3")) == 0
    site, site_card = load_model(out.with_suffix(".safetensors"))
    parent, parent_card = load_model(parent_path.with_suffix(".safetensors"))
    cs = _corrections(site, nights)
    # no distillation: with a stager it would learn that stager's probabilities, alone it has none to learn
    opts = FineTuneOptions(epochs=1, seq_len=10, min_steps=2, seed=1, keep_parent=0.0, distill=0.0)
    plain = finetune(site, site_card, cs, None, opts, anchor=(parent, parent_card))
    kept = finetune(site, site_card, cs, None, replace(opts, keep_parent=0.5), anchor=(parent, parent_card))
    alone = finetune(site, site_card, cs, None, replace(opts, keep_parent=0.5))  # no stager to keep
    p, c, k = parent.state_dict(), plain.model.state_dict(), kept.model.state_dict()
    for name in (n for n in p if p[n].is_floating_point()):
        torch.testing.assert_close(k[name], 0.5 * c[name] + 0.5 * p[name], rtol=1e-5, atol=1e-6)
    assert kept.card.parent == site_card.version and parent_version in kept.card.notes
    assert kept.card.metrics["finetune"]["freeze_encoders"] is False  # the paper's setting for a new encoder
    report = CorrectionSequences(cs, kept.split.report_runs, 10)
    h = kept.card.metrics["heldout"]
    assert h["compared_with"] == parent_version
    assert h["parent"]["accuracy"] == pytest.approx(evaluate(parent, report).accuracy)
    assert alone.card.metrics["finetune"]["keep_parent"] == 0.0
    assert alone.card.metrics["heldout"]["compared_with"] == site_card.version
    for name, v in alone.model.state_dict().items():
        assert torch.equal(v, plain.model.state_dict()[name]), name


def test_site_anchor_follows_the_cards_parents_through_the_registry(lab, tmp_path):
    from sleepscope.model.registry import ModelRegistry
    from sleepscope.model.site_pretrain import site_anchor
    from sleepscope.model.checkpoint import load_model

    nights, parent_path, parent_version = lab
    first, second = tmp_path / "site1", tmp_path / "site2"
    assert main(_run_args(nights, parent_path, first, "--max-steps", "1")) == 0
    assert main(_run_args(nights, first.with_suffix(".safetensors"), second, "--max-steps", "1")) == 0
    _, first_card = load_model(first.with_suffix(".safetensors"))
    _, second_card = load_model(second.with_suffix(".safetensors"))
    _, parent_card = load_model(parent_path.with_suffix(".safetensors"))
    reg = ModelRegistry(tmp_path / "registry")
    assert site_anchor(first_card, reg) is None  # its stager is nowhere to be found
    assert site_anchor(parent_card, reg) is None  # a stager needs none
    reg.add(parent_path.with_suffix(".safetensors"))
    assert site_anchor(first_card, reg)[1].version == parent_version
    assert site_anchor(second_card, reg) is None  # the encoder between them is not registered
    reg.add(first.with_suffix(".safetensors"))
    assert site_anchor(second_card, reg)[1].version == parent_version


def test_finetune_command_from_a_registered_site_start(lab, tmp_path, monkeypatch, capsys):
    """The command the GUI runs finds the stager in the registry; without it, it says so and keeps the child."""
    from tests.test_finetune import corrected_night_files

    nights, parent_path, parent_version = lab
    psg, scoring = corrected_night_files(tmp_path / "night", n=120)
    monkeypatch.setenv("SLEEPSCOPE_DATA_DIR", str(tmp_path / "data"))
    site = tmp_path / "site"
    assert main(_run_args(nights, parent_path, site, "--max-steps", "1", "--register")) == 0
    site_version = json.loads(site.with_suffix(".json").read_text())["version"]
    run = ["finetune", "--scoring", str(scoring), "--out", str(tmp_path / "child"), "--epochs", "1",
           "--min-steps", "1", "--threads", "1"]
    assert main([*run, "--from", site_version]) == 0
    card = json.loads((tmp_path / "child.json").read_text())
    assert card["metrics"]["heldout"]["compared_with"] == parent_version
    assert card["metrics"]["finetune"]["keep_parent"] == 0.5 and parent_version in card["notes"]
    capsys.readouterr()

    monkeypatch.setenv("SLEEPSCOPE_DATA_DIR", str(tmp_path / "elsewhere"))  # a registry without the stager
    assert main([*run, "--from", str(site.with_suffix(".safetensors"))]) == 0
    assert f"{parent_version} that {site_version} was pre-trained from is not in the model registry" in \
        capsys.readouterr().err
    card = json.loads((tmp_path / "child.json").read_text())
    assert card["metrics"]["heldout"]["compared_with"] == site_version
    assert card["metrics"]["finetune"]["keep_parent"] == 0.0


def test_epochs_whose_eog_failed_are_left_out_of_site_pretraining(tmp_path):
    """Pre-scoring reads such epochs from the EEG alone; CLIP pairs the EEG with the EOG, so they are left out
    (control: the same night with its EOG whole keeps every epoch)."""
    from sleepscope.io.export import write_edf
    from sleepscope.model.site_pretrain import read_unlabelled

    rng = np.random.default_rng(0)
    eeg, eog = rng.normal(0, 20, 20 * 3000), rng.normal(0, 30, 20 * 3000)
    write_edf(tmp_path / "whole" / "night.edf", {"EEG Fpz-Cz": (eeg, 100), "EOG horizontal": (eog, 100)},
              datetime(2022, 1, 1, 23, 0))
    clipped = eog.copy()
    clipped[5 * 3000:9 * 3000] = np.clip(clipped[5 * 3000:9 * 3000] * 50, -300, 300)
    write_edf(tmp_path / "clipped" / "night.edf", {"EEG Fpz-Cz": (eeg, 100), "EOG horizontal": (clipped, 100)},
              datetime(2022, 1, 1, 23, 0))
    assert read_unlabelled([tmp_path / "whole"]).used[0][1] == 20
    assert read_unlabelled([tmp_path / "clipped"]).used[0][1] == 16
