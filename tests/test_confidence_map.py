"""The confidence map after the temperature: where one temperature cannot calibrate, the map does,
and it never changes a stage."""

from __future__ import annotations

import numpy as np
import pytest

from sleepscope.model.calibration import (apply_confidence_map, calibrated_probs, ece, fit_calibration,
                                          fit_confidence_map, softmax)


def two_kinds_of_epochs(n: int, seed: int):
    """Logits of epochs half of which are under-confident (true temperature 0.5) and half
    over-confident (true temperature 3): no single temperature fits both, as for two opinions averaged."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, 5))
    true_t = np.where(np.arange(n) % 2 == 0, 0.5, 3.0)[:, None]
    p = softmax(logits / true_t)
    labels = (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return logits, labels


def test_the_map_calibrates_where_a_temperature_cannot():
    logits, labels = two_kinds_of_epochs(16000, 0)
    fit, test = slice(0, 8000), slice(8000, None)
    with_map = fit_calibration(logits[fit], labels[fit])
    temperature_only = fit_calibration(logits[fit], labels[fit], confidence_map=False)
    assert "confidence_map" in with_map and "confidence_map" not in temperature_only
    e_map = ece(calibrated_probs(logits[test], with_map), labels[test])
    e_t = ece(calibrated_probs(logits[test], temperature_only), labels[test])
    assert e_t > 0.04  # the control: one temperature leaves the mixture miscalibrated on new epochs
    assert e_map < 0.02
    assert with_map["ece_temperature"] == pytest.approx(temperature_only["ece"])


def test_the_map_keeps_every_stage_and_the_order_of_the_others():
    rng = np.random.default_rng(1)
    probs = softmax(rng.normal(0, 2, (3000, 5)))
    cmap = {"x": [0.3, 0.5, 0.7, 0.9], "y": [0.45, 0.6, 0.65, 0.97]}
    out = apply_confidence_map(probs, cmap)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(out.argmax(axis=1), probs.argmax(axis=1))
    by_prior = np.take_along_axis(out, np.argsort(-probs, axis=1), axis=1)
    assert np.all(np.diff(by_prior, axis=1) <= 0)  # the others keep their order (ties at 0 allowed)
    np.testing.assert_allclose(out.max(axis=1), np.interp(probs.max(axis=1), cmap["x"], cmap["y"]), atol=1e-6)


def test_the_map_is_non_decreasing_and_rests_on_enough_epochs():
    logits, labels = two_kinds_of_epochs(5000, 2)
    probs = softmax(logits)
    cmap = fit_confidence_map(probs, labels, min_count=200)
    assert np.all(np.diff(cmap["y"]) >= 0) and np.all(np.diff(cmap["x"]) > 0)
    assert len(cmap["x"]) <= 5000 // 200 + 1
    assert cmap["x"][0] == pytest.approx(0.2) and cmap["y"][0] < 0.21  # a uniform output maps to chance
    with pytest.raises(ValueError, match="at least 400"):
        fit_confidence_map(probs[:300], labels[:300], min_count=200)


def test_a_kept_temperature_keeps_the_outputs_free_of_a_map():
    logits, labels = two_kinds_of_epochs(4000, 3)
    kept = fit_calibration(logits, labels, temperature=1.0)
    assert "confidence_map" not in kept
    np.testing.assert_allclose(calibrated_probs(logits, kept), softmax(logits))
