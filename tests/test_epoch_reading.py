"""How the model read each epoch (`sleepscope.model.epoch_reading`): the bits a prediction gives, and the words."""

from __future__ import annotations

import numpy as np
import torch
from test_backups import recording, signals

from sleepscope.model.config import TINY
from sleepscope.model.epoch_reading import (
    ARTEFACT,
    BACKUP_EEG,
    ECG_SUBTRACTED,
    EEG_ALONE,
    HIGH_PASSED,
    OTHER_EYE,
    epoch_reading,
    read_from,
    reading_summary,
    reading_words,
)
from sleepscope.model.infer import predict
from sleepscope.model.network import SleepStager


def test_a_predictions_epochs_read_from_the_backup_the_eeg_alone_and_not_at_all():
    torch.manual_seed(0)
    chans = signals(n_epochs=12)  # F4-M1 flat in 2-4, F3-M2 clean: the backup EEG there
    chans["EOG E1-M2"][7 * 3000:9 * 3000] = 0.0  # the EOG flat in 7-8: the EEG alone
    chans["EEG F4-M1"][10 * 3000:] = 0.0
    chans["EEG F3-M2"][10 * 3000:] = 0.0  # both EEGs flat in 10-11: nothing to read
    bits = epoch_reading(predict(recording(chans), SleepStager(TINY).eval()))
    assert bits.tolist() == [0, 0] + [BACKUP_EEG] * 3 + [0, 0] + [EEG_ALONE] * 2 + [0] + [ARTEFACT] * 2
    assert reading_summary(bits) == ("2 epochs without a stage: the signal fails there (artefact); 3 epochs read "
                                     "from the backup EEG; 2 epochs read from the EEG alone: the EOG fails there "
                                     "(bars over the model's row)")
    assert reading_summary(np.zeros(12, np.uint8)) is None and reading_summary(None) is None


def test_the_words_name_what_was_read_and_why():
    assert reading_words(0) == "" and read_from(0) == ""
    assert reading_words(ARTEFACT, ["EEG: flat", "EOG: clipped/saturated"]) == \
        "no stage: EEG flat; EOG clipped/saturated (artefact)"
    assert reading_words(ARTEFACT) == "no stage: the signal fails here (artefact)"
    assert reading_words(BACKUP_EEG, ["EEG: flat"]) == "read from the backup EEG (EEG flat)"
    assert reading_words(EEG_ALONE) == "read from the EEG alone (the EOG fails here)"
    assert reading_words(BACKUP_EEG | EEG_ALONE, ["EEG: flat", "EOG: flat"]) == \
        "read from the backup EEG and the EEG alone (EEG flat; EOG flat)"
    assert read_from(BACKUP_EEG | OTHER_EYE) == "backup EEG + other eye"
    assert reading_words(HIGH_PASSED) == "read through a 0.3-Hz high-pass of the EEG (a slow drift dominates it here)"
    assert reading_words(HIGH_PASSED | EEG_ALONE, ["EOG: flat"]) == \
        "read from the EEG alone through a 0.3-Hz high-pass of the EEG (EOG flat)"
    assert read_from(HIGH_PASSED | EEG_ALONE) == "EEG alone + EEG high-passed"
    assert reading_words(ECG_SUBTRACTED) == "the ECG's beats subtracted"
    assert reading_words(ECG_SUBTRACTED | EEG_ALONE, ["EOG: flat"]) == \
        "read from the EEG alone (EOG flat); the ECG's beats subtracted"
    assert read_from(ECG_SUBTRACTED | HIGH_PASSED) == "EEG high-passed + ECG subtracted"


def test_epochs_read_without_the_hearts_beats_are_said_without_a_bar():
    bits = np.array([ECG_SUBTRACTED] * 3 + [ECG_SUBTRACTED | HIGH_PASSED, 0], np.uint8)
    assert reading_summary(bits) == (
        "1 epoch read through a 0.3-Hz high-pass of the EEG: a slow drift dominates it there (sweat or a loose "
        "electrode, which the display's high-pass hides) (bars over the model's row); 4 epochs read with the ECG's "
        "beats subtracted from the EEG and EOG")
    assert reading_summary(bits[:3]) == "3 epochs read with the ECG's beats subtracted from the EEG and EOG"


def test_an_eog_read_alone_through_the_high_pass_is_said_without_a_bar():
    from sleepscope.model.epoch_reading import EOG_HIGH_PASSED, READ_OTHERWISE

    bits = np.array([EOG_HIGH_PASSED] * 4, np.uint8)
    assert not EOG_HIGH_PASSED & READ_OTHERWISE
    assert read_from(EOG_HIGH_PASSED) == "EOG high-passed"
    assert reading_words(EOG_HIGH_PASSED) == "read through a 0.3-Hz high-pass of the EOG (a slow drift)"
    assert reading_summary(bits) == ("4 epochs read through a 0.3-Hz high-pass of the EOG: a slow drift dominates "
                                     "the EOG, the only channel read (sweat or a loose electrode)")
