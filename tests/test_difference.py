"""The paired block bootstrap of a macro-F1 difference (sleepscope.scoring.difference)."""

from __future__ import annotations

import numpy as np
import pytest

from sleepscope.scoring.agreement import agreement
from sleepscope.scoring.difference import macro_f1_difference, verdict


def _night(n: int = 600, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.repeat(rng.integers(0, 5, n // 20), 20)


def _with_errors(y: np.ndarray, share: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = y.copy()
    wrong = rng.random(len(y)) < share
    out[wrong] = (y[wrong] + rng.integers(1, 5, wrong.sum())) % 5
    return out


def test_the_difference_is_that_of_the_two_macro_f1s():
    y = _night()
    a, b = _with_errors(y, 0.1, 1), _with_errors(y, 0.3, 2)
    y[::37] = -1  # unscored epochs count for neither
    diff, low, high = macro_f1_difference(y, a, b)
    keep = y >= 0
    expected = agreement(y[keep], a[keep]).macro_f1 - agreement(y[keep], b[keep]).macro_f1
    assert diff == pytest.approx(expected, abs=1e-12)
    assert low <= diff <= high


def test_a_clearly_better_scorer_is_called_better_and_a_copy_no_different():
    y = _night()
    good, bad = _with_errors(y, 0.05, 1), _with_errors(y, 0.4, 2)
    assert verdict(*macro_f1_difference(y, good, bad)[1:]) == "better"
    assert verdict(*macro_f1_difference(y, bad, good)[1:]) == "worse"
    assert macro_f1_difference(y, good, good) == (0.0, 0.0, 0.0)


def test_a_small_difference_on_few_epochs_is_not_called():
    # the control: two scorers with the same error rate, different errors; 200 epochs
    y = _night(200, seed=3)
    a, b = _with_errors(y, 0.2, 4), _with_errors(y, 0.2, 5)
    diff, low, high = macro_f1_difference(y, a, b)
    assert diff != 0 and verdict(low, high) == "no clear difference"
    # the same rates on 40 times the epochs do not make a sure difference out of nothing either
    y = _night(8000, seed=3)
    assert verdict(*macro_f1_difference(y, _with_errors(y, 0.2, 4), _with_errors(y, 0.2, 5))[1:]) == \
        "no clear difference"
