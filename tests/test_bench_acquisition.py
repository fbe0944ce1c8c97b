"""The replacement gate of benchmarks/bench_acquisition.py: a candidate that errs silently where the shipped
model did not, or reads fewer epochs right, is refused."""
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "sleepscope-default.safetensors"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_acquisition", ROOT / "benchmarks" / "bench_acquisition.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _row(change, expert, silent, epochs=10, clip="real wake"):
    return {"clip": clip, "change": change, "epochs": epochs, "expert": expert, "silent_errors": silent}


def test_the_gate_refuses_new_silent_errors_even_with_fewer_in_all(bench):
    shipped = [_row("as recorded", 1.0, 0), _row("low-pass 35 Hz", 1.0, 0), _row("sweat", 0.0, 10)]
    same = [dict(r) for r in shipped]
    assert bench.against(shipped, same, "shipped")[1]  # the control: the same rows pass
    # fewer silent errors in all (10 -> 5), but ten new ones where the shipped model had none
    candidate = [_row("as recorded", 1.0, 0), _row("low-pass 35 Hz", 0.0, 10), _row("sweat", 1.0, 0)]
    lines, passed = bench.against(shipped, candidate, "shipped")
    assert not passed
    assert any("low-pass 35 Hz: 0 -> 10" in line for line in lines)


def test_the_gate_refuses_fewer_epochs_read_right(bench):
    shipped = [_row("as recorded", 1.0, 0), _row("gain x3", 1.0, 0)]
    candidate = [_row("as recorded", 1.0, 0), _row("gain x3", 0.7, 0)]  # three more wrong, all marked unsure
    lines, passed = bench.against(shipped, candidate, "shipped")
    assert not passed and "gate FAILED" in lines[-1]


def test_the_shipped_model_passes_its_own_gate_end_to_end(bench, capsys):
    if not SHIPPED.exists():
        pytest.skip("no shipped model in this checkout")
    assert bench.main(["--model", str(SHIPPED), "--no-yasa", "--against", str(SHIPPED)]) == 0
    assert "gate passed" in capsys.readouterr().out


def test_the_second_opinion_column_counts_what_the_review_queue_would_still_miss(bench):
    wake = dict(_row("low-pass 30 Hz, header silent", 0.0, 9), confidence=0.88, unsure=0.1, yasa_expert=0.8,
                silent_with_yasa=0)
    eog_only = dict(_row("high-pass 0.5 Hz", 0.0, 24, epochs=28, clip="real REM EOG"), confidence=0.86, unsure=0.14)
    text = bench.table([wake, eog_only], "m")
    assert "| 9 | - | 0.80 | 0 |" in text  # the wake errors: all disagreed with YASA, so all in the queue
    # YASA cannot stage an EOG-only clip: its errors stay silent with or without it
    assert "silent errors in all: 33 of 38 epochs" in text
    assert "with YASA installed (disagreements join the review queue): 24 of them stay silent" in text
    assert "disagreements join" not in bench.table([eog_only], "m")  # run without YASA: no such line
