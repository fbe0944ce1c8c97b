"""Whether a lab's corrected nights read better without a card's stage-transition chain, decided on labels
the model never trained on; fine-tuning asks the parent whose chain its child would inherit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from sleepscope.model.chain_choice import chain_verdict, with_verdict, without_chain
from sleepscope.model.checkpoint import load_model
from sleepscope.model.config import TINY
from sleepscope.model.finetune import FineTuneOptions, finetune
from sleepscope.model.infer import predict
from sleepscope.model.network import SleepStager
from test_finetune import correction_set, tiny_model_file

#: Every stage leads to N2: against the weak evidence of an untrained model, a chain that rewrites a night.
TO_N2 = np.tile([0.01, 0.01, 0.96, 0.01, 0.01], (5, 1)).tolist()
CALIBRATION = {"temperature": 1.0, "transitions": TO_N2, "smoothed_temperature": 1.5, "transitions_from": "a test"}


def stages(model, x, calibration) -> np.ndarray:
    model.calibration = calibration
    return predict(x, model, threads=1).stages.astype(np.int64)


@pytest.fixture(scope="module")
def night():
    """A tiny model, a night's inputs, and the stages it gives with the chain and without it."""
    torch.manual_seed(0)
    model = SleepStager(TINY).eval()
    x = correction_set(n=300).x
    plain, chained = stages(model, x, without_chain(CALIBRATION)), stages(model, x, CALIBRATION)
    assert np.mean(plain != chained) > 0.5 and (plain >= 0).all()  # the chain changes the night
    return model, x, plain, chained


def test_labels_read_better_without_the_chain_decline_it_and_the_control_keeps_it(night):
    model, x, plain, chained = night
    runs = lambda y: [(x[:140], y[:140]), (x[140:], y[140:])]  # noqa: E731
    model.calibration = own = {"temperature": 1.0}
    declined = chain_verdict(model, CALIBRATION, runs(plain))
    assert model.calibration is own  # the model's own calibration is put back
    assert not declined["kept"] and declined["gap_without"] > declined["standard_error"] > 0
    assert declined["blocks"] == 4 + 4
    kept = chain_verdict(model, CALIBRATION, runs(chained))
    assert kept["kept"] and kept["gap_without"] < 0
    card = with_verdict(CALIBRATION, declined, "test nights")
    assert "transitions" not in card and "smoothed_temperature" not in card
    assert card["transitions_declined"] == TO_N2 and card["transitions_verdict"]["on"] == "test nights"
    assert with_verdict(CALIBRATION, kept, "test nights")["transitions"] == TO_N2


def test_too_little_to_decide_or_no_chain_changes_nothing(night):
    model, x, plain, _ = night
    assert chain_verdict(model, without_chain(CALIBRATION), [(x, plain)]) is None
    assert chain_verdict(model, CALIBRATION, [(x[i:i + 39], plain[i:i + 39]) for i in range(0, 273, 39)]) is None
    assert chain_verdict(model, CALIBRATION, [(x[:150], plain[:150])]) is None  # under 200 epochs
    assert with_verdict(CALIBRATION, None, "test nights") == CALIBRATION


def test_finetuning_declines_the_parents_chain_where_the_parent_reads_the_corrections_worse_with_it(tmp_path):
    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    card.calibration = dict(CALIBRATION)
    cs = correction_set(n=400)
    opts = FineTuneOptions(epochs=1, max_steps=2, min_steps=0, holdout=0.3)
    children = {}
    for name, cal in (("plain", without_chain(CALIBRATION)), ("chained", CALIBRATION)):
        labels = stages(parent, cs.x, cal)
        parent.calibration = card.calibration
        result = finetune(parent, card, replace(cs, y=labels), None, opts)
        assert result.model.calibration == result.card.calibration  # the returned model predicts as its card
        children[name] = result.card
    declined, kept = children["plain"], children["chained"]
    assert declined.calibration["transitions_declined"] == TO_N2 and "transitions" not in declined.calibration
    assert "no stage-transition chain" in declined.notes
    from sleepscope.model.commands import calibration_line

    assert "no stage-transition chain (the corrected recordings read +" in calibration_line(declined.calibration)
    from sleepscope.model.registry import share_text

    assert "without the current model's stage-transition chain" in share_text(declined.metrics["finetune"])
    assert "stage-transition chain" not in share_text(kept.metrics["finetune"])  # what the dialog and CLI say
    assert kept.calibration["transitions"] == TO_N2 and "transitions_declined" not in kept.calibration
    assert "stage-transition chain" not in kept.notes and kept.calibration["transitions_verdict"]["kept"]


def _two_recordings(parent, left_calibration: dict, other_calibration: dict):
    """Corrections of two recordings labelled as the parent reads them: the smaller one (which the check
    child leaves out) through `left_calibration`, the larger one through `other_calibration`."""
    from sleepscope.scoring.corrections import CorrectionSet

    big, small = correction_set("SC4011E0", n=300, subject=1), correction_set("SC4021E0", n=230, subject=2)
    parts = [replace(small, y=stages(parent, small.x, left_calibration)),
             replace(big, y=stages(parent, big.x, other_calibration))]
    cat = lambda f: np.concatenate([getattr(p, f) for p in parts])  # noqa: E731
    return CorrectionSet(cat("x"), cat("y"), cat("fingerprint"), cat("epoch"), cat("source"),
                         {**small.recording_files, **big.recording_files}), small.recording_files


def test_with_two_recordings_the_check_child_decides_the_chain_on_the_recording_it_left_out(tmp_path):
    # One recording reads right only without the chain, the other only with it: over both, the parent cannot
    # tell and keeps the chain either way; the check child decides on the one it left out.
    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    card.calibration = dict(CALIBRATION)
    opts = FineTuneOptions(epochs=1, max_steps=2, min_steps=0, holdout=0.3)
    cards = {}
    for name, left, other in (("left plain", without_chain(CALIBRATION), CALIBRATION),
                              ("left chained", CALIBRATION, without_chain(CALIBRATION))):
        cs, left_files = _two_recordings(parent, left, other)
        parent.calibration = card.calibration
        n = int(np.isin(cs.fingerprint, list(left_files)).sum())  # the left-out recording comes first
        parents_view = chain_verdict(parent, CALIBRATION, [(cs.x[:n], cs.y[:n]), (cs.x[n:], cs.y[n:])])
        result = finetune(parent, card, cs, None, opts)
        assert result.card.metrics["other_recording"]["recording"] == next(iter(left_files.values()))
        cards[name] = (result.card, parents_view)
    declined, parents_view = cards["left plain"]
    assert parents_view["kept"]  # the parent alone would have kept it
    verdict = declined.calibration["transitions_verdict"]
    assert not verdict["kept"] and verdict["by"] == "check child" and verdict["recording"] == "SC4021E0.edf"
    assert declined.calibration["transitions_declined"] == TO_N2 and "transitions" not in declined.calibration
    assert "a check child read it" in declined.notes
    from sleepscope.model.commands import calibration_line
    from sleepscope.model.registry import share_text

    assert "SC4021E0.edf (left out of a check fine-tuning) read +" in calibration_line(declined.calibration)
    said = share_text(declined.metrics["finetune"])
    assert "fine-tuned without SC4021E0.edf" in said and "on that recording it scored" in said, said
    alone = {**declined.metrics["finetune"], "share_choice": None, "keep_parent": 0.5}  # no share decided on it
    assert "chain: fine-tuned without SC4021E0.edf, the new model scored it" in share_text(alone)
    kept, parents_view = cards["left chained"]  # the control: neither test declines
    assert parents_view["kept"]
    assert kept.calibration["transitions"] == TO_N2 and kept.calibration["transitions_verdict"]["by"] == "parent"
    assert {k: v["kept"] for k, v in kept.metrics["finetune"]["chain_verdicts"].items()} == \
        {"parent": True, "check child": True}
