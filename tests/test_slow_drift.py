"""A slow drift over a whole night (sweat, a drifting electrode) is named: the model reads such EEG as wake."""

from dataclasses import replace
from pathlib import Path

import numpy as np

from sleepscope.io import open_recording
from sleepscope.model.familiarity import SLOW_DRIFT_LIMIT, assess, slow_drift

WAKE = Path(__file__).parent / "data" / "SC4001E0-PSG-first300s.edf"


def swayed(rec, uv: float, hz: float = 0.05, channels=None, until: float | None = None):
    """`rec` with a sine of `uv` at `hz` added to `channels` (default: its EEG and EOG), for its first `until`
    seconds (default: all of it): a sweating patient's slow drift."""
    t = np.arange(rec.n_samples, dtype=np.float64) / rec.fs
    sway = uv * np.sin(2 * np.pi * hz * t)
    if until is not None:
        sway[t >= until] = 0.0
    names = channels or (rec.eeg_name, rec.eog_name)
    return replace(rec, channels={k: v + sway[: len(v)].astype(np.float32) if k in names else v
                                  for k, v in rec.channels.items()})


def test_the_real_wake_minutes_stay_under_the_limit_and_a_sway_takes_them_over():
    rec = open_recording(WAKE)
    assert slow_drift(rec) < 0.5 * SLOW_DRIFT_LIMIT
    assert slow_drift(swayed(rec, 50.0)) > SLOW_DRIFT_LIMIT
    assert slow_drift(swayed(rec, 50.0, hz=0.2)) > SLOW_DRIFT_LIMIT
    # only the EEG is read: the EOG's slow eye movements are physiology
    assert slow_drift(swayed(rec, 50.0, channels=(rec.eog_name,))) == slow_drift(rec)


def test_epochs_left_out_are_not_read_and_a_recording_without_eeg_has_no_figure():
    rec = open_recording(WAKE)
    half = swayed(rec, 50.0, channels=(rec.eeg_name,), until=180)
    keep = np.arange(rec.n_epochs) >= 6  # the swayed first three minutes left out (artefact)
    assert slow_drift(half) > SLOW_DRIFT_LIMIT
    assert slow_drift(half, keep) < SLOW_DRIFT_LIMIT
    assert slow_drift(half, np.zeros(rec.n_epochs, bool)) is None
    assert slow_drift(replace(rec, eeg_name=None)) is None


def test_the_verdict_names_the_drift_and_what_hides_it():
    assert assess(None, None, drift=0.9 * SLOW_DRIFT_LIMIT).familiar
    verdict = assess(None, None, drift=2.4)
    assert not verdict.familiar
    assert "slow drift dominates its EEG" in verdict.message() and "2.4 times" in verdict.message()
    assert "display's high-pass hides" in verdict.message()


def test_wake_suggested_where_the_eeg_drifts_is_marked_unsure_and_nothing_else():
    from sleepscope.model.eeg_band import drifting_wake, unsure_epochs

    rec = open_recording(WAKE)
    part = swayed(rec, 50.0, channels=(rec.eeg_name,), until=120)
    probs = np.full((rec.n_epochs, 5), 0.0025)
    probs[:, 0] = 0.99  # confident wake everywhere: the card's threshold flags nothing
    probs[1] = np.roll(probs[1], 2)  # one swayed epoch suggested N2: the rule doubts wake only
    unsure, band = unsure_epochs(probs, {}, part)
    assert band is None
    assert unsure.tolist() == [True, False, True, True] + [False] * (rec.n_epochs - 4)
    assert not unsure_epochs(probs, {}, rec)[0].any()  # the control: as recorded
    assert not unsure_epochs(probs, {}, None)[0].any()  # no recording (an array): nothing to read
    assert drifting_wake(probs, None).tolist() == [False] * rec.n_epochs
