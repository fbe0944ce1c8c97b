"""How the model read each epoch: as recorded, from a backup channel, from the EEG alone, through a high-pass of
the EEG (a slow drift), or not at all (an artefact epoch, no stage); whether the ECG's beats were subtracted
first, whether an EOG read alone went through the drift high-pass, and whether the chin EMG's tone decided its
stage.

Kept with the prediction in the scoring file (`PredictionRecord.reading`), so that the window marks those epochs
and names how each was read whenever the night is opened, not only in the banner of the run that scored it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: Bits per epoch.
ARTEFACT, EEG_ALONE, BACKUP_EEG, OTHER_EYE, CHIN_EMG, HIGH_PASSED, ECG_SUBTRACTED, EOG_HIGH_PASSED = \
    1, 2, 4, 8, 16, 32, 64, 128
#: Read otherwise than as recorded, with a stage (a bar over the model's row). Not ECG_SUBTRACTED nor
#: EOG_HIGH_PASSED: each holds for the whole night, and a bar over the whole night marks nothing.
READ_OTHERWISE = EEG_ALONE | BACKUP_EEG | OTHER_EYE | HIGH_PASSED
#: What each of those read, as `prescore`'s `read_from` column names it.
_READ_FROM = ((BACKUP_EEG, "backup EEG"), (OTHER_EYE, "other eye"), (EEG_ALONE, "EEG alone"),
              (HIGH_PASSED, "EEG high-passed"))


def epoch_reading(prediction) -> np.ndarray:
    """The bits of each epoch of a `sleepscope.model.infer.Prediction`."""
    out = np.zeros(prediction.n_epochs, dtype=np.uint8)
    if prediction.artefact is not None:
        out[np.asarray(prediction.artefact, bool)] |= ARTEFACT
    if prediction.quality is not None:
        out[np.asarray(prediction.quality.eeg_alone, bool)[: len(out)]] |= EEG_ALONE
    for backup in prediction.backups:
        out[np.asarray(backup.epochs, bool)[: len(out)]] |= BACKUP_EEG if backup.kind == "eeg" else OTHER_EYE
    high_passed = getattr(prediction, "high_passed", None)
    if high_passed is not None:
        out[np.asarray(high_passed, bool)[: len(out)]] |= HIGH_PASSED
    heartbeats = getattr(prediction, "heartbeats", None)
    if heartbeats is not None:
        out[np.asarray(heartbeats.epochs, bool)[: len(out)]] |= ECG_SUBTRACTED
    if getattr(prediction, "eog_high_passed", None) is not None:
        out |= EOG_HIGH_PASSED
    if prediction.artefact is not None:
        out[np.asarray(prediction.artefact, bool)] &= ~np.uint8(ECG_SUBTRACTED | EOG_HIGH_PASSED)
    decided = getattr(getattr(prediction, "chin", None), "decided", None)
    if decided is not None:
        out[np.asarray(decided, bool)[: len(out)]] |= CHIN_EMG
    return out


def read_from(bits: int) -> str:
    """"backup EEG", "other eye", "EEG alone", "EEG high-passed", "ECG subtracted", "EOG high-passed", "chin EMG"
    (its tone decided the stage; joined by " + "), or "" for an epoch read as recorded from its EEG and EOG alone."""
    return " + ".join(name for bit, name in (*_READ_FROM, (ECG_SUBTRACTED, "ECG subtracted"),
                                             (EOG_HIGH_PASSED, "EOG high-passed"), (CHIN_EMG, "chin EMG"))
                      if bits & bit)


def reading_words(bits: int, problems: Sequence[str] = ()) -> str:
    """How the model read an epoch, in a few words for the epoch's header; "" as recorded. `problems`: what is
    wrong with the channels as recorded there (`EpochQuality.reasons`, "EEG: flat"), said as the reason."""
    why = "; ".join(p.replace(": ", " ", 1) for p in problems)
    if bits & ARTEFACT:
        return f"no stage: {why or 'the signal fails here'} (artefact)"
    from sleepscope.model.drift import EOG_READ_THROUGH, READ_THROUGH

    parts = [f"the {name}" for bit, name in _READ_FROM if bits & bit and bit != HIGH_PASSED]
    chin = "; ".join(w for bit, w in ((ECG_SUBTRACTED, "the ECG's beats subtracted"),
                                      (EOG_HIGH_PASSED, f"read through {EOG_READ_THROUGH} (a slow drift)"),
                                      (CHIN_EMG, "the chin EMG's tone decided the stage")) if bits & bit)
    if not parts and not bits & HIGH_PASSED:
        return chin
    read = "read from " + " and ".join(parts) if parts else "read"
    if bits & HIGH_PASSED:
        read += f" through {READ_THROUGH}"
    read += (f" ({why})" if why else " (the EOG fails here)" if bits & EEG_ALONE else
             " (a slow drift dominates it here)" if bits & HIGH_PASSED else "")
    return f"{read}; {chin}" if chin else read


def reading_summary(reading) -> str | None:
    """What a kept prediction's reading says of the night, for the banner when the night is opened again (the
    run's own notes, with what failed, are gone by then); None when every epoch was read as recorded."""
    from sleepscope.model.drift import EOG_READ_THROUGH, EOG_WHY, READ_THROUGH, WHY

    if reading is None:
        return None
    r = np.asarray(reading, np.uint8)
    parts = []
    for bit, what in ((ARTEFACT, "without a stage: the signal fails there (artefact)"),
                      (BACKUP_EEG, "read from the backup EEG"), (OTHER_EYE, "read from the other eye"),
                      (EEG_ALONE, "read from the EEG alone: the EOG fails there"),
                      (HIGH_PASSED, f"read through {READ_THROUGH}: {WHY}")):
        n = int(np.count_nonzero(r & bit))
        if n:
            parts.append(f"{n} epoch{'s' if n != 1 else ''} {what}")
    if parts:
        parts = ["; ".join(parts) + " (bars over the model's row)"]
    n = int(np.count_nonzero(r & ECG_SUBTRACTED))
    if n:
        parts.append(f"{n} epoch{'s' if n != 1 else ''} read with the ECG's beats subtracted from the EEG and EOG")
    n = int(np.count_nonzero(r & EOG_HIGH_PASSED))
    if n:
        parts.append(f"{n} epoch{'s' if n != 1 else ''} read through {EOG_READ_THROUGH}: {EOG_WHY}")
    # not the epochs whose stage the chin EMG's tone decided: that is the EMG doing its work on most nights, said
    # in each epoch's header, not news for the banner
    return "; ".join(parts) if parts else None
