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
    statistics and, as the control, without them (the stage transitions left out of both: they mend
    much of what the statistics mend, and have their own test below)."""
    import copy

    from sleepscope.model.infer import predict

    rec, y = _held_out_night()
    plain = copy.copy(shipped)
    plain.calibration = {k: v for k, v in shipped.calibration.items() if k != "transitions"}
    without = copy.copy(plain)
    without.config = shipped.config.with_(night_statistics=False)
    scored = y >= 0
    accuracy = [np.mean(predict(rec, m, device="cpu", threads=1).stages[scored] == y[scored]) for m in (plain, without)]
    assert shipped.config.night_statistics
    assert accuracy[0] > accuracy[1] + 0.03, accuracy


def test_the_shipped_card_reads_the_night_through_real_stage_transitions(shipped):
    """The same night with the card as shipped and, as the control, without its stage transitions."""
    import copy

    from sleepscope.model.infer import predict

    rec, y = _held_out_night()
    without = copy.copy(shipped)
    without.calibration = {k: v for k, v in shipped.calibration.items() if k != "transitions"}
    scored = y >= 0
    accuracy = [np.mean(predict(rec, m, device="cpu", threads=1).stages[scored] == y[scored])
                for m in (shipped, without)]
    assert len(shipped.calibration["transitions"]) == 5
    assert accuracy[0] > accuracy[1], accuracy


def _held_out_night():
    _real_rows()
    return sys.modules["bench_shift"].synth_recording("SC4001E0", "B", randomise=True, seed=0)
