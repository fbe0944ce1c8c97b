"""A slow drift on the EEG (sweat, a moving electrode) is high-passed away before the model reads the epochs it
dominates, and on an EOG read alone where it dominates the night; every other epoch, and the paper's
normalisation, read as recorded."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfilt, sosfilt_zi

from sleepscope.io import open_recording
from sleepscope.model.drift import HIGHPASS_HZ, DriftRemover, drifting, slow_ratio
from sleepscope.model.inputs import model_input

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
    assert not drifting(slow_ratio(rec), rec.n_epochs).any()
    assert drifting(slow_ratio(swayed(rec, 50.0)), rec.n_epochs).all()
    assert drifting(slow_ratio(swayed(rec, 50.0, hz=0.2)), rec.n_epochs).all()
    # only the EEG is read: the EOG's slow eye movements are physiology
    np.testing.assert_array_equal(slow_ratio(swayed(rec, 50.0, channels=(rec.eog_name,))), slow_ratio(rec))
    assert slow_ratio(replace(rec, eeg_name=None)) is None
    assert not drifting(None, 3).any()


def test_the_high_pass_run_chunk_by_chunk_is_the_whole_night_filtered_at_once():
    rng = np.random.default_rng(0)
    x = (np.cumsum(rng.normal(size=12 * 3000)) + 40.0).astype(np.float32).reshape(12, 3000)
    sos = butter(2, HIGHPASS_HZ, btype="highpass", fs=100.0, output="sos")
    whole = sosfilt(sos, x.reshape(-1).astype(np.float64), zi=sosfilt_zi(sos) * x[0, 0])[0].reshape(x.shape)
    every = np.ones(12, bool)
    remover = DriftRemover(100.0)
    parts = np.concatenate([remover(x[lo:lo + 5], every[lo:lo + 5]) for lo in range(0, 12, 5)])
    np.testing.assert_allclose(parts, whole, atol=1e-3)
    # rows not named keep their samples, bit for bit
    some = np.arange(12) % 3 == 0
    out = DriftRemover(100.0)(x, some)
    np.testing.assert_array_equal(out[~some], x[~some])
    np.testing.assert_allclose(out[some], whole[some], atol=1e-3)


def test_a_gap_does_not_poison_the_rest_of_the_night():
    x = np.random.default_rng(1).normal(0, 20, size=(6, 3000)).astype(np.float32)
    x[2, 100:400] = np.nan
    out = DriftRemover(100.0)(x, np.ones(6, bool))
    assert np.isnan(out[2, 100:400]).all()
    assert np.isfinite(np.delete(out, 2, axis=0)).all() and np.isfinite(out[2, 400:]).all()


def test_the_input_loses_the_sway_on_the_epochs_it_dominates_and_nothing_else():
    """The real wake minutes with a 50-uV sway on the EEG over their first two minutes. Control: the same epochs
    as recorded and high-passed alike, which the swayed input matches once high-passed and not before."""
    from sleepscope.io.recording import zscore_epochs
    from sleepscope.model.inputs import normalise

    rec = open_recording(WAKE)
    part = swayed(rec, 50.0, channels=(rec.eeg_name,), until=120)
    plain, swayed_in = model_input(rec, "epoch+amplitude"), model_input(part, "epoch+amplitude")
    np.testing.assert_array_equal(swayed_in[4:], plain[4:])  # the epochs without a drift: as recorded
    np.testing.assert_array_equal(swayed_in[:, 1], plain[:, 1])  # the EOG: as recorded
    paper = model_input(part, "epoch")  # the paper's preprocessing: as recorded
    np.testing.assert_array_equal(paper[:, 0], zscore_epochs(part.epochs("eeg")))
    clean = normalise(DriftRemover(rec.fs)(rec.epochs("eeg")[:4], np.ones(4, bool)), "epoch+amplitude")
    for e in range(4):
        r = np.corrcoef(swayed_in[e, 0], clean[e])[0, 1]
        r_paper = np.corrcoef(paper[e, 0], clean[e])[0, 1]
        assert r > 0.99 and r_paper < 0.8, (e, r, r_paper)
    # the amplitude input is the epoch's own, not the sway's
    np.testing.assert_allclose(swayed_in[:4, 0].mean(axis=1), clean.mean(axis=1), atol=0.05)


def test_a_drift_on_an_eog_read_alone_is_named_and_the_real_rem_eog_is_not():
    from sleepscope.model.drift import EOG_DRIFT_LIMIT, eog_drift
    from sleepscope.model.familiarity import assess

    from test_shipped_model import _real_rows

    rec, _ = _real_rows()["real REM EOG (EOG only)"]
    assert eog_drift(rec) < 0.5 * EOG_DRIFT_LIMIT < EOG_DRIFT_LIMIT < eog_drift(swayed(rec, 150.0))
    half = swayed(rec, 150.0, until=rec.n_samples / rec.fs / 2)
    assert eog_drift(half) > eog_drift(half, np.arange(rec.n_epochs) >= rec.n_epochs // 2 + 1)
    assert eog_drift(replace(open_recording(WAKE), eog_name=None)) is None
    assert assess(None, None, eog_drift=0.9 * EOG_DRIFT_LIMIT).familiar
    verdict = assess(None, None, eog_drift=2.6)
    assert not verdict.familiar and "a slow drift dominates its EOG, the only channel read" in verdict.message()
    assert "2.6 times" in verdict.message()


def test_an_eog_read_alone_is_high_passed_only_where_a_drift_dominates_its_night():
    """The REAL REM EOG clip read alone: as recorded, not high-passed; with a 150-uV sway, every epoch is, the sway
    gone from the input (each follows the clip's own high-passed input; read without the high-pass, it does not)
    and the reading says how far it drifted. Not in the paper's normalisation, nor where an EEG is read beside it."""
    from sleepscope.model.backups import read_for_model
    from sleepscope.model.drift import EOG_DRIFT_LIMIT, eog_drift

    from test_shipped_model import _real_rows

    rec, _ = _real_rows()["real REM EOG (EOG only)"]
    clean = read_for_model(rec, "epoch+amplitude")
    assert not clean.eog_high_passed and clean.eog_drift < EOG_DRIFT_LIMIT
    drifting = read_for_model(swayed(rec, 150.0), "epoch+amplitude")
    assert drifting.eog_high_passed and drifting.eog_drift == pytest.approx(eog_drift(swayed(rec, 150.0))) and \
        drifting.eog_drift > EOG_DRIFT_LIMIT
    own = model_input(rec, "epoch+amplitude", absent=("eeg",), eog_high_pass=True)[:, 1]
    unfiltered = model_input(swayed(rec, 150.0), "epoch+amplitude", absent=("eeg",))[:, 1]

    def r(x):  # per epoch, the first left out: the filter settling
        return [np.corrcoef(a, b)[0, 1] for a, b in zip(x[1:], own[1:])]

    assert min(r(drifting.x[:, 1])) > 0.95 and np.median(r(unfiltered)) < 0.8, (r(drifting.x[:, 1]), r(unfiltered))
    paper = read_for_model(swayed(rec, 150.0), "epoch")
    assert not paper.eog_high_passed and paper.eog_drift > EOG_DRIFT_LIMIT  # named by the familiarity check instead
    wake = read_for_model(swayed(open_recording(WAKE), 250.0, channels=("EOG horizontal",)), "epoch+amplitude")
    assert not wake.eog_high_passed and wake.eog_drift is None
