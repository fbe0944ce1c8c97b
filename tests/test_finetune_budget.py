"""Fine-tuning's budget on few corrections: at least `min_steps` optimiser steps, and no pass chosen on a
selection part too small to tell passes apart.

The defect this guards: the budget was passes only, so 100 corrected epochs (four sequences, one step a
pass) got a handful of steps, and the kept pass was chosen on the ~10 selection epochs, where the first
pass always ties with the best: the "fine-tuned" child was the parent after one step.
"""

import dataclasses

import pytest
import torch

from sleepscope.model.checkpoint import ModelCard
from sleepscope.model.config import get_config
from sleepscope.model.finetune import MIN_SELECT_EPOCHS, FineTuneOptions, finetune
from sleepscope.model.network import SleepStager
from test_finetune import correction_set, one_thread  # noqa: F401 (a fixture)


def _parent() -> tuple[SleepStager, ModelCard]:
    torch.manual_seed(0)
    # tiny widths behind the default model's input stem: a step costs a sixth of plain tiny's
    m = SleepStager(dataclasses.replace(get_config("tiny"), stem_stride=2, stem_kernel=15, stem_pool=10,
                                        pools=(5, 3, 2)))
    return m, ModelCard(config=m.config, version="parent")


def _weights(m: SleepStager) -> dict:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def test_a_hundred_corrections_get_min_steps_and_keep_the_last_pass(one_thread):
    parent, card = _parent()
    cs = correction_set(n=100)
    steps = []
    res = finetune(parent, card, cs, None, FineTuneOptions(seed=0), events=lambda e: steps.append(e)
                   if e["event"] == "step" else None)
    ft = res.card.metrics["finetune"]
    assert res.split.select.size < MIN_SELECT_EPOCHS
    assert ft["steps"] >= FineTuneOptions().min_steps and len(steps) == ft["steps"]
    assert ft["best_epoch"] == -1 and not ft["chose_pass"] and "last pass kept" in res.card.notes
    # Control: the same corrections and passes without the floor make a handful of steps.
    ctrl = finetune(parent, card, cs, None, FineTuneOptions(seed=0, min_steps=0)).card.metrics["finetune"]
    assert ctrl["steps"] <= ctrl["passes_asked"] < ft["steps"]
    # The kept weights are the last step's: the same run cut one step short keeps other weights
    # (a pass chosen on the selection part would be the same early pass in both).
    short = finetune(parent, card, cs, None, FineTuneOptions(seed=0, max_steps=ft["steps"] - 1))
    w, ws = _weights(res.model), _weights(short.model)
    assert not all(torch.equal(w[k], ws[k]) for k in w)


def test_enough_selection_epochs_choose_the_pass_and_patience_waits_for_min_steps(one_thread):
    parent, card = _parent()
    cs = correction_set(n=500)
    opts = FineTuneOptions(seed=0, epochs=1, holdout=0.5, patience=1, min_steps=20)
    res = finetune(parent, card, cs, None, opts)
    ft = res.card.metrics["finetune"]
    assert res.split.select.size >= MIN_SELECT_EPOCHS and ft["chose_pass"] and ft["best_epoch"] >= 0
    # One pass asked, but fewer steps than min_steps in it: the run goes on to min_steps at least.
    per_pass = ft["steps"] / ft["epochs"]
    assert per_pass < 20 <= ft["steps"]
    # patience 1 may stop it after min_steps, never before
    hist = res.history
    assert all(h["step"] <= ft["steps"] for h in hist) and (not ft["stopped_early"] or hist[-1]["step"] >= 20)


@pytest.mark.parametrize("card_says, asked, frozen", [
    (True, None, True),  # a parent trained with its encoders fixed is fine-tuned the same way by default
    (False, None, False),  # control: a parent whose card does not say so learns its encoders
    (True, False, False),  # the technician's explicit choice wins
])
def test_fine_tuning_keeps_the_encoders_fixed_when_the_parent_was_trained_so(one_thread, card_says, asked, frozen):
    from sleepscope.model.train import encoder_modules

    parent, card = _parent()
    card.metrics = {"freeze_encoders": True} if card_says else {}
    before = _weights(parent)
    res = finetune(parent, card, correction_set(n=100), None,
                   FineTuneOptions(epochs=1, min_steps=2, lr=1e-3, freeze_encoders=asked))
    enc_names = {f"{name}.{k}" for name, mod in res.model.named_modules()
                 if any(mod is e for e in encoder_modules(res.model)) for k in mod.state_dict()}
    assert enc_names
    after = _weights(res.model)
    enc_changed = any(not torch.equal(after[k], before[k]) for k in enc_names)
    rest_changed = any(not torch.equal(after[k], before[k]) for k in after if k not in enc_names)
    assert enc_changed is not frozen and rest_changed
    assert res.card.metrics["finetune"]["freeze_encoders"] is frozen


def test_fine_tuning_drops_channels_as_the_parent_was_trained(one_thread):
    def child(card_dropout, asked):
        parent, card = _parent()
        card.familiarity = {"channel_dropout": card_dropout} if card_dropout is not None else {}
        res = finetune(parent, card, correction_set(n=100), None,
                       FineTuneOptions(epochs=1, min_steps=4, lr=1e-3, seed=0, channel_dropout=asked))
        return _weights(res.model), res.card.metrics["finetune"]["channel_dropout"]

    plain, d0 = child(None, None)
    assert d0 == 0.0 and child(None, None)[0].keys() == plain.keys()
    assert all(torch.equal(plain[k], v) for k, v in child(None, None)[0].items())  # control: same run, same child
    dropped, d1 = child(0.9, None)  # a parent trained with channel dropout: its child is trained so too
    assert d1 == 0.9 and not all(torch.equal(plain[k], dropped[k]) for k in plain)
    explicit, d2 = child(0.9, 0.0)  # an explicit choice wins
    assert d2 == 0.0 and all(torch.equal(plain[k], explicit[k]) for k in plain)
