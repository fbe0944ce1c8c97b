"""benchmarks/bench_train_step.py at a toy size: its parts add up to the step it reports, read from a cache too."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_train_step", ROOT / "benchmarks" / "bench_train_step.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_parts_of_a_step_add_up_to_it():
    r = _bench().measure("tiny", "cpu", batch_size=2, steps=2, cache=None, threads=1)
    parts = sum(r[k] for k in ("data", "to_device", "forward", "backward", "optimiser"))
    assert parts == pytest.approx(r["step"], rel=1e-6)
    assert r["forward"] > 0 and r["backward"] > 0 and r["aten_calls"] > 100
    assert r["epochs_per_step"] == 2 * 20  # the tiny model's sequences
