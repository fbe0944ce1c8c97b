"""Sleep statistics against values worked out by hand on small hypnograms."""

import json

import numpy as np
import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.scoring.stats import sleep_statistics

W, N1, N2, N3, R, U = 0, 1, 2, 3, 4, -1


def test_simple_night_by_hand():
    # epoch:  0  1  2   3   4   5  6   7   8   9  10 11
    hyp = [W, W, N1, N2, N2, W, N2, N3, N3, R, R, W]
    s = sleep_statistics(hyp)
    assert s.tib_min == pytest.approx(6.0)            # 12 epochs x 0.5 min
    assert s.tst_min == pytest.approx(4.0)            # 8 sleep epochs
    assert s.se_pct == pytest.approx(100 * 4 / 6)
    assert s.sleep_onset_epoch == 2
    assert s.sol_min == pytest.approx(1.0)            # epochs 0, 1
    assert s.waso_min == pytest.approx(1.0)           # epochs 5 and 11
    assert s.rem_latency_min == pytest.approx(3.5)    # epoch 9 - onset 2 = 7 epochs
    assert s.n_awakenings == 2                        # [5], [11]
    assert s.n_stage_shifts == 7
    assert s.stage_min == pytest.approx({"W": 2.0, "N1": 0.5, "N2": 1.5, "N3": 1.0, "REM": 1.0})
    assert s.stage_pct == pytest.approx({"W": 100 * 2 / 6, "N1": 12.5, "N2": 37.5, "N3": 25.0, "REM": 25.0})
    assert s.unscored_min == 0


def test_unscored_epochs_and_lights():
    # epoch:  0  1  2  3   4  5  6  7   8  9
    hyp = [W, U, W, N2, U, W, W, N2, R, W]
    s = sleep_statistics(hyp, lights_off=1, lights_on=9)   # period = epochs 1..8
    assert s.tib_min == pytest.approx(4.0)
    assert s.tst_min == pytest.approx(1.5)
    assert s.se_pct == pytest.approx(37.5)
    assert s.sleep_onset_epoch == 3
    assert s.sol_min == pytest.approx(1.0)            # epochs 1, 2 (one unscored)
    assert s.waso_min == pytest.approx(1.0)           # epochs 5, 6
    assert s.rem_latency_min == pytest.approx(2.5)    # epoch 8 - 3
    assert s.n_awakenings == 1                        # the unscored epoch 4 does not split or add a run
    assert s.n_stage_shifts == 4                      # W N2 W W N2 R
    assert s.unscored_min == pytest.approx(1.0)


def test_awakening_runs_skip_unscored_epochs():
    hyp = [N2, W, U, W, N2, W, N2]
    s = sleep_statistics(hyp)
    assert s.n_awakenings == 2                        # W ? W is one run, then W
    assert s.waso_min == pytest.approx(1.5)


def test_no_sleep_at_all():
    s = sleep_statistics([W] * 10)
    assert s.tst_min == 0 and s.se_pct == 0
    assert s.sol_min is None and s.rem_latency_min is None and s.sleep_onset_epoch is None
    assert s.n_awakenings == 0 and s.n_stage_shifts == 0
    assert s.stage_pct["N2"] == 0.0


def test_no_rem_and_other_epoch_length():
    s = sleep_statistics([W, N2, N2, N3], epoch_s=20)
    assert s.rem_latency_min is None
    assert s.tst_min == pytest.approx(1.0)
    assert s.sol_min == pytest.approx(20 / 60)


def test_text_and_json_summaries():
    s = sleep_statistics([W, N1, N2, R, W])
    d = json.loads(s.to_json())
    assert d["tst_min"] == pytest.approx(1.5) and d["n_awakenings"] == 1
    text = s.format_text()
    assert "Total sleep time (TST):       1.5 min" in text
    assert "REM" in text


def test_bad_lights_are_refused():
    with pytest.raises(SleepScopeError, match="Lights off"):
        sleep_statistics([W, N2], lights_off=2, lights_on=1)


def test_real_night_waso_identity():
    # With every epoch scored, WASO = TIB - SOL - TST (the AASM report identity).
    rng = np.random.default_rng(3)
    hyp = rng.integers(0, 5, size=500)
    s = sleep_statistics(hyp)
    assert s.waso_min == pytest.approx(s.tib_min - s.sol_min - s.tst_min)


# ---- epochs without signal (gaps of an EDF+D recording)
from sleepscope.scoring.stats import partial_scoring_warning  # noqa: E402

G = True
#        0  1  2   3   4  5  6  7   8   9  10 11
GAP_HYP = [W, W, N2, N2, U, U, U, W, N2, N3, R, W]
GAP_MASK = [0, 0, 0, 0, G, G, G, 0, 0, 0, 0, 0]


def test_gap_epochs_are_no_signal_not_unscored():
    s = sleep_statistics(GAP_HYP, no_signal=GAP_MASK)
    assert s.no_signal_min == pytest.approx(1.5)      # epochs 4-6
    assert s.unscored_min == 0
    assert s.tib_min == pytest.approx(6.0)            # lights off to on is clock time: the gap stays in TIB
    assert s.tst_min == pytest.approx(2.5)            # 2, 3, 8, 9, 10
    assert s.sol_min == pytest.approx(1.0)
    assert s.waso_min == pytest.approx(1.0)           # 7 and 11; the gap is neither sleep nor wake
    assert s.n_awakenings == 2                        # [7], [11]
    assert s.n_stage_shifts == 6                      # W W N2 N2 W N2 N3 R W (the gap skipped)
    assert partial_scoring_warning(GAP_HYP, no_signal=GAP_MASK) is None
    # The control: the same labels without the mask give the old figures, gap time as unscored, and a warning.
    old = sleep_statistics(GAP_HYP)
    assert old.unscored_min == pytest.approx(1.5) and old.no_signal_min == 0
    assert (old.tib_min, old.tst_min, old.waso_min, old.n_awakenings, old.n_stage_shifts) == \
        (s.tib_min, s.tst_min, s.waso_min, s.n_awakenings, s.n_stage_shifts)
    assert "Partly scored: 9 of 12 epochs" in partial_scoring_warning(GAP_HYP)


def test_partial_warning_counts_only_epochs_with_signal():
    hyp = list(GAP_HYP)
    hyp[8] = U                                        # one recorded epoch left unscored
    warning = partial_scoring_warning(hyp, no_signal=GAP_MASK)
    assert "Partly scored: 8 of 9 epochs are scored (3 epochs without signal left out)" in warning
    s = sleep_statistics(hyp, no_signal=GAP_MASK)
    assert s.unscored_min == pytest.approx(0.5) and s.no_signal_min == pytest.approx(1.5)
    # Within lights off..on only: the gap before lights off is not counted.
    assert partial_scoring_warning(hyp, lights_off=7, no_signal=GAP_MASK).startswith("Partly scored: 4 of 5 epochs")
    assert sleep_statistics(hyp, lights_off=7, no_signal=GAP_MASK).no_signal_min == 0


def test_wake_either_side_of_a_gap_is_one_awakening():
    hyp = [N2, W, U, U, W, N2, N2, U, N3]
    gap = [0, 0, G, G, 0, 0, 0, G, 0]
    s = sleep_statistics(hyp, no_signal=gap)
    assert s.n_awakenings == 1                        # W [gap] W: nobody saw sleep in between
    assert s.n_stage_shifts == 3                      # N2 W W N2 N2 N3
    assert s.waso_min == pytest.approx(1.0)


def test_a_label_on_a_gap_epoch_counts_as_no_signal():
    # An imported hypnogram may label the gap: it was not scored from this recording.
    hyp = [W, N2, N2, N2, W]
    s = sleep_statistics(hyp, no_signal=[0, 0, G, 0, 0])
    assert s.tst_min == pytest.approx(1.0) and s.no_signal_min == pytest.approx(0.5)
    assert s.stage_min["N2"] == pytest.approx(1.0)


def test_no_gaps_mask_changes_nothing():
    rng = np.random.default_rng(5)
    hyp = rng.integers(-1, 5, size=300)
    assert sleep_statistics(hyp, lights_off=10, lights_on=290, no_signal=np.zeros(300, bool)) == \
        sleep_statistics(hyp, lights_off=10, lights_on=290)
    assert partial_scoring_warning(hyp, 10, 290, no_signal=np.zeros(300, bool)) == partial_scoring_warning(hyp, 10, 290)
    assert "No signal" not in sleep_statistics(hyp).format_text()
    assert "No signal (recording gaps):   1.5 min" in sleep_statistics(GAP_HYP, no_signal=GAP_MASK).format_text()
