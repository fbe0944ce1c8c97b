"""Agreement metrics against scikit-learn (a test-only dependency)."""

import json
from pathlib import Path

import numpy as np
import pytest

sk = pytest.importorskip("sklearn.metrics")

from sleepscope.errors import SleepScopeError
from sleepscope.scoring.agreement import agreement, confusion_matrix
from sleepscope.stages import NAMES

DATA = Path(__file__).parent / "data"
UUID = "3e842aa8-bcd9-521e-93a2-72124233fe2c"


def _check_against_sklearn(a: np.ndarray, b: np.ndarray) -> None:
    both = (a >= 0) & (b >= 0)
    ta, tb = a[both], b[both]
    ours = agreement(a, b)
    stages = [0, 1, 2, 3, 4]
    assert ours.n_epochs == both.sum()
    np.testing.assert_array_equal(ours.confusion, sk.confusion_matrix(ta, tb, labels=stages))
    assert ours.accuracy == pytest.approx(sk.accuracy_score(ta, tb))
    assert ours.kappa == pytest.approx(sk.cohen_kappa_score(ta, tb))
    p, r, f, s = sk.precision_recall_fscore_support(ta, tb, labels=stages, zero_division=0)
    for i, name in enumerate(NAMES):
        assert ours.precision[name] == pytest.approx(p[i])
        assert ours.recall[name] == pytest.approx(r[i])
        assert ours.f1[name] == pytest.approx(f[i])
        assert ours.support[name] == s[i]
    present = sorted(set(ta.tolist()) | set(tb.tolist()))
    assert ours.macro_f1 == pytest.approx(sk.f1_score(ta, tb, labels=present, average="macro", zero_division=0))


@pytest.mark.parametrize("seed", range(5))
def test_random_label_sets(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 400))
    a = rng.integers(-1, 5, size=n)
    # b agrees with a most of the time, like two scorers
    b = np.where(rng.random(n) < 0.7, a, rng.integers(-1, 5, size=n))
    _check_against_sklearn(a, b)


def test_real_dodh_two_scorers():
    a = np.array(json.loads((DATA / f"dodh_{UUID}_scorer1.json").read_text()))
    b = np.array(json.loads((DATA / f"dodh_{UUID}_scorer2.json").read_text()))
    assert a.size == b.size == 791
    _check_against_sklearn(a, b)
    ours = agreement(a, b)
    # two experts on a healthy night: substantial but imperfect agreement
    assert 0.5 < ours.kappa < 0.95


def test_missing_stage_and_unscored_ignored():
    a = np.array([0, 0, 2, 2, -1, 4])
    b = np.array([0, 2, 2, 2, 1, -1])
    ours = agreement(a, b)
    assert ours.n_epochs == 4
    assert ours.confusion.sum() == 4 and ours.confusion[0, 2] == 1
    _check_against_sklearn(a, b)
    assert "Cohen's kappa" in ours.format_text()
    assert json.loads(ours.to_json())["n_epochs"] == 4


def test_identical_and_degenerate():
    a = np.array([0, 1, 2, 3, 4, 2])
    assert agreement(a, a).kappa == pytest.approx(1.0)
    assert agreement(a, a).macro_f1 == pytest.approx(1.0)
    assert np.isnan(agreement([-1, -1], [0, 1]).accuracy)
    assert np.isnan(agreement([2, 2], [2, 2]).kappa)


def test_bad_input():
    with pytest.raises(SleepScopeError, match="differ in length"):
        confusion_matrix([0, 1], [0])
    with pytest.raises(SleepScopeError, match="stage codes"):
        agreement([0, 7], [0, 1])


def test_kappa_without_a_value_is_said_so():
    """Both sides all wake (a 5-minute recording before lights off): Cohen's kappa has no value, and every line
    that gives it says why instead of printing nan; a kappa with a value reads as a number (control)."""
    from sleepscope.scoring.agreement import kappa_text
    from sleepscope.scoring.lab_scoring import LabComparison, pooled_line

    wake = np.zeros(10, dtype=np.int64)
    same = agreement(wake, wake)
    assert np.isnan(same.kappa) and kappa_text(same.kappa) == "undefined (one stage throughout)"
    mixed = np.array([0, 0, 1, 2, 2, 3, 4, 4, 2, 0])
    assert kappa_text(agreement(mixed, mixed).kappa) == "1.000"
    line = pooled_line([LabComparison("a.edf", "a.csv", same, None, wake, wake)] * 2)
    assert "nan" not in line and "kappa undefined (one stage throughout)" in line
    line = pooled_line([LabComparison("a.edf", "a.csv", same, None, wake, wake),
                        LabComparison("b.edf", "b.csv", agreement(mixed, mixed), None, mixed, mixed)])
    assert "nan" not in line and "(1.000-1.000)" in line
