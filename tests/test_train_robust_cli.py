"""models/train_robust.py's command line: where a recalibrated model is written."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from recipes import load_recipe

ROOT = Path(__file__).resolve().parents[1]


def _recipe():
    return load_recipe("train_robust")


def test_recalibrating_a_candidate_writes_it_back_not_over_the_shipped_model(tmp_path, monkeypatch):
    recipe = _recipe()
    written = []
    monkeypatch.setattr(recipe, "recalibrate", lambda args: written.append(args.out) or 0)
    candidate = tmp_path / "candidate.safetensors"
    assert recipe.main(["--recalibrate", str(candidate)]) == 0
    assert recipe.main(["--recalibrate", str(candidate), "--out", str(tmp_path / "elsewhere")]) == 0
    assert written == [tmp_path / "candidate", tmp_path / "elsewhere"]
    # the control: the shipped model recalibrated in place, as models/README's command does
    assert recipe.main(["--recalibrate", str(ROOT / "models" / "sleepscope-default.safetensors")]) == 0
    assert written[-1] == ROOT / "models" / "sleepscope-default"


def test_a_run_and_recalibrate_calibrate_on_the_same_family_and_lab_per_night(monkeypatch):
    """With three training families, the calibration nights a training run adds after its validation nights
    must get the family and lab that --recalibrate gives them (the two once disagreed from the fifth night)."""
    recipe = _recipe()
    made = []
    fake = types.ModuleType("bench_shift")
    fake.synth_recording = lambda name, family, randomise: made.append((name, family, randomise)) or (None, [0])
    monkeypatch.setitem(sys.modules, "bench_shift", fake)
    monkeypatch.setattr("sleepscope.model.reliability.night_arrays", lambda rec, norm: {})
    families = ("A", "C", "E")

    recipe.calibration_set("epoch", families)  # as --recalibrate
    recalibrating, made[:] = list(made), []
    validation = recipe.nights(recipe.VALIDATION, "epoch", first_randomised=True, families=families)
    recipe.calibration_set("epoch", families, validation=validation)  # as a training run
    assert len(made) == len(recalibrating) > 6
    assert made == recalibrating
    assert recalibrating[4][1] == "E"  # the control: the fifth night is family E, which restarting would make A


class _Stop(Exception):
    pass


def test_more_training_nights_follow_the_recipe_s_own_and_never_a_tested_or_calibrating_subject(monkeypatch):
    recipe = _recipe()
    asked = []

    def first_call(names, *a, **k):  # the training nights are the first asked for: stop there
        asked.append(tuple(names))
        raise _Stop

    monkeypatch.setattr(recipe, "nights", first_call)
    monkeypatch.setattr(recipe, "load_init", lambda path, norm: (types.SimpleNamespace(
        config=types.SimpleNamespace(normalisation=norm)), None))
    try:
        recipe.main(["--more-train", "SC4371F0, SC4381F0"])
    except _Stop:
        pass
    assert asked == [recipe.TRAIN + ("SC4371F0", "SC4381F0")]
    # a calibration night (subject 20's first), a benchmark's (subject 42, bench_shift --night-set older) and
    # another night of a benchmark's test subject (subject 0's second) are refused before anything is made
    for night in ("SC4201E0", "SC4421E0", "SC4002E0"):
        asked.clear()
        with pytest.raises(SystemExit):
            recipe.main(["--more-train", night])
        assert asked == []


def test_recalibrating_reads_the_nights_the_card_says_it_was_trained_on(monkeypatch):
    """The familiarity statistics come from the training nights: a --more-train model's, not the recipe's own."""
    recipe = _recipe()
    asked = []

    def first_call(names, *a, **k):
        asked.append(tuple(names))
        raise _Stop

    monkeypatch.setattr(recipe, "nights", first_call)
    config = types.SimpleNamespace(normalisation="epoch+amplitude")
    for metrics, expected in (({"training_nights": [*recipe.TRAIN, "SC4371F0"]}, (*recipe.TRAIN, "SC4371F0")),
                              ({}, recipe.TRAIN)):  # the control: a card from before the list
        card = types.SimpleNamespace(metrics=metrics, config=config)
        monkeypatch.setattr("sleepscope.model.checkpoint.load_model",
                            lambda path, card=card: (types.SimpleNamespace(config=config), card))
        args = types.SimpleNamespace(recalibrate=Path("m.safetensors"), night_statistics=False, eeg_opinion=None,
                                     eog_opinion=None, chin_emg=False, eog_only=False)
        with pytest.raises(_Stop):
            recipe.recalibrate(args)
        assert asked[-1] == expected
