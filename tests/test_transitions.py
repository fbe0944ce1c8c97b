"""Reading a night through real nights' stage transitions: counted right, a uniform chain changes
nothing, an informed one corrects isolated errors, and the card applies it with its own temperature."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sleepscope.io import Recording
from sleepscope.model.calibration import calibrated_probs, ece, fit_calibration, softmax
from sleepscope.model.checkpoint import ModelCard, load_model, save_model
from sleepscope.model.config import TINY
from sleepscope.model.infer import night_outputs, predict
from sleepscope.model.inputs import model_input
from sleepscope.model.network import SleepStager
from sleepscope.model.transitions import count_transitions, smooth
from sleepscope.scoring.agreement import agreement

UNIFORM = np.full((5, 5), 0.2)


def markov_night(n: int, chain: np.ndarray, rng) -> np.ndarray:
    y = np.empty(n, np.int64)
    y[0] = 0
    for t in range(1, n):
        y[t] = rng.choice(5, p=chain[y[t - 1]])
    return y


def noisy_logits(y: np.ndarray, rng, strength: float = 1.4, shared: int = 1) -> np.ndarray:
    """Evidence favouring the right stage by `strength` on average, its noise shared by runs of `shared`
    epochs (as a network's neighbouring outputs share their input)."""
    noise = np.repeat(rng.normal(0, 1.2, (len(y) // shared + 1, 5)), shared, axis=0)[:len(y)]
    noise[np.arange(len(y)), y] += strength
    return noise


STICKY = np.array([[0.90, 0.06, 0.02, 0.00, 0.02],
                   [0.10, 0.60, 0.25, 0.00, 0.05],
                   [0.02, 0.03, 0.90, 0.04, 0.01],
                   [0.01, 0.01, 0.15, 0.83, 0.00],
                   [0.02, 0.03, 0.02, 0.00, 0.93]])


def test_transitions_are_counted_over_the_sleep_and_its_margin():
    night = np.array([0] * 100 + [1, 2, 2, 2, 3, 3, 2, 4, 4] + [0] * 100)
    chain = count_transitions([night], margin_epochs=2)
    counts = np.ones((5, 5))
    kept = night[98:110]  # trim_wake: two epochs before the first sleep, up to two after the last (exclusive)
    for a, b in zip(kept[:-1], kept[1:]):
        counts[a, b] += 1
    np.testing.assert_allclose(chain, counts / counts.sum(axis=1, keepdims=True))
    # the control: without the trimming, hours of wake would dominate the wake row
    assert count_transitions([night], margin_epochs=1000)[0, 0] > chain[0, 0] + 0.4
    np.testing.assert_allclose(chain.sum(axis=1), 1.0)


def test_unscored_epochs_break_no_count():
    chain = count_transitions([np.array([2, -1, 4, 4])], margin_epochs=5)
    assert chain[2, 4] == pytest.approx(1 / 5)  # the pseudo-count alone: 2 -> ? -> 4 is not 2 -> 4
    assert chain[4, 4] == pytest.approx(2 / 6)


def test_a_uniform_chain_changes_nothing_and_a_single_epoch_keeps_its_probabilities():
    rng = np.random.default_rng(0)
    p = softmax(rng.normal(0, 2, (200, 5)))
    np.testing.assert_allclose(smooth(p, UNIFORM), p, atol=1e-9)
    np.testing.assert_allclose(smooth(p[:1], STICKY), p[:1], atol=1e-9)


def test_an_informed_chain_corrects_isolated_errors():
    rng = np.random.default_rng(1)
    y = markov_night(3000, STICKY, rng)
    p = softmax(noisy_logits(y, rng))
    before = agreement(y, p.argmax(axis=1)).accuracy
    after = agreement(y, smooth(p, STICKY).argmax(axis=1)).accuracy
    control = agreement(y, smooth(p, UNIFORM).argmax(axis=1)).accuracy
    assert control == before
    assert after > before + 0.1


def test_an_artefact_epoch_takes_its_neighbours_stage():
    p = np.tile([0.05, 0.05, 0.8, 0.05, 0.05], (9, 1))
    p[4] = [1e-6, 1e-6, 1e-6, 1e-6, 1.0]  # a sure one-epoch REM read from a bad stretch
    skip = np.zeros(9, bool)
    skip[4] = True
    assert smooth(p, STICKY, skip)[4].argmax() == 2
    assert smooth(p, STICKY)[4].argmax() == 4  # the control: as evidence, the blip stands


def test_the_calibration_fits_a_temperature_to_the_smoothed_night():
    rng = np.random.default_rng(2)
    nights = [markov_night(n, STICKY, rng) for n in (2900, 3100, 3000)]
    logits = [noisy_logits(y, rng, shared=3) for y in nights]
    fit = fit_calibration(np.concatenate(logits[:2]), np.concatenate(nights[:2]), transitions=STICKY,
                          lengths=[2900, 3100])
    assert fit["transitions"] == STICKY.round(6).tolist() and fit["smoothed_temperature"] > 1.2
    test, y = logits[2], nights[2]
    unsmoothed = calibrated_probs(test, {k: v for k, v in fit.items() if k != "transitions"})
    raw_smoothed = smooth(unsmoothed, STICKY)
    calibrated = calibrated_probs(test, fit)
    np.testing.assert_array_equal(calibrated.argmax(axis=1), raw_smoothed.argmax(axis=1))
    # the chain's sharpness is tempered away on a night it did not fit
    assert ece(calibrated, y) < 0.5 * ece(raw_smoothed, y)
    with pytest.raises(ValueError, match="sum to 5999"):
        fit_calibration(np.concatenate(logits[:2]), np.concatenate(nights[:2]), transitions=STICKY,
                        lengths=[2900, 3099])


#: A chain that says every stage moves on to the next one: wrong for any night.
ONWARD = 0.9 * np.roll(np.eye(5), 1, axis=1) + 0.02


def test_a_chain_that_reads_the_validation_nights_worse_is_declined_and_kept_aside():
    rng = np.random.default_rng(5)
    nights = [markov_night(n, STICKY, rng) for n in (2000, 2200)]
    logits = np.concatenate([noisy_logits(y, rng, strength=3.0) for y in nights])
    labels = np.concatenate(nights)
    wrong = fit_calibration(logits, labels, transitions=ONWARD, lengths=[2000, 2200])
    assert "transitions" not in wrong and "smoothed_temperature" not in wrong
    assert wrong["transitions_declined"] == ONWARD.round(6).tolist()
    v = wrong["transitions_verdict"]
    assert not v["kept"] and v["gap_without"] > v["standard_error"] > 0 and v["blocks"] == 50 + 55
    # a short night's block is its own, not one of a long night's
    assert fit_calibration(logits, labels, transitions=ONWARD, lengths=[4170, 30])["transitions_verdict"][
        "blocks"] == 105 + 1
    # the card then reads nights without a chain: as the same fit given none
    none = fit_calibration(logits, labels)
    np.testing.assert_allclose(calibrated_probs(logits[:300], wrong), calibrated_probs(logits[:300], none))
    # the controls: the real-like chain on the same evidence is kept, and a chain that changes nothing
    # (no gap at all) stays, as the default
    for chain in (STICKY, UNIFORM):
        fit = fit_calibration(logits, labels, transitions=chain, lengths=[2000, 2200])
        assert fit["transitions"] == chain.round(6).tolist() and fit["transitions_verdict"]["kept"]
        assert "transitions_declined" not in fit


def test_predict_reads_the_night_through_the_card_chain(tmp_path):
    torch.manual_seed(0)
    tiny = SleepStager(TINY).eval()
    rng = np.random.default_rng(3)
    eeg = (rng.normal(0, 20, 40 * 3000)).astype(np.float32)
    eog = (rng.normal(0, 15, 40 * 3000)).astype(np.float32)
    eeg[10 * 3000:11 * 3000] = 0.0  # a flat EEG epoch: artefact
    rec = Recording.from_arrays(eeg, eog)
    calibration = {"temperature": 0.5, "transitions": STICKY.tolist(), "smoothed_temperature": 1.5}
    save_model(tiny, tmp_path / "chain", ModelCard(config=TINY, calibration=calibration))
    model, _ = load_model(tmp_path / "chain.safetensors")
    p = predict(rec, model, threads=1)
    _, logits, _ = night_outputs(model_input(rec), model, threads=1)
    assert p.artefact[10] and not p.artefact[9]
    expected = softmax(np.log(smooth(softmax(logits.numpy(), 0.5), STICKY, p.artefact)), 1.5)
    ok = ~p.artefact
    np.testing.assert_allclose(p.probs[ok], expected[ok], atol=1e-5)
    assert p.stages[10] == -1


def test_recalibrating_a_card_keeps_its_chain_and_refits_around_it(tmp_path):
    from sleepscope.cli import main
    from sleepscope.data.synthetic import real_hypnogram, write_night

    for name in ("SC4011E0", "SC4021E0", "SC4031E0"):
        labels = real_hypnogram(name)
        start = int(np.flatnonzero(labels == 2)[0])
        write_night(tmp_path / "data", name, labels=labels[start - 5:start + 40])
    torch.manual_seed(0)
    tiny = SleepStager(TINY).eval()
    save_model(tiny, tmp_path / "chain", ModelCard(config=TINY, calibration={
        "temperature": 1.0, "transitions": STICKY.tolist(), "transitions_from": "a test chain"}))
    save_model(tiny, tmp_path / "declined", ModelCard(config=TINY, calibration={
        "temperature": 1.0, "transitions_declined": STICKY.tolist(), "transitions_from": "a test chain"}))
    save_model(tiny, tmp_path / "plain")
    for name in ("chain", "declined", "plain"):
        assert main(["calibrate", str(tmp_path / f"{name}.safetensors"), "--data", str(tmp_path / "data"),
                     "--train-subjects", "1,2", "--val-subjects", "3"]) == 0
    chain = load_model(tmp_path / "chain.safetensors")[1].calibration
    plain = load_model(tmp_path / "plain.safetensors")[1].calibration
    assert chain["transitions"] == STICKY.tolist() and chain["transitions_from"] == "a test chain"
    assert chain["smoothed_temperature"] > 0
    assert "transitions" not in plain and "smoothed_temperature" not in plain
    assert "transitions_verdict" not in plain and "transitions_declined" not in plain
    # a chain declined by an earlier fit is weighed again, as if the card had kept it
    declined = load_model(tmp_path / "declined.safetensors")[1].calibration
    assert chain["transitions_verdict"]["kept"]
    assert {k: declined.get(k) for k in ("transitions", "transitions_declined", "transitions_verdict")} == \
        {k: chain.get(k) for k in ("transitions", "transitions_declined", "transitions_verdict")}


def test_model_info_says_the_night_is_read_through_the_chain():
    from sleepscope.model.commands import calibration_line

    plain = {"temperature": 0.5, "unsure_threshold": 0.8}
    chain = {**plain, "transitions": STICKY.tolist(), "smoothed_temperature": 2.0,
             "transitions_from": "the real Sleep-EDF hypnograms of 3 nights: SC4011E0, SC4012E0, SC4021E0"}
    line = calibration_line(chain)
    assert "stage transitions of real Sleep-EDF hypnograms of 3 nights, then temperature 2.000" in line
    assert "transitions" not in calibration_line(plain)
    declined = {**plain, "transitions_declined": STICKY.tolist(),
                "transitions_verdict": {"gap_without": 0.017, "standard_error": 0.004, "blocks": 40, "kept": False}}
    assert ("no stage-transition chain (the validation nights read +1.7% more accurately without it, standard "
            "error 0.4%)") in calibration_line(declined)
    fitted = {**plain, "ece_before": 0.1, "ece": 0.02}
    assert calibration_line({**fitted, "n_nights": 20}).count("validation ECE 0.100 -> 0.020 on 20 nights") == 1
    assert "nights" not in calibration_line(fitted)
    assert calibration_line({**fitted, "n_nights": 1}).endswith("on 1 night, unsure under 0.80")


def test_the_familiarity_limits_are_fitted_on_the_stages_predict_gives(monkeypatch):
    from sleepscope.model import familiarity
    from sleepscope.model.reliability import fit_reliability, night_arrays

    torch.manual_seed(0)
    tiny = SleepStager(TINY).eval()
    rng = np.random.default_rng(4)
    recs, nights = [], []
    for _ in range(2):
        t = np.arange(60 * 3000) / 100
        eeg = (30 * np.sin(2 * np.pi * 2 * t) * (1 + np.sin(t / 200)) + rng.normal(0, 10, t.size)).astype(np.float32)
        eog = (rng.normal(0, 20, t.size)).astype(np.float32)
        rec = Recording.from_arrays(eeg, eog)
        night = night_arrays(rec, tiny.config.normalisation)
        y = markov_night(60, STICKY, rng)
        night["second_opinion"] = y
        recs.append(rec)
        nights.append((night, y))
    seen = {}

    def spy(pairs, scorer):
        seen["stages"] = [a for a, _ in pairs]
        return {"scorer": scorer, "night_limit": 0.5, "validation_shares": []}

    monkeypatch.setattr(familiarity, "fit_second_opinion", spy)
    chain = np.tile([0.01, 0.01, 0.96, 0.01, 0.01], (5, 1))  # every stage leads to N2: it outweighs weak evidence
    calibration, _ = fit_reliability(tiny, nights, nights[:1] * 3, second_opinion="test", transitions=chain)
    assert calibration["n_nights"] == 3
    calibration, _ = fit_reliability(tiny, nights, nights, second_opinion="test", transitions=chain)
    tiny.calibration = calibration
    for rec, (night, _), stages in zip(recs, nights, seen["stages"]):
        given = predict(rec, tiny, threads=1).stages
        np.testing.assert_array_equal(stages, given)
        _, logits, _ = night_outputs(night["x"], tiny, threads=1)
        assert not np.array_equal(logits.numpy().argmax(axis=1), given)  # the control: the chain changed stages
