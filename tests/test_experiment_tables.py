"""Tables and figures of the paper's experiment from fixed numbers."""

from __future__ import annotations

import struct

import pytest

from sleepscope.experiments.plots import plot_metric
from sleepscope.experiments.tables import claims, format_report, mean_sd, paper_table, plain_table


def _run(method: str, n: int, seed: int, acc: float, mf1: float, kappa: float = 0.5) -> dict:
    return {"method": method, "n": n, "seed": seed, "accuracy": acc, "macro_f1": mf1, "kappa": kappa,
            "steps": 100, "best_step": 60 + 20 * seed,
            "f1": {"W": 0.9, "N1": 0.3, "N2": 0.8, "N3": 0.7, "REM": 0.6 + seed / 100},
            "train_seconds": 60.0, "eval_seconds": 6.0}


RUNS = [
    _run("supervised", 3, 0, 0.60, 0.50), _run("supervised", 3, 1, 0.62, 0.54),
    _run("clip", 3, 0, 0.70, 0.66), _run("clip", 3, 1, 0.74, 0.70),
    _run("simclr", 3, 0, 0.69, 0.64), _run("simclr", 3, 1, 0.69, 0.64),
    _run("supervised", 12, 0, 0.80, 0.75), _run("clip", 12, 0, 0.79, 0.74), _run("simclr", 12, 0, 0.81, 0.76),
]


def _payload(synthetic: bool) -> dict:
    budget = {"name": "quick", "pretrain_steps": 100, "pretrain_batch": 32, "pretrain_per_seed": False,
              "finetune_steps": 40, "batch_size": 4, "val_every": 10, "patience": 3}
    return {"synthetic": synthetic, "command": "sleepscope experiment paper --data D --out O --budget quick",
            "settings": {"budget": budget, "config": "default",
                         "split": {"validation": [10, 17, 5, 13], "test": [0, 15, 9, 6], "train": [11, 12]}},
            "data": {"folder": "/d", "nights": 153, "pretraining": {"subjects": 58}}, "device": "cpu", "runs": RUNS}


def test_mean_sd_formats_seed_spread():
    assert mean_sd([0.70, 0.74]) == "72.0 ± 2.8"  # sample sd of 70 and 74 is 2.83
    assert mean_sd([0.7]) == "70.0"
    assert mean_sd([]) == "–"
    assert mean_sd([0.5, 0.52], scale=1.0, digits=3) == "0.510 ± 0.014"


def test_paper_tables_put_the_papers_numbers_beside_ours():
    table = paper_table(RUNS, "accuracy").splitlines()
    assert table[0] == "| method | N=3 ours | N=3 paper | N=12 ours | N=12 paper |"
    assert "| Supervised | 61.0 ± 1.4 | 61.18 | 80.0 | 82.11 |" in table
    assert "| CLIP | 72.0 ± 2.8 | 73.62 | 79.0 | 84.44 |" in table
    assert "| SimCLR | 69.0 ± 0.0 | 73.50 | 81.0 | 82.71 |" in table
    assert not any(line.startswith("| TS-TCC") for line in table)  # no runs, no row
    mf1 = paper_table(RUNS, "macro_f1")
    assert "| Supervised | 52.0 ± 2.8 | 56.12 | 75.0 | 75.88 |" in mf1
    assert "| CLIP | 68.0 ± 2.8 | 68.71 | 74.0 | 78.26 |" in mf1
    kappa = plain_table(RUNS, "kappa", scale=1.0, digits=3)
    assert "| CLIP | 0.500 ± 0.000 | 0.500 |" in kappa


def test_claims_are_checked_against_the_seed_spread():
    lines = claims(RUNS)
    # N=3, macro-F1: supervised 52 ± 2.8, SimCLR 64 ± 0, CLIP 68 ± 2.8
    assert lines[0].startswith("N=3: SimCLR − Supervised +12.0 points, seed spread 2.8: supported")
    assert "CLIP − Supervised +16.0 points, seed spread 5.7: supported" in lines[0]
    assert "CLIP − SimCLR +4.0 points, seed spread 2.8: supported" in lines[0]
    # N=12 has one seed: no spread, so nothing counts as supported, whichever way the means go
    assert "SimCLR − Supervised +1.0 points, no spread (one seed): not supported" in lines[1]
    assert "CLIP − SimCLR -2.0 points, no spread (one seed): not supported" in lines[1]


def test_a_gap_inside_the_seed_spread_supports_nothing():
    from sleepscope.experiments.tables import claims_summary, compare

    runs = [_run("supervised", 3, s, 0.6, v) for s, v in enumerate((0.50, 0.56, 0.53))] + \
           [_run("clip", 3, s, 0.6, v) for s, v in enumerate((0.52, 0.60, 0.55))]
    c = compare(runs, "macro_f1", 3, "clip", "supervised")
    assert c.gap == pytest.approx(2.667, abs=1e-3) and c.spread == pytest.approx(3.0 + 4.041, abs=1e-3)
    assert not c.supported
    wider = runs + [_run("supervised", 6, s, 0.6, 0.50 + s / 100) for s in range(3)] + \
        [_run("clip", 6, s, 0.6, 0.60 + s / 100) for s in range(3)]
    assert claims_summary(wider)[0].endswith("supported for CLIP at N=6.")


@pytest.mark.parametrize("synthetic", [True, False])
def test_report_header_says_synthetic_and_the_command(synthetic):
    text = format_report(_payload(synthetic))
    assert text.startswith("# SYNTHETIC DATA") == synthetic
    head = text.split("Produced by:")[0]
    assert "**What was run:** budget `quick`, network `default`, 2 seed(s)" in head
    assert "**How long:** 9.9 min of compute (pre-training 0.0 min, fine-tuning 9.0 min, testing 0.9 min)" in head
    assert "Claim 1, self-supervised pre-training beats supervised training from scratch (of N = 3, 12): " \
           "supported for SimCLR at N=3; CLIP at N=3." in head
    assert "Claim 2, CLIP beats the single-modal methods (SimCLR, TS-TCC): supported at N=3 (of 2 compared)." in head
    assert "sleepscope experiment paper --data D --out O --budget quick" in text
    assert "| CLIP | 3 | 90.0 ± 0.0 | 30.0 ± 0.0 | 80.0 ± 0.0 | 70.0 ± 0.0 | 60.5 ± 0.7 |" in text
    assert "| CLIP | 70 / 100 · 1.0 min | 60 / 100 · 1.0 min |" in text


def test_plot_is_a_png(tmp_path):
    path = plot_metric(_payload(True), "macro_f1", tmp_path / "macro_f1.png")
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", head[16:24])
    assert (w, h) == (768, 528)


def test_budget_estimate_arithmetic():
    from sleepscope.experiments.budgets import get_budget
    from sleepscope.experiments.timing import Piece, Timings, estimate

    t = Timings(config="default", threads=1, load_average=None, pieces=[
        Piece("cache build", 1.0, 0.5, "night"),
        Piece("pre-training step clip", 1.0, 0.3, "step"),
        Piece("pre-training step simclr", 1.0, 0.2, "step"),
        Piece("pre-training step tstcc", 1.0, 0.1, "step"),
        Piece("fine-tuning step", 1.0, 0.5, "step"),
        Piece("scoring", 0.01, 0.001, "epoch"),
    ])
    b = get_budget("quick")  # 2 seeds, 300 pre-training steps once, 100 fine-tuning steps, validation every 20
    e = estimate(b, t, use="cpu_s")
    assert e.cache_s == pytest.approx(153 * 0.5)
    assert e.pretrain_s == pytest.approx(300 * 0.6)
    assert e.finetune_s == pytest.approx(32 * 100 * 0.5)
    assert e.validation_s == pytest.approx(32 * 5 * (4 * 300) * 0.001)
    assert e.test_s == pytest.approx(32 * 8769 * 0.001)
    assert e.total_s == pytest.approx(e.cache_s + e.pretrain_s + e.finetune_s + e.validation_s + e.test_s)


def test_cpu_budget_sees_every_labelled_epoch_several_times_at_each_n():
    from sleepscope.experiments.budgets import get_budget
    from sleepscope.experiments.timing import Piece, Timings, estimate

    b = get_budget("cpu")
    assert b.seeds >= 3 and b.pretrain_per_seed
    for per_pass in (70, 140, 210, 280):  # about N = 3, 6, 9, 12 subjects of the synthetic cohort
        steps, every = b.steps_at(per_pass)
        assert steps == 3 * per_pass and every == per_pass // 2
    # the quick budget, in steps, does not grow with N
    assert get_budget("quick").steps_at(280) == (100, 20)
    t = Timings(config="default", threads=1, load_average=None, pieces=[
        Piece("cache build", 1.0, 0.0, "night"), Piece("pre-training step clip", 1.0, 0.0, "step"),
        Piece("pre-training step simclr", 1.0, 0.0, "step"), Piece("pre-training step tstcc", 1.0, 0.0, "step"),
        Piece("fine-tuning step", 1.0, 1.0, "step"), Piece("scoring", 1.0, 0.0, "epoch")])
    e = estimate(b, t, use="cpu_s")
    # ceil(930 / 20) = 47 sequences per night, 2 nights per subject, 4 per step: ceil(23.5 N) steps per pass
    per_pass = {n: -(-47 * 2 * n // 4) for n in (3, 6, 9, 12)}
    assert e.finetune_s == pytest.approx(4 * 3 * sum(3 * p for p in per_pass.values()))
