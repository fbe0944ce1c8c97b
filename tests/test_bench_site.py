"""The learning-curve benchmark (benchmarks/bench_site.py) runs end to end at a toy size."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_site", ROOT / "benchmarks" / "bench_site.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_site"] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def tiny_parent(tmp_path_factory):
    from sleepscope.model.checkpoint import save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("parent") / "tiny"
    save_model(SleepStager(get_config("tiny")), path)
    return path.with_suffix(".safetensors")


def test_learning_curve_runs_at_toy_size(tiny_parent, tmp_path, capsys):
    bench = _bench()
    results = tmp_path / "results.json"
    assert bench.main(["--size", "toy", "--model", str(tiny_parent), "--work", str(tmp_path / "work"),
                       "--results", str(results), "--quiet", "--pseudo-threshold", "0.0"]) == 0
    out = json.loads(results.read_text())
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text and "| k corrected |" in text
    keys = {(r["k"], r["site"], r["pseudo"]) for r in out["runs"]}
    # k = 0 is the parent alone; every other k with and without site pre-training and pseudo-labels
    assert (0, False, False) in keys
    for k in (100, bench.NIGHT):
        for site in (False, True):
            for pseudo in (False, True):
                assert (k, site, pseudo) in keys
    assert all(0.0 <= r["accuracy"] <= 1.0 and "kappa" in r for r in out["runs"])
    assert all(list(r["stage_f1"]) == ["W", "N1", "N2", "N3", "REM"] for r in out["runs"])
    assert out["site_pretrain"]["steps"] > 0 and out["pseudo"]["epochs"] > 0
    assert {r["n"] for r in out["runs"] if r["k"] == 100} == {100}
    assert any("site pre-training" in line for line in bench.verdicts(out))


def test_no_site_fine_tunes_from_the_parent_alone(tiny_parent, tmp_path):
    bench = _bench()
    results = tmp_path / "results.json"
    assert bench.main(["--size", "toy", "--model", str(tiny_parent), "--work", str(tmp_path / "work"), "--ks", "100",
                       "--seeds", "1", "--no-pseudo", "--no-site", "--results", str(results), "--quiet"]) == 0
    out = json.loads(results.read_text())
    assert out["site_pretrain"] is None and {(r["k"], r["site"]) for r in out["runs"]} == {(0, False), (100, False)}
    assert not any("site pre-training:" in line for line in bench.verdicts(out))


def test_corrections_draw_k_epochs_in_stretches():
    bench = _bench()
    pool = [bench.Night(f"n{i}", Path(f"n{i}.edf"), np.zeros((200, 2, 3000), np.float32),
                        np.arange(200) % 5, f"fp{i}") for i in range(2)]
    cs = bench.corrections(pool, 100, seed=0)
    assert len(cs) == 100 and set(cs.source) == {"technician"}
    for fp in set(cs.fingerprint):
        ep = np.sort(cs.epoch[cs.fingerprint == fp])
        assert ep.size % bench.BLOCK == 0 and all(np.all(np.diff(b) == 1) for b in ep.reshape(-1, bench.BLOCK))
    assert not np.array_equal(bench.corrections(pool, 100, seed=1).epoch, cs.epoch)
    whole = bench.corrections(pool, bench.NIGHT, seed=0)
    assert len(whole) == 200 and set(whole.fingerprint) == {"fp0"}


def test_the_reference_writes_the_lab_test_nights_in_another_family(tiny_parent, tmp_path):
    from sleepscope.model.checkpoint import load_model

    bench = _bench()
    size = bench.SIZES["toy"]
    parent, _ = load_model(tiny_parent)
    norm = parent.config.normalisation
    lab = bench.make_lab(tmp_path / "lab", size, "B", False, 7, norm)
    first = size.unlabelled + size.pool
    same = [bench.read_night(p, h, norm) for p, h in bench.write_lab(tmp_path / "B", size, "B", False, 7, first)]
    other = [bench.read_night(p, h, norm) for p, h in bench.write_lab(tmp_path / "A", size, "A", False, 7, first)]
    assert len(other) == len(lab.test) == size.test
    for t, s, o in zip(lab.test, same, other):
        np.testing.assert_array_equal(s.x, t.x)  # the control: the lab's own family gives its test nights
        np.testing.assert_array_equal(o.y, t.y)  # another family: the same stages ...
        assert not np.array_equal(o.x, t.x)  # ... in other signals
    ref = bench.reference_scores(tmp_path / "ref", size, ["B"], False, 7, parent)
    assert ref["B"] == bench.score(parent, lab.test)


def test_a_night_plus_part_of_another_subjects_night(tmp_path):
    from types import SimpleNamespace

    bench = _bench()

    def night(name: str, n: int, first_scored: int):
        y = np.full(n, -1, np.int64)
        y[first_scored:] = np.arange(n - first_scored) % 5
        return SimpleNamespace(x=np.zeros((n, 2, 8), np.float32), y=y, fingerprint=name,
                               path=tmp_path / f"{name}-PSG.edf")

    pool = [night("SC4441E0", 30, 2), night("SC4442E0", 30, 0), night("SC4451F0", 40, 5)]  # 44, 44 again, 45
    (k,) = bench.parse_ks("night+10")
    assert bench.k_label(k) == "1 night + 10 of another subject"
    cs = bench.corrections(pool, k, seed=0)
    assert cs.recording_files == {"SC4441E0": "SC4441E0-PSG.edf", "SC4451F0": "SC4451F0-PSG.edf"}  # not 44's 2nd
    assert (cs.fingerprint == "SC4441E0").sum() == 28
    assert cs.epoch[cs.fingerprint == "SC4451F0"].tolist() == list(range(5, 15))  # its first 10 scored epochs

    (k,) = bench.parse_ks("night:10")
    assert bench.k_label(k) == "first 10 of 1 night"
    cs = bench.corrections(pool, k, seed=0)
    assert list(cs.recording_files) == ["SC4441E0"] and cs.epoch.tolist() == list(range(2, 12))
