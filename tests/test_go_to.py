"""Go to an epoch number or a clock time of the night (`scoring.go_to.epoch_of`)."""

from __future__ import annotations

from datetime import datetime

import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.scoring.go_to import epoch_of

START = datetime(2024, 1, 1, 22, 10, 0)  # 840 epochs: until 05:10


@pytest.mark.parametrize("text, epoch", [
    ("1", 0), ("412", 411), ("epoch 412", 411), ("#840", 839),  # numbered from 1, as the header shows them
    ("22:10", 0), ("22:10:29", 0), ("22:10:30", 1), ("23h50", 200), ("3.15", 610),
    ("03:15", 610), ("3:15:30", 611), ("00:00", 220), ("05:09:59", 839),  # after midnight: the same night
])
def test_epoch_numbers_and_clock_times(text, epoch):
    assert epoch_of(text, 840, START) == epoch


@pytest.mark.parametrize("text, words", [
    ("0", "there is no epoch 0: this recording has epochs 1-840"),
    ("841", "there is no epoch 841"),
    ("05:10", "runs from 22:10:00 to 05:10:00: 05:10:00 is not in it"),
    ("22:09", "22:09:00 is not in it"),  # a minute before the start is the next evening's
    ("25:00", "is no clock time"),
    ("03:15 pm", "names no epoch: give an epoch number from 1 to 840, or a clock time from 22:10 to 05:10"),
    ("", "names no epoch"),
])
def test_what_names_no_epoch_of_the_night_is_refused_with_what_it_covers(text, words):
    with pytest.raises(SleepScopeError, match=words.replace("(", r"\(").replace(")", r"\)")):
        epoch_of(text, 840, START)


def test_a_recording_without_a_start_time_goes_by_epoch_number_only():
    assert epoch_of("12", 20, None) == 11
    with pytest.raises(SleepScopeError, match="keeps no start time"):
        epoch_of("03:15", 20, None)
