"""Channel choice by alias."""

import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.io.channels import find_channel, pick_channel

SLEEP_EDF = ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "Resp oro-nasal", "EMG submental",
             "Temp rectal", "Event marker"]


@pytest.mark.parametrize("names, eeg, eog", [
    (SLEEP_EDF, "EEG Fpz-Cz", "EOG horizontal"),
    (["Fpz-Cz", "Pz-Oz", "horizontal"], "Fpz-Cz", "horizontal"),
    (["F4-M1", "C4-M1", "O2-M1", "E1-M2", "E2-M1", "Chin"], "C4-M1", "E1-M2"),
    (["EEG C3-A2", "EEG C4-A1", "EOG(L)", "EOG(R)"], "EEG C4-A1", "EOG(L)"),
    (["C3-M2", "LOC", "ROC", "EMG"], "C3-M2", "LOC"),
    (["eeg fpz - cz", "EOG Left"], "eeg fpz - cz", "EOG Left"),
    (["F4-M1", "ROC-A1"], "F4-M1", "ROC-A1"),
])
def test_aliases(names, eeg, eog):
    assert pick_channel(names, "eeg") == eeg
    assert pick_channel(names, "eog") == eog


def test_explicit_choice_is_case_and_spacing_insensitive():
    assert find_channel(SLEEP_EDF, "eeg pz-oz") == "EEG Pz-Oz"
    assert find_channel(SLEEP_EDF, "Pz-Oz") == "EEG Pz-Oz"
    assert pick_channel(SLEEP_EDF, "eeg", "PZ-OZ") == "EEG Pz-Oz"


def test_missing_channel_lists_channels_and_option():
    with pytest.raises(SleepScopeError) as err:
        pick_channel(["Resp", "EMG submental"], "eog")
    msg = str(err.value)
    assert "'EMG submental'" in msg and "--eog NAME" in msg
    with pytest.raises(SleepScopeError, match="--eeg NAME"):
        pick_channel(SLEEP_EDF, "eeg", "C3-M2")
