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
