"""Channel choice by alias."""

import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.io.channels import choose_channels, find_channel, find_ecg, pick_channel

SLEEP_EDF = ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "Resp oro-nasal", "EMG submental",
             "Temp rectal", "Event marker"]


@pytest.mark.parametrize("names, eeg, eog", [
    (SLEEP_EDF, "EEG Fpz-Cz", "EOG horizontal"),
    (["Fpz-Cz", "Pz-Oz", "horizontal"], "Fpz-Cz", "horizontal"),
    # frontal is nearer to the Fpz-Cz the model learned than central
    (["C4-M1", "F4-M1", "O2-M1", "E1-M2", "E2-M1", "Chin"], "F4-M1", "E1-M2"),
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


# Labels real files use -> (EEG chosen, EOG chosen); None: the recording has none.
TABLE = [
    # the other lab's excerpt of issue 11: ipsilateral central EEG, EOG1 against A1
    (["C3-A1", "EOG1-A1", "EMG", "ECG"], "C3-A1", "EOG1-A1"),
    (["CZ-A1", "ROC-A1", "LOC-A2"], "CZ-A1", "LOC-A2"),  # left eye first (as E1-M2), whatever the file order
    (["O1-A1", "FP1-A1", "EOG(L)"], "FP1-A1", "EOG(L)"),  # frontal beats occipital
    (["EEG C4-M1", "EEG O2-M1", "EOG E1-M2", "EOG E2-M1"], "EEG C4-M1", "EOG E1-M2"),
    (["E1-M2", "E2-M1", "C4-M1", "F4-M1"], "F4-M1", "E1-M2"),
    (["C3-A1", "C4-A1"], "C4-A1", None),  # contralateral beats ipsilateral; no EOG at all
    (["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"], "EEG Fpz-Cz", "EOG horizontal"),
    (["EEG Pz-Oz", "EEG Fpz-Cz"], "EEG Fpz-Cz", None),
    (["Fz-Cz", "C4-M1", "E1-E2", "E1-M2"], "Fz-Cz", "E1-E2"),  # bipolar EOG as learned
    (["EOG1-A1", "EOG2-A2", "EOG1-A2"], None, "EOG1-A2"),  # EOG only
    (["EEG", "EOG"], "EEG", "EOG"),  # bare type names: typed, derivation not said (SHHS's "EEG")
    (["SaO2", "EEG", "ECG", "EMG"], "EEG", None),
    (["EEG(sec)", "EOG(L)"], "EEG(sec)", "EOG(L)"),  # typed EEG, derivation unknown
    (["C3", "LOC", "ROC"], "C3", "LOC"),
    (["EMG submental", "ECG", "Resp"], None, None),
    # referential files: the AASM derivations computed from the electrodes and the mastoids stored apart
    (["C3", "C4", "A1", "A2", "LOC", "ROC", "EMG1"], "C4-A1", "LOC-A2"),
    (["F3", "F4", "C3", "C4", "O1", "O2", "M1", "M2", "E1", "E2", "Chin 1"], "F4-M1", "E1-M2"),
    (["EEG C3-Ref", "EEG C4-Ref", "EEG A1-Ref", "EEG A2-Ref", "EEG LOC-Ref", "EEG ROC-Ref"], "C4-A1", "LOC-A2"),
    (["C4", "M2", "E2"], "C4", "E2"),  # no contralateral mastoid: nothing computed
    (["C4-M1", "C4", "M1", "E2", "M2"], "C4-M1", "E2-M1"),  # a recorded C4-M1 is read, not recomputed
    # systems that type every channel EEG: an eye electrode is still the EOG, never the EEG
    (["EEG C3-A2", "EEG LOC-A2", "EEG ROC-A1"], "EEG C3-A2", "EEG LOC-A2"),
    (["EEG LOC-A2", "EEG ROC-A1", "EMG"], None, "EEG LOC-A2"),
    (["EEG C3-Ref", "EEG LOC-Ref"], "EEG C3-Ref", "EEG LOC-Ref"),  # no mastoid stored: the bare electrodes
    (["EEG A1-Ref", "EEG LOC-Ref"], None, "EEG LOC-Ref"),  # a mastoid alone is a reference, not an EEG
    # MASS: every EEG against linked ears, the EOG per eye
    (["EEG C3-CLE", "EEG O1-CLE", "EEG F3-CLE", "EOG Left Horiz", "EOG Right Horiz", "EMG Chin1"],
     "EEG F3-CLE", "EOG Left Horiz"),
    (["C3-LE", "C4-LE", "Cz-Oz"], "C4-LE", None),  # linked ears before a central-posterior bipolar
    (["Cz-Oz", "EEG(sec)", "Right EOG", "Left EOG"], "Cz-Oz", "Left EOG"),  # the type after the eye
    (["LEOG", "REOG", "VEOG", "EEG"], "EEG", "LEOG"),
    (["C3A2", "C4A1", "Lefteye", "RightEye", "EMG"], "C4A1", "Lefteye"),  # UCD St Vincent's labels
    (["C3-(A1+A2)", "EOG vertical", "VEOG"], "C3-(A1+A2)", None),  # a vertical EOG only when named
    # against the average reference: electrodes, and their mastoid derivation when the mastoid shares it
    (["C3-AVG", "C4-AVG", "LOC-AVG"], "C4-AVG", "LOC-AVG"),
    (["C3-AVG", "M2-AVG", "LOC-AVG", "M1-AVG"], "C3-M2", "LOC-M2"),
    (["C3-AVG", "M2", "E1"], "C3-AVG", "E1-M2"),  # two references: no C3-M2 computed, E1-M2 is
    # labels a file gives twice, told apart by the header reader: still recognised
    (["C4-M1 (1)", "C4-M1 (2)", "E1-M2 (1)", "E1-M2 (2)"], "C4-M1 (1)", "E1-M2 (1)"),
    (["O2-M1", "F4-M1 (1)", "F4-M1 (2)", "EOG"], "F4-M1 (1)", "EOG"),
]


@pytest.mark.parametrize("names, eeg, eog", TABLE)
def test_channel_table(names, eeg, eog):
    if eeg is None and eog is None:
        with pytest.raises(SleepScopeError, match="neither an EEG nor an EOG"):
            choose_channels(names)
        return
    choice = choose_channels(names)
    assert (choice.eeg, choice.eog) == (eeg, eog)
    text = choice.summary()
    assert (repr(eeg) in text) if eeg else ("EEG: none" in text)
    assert (repr(eog) in text) if eog else ("EOG: none" in text)


def test_choice_says_why():
    c = choose_channels(SLEEP_EDF)
    assert c.learned and "the derivation the model learned" in c.eeg_reason
    c = choose_channels(["C3-A1", "EOG1-A1"])
    assert not c.learned
    assert "ipsilateral" in c.eeg_reason and "Fpz-Cz" in c.eeg_reason
    c = choose_channels(["C3-A1", "EOG1-A1"], eeg="c3-a1")
    assert c.eeg == "C3-A1" and c.eeg_reason.startswith("chosen by the user")
    with pytest.raises(SleepScopeError, match="two different channels"):
        choose_channels(["C3-A1", "EOG1-A1"], eeg="C3-A1", eog="C3-A1")


def test_derivations_are_named_computed_and_chosen_by_name():
    from sleepscope.io.channels import derived_channels

    names = ["C3", "C4", "Cz", "M1", "M2", "E1", "EMG"]
    assert derived_channels(names) == {"C3-M2": ("C3", "M2"), "C4-M1": ("C4", "M1"), "Cz-M1": ("Cz", "M1"),
                                       "Cz-M2": ("Cz", "M2"), "E1-M2": ("E1", "M2")}
    assert derived_channels(["C3", "C4", "E1"]) == {}  # no mastoid stored: nothing to compute
    c = choose_channels(names)
    assert (c.eeg, c.eog) == ("C4-M1", "E1-M2")
    assert "computed as C4 - M1" in c.eeg_reason and "computed as E1 - M2" in c.eog_reason
    # the technician may name a derivation, or the bare electrode against the amplifier's reference
    c = choose_channels(names, eeg="c3-m2")
    assert c.eeg == "C3-M2" and c.eeg_reason.startswith("chosen by the user") and "C3 - M2" in c.eeg_reason
    assert choose_channels(names, eeg="C4").eeg == "C4"
    assert find_channel(names, "C3-A2") == "C3-M2"  # mastoids written either way
    assert find_channel(names, "C4-M2") is None  # only the AASM pairs are offered


def test_the_central_eeg_the_second_opinion_reads():
    from sleepscope.io.channels import central_eeg

    assert central_eeg(["F4-M1", "C4-M1", "O2-M1", "E1-M2"]) == "C4-M1"
    assert central_eeg(["EEG C3-A2", "EEG C4-A1"]) == "EEG C4-A1"  # contralateral C4 first, whatever the order
    assert central_eeg(["C3-A1", "Fp1-M1"]) == "C3-A1"  # ipsilateral when nothing else is central
    assert central_eeg(["F4", "C4", "M1", "M2", "E1"]) == "C4-M1"  # computed in a referential file
    assert central_eeg(["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]) is None
    assert central_eeg(["EOG E1-M2", "EMG"]) is None
    assert central_eeg(["EEG F3-CLE", "EEG C3-CLE", "EEG C4-CLE"]) == "EEG C4-CLE"  # MASS: against linked ears


@pytest.mark.parametrize("names, eeg, eog, expected", [
    # the AASM montage: the model reads F4-M1 and E1-M2; C4-M1, O2-M1 and the other eye are shown beside them
    (["F4-M1", "C4-M1", "O2-M1", "E1-M2", "E2-M1", "Chin1-Chin2", "ECG"], "F4-M1", "E1-M2",
     ["C4-M1", "O2-M1", "E2-M1"]),
    # the backups (O1-M2), and the left eye when the model reads the right one (chosen with --eog)
    (["EEG F3-M2", "EEG C3-M2", "EEG O1-M2", "EOG ROC-M1", "EOG LOC-M2"], "EEG F3-M2", "EOG ROC-M1",
     ["EEG C3-M2", "EEG O1-M2", "EOG LOC-M2"]),
    # computed in a referential file
    (["F4", "C4", "O2", "M1", "M2", "E1", "E2"], "F4-M1", "E1-M2", ["C4-M1", "O2-M1", "E2-M1"]),
    # Sleep-EDF: Pz-Oz shows the alpha rhythm; a bipolar EOG is both eyes already
    (["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental"], "EEG Fpz-Cz", "EOG horizontal", ["EEG Pz-Oz"]),
    # SHHS: one eye each side, no recognised derivation for the EEG
    (["EEG(sec)", "EOG(L)", "EOG(R)", "EEG"], "EEG(sec)", "EOG(L)", ["EOG(R)"]),
    # nothing to add: what the model reads is all there is
    (["C4-A1", "ROC-LOC", "EMG1-EMG2"], "C4-A1", "ROC-LOC", []),
    (["EEG C4-M1"], "EEG C4-M1", None, []),
])
def test_the_channels_a_technician_scores_with_beside_the_models(names, eeg, eog, expected):
    from sleepscope.io.channels import scoring_montage

    assert scoring_montage(names, eeg, eog) == expected


def test_eyes_labelled_in_german_are_eyes():
    """SOMNOmedics' German 'EOG li' and 'EOG re' (links, rechts) say which eye: the banner says so (they were
    'typed EOG, derivation not recognised'), and one is taken before an EOG whose label says nothing."""
    choice = choose_channels(["EOG X", "EOG li", "EOG re", "C4:A1"])
    assert choice.eog == "EOG li" and choice.eog_reason.startswith("one eye")


@pytest.mark.parametrize("names, ecg", [
    (["EEG Fpz-Cz", "EOG horizontal", "ECG"], "ECG"),
    (["C4-M1", "E1-M2", "EKG"], "EKG"),
    (["ECG L", "ECG R", "ECG1-ECG2"], "ECG1-ECG2"),  # a lead between two electrodes first
    (["ECG Rate", "ECG II"], "ECG II"),
    (["C3-A2", "HR", "Pulse", "ECG HR", "SpO2"], None),  # a rate derived from the ECG is not the ECG
    (["EEG C3-A2", "EMG chin", "Leg EMG"], None),
    (["ECGL"], "ECGL"),
])
def test_the_ecg_lead_is_found_by_its_label(names, ecg):
    assert find_ecg(names) == ecg
    if any(n.startswith(("EEG", "C", "E1")) for n in names):
        choice = choose_channels(names)
        assert choice.ecg == ecg and (f"ECG: {ecg!r}" in choice.summary()) == (ecg is not None)
