"""The "epoch+amplitude" input: the paper's z-score plus each epoch's log amplitude, on the one input path.

Old models ("epoch", cards without the option) load and score exactly as
before; a model given the option starts as the model it was made from; the
network then sees the amplitude the z-score throws away, on every path
(training forward, the CPU inference form, predict, fine-tuning sets).
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest
import torch

from sleepscope.io import Recording
from sleepscope.io.recording import zscore_epochs
from sleepscope.model.checkpoint import load_model, save_model
from sleepscope.model.config import TINY, ModelConfig
from sleepscope.model.fast_eval import FastStager
from sleepscope.model.inputs import AMPLITUDE_CLIP, AMPLITUDE_REF_UV, log_amplitude, model_input, normalise
from sleepscope.model.network import SleepStager, split_amplitude, with_normalisation
from test_model_reliability import predict, signals


def amplitude_model(seed=0, film=True):
    """A tiny "epoch+amplitude" model; with `film`, its amplitude layer is no longer the identity."""
    torch.manual_seed(seed)
    base = SleepStager(TINY).eval()
    model = with_normalisation(base, "epoch+amplitude").eval()
    if film:
        with torch.no_grad():
            torch.nn.init.normal_(model.amplitude.out.weight, std=0.5)
    return base, model


def test_the_input_carries_the_log_amplitude_beside_an_unchanged_z_score():
    rng = np.random.default_rng(1)
    sd = np.array([3.0, 30.0, 90.0, 1e-3, 1e5])  # small, the reference, slow-wave size, flat, a unit error
    epochs = (rng.normal(0, 1, (5, 3000)) * sd[:, None]).astype(np.float32)
    x = normalise(epochs, "epoch+amplitude")
    a = log_amplitude(epochs)
    np.testing.assert_allclose(a[:3], np.log(epochs[:3].std(axis=1) / AMPLITUDE_REF_UV), atol=1e-5)
    assert a[3] == 0.0 and a[4] == AMPLITUDE_CLIP  # flat: nothing; absurd: clipped
    z, amp = split_amplitude(torch.from_numpy(x[None].repeat(2, 0).transpose(1, 0, 2).copy()))
    np.testing.assert_allclose(amp[:, 0].numpy(), a, atol=1e-5)
    np.testing.assert_allclose(z[:, 0].numpy(), zscore_epochs(epochs), atol=1e-5)
    assert amp[:, 2].tolist() == [1, 1, 1, 0, 1]  # the flat epoch reads as not present
    # a gain on the channel moves only the amplitude, by the log of the gain
    x3 = normalise(epochs[:3] * 3, "epoch+amplitude")
    np.testing.assert_allclose(x3 - x[:3], np.log(3), atol=1e-4)


def test_old_models_and_cards_keep_the_paper_input_and_score_the_same(tmp_path):
    torch.manual_seed(0)
    old = SleepStager(TINY).eval()
    assert not old.config.amplitude_input and not hasattr(old, "amplitude")
    card = save_model(old, tmp_path / "old")
    data = json.loads((tmp_path / "old.json").read_text())
    data["config"].pop("normalisation")  # a card written before the option existed
    assert ModelConfig.from_dict(data["config"]).normalisation == "epoch"
    eeg, eog = signals(12)
    rec = Recording.from_arrays(eeg, eog)
    np.testing.assert_array_equal(model_input(rec, "epoch"), rec.model_input())
    loaded, _ = load_model(tmp_path / "old.safetensors")
    np.testing.assert_array_equal(predict(rec, loaded).probs, predict(rec, old).probs)
    assert card.config.normalisation == "epoch"


def test_a_model_given_the_option_starts_as_its_parent_then_reads_amplitude(tmp_path):
    base, model = amplitude_model(film=False)
    eeg, eog = signals(12)
    rec = Recording.from_arrays(eeg, eog)
    loud = Recording.from_arrays(eeg * 4, eog)
    p0 = predict(rec, base).probs
    np.testing.assert_allclose(predict(rec, model).probs, p0, atol=1e-5)
    np.testing.assert_allclose(predict(loud, model).probs, p0, atol=1e-5)  # identity: amplitude unused
    _, model = amplitude_model(film=True)
    assert np.abs(predict(loud, model).probs - predict(rec, model).probs).max() > 1e-3
    # the paper's input cannot tell the two apart: the z-score hides the gain
    np.testing.assert_allclose(predict(loud, base).probs, p0, atol=1e-5)
    # the card records the option, and the loaded model reads amplitude the same way
    card = save_model(model, tmp_path / "amp")
    assert json.loads((tmp_path / "amp.json").read_text())["config"]["normalisation"] == "epoch+amplitude"
    loaded, loaded_card = load_model(tmp_path / "amp.safetensors")
    assert loaded_card.version == card.version and loaded.config.amplitude_input
    np.testing.assert_allclose(predict(loud, loaded).probs, predict(loud, model).probs, atol=1e-6)


def test_the_cpu_inference_form_and_training_forward_agree_on_amplitude_models():
    _, model = amplitude_model(film=True)
    eeg, eog = signals(8)
    x = torch.from_numpy(model_input(Recording.from_arrays(eeg * 3, eog * 0.2), "epoch+amplitude"))
    with torch.no_grad():
        ref = model.epoch_features(x)
        fast = FastStager(model).epoch_features(x)
    np.testing.assert_allclose(fast.numpy(), ref.numpy(), atol=1e-4)
    # CLIP pre-training embeds the z-scored part only (the amplitude layer belongs to the stager)
    with torch.no_grad():
        e1, _ = model.encode(x)
        e2, _ = model.encode(x + 1.5)
    np.testing.assert_allclose(e1.numpy(), e2.numpy(), atol=1e-4)


def test_eeg_only_and_missing_channels_read_as_absent(tmp_path):
    _, model = amplitude_model(film=True)
    eeg, _ = signals(10)
    rec = Recording(path=None, start_time=datetime(2000, 1, 1), fs=100.0, channels={"EEG Fpz-Cz": eeg},
                    eeg_name="EEG Fpz-Cz", eog_name=None, source_rates={"EEG Fpz-Cz": 100.0})
    x = model_input(rec, "epoch+amplitude")
    assert (x[:, 1] == 0).all()
    _, amp = split_amplitude(torch.from_numpy(x))
    assert amp[:, 3].eq(0).all() and amp[:, 2].eq(1).all()
    p = predict(rec, model)
    assert np.isfinite(p.probs).all() and (p.stages >= 0).all()


def test_switching_back_drops_the_amplitude_layer():
    base, model = amplitude_model(film=True)
    back = with_normalisation(model, "epoch")
    assert not hasattr(back, "amplitude")
    for k, v in base.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], v)
    with pytest.raises(Exception, match="normalisation"):
        ModelConfig(normalisation="amplitude")


def test_fine_tuning_sets_carry_the_input_the_model_reads(tmp_path):
    from sleepscope.scoring.corrections import build_correction_set
    from sleepscope.scoring.scoring_file import ScoringFile

    eeg, eog = signals(10)
    rec = Recording.from_arrays(eeg * 3, eog, start_time=datetime(2022, 5, 1, 23, 0))
    path = tmp_path / "a.sleepscope.h5"
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.set_stage([2, 5], "N2")
    cs = build_correction_set([path], recordings=[rec], normalisation="epoch+amplitude")
    np.testing.assert_array_equal(cs.x, model_input(rec, "epoch+amplitude")[[2, 5]])
    assert np.abs(cs.x.mean(axis=-1)).min() > 0.1  # the amplitude is there, not the bare z-score


def test_epochs_prepared_without_the_amplitude_are_refused_by_a_model_that_reads_it(tmp_path):
    """z-scored epochs given to an "epoch+amplitude" model read every epoch at the reference amplitude: refused."""
    import pytest

    from sleepscope.errors import SleepScopeError
    from sleepscope.io import Recording
    from sleepscope.model.config import get_config
    from sleepscope.model.finetune import FineTuneOptions, finetune
    from sleepscope.model.infer import predict
    from sleepscope.model.inputs import model_input
    from sleepscope.model.checkpoint import ModelCard
    from sleepscope.model.network import SleepStager
    from sleepscope.scoring.corrections import CorrectionSet

    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.normal(0, 30, 60 * 3000), rng.normal(0, 20, 60 * 3000))
    model = SleepStager(get_config("tiny").with_(normalisation="epoch+amplitude"))
    card = ModelCard(config=model.config, data="random tiny weights for tests")
    right, wrong = model_input(rec, "epoch+amplitude"), model_input(rec, "epoch")
    assert predict(right, model).n_epochs == 60  # the control: prepared as the model reads
    with pytest.raises(SleepScopeError, match="without the amplitude input"):
        predict(wrong, model)
    y = rng.integers(0, 5, 60)
    sets = [CorrectionSet(x, y, np.full(60, "a", object), np.arange(60), np.full(60, "technician", object))
            for x in (right, wrong)]
    opts = FineTuneOptions(epochs=1, max_steps=1, min_steps=0)
    assert finetune(model, card, sets[0], None, opts).model is not None
    with pytest.raises(SleepScopeError, match="without the amplitude input"):
        finetune(model, card, sets[1], None, opts)
