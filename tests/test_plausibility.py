"""The suggested night is compared with real scored nights: a model that misses REM says so."""

import numpy as np

from sleepscope.data.synthetic import hypnogram_names, real_hypnogram
from sleepscope.model.familiarity import assess
from sleepscope.model.plausibility import MIN_SLEEP_EPOCHS, implausible_night
from sleepscope.stages import Stage


def _long_nights():
    nights = [real_hypnogram(n) for n in hypnogram_names()]
    return [h for h in nights if ((h >= Stage.N1) & (h <= Stage.REM)).sum() >= MIN_SLEEP_EPOCHS]


def test_every_expert_scored_night_is_plausible_and_the_same_nights_without_rem_are_not():
    nights = _long_nights()
    assert len(nights) > 150
    assert [implausible_night(h) for h in nights] == [None] * len(nights)
    # the control: REM read as N2, the way a model out of its depth misses it
    missed = [np.where(h == Stage.REM, Stage.N2, h) for h in nights]
    assert all("REM on 0.0%" in (implausible_night(h) or "") for h in missed)
    # and most of the REM read as N2 (all but a few percent of sleep)
    rng = np.random.default_rng(0)
    half = [np.where((h == Stage.REM) & (rng.random(len(h)) < 0.9), Stage.N2, h) for h in nights]
    assert np.mean([implausible_night(h) is not None for h in half]) > 0.5


def test_a_night_of_rem_and_a_short_recording():
    night = _long_nights()[0]
    all_sleep_rem = np.where(night >= Stage.N1, Stage.REM, night)
    assert "never more than 50%" in implausible_night(all_sleep_rem)
    excerpt = np.full(MIN_SLEEP_EPOCHS - 1, Stage.N2)  # under four hours of sleep: no REM is expected
    assert implausible_night(excerpt) is None
    assert implausible_night(np.full(MIN_SLEEP_EPOCHS, Stage.N2)) is not None


def test_the_familiarity_verdict_carries_the_reason_with_what_to_do():
    night = _long_nights()[0]
    assert assess(None, None, stages=night).familiar
    verdict = assess(None, None, stages=np.where(night == Stage.REM, Stage.N2, night))
    assert not verdict.familiar
    assert "suggested night has REM on 0.0%" in verdict.message() and "fine-tune" in verdict.message()


def test_four_hours_without_sleep_are_unlike_any_real_night():
    from sleepscope.model.plausibility import MIN_NIGHT_SLEEP_EPOCHS, MIN_STAGED_EPOCHS

    long = [h for h in (real_hypnogram(n) for n in hypnogram_names()) if (h >= 0).sum() >= MIN_STAGED_EPOCHS]
    assert len(long) > 190
    assert [implausible_night(h) for h in long] == [None] * len(long)
    awake = np.full(600, Stage.W)  # five hours the model calls wake, as a whole-night drift makes it
    assert "has 0 min of sleep in 5.0 h" in implausible_night(awake)
    # artefact epochs (-1) are not hours of wake: four hours only with them counted would say nothing
    assert implausible_night(np.r_[np.full(MIN_STAGED_EPOCHS - 1, Stage.W), np.full(200, -1)]) is None
    some = awake.copy()
    some[100:100 + MIN_NIGHT_SLEEP_EPOCHS] = Stage.N2
    assert implausible_night(some) is None
    some[100] = Stage.W
    assert "has 29.5 min of sleep" in implausible_night(some)
