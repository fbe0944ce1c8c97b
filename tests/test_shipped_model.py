"""The model that ships, on the REAL recordings in tests/data (the rows of benchmarks/bench_shift.py).

Whatever model is committed as models/sleepscope-default must keep these: a
candidate that scores the real Sleep-EDF wake minutes as REM is not shipped.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "sleepscope-default.safetensors"

pytestmark = pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped model in this checkout")


def _real_rows():
    spec = importlib.util.spec_from_file_location("bench_shift", ROOT / "benchmarks" / "bench_shift.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_shift"] = mod
    spec.loader.exec_module(mod)
    return {name: (rec, y) for name, rec, y in mod.real_rows()}


@pytest.fixture(scope="module")
def shipped():
    from sleepscope.model.checkpoint import load_model

    return load_model(SHIPPED)[0]


@pytest.mark.parametrize("row", ["real Sleep-EDF 5 min wake", "real N3 EEG 30 s (EEG only)"])
def test_the_shipped_model_scores_the_real_clips_as_the_expert(shipped, row):
    from sleepscope.model.infer import predict

    rec, expected = _real_rows()[row]
    pred = predict(rec, shipped, device="cpu", threads=1)
    assert np.array_equal(pred.stages, expected), (row, pred.stages)


def test_the_shipped_card_scores_a_night_of_the_held_out_family_with_its_own_statistics(shipped):
    """The first held-out-family night of bench_shift's "B random" row (synthetic), with the card's night
    statistics and, as the control, without them (the stage transitions and the chin EMG left out of both:
    they mend much of what the statistics mend, and have their own tests below)."""
    import copy

    from sleepscope.model.infer import predict

    rec, y = _held_out_night()
    plain = copy.copy(shipped)
    plain.calibration = {k: v for k, v in shipped.calibration.items() if k not in ("transitions", "chin_emg")}
    without = copy.copy(plain)
    without.config = shipped.config.with_(night_statistics=False)
    scored = y >= 0
    accuracy = [np.mean(predict(rec, m, device="cpu", threads=1).stages[scored] == y[scored]) for m in (plain, without)]
    assert shipped.config.night_statistics
    assert accuracy[0] > accuracy[1] + 0.03, accuracy


def test_the_shipped_card_reads_the_night_through_real_stage_transitions(shipped):
    """The same night with the card as shipped and, as the control, without its stage transitions (the chin
    EMG left out of both)."""
    import copy

    from sleepscope.model.infer import predict

    rec, y = _held_out_night()
    with_chain = copy.copy(shipped)
    with_chain.calibration = {k: v for k, v in shipped.calibration.items() if k != "chin_emg"}
    without = copy.copy(with_chain)
    without.calibration = {k: v for k, v in with_chain.calibration.items() if k != "transitions"}
    scored = y >= 0
    accuracy = [np.mean(predict(rec, m, device="cpu", threads=1).stages[scored] == y[scored])
                for m in (with_chain, without)]
    assert len(shipped.calibration["transitions"]) == 5
    assert accuracy[0] > accuracy[1], accuracy


def test_the_shipped_card_reads_rem_from_the_chin_emg_unless_the_night_shows_no_atonia(shipped):
    """A night of family D (synthetic; held out, and the one whose REM the model alone reads as N2) as shipped
    and, as the control, without its chin EMG; then with its REM given the tone of its N2 (REM sleep behaviour
    disorder), which the card must score as it scores the night without EMG."""
    from sleepscope.model.infer import predict

    _real_rows()
    bench = sys.modules["bench_shift"]
    rec, y = bench.synth_recording("SC4001E0", "D", randomise=False, seed=0)
    scored = y >= 0
    preds = [predict(r, shipped, device="cpu", threads=1)
             for r in (rec, bench.perturb(rec, y, "no chin EMG"), bench.perturb(rec, y, "REM without atonia"))]
    accuracy = [np.mean(p.stages[scored] == y[scored]) for p in preds]
    assert preds[0].chin.used and preds[1].chin is None and not preds[2].chin.used
    assert accuracy[0] > accuracy[1] + 0.03, accuracy
    np.testing.assert_array_equal(preds[2].stages, preds[1].stages)


def test_a_whole_night_under_a_slow_drift_is_read_as_recorded(shipped):
    """A synthetic night of the training family with a 0.05-Hz, 150-uV sway on both channels all night (sweat),
    which the model read as confident wake throughout before the drift high-pass; the control: the night as
    recorded."""
    from test_slow_drift import swayed

    from sleepscope.model.infer import predict

    _real_rows()
    rec, y = sys.modules["bench_shift"].synth_recording("SC4001E0", "A", randomise=False, seed=0)
    preds = [predict(r, shipped, device="cpu", threads=1) for r in (rec, swayed(rec, 150.0))]
    accuracy = [float(np.mean(p.stages[y >= 0] == y[y >= 0])) for p in preds]
    assert accuracy[1] > accuracy[0] - 0.03, accuracy
    assert preds[1].familiarity.familiar, preds[1].familiarity.reasons
    shares = [float(p.high_passed.mean()) for p in preds]
    assert shares[0] < 0.05 and shares[1] > 0.9, shares
    assert any(n.startswith(f"{preds[1].high_passed.sum()} epochs read through a 0.3-Hz high-pass of the EEG")
               for n in preds[1].notes())


def test_a_whole_night_with_the_heart_on_its_eeg_and_eog_is_read_as_without_it(shipped):
    """A synthetic night of the training family with 100-uV beats on the EEG and -60 on the EOG all night and an
    ECG lead: read as the night without them; without the lead, worse. The control: another heart's lead beside
    the night without beats leaves it read as recorded, bit for bit."""
    from dataclasses import replace

    from test_heartbeats import with_heart

    from sleepscope.model.epoch_reading import ECG_SUBTRACTED, epoch_reading
    from sleepscope.model.infer import predict

    _real_rows()
    rec, y = sys.modules["bench_shift"].synth_recording("SC4091E0", "A", randomise=False, seed=0)
    beaten = with_heart(rec, 100.0, -60.0)
    unread = replace(beaten, channel_choice=replace(beaten.channel_choice, ecg=None))
    clean, lead, no_lead = (predict(r, shipped, device="cpu", threads=1) for r in (rec, beaten, unread))
    accuracy = [float(np.mean(p.stages[y >= 0] == y[y >= 0])) for p in (clean, lead, no_lead)]
    assert accuracy[1] > accuracy[0] - 0.01 and accuracy[2] < accuracy[1] - 0.01, accuracy
    assert set(lead.heartbeats.subtracted) == {rec.eeg_name, rec.eog_name}
    assert (epoch_reading(lead)[~lead.artefact] & ECG_SUBTRACTED).all()
    assert any("beats found on the ECG 'ECG'" in n for n in lead.notes())
    assert lead.to_dict()["heartbeats"]["epochs"] == rec.n_epochs
    other = predict(with_heart(rec, 0.0, 0.0, lead_seed=2), shipped, device="cpu", threads=1)
    assert other.heartbeats is None and not (epoch_reading(other) & ECG_SUBTRACTED).any()
    np.testing.assert_array_equal(other.probs, clean.probs)


def test_fast_noise_on_the_eeg_all_night_is_not_read_as_wake(shipped):
    """A synthetic night of the training family with 4 uV RMS of 20-45 Hz noise on its EEG all night (a noisy
    electrode; the model before this one read half such a night as wake): scored as the night without it. The
    control: the same night as recorded."""
    from dataclasses import replace

    from scipy.signal import butter, sosfiltfilt

    from sleepscope.model.infer import predict

    _real_rows()
    rec, y = sys.modules["bench_shift"].synth_recording("SC4091E0", "A", randomise=False, seed=0)
    eeg = rec.channels[rec.eeg_name]
    noise = sosfiltfilt(butter(4, [20.0, 45.0], "bandpass", fs=rec.fs, output="sos"),
                        np.random.default_rng(0).normal(size=len(eeg)))
    noisy = replace(rec, channels={**rec.channels, rec.eeg_name: (eeg + 4.0 * noise / noise.std()).astype(np.float32)})
    preds = [predict(r, shipped, device="cpu", threads=1) for r in (rec, noisy)]
    scored = y >= 0
    accuracy = [float(np.mean(p.stages[scored] == y[scored])) for p in preds]
    wake = [float(np.mean(p.stages[scored] == 0)) for p in preds]
    assert accuracy[1] > accuracy[0] - 0.03 and wake[1] < wake[0] + 0.05, (accuracy, wake)


def test_the_real_clips_under_a_slow_drift_keep_their_stage(shipped):
    """The real N3 clip and the real wake minutes with a 0.05-Hz, 50-uV sway (the N3 clip read REM under it
    before the drift high-pass); the control: as recorded."""
    from test_slow_drift import swayed

    from sleepscope.model.infer import predict

    rows = _real_rows()
    for name, stage in (("real N3 EEG 30 s (EEG only)", 3), ("real Sleep-EDF 5 min wake", 0)):
        rec, _ = rows[name]
        plain, drift = (predict(r, shipped, device="cpu", threads=1) for r in (rec, swayed(rec, 50.0)))
        assert (plain.stages == stage).all() and (drift.stages == stage).all(), (name, drift.stages)
        assert not plain.high_passed.any() and drift.high_passed.all()
        assert drift.familiarity.familiar, drift.familiarity.reasons


def test_a_drift_on_the_real_rem_eog_read_alone_is_read_through_the_high_pass_and_said(shipped):
    """The REAL REM EOG clip, EOG only, with a 0.05-Hz 150-uV sway, read as recorded turned wake (28 of 28): read
    through the drift high-pass, REM again, and a note and each epoch's reading say so. Controls: the clip as
    recorded (not high-passed), and the real wake minutes with the same sway on their EOG alone (their EEG is read,
    so their EOG is not high-passed)."""
    from test_slow_drift import swayed

    from sleepscope.model.drift import EOG_DRIFT_LIMIT, eog_drift
    from sleepscope.model.epoch_reading import EOG_HIGH_PASSED, epoch_reading
    from sleepscope.model.infer import predict

    rows = _real_rows()
    rem, expected = rows["real REM EOG (EOG only)"]
    plain, drift = (predict(r, shipped, device="cpu", threads=1) for r in (rem, swayed(rem, 150.0)))
    assert plain.eog_high_passed is None and plain.familiarity.familiar, plain.familiarity.reasons
    assert np.mean(plain.stages == expected) > 0.95
    assert drift.eog_high_passed > EOG_DRIFT_LIMIT and np.mean(drift.stages == expected) > 0.95, drift.stages
    assert drift.familiarity.familiar, drift.familiarity.reasons
    assert any("read through a 0.3-Hz high-pass of the EOG" in n for n in drift.notes())
    assert (epoch_reading(drift)[~drift.artefact] & EOG_HIGH_PASSED).all()
    assert not (epoch_reading(plain) & EOG_HIGH_PASSED).any()
    wake, _ = rows["real Sleep-EDF 5 min wake"]
    eye_drift = swayed(wake, 250.0, channels=(wake.eog_name,))
    assert eog_drift(eye_drift) > EOG_DRIFT_LIMIT
    both = predict(eye_drift, shipped, device="cpu", threads=1)
    assert both.eog_high_passed is None and both.familiarity.familiar, both.familiarity.reasons


def test_a_few_swayed_minutes_of_the_real_recording_are_read_high_passed_and_named(shipped):
    """The real wake minutes with a 50-uV sway in their first two minutes only: those four epochs are read
    high-passed, and a note and each epoch's reading say so; the control: as recorded."""
    from test_slow_drift import swayed

    from sleepscope.model.epoch_reading import HIGH_PASSED, epoch_reading, reading_summary
    from sleepscope.model.infer import predict

    rec, _ = _real_rows()["real Sleep-EDF 5 min wake"]
    plain, part = (predict(r, shipped, device="cpu", threads=1) for r in (rec, swayed(rec, 50.0, until=120)))
    assert not any("high-pass" in n for n in plain.notes()) and reading_summary(epoch_reading(plain)) is None
    assert part.high_passed.tolist() == [True] * 4 + [False] * (rec.n_epochs - 4)
    assert (part.stages == 0).all() and not part.unsure.any(), (part.stages, part.unsure)
    assert any(n.startswith("4 epochs read through a 0.3-Hz high-pass of the EEG: a slow drift") for n in part.notes())
    assert (epoch_reading(part) == HIGH_PASSED).tolist() == part.high_passed.tolist()
    assert reading_summary(epoch_reading(part)).startswith("4 epochs read through a 0.3-Hz high-pass")



def _held_out_night():
    _real_rows()
    return sys.modules["bench_shift"].synth_recording("SC4001E0", "B", randomise=True, seed=0)
