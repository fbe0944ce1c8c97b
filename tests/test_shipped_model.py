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


def test_a_whole_night_under_a_slow_drift_is_called_unfamiliar(shipped):
    """A synthetic night of the training family with a 0.05-Hz, 150-uV sway on both channels all night (sweat),
    which the model reads as confident wake throughout; the control: the night as recorded."""
    from test_slow_drift import swayed

    from sleepscope.model.infer import predict

    _real_rows()
    rec, y = sys.modules["bench_shift"].synth_recording("SC4001E0", "A", randomise=False, seed=0)
    preds = [predict(r, shipped, device="cpu", threads=1) for r in (rec, swayed(rec, 150.0))]
    assert preds[0].familiarity.familiar, preds[0].familiarity.reasons
    assert not preds[1].familiarity.familiar
    assert any("has 0 min of sleep" in r and "drift from sweat" in r for r in preds[1].familiarity.reasons)


def test_a_slow_drift_on_the_real_wake_minutes_is_named(shipped):
    """The real Sleep-EDF wake minutes with a 0.05-Hz, 50-uV sway on the EEG and EOG; the control: as recorded."""
    from test_slow_drift import swayed

    from sleepscope.model.infer import predict

    rec, _ = _real_rows()["real Sleep-EDF 5 min wake"]
    verdicts = [predict(r, shipped, device="cpu", threads=1).familiarity for r in (rec, swayed(rec, 50.0))]
    assert not any("slow drift" in r for r in verdicts[0].reasons), verdicts[0].reasons
    assert any("slow drift dominates its EEG" in r for r in verdicts[1].reasons), verdicts[1].reasons


def test_wake_on_a_few_swayed_minutes_of_the_real_recording_joins_the_review_queue(shipped):
    """The real wake minutes with a 50-uV sway in their first two minutes only (too few for the night's reason):
    those epochs' wake is marked unsure and a note says why; the control: as recorded."""
    from test_slow_drift import swayed

    from sleepscope.model.infer import predict

    rec, _ = _real_rows()["real Sleep-EDF 5 min wake"]
    plain, part = (predict(r, shipped, device="cpu", threads=1) for r in (rec, swayed(rec, 50.0, until=120)))
    assert plain.drift_wake == 0 and not any("slow drift" in n for n in plain.notes())
    assert part.drift_wake == 4 and part.unsure[:4].all(), (part.stages, part.unsure)
    assert any(n.startswith("4 wake suggestions marked unsure: a slow drift") for n in part.notes())
    assert not any("slow drift dominates its EEG" in r for r in part.familiarity.reasons)


def _held_out_night():
    _real_rows()
    return sys.modules["bench_shift"].synth_recording("SC4001E0", "B", randomise=True, seed=0)
