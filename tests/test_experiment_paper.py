"""`sleepscope experiment paper --budget smoke` end to end on a tiny synthetic cohort, and resumption."""

from __future__ import annotations

import json
import struct

import h5py
import numpy as np
import pytest

from sleepscope.cli import main
from sleepscope.data.synthetic import write_cohort, write_night
from sleepscope.errors import SleepScopeError
from sleepscope.experiments.paper import Events, read_split_file, run_paper

# Subjects 1..4 play Sleep-EDF-20 (validation 1, test 2, training 3 then 4); 20 and 21 pre-train.
SPLIT = {"validation": [1], "test": [2], "train": [3, 4], "ns": [1, 2]}
METHODS = ("supervised", "simclr", "tstcc", "clip")


def _labels(subject: int) -> list[int]:
    # A short night: wake, a few sleep cycles through every stage, wake. Trimming keeps it whole.
    rng = np.random.default_rng(subject)
    body = []
    for stage in (1, 2, 3, 2, 4, 2, 3, 4):
        body += [stage] * int(rng.integers(4, 7))
    return [0] * 6 + body + [0] * 6


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: the test machine's two cores are shared, and two spinning threads
    per process make a tiny model tens of times slower there."""
    import torch

    import sleepscope.model.infer as infer

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(infer, "physical_cores", lambda: 1)
        yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def cohort(one_thread, tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    data = root / "data"
    for subject in (1, 2, 3, 4, 20, 21):
        write_night(data, f"SC4{subject:02d}1E0", seed=0, labels=_labels(subject))
    # Beyond the paper: the test subject's night from another physiology family, seen by nothing but the test.
    write_cohort(root / "shift", ["SC4021E0"], seed=0, workers=1, labels={"SC4021E0": _labels(2)}, family="B")
    (root / "split.json").write_text(json.dumps(SPLIT))
    return root


@pytest.fixture(scope="module")
def finished(cohort):
    out = cohort / "out"
    rc = main(["experiment", "paper", "--data", str(cohort / "data"), "--out", str(out), "--budget", "smoke",
               "--split-file", str(cohort / "split.json"), "--synthetic", "--cache", str(cohort / "cache"),
               "--shift-data", str(cohort / "shift"), "--device", "cpu", "--quiet"])
    assert rc == 0
    return out


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_outputs_are_complete(finished, cohort):
    results = json.loads((finished / "results.json").read_text())
    assert results["synthetic"] is True
    assert results["settings"]["budget"]["name"] == "smoke"
    assert "--budget smoke" in results["command"] and "--split-file" in results["command"]
    runs = results["runs"]
    assert sorted((r["method"], r["n"], r["seed"]) for r in runs) == sorted(
        (m, n, 0) for m in METHODS for n in (1, 2))
    for r in runs:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["macro_f1"] <= 1.0
        assert -1.0 <= r["kappa"] <= 1.0
        assert set(r["f1"]) == {"W", "N1", "N2", "N3", "REM"}
        cm = np.array(r["confusion"])
        assert cm.shape == (5, 5) and cm.sum() == r["n_test_epochs"]
        # Test = every epoch of the test subject's night, scored once.
        assert r["n_test_epochs"] == len(_labels(2))
        assert abs(np.trace(cm) / cm.sum() - r["accuracy"]) < 1e-9
        assert r["steps"] >= 1 and r["train_seconds"] > 0
        assert r["train_subjects"] == SPLIT["train"][: r["n"]]
        assert (r["init"] is None) == (r["method"] == "supervised")
        assert (finished / "runs" / f"{r['run_id']}.json").is_file()
    for m in ("clip", "simclr", "tstcc"):
        assert (finished / "pretrained" / f"{m}-seed0.safetensors").is_file()
    # The resumable states of finished pre-trainings are gone: only the 3 models (weights + card) remain.
    assert len(list((finished / "pretrained").iterdir())) == 6
    tables = (finished / "tables.md").read_text()
    assert tables.startswith("# SYNTHETIC DATA")
    assert results["command"] in tables and "--shift-data" in results["command"]
    # The first lines: synthetic, what was run, on what, for how long, which claims hold.
    head = tables.split("Produced by:")[0]
    for words in ("synthetic signals", "**What was run:** budget `smoke`", "**On what:** CPU only",
                  "**How long:**", "**Supported by these numbers**", "Claim 1", "Claim 2", "**Under shift**"):
        assert words in head, words
    for heading in ("## Accuracy (Table 2)", "## Macro-F1 (Table 3)", "## Cohen's kappa", "## Per-stage F1",
                    "## Beyond the paper: a held-out family (synthetic family B)"):
        assert heading in tables
    # Every run is also tested on the held-out family's night, every epoch once.
    assert results["shift"]["family"] == "B" and results["shift"]["nights"] == ["SC4021E0"]
    for r in runs:
        assert r["shift"]["n_epochs"] == len(_labels(2)) and 0.0 <= r["shift"]["macro_f1"] <= 1.0
    assert [p["method"] for p in results["pretraining"]] == ["clip", "simclr", "tstcc"]
    for name in ("accuracy.png", "macro_f1.png", "shift_accuracy.png", "shift_macro_f1.png"):
        w, h = _png_size(finished / name)
        assert w > 300 and h > 200
    # The paper read its channels as recorded (no backups, no EEG-alone epochs), and so do its caches.
    caches = sorted((cohort / "cache").glob("*.h5"))
    assert len(caches) == 3
    for path in caches:
        with h5py.File(path, "r") as f:
            assert json.loads(f.attrs["manifest"])["as_recorded"] is True, path.name


def test_resume_redoes_only_the_missing_run(finished, cohort):
    before = json.loads((finished / "results.json").read_text())
    (finished / "runs" / "clip-N2-seed0.json").unlink()
    redone, skipped, pretrained = [], [], []
    split, ns = read_split_file(cohort / "split.json")
    payload = run_paper(cohort / "data", finished, budget="smoke", split=split, ns=ns, synthetic=True,
                        cache_dir=cohort / "cache", device="cpu", command=before["command"],
                        shift_data=cohort / "shift",
                        events=Events(on_run=lambda spec, rec: redone.append(spec.run_id),
                                      on_skip=lambda spec: skipped.append(spec.run_id),
                                      on_pretrain=lambda m, s: pretrained.append(m)))
    assert redone == ["clip-N2-seed0"]
    assert len(skipped) == 7 and pretrained == []
    assert (finished / "runs" / "clip-N2-seed0.json").is_file()
    # Same seed, same data, same pre-trained encoder: the redone run gives the same numbers.
    old = next(r for r in before["runs"] if r["run_id"] == "clip-N2-seed0")
    new = next(r for r in payload["runs"] if r["run_id"] == "clip-N2-seed0")
    assert new["confusion"] == old["confusion"]


def test_other_settings_in_the_same_folder_are_refused(finished, cohort):
    split, ns = read_split_file(cohort / "split.json")
    with pytest.raises(SleepScopeError, match="other settings"):
        run_paper(cohort / "data", finished, budget="smoke", split=split, ns=[1],
                  cache_dir=cohort / "cache", device="cpu")
    with pytest.raises(SleepScopeError, match="other settings"):
        run_paper(cohort / "data", finished, budget="smoke", config="default", split=split, ns=ns,
                  cache_dir=cohort / "cache", device="cpu")


def test_missing_split_subjects_are_a_clear_error(cohort, tmp_path):
    bad = tmp_path / "split.json"
    bad.write_text(json.dumps({"validation": [1], "test": [2], "train": [3, 5], "ns": [1, 2]}))
    rc = main(["experiment", "paper", "--data", str(cohort / "data"), "--out", str(tmp_path / "o"),
               "--budget", "smoke", "--split-file", str(bad), "--cache", str(tmp_path / "c"), "--quiet"])
    assert rc == 2
    for roles in ({"validation": [1], "test": [1], "train": [3, 4]}, {"validation": [1], "test": [2], "train": [3, 20]}):
        bad.write_text(json.dumps({**roles, "ns": [1]}))
        split, ns = read_split_file(bad)
        with pytest.raises(SleepScopeError, match="at most one role"):
            run_paper(cohort / "data", tmp_path / "o2", budget="smoke", split=split, ns=ns,
                      cache_dir=tmp_path / "c", device="cpu")


def test_interruptions_resume_to_the_same_results(finished, cohort, tmp_path):
    """Stopped in a pre-training, then in a fine-tuning run: each resumes where it stopped and ends
    exactly where the uninterrupted experiment did."""
    from sleepscope.model.checkpoint import read_card
    from sleepscope.tasks import CancelToken, Cancelled

    split, _ = read_split_file(cohort / "split.json")
    out = tmp_path / "out"

    def run(stop_when=None, **events):
        cancel = CancelToken()

        def step_progress(done: int, total: int, message: str) -> None:
            if stop_when is not None and stop_when(done, message):
                cancel.cancel()

        return run_paper(cohort / "data", out, budget="smoke", split=split, ns=[1], cache_dir=cohort / "cache",
                         device="cpu", cancel=cancel, events=Events(step_progress=step_progress, **events))

    with pytest.raises(Cancelled):
        run(lambda done, msg: msg.startswith("pre-training simclr") and done >= 1)
    assert (out / "pretrained" / "simclr-seed0.state.json").is_file()
    assert not (out / "pretrained" / "simclr-seed0.safetensors").exists()
    assert not (out / "runs").exists()

    pretrained = []
    with pytest.raises(Cancelled):
        # After step 2, during its validation: the trainer checkpoints step 2, then stops.
        run(lambda done, msg: msg.startswith("simclr-N1-seed0") and done >= 2,
            on_pretrain=lambda m, s: pretrained.append(m))
    assert pretrained == ["simclr", "tstcc", "clip"]
    # Step 1 before the interruption, step 2 after: the same weights as the uninterrupted run's.
    assert read_card(out / "pretrained" / "simclr-seed0.json").version == \
        read_card(finished / "pretrained" / "simclr-seed0.json").version
    partial = out / "runs" / ".partial"
    assert (partial / "simclr-N1-seed0.state.json").is_file()
    # the trainer's own state holds the validation record (no side file kept by the experiment);
    # step 2's validation was interrupted, so the resumed run redoes it first
    from sleepscope.model.train_state import read_loop_state

    stopped = read_loop_state(partial / "simclr-N1-seed0")
    assert stopped.step == 2 and stopped.history == []
    assert sorted(p.name for p in partial.iterdir() if not p.name.startswith("simclr-N1-seed0.state")) == []

    redone = []
    payload = run(on_run=lambda spec, rec: redone.append(spec.run_id))
    assert redone == ["simclr-N1-seed0", "tstcc-N1-seed0", "clip-N1-seed0"]
    assert list(partial.iterdir()) == []
    assert len(list((out / "runs").glob("*.json"))) == 4
    resumed = next(r for r in payload["runs"] if r["run_id"] == "simclr-N1-seed0")
    straight = next(r for r in json.loads((finished / "results.json").read_text())["runs"]
                    if r["run_id"] == "simclr-N1-seed0")
    assert resumed["resumed"] is True
    assert [h["step"] for h in resumed["validation"]["history"]] == [2, 3]
    assert resumed["validation"]["history"] == straight["validation"]["history"]
    assert resumed["confusion"] == straight["confusion"]


def test_synthetic_marker_is_detected(tmp_path):
    from sleepscope.experiments.paper import SYNTHETIC_MARKER, detect_synthetic

    assert not detect_synthetic(tmp_path)
    (tmp_path / SYNTHETIC_MARKER).write_text("{}")
    assert detect_synthetic(tmp_path)
