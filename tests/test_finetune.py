"""Fine-tuning on corrections: held-out split without leakage, sequences, child vs parent, CLI, SIGTERM."""

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from sleepscope.data.synthetic import EEG_FPZ, EOG, real_hypnogram, synth_night, write_night
from sleepscope.errors import SleepScopeError
from sleepscope.io import Recording, open_recording
from sleepscope.model.checkpoint import ModelCard, load_model, save_model
from sleepscope.model.config import get_config
from sleepscope.model.distributed import DistInfo
from sleepscope.model.correction_data import CorrectionSequences, contiguous_runs, split_heldout
from sleepscope.model.finetune import FineTuneOptions, data_identity, finetune
from sleepscope.model.network import SleepStager
from sleepscope.scoring.corrections import CorrectionSet
from sleepscope.scoring.scoring_file import ScoringFile
from sleepscope.tasks import CancelToken, Cancelled

ROOT = Path(__file__).resolve().parents[1]


# -- helpers shared with the registry and GUI tests -------------------------------------

def night_labels(name: str, n: int, skip_wake: int = 10) -> np.ndarray:
    """`n` epochs of a real hypnogram, starting `skip_wake` epochs before sleep onset."""
    lab = real_hypnogram(name)
    start = max(0, int(np.flatnonzero((lab > 0) & (lab < 5))[0]) - skip_wake)
    return lab[start : start + n].astype(np.int8)


def correction_set(name: str = "SC4011E0", n: int = 200, subject: int = 1, night: int = 1,
                   drop: slice | None = None) -> CorrectionSet:
    """A CorrectionSet of a synthetic night labelled with its true stages (optionally with a gap)."""
    lab = night_labels(name, n)
    syn = synth_night(lab, subject=subject, night=night, seed=0)
    rec = Recording.from_arrays(syn.signals[EEG_FPZ], syn.signals[EOG])
    keep = lab >= 0
    if drop is not None:
        keep[drop] = False
    idx = np.flatnonzero(keep)
    fp = rec.fingerprint()
    return CorrectionSet(rec.model_input()[idx], lab[idx].astype(np.int64), np.full(idx.size, fp, object),
                         idx.astype(np.int64), np.full(idx.size, "technician", object), {fp: f"{name}.edf"})


def tiny_model_file(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    m = SleepStager(get_config("tiny"))
    save_model(m, path, ModelCard(config=m.config, data="random tiny weights for tests"))
    return path.with_name(path.stem + ".safetensors") if path.suffix != ".safetensors" else path


def corrected_night_files(folder: Path, name: str = "SC4011E0", n: int = 120,
                          labelled: slice = slice(None)) -> tuple[Path, Path]:
    """A synthetic EDF night and its scoring file beside it, `labelled` epochs set by a technician."""
    lab = night_labels(name, n)
    psg, _ = write_night(folder, name, labels=lab)
    rec = open_recording(psg)
    idx = np.arange(n)[labelled]
    idx = idx[lab[idx] >= 0]
    with ScoringFile.open(rec, scorer="tech") as sf:
        sf.set_stages(idx, lab[idx], source="technician")
        path = sf.path
    return psg, path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sleepscope", "finetune", *args]


@pytest.fixture
def one_thread():
    # Two intra-op threads on a busy 2-core machine are far slower than one.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# -- split and sequences ------------------------------------------------------------------

def test_runs_follow_consecutive_epochs_per_recording():
    cs = correction_set(n=120, drop=slice(50, 53))
    runs = contiguous_runs(cs)
    assert [cs.epoch[r[0]] for r in runs] == [0, 53]
    for r in runs:
        assert np.all(np.diff(cs.epoch[r]) == 1)
    assert sum(r.size for r in runs) == len(cs)


def test_heldout_split_is_blocks_stratified_and_guarded():
    cs = correction_set(n=600)
    split = split_heldout(cs, 0.2, block=20, guard=1, seed=3)
    train, held = split.train, split.heldout
    assert not set(train) & set(held)
    assert train.size + held.size + split.dropped == len(cs)
    # no trained epoch within one epoch of a held-out one
    d = np.abs(cs.epoch[train][:, None] - cs.epoch[held][None, :]).min(1)
    assert d.min() >= 2
    # held out in whole blocks of consecutive epochs, not scattered single epochs
    assert all(r.size >= 10 for r in split.heldout_runs)
    assert 0.15 <= held.size / len(cs) <= 0.25
    # stratified: every stage present in the set keeps roughly its share
    # (blocks of 20 make this coarse: measured 0.11-0.44 per stage over seeds 0-2)
    for st in np.unique(cs.y):
        n = np.count_nonzero(cs.y == st)
        frac = np.count_nonzero(cs.y[held] == st) / n
        assert n < 30 or 0.05 <= frac <= 0.5, (st, frac)
    # same seed, same split; another seed, another split
    again = split_heldout(cs, 0.2, block=20, guard=1, seed=3)
    assert np.array_equal(again.heldout, held)
    assert not np.array_equal(split_heldout(cs, 0.2, block=20, guard=1, seed=4).heldout, held)


def test_heldout_split_takes_part_of_stage_pure_stretches():
    # A technician who corrects 20 epochs of each stage in one stretch each: no 20-epoch block can give a
    # stage a fifth of its epochs, so the split holds out shorter blocks rather than refuse the set.
    starts = [0, 100, 200, 300, 400]
    epoch = np.concatenate([np.arange(s, s + 20) for s in starts]).astype(np.int64)
    y = np.repeat(np.arange(5), 20).astype(np.int64)
    n = y.size
    cs = CorrectionSet(np.zeros((n, 2, 8), np.float32), y, np.full(n, "rec", object), epoch,
                       np.full(n, "technician", object), {"rec": "rec.edf"})
    split = split_heldout(cs, 0.2, block=20, guard=1, seed=0)
    held = split.heldout
    assert set(cs.y[held].tolist()) == set(range(5))  # every stage is checked
    assert 0.1 <= held.size / n <= 0.3
    assert all(r.size >= 2 for r in split.heldout_runs)
    d = np.abs(cs.epoch[split.train][:, None] - cs.epoch[held][None, :]).min(1)
    assert d.min() >= 2  # the guard still holds
    assert set(cs.y[split.train].tolist()) == set(range(5))


def test_too_few_corrections_refused():
    cs = correction_set(n=30)
    with pytest.raises(SleepScopeError, match="at least"):
        finetune(SleepStager(get_config("tiny")), ModelCard(config=get_config("tiny")), cs)


def test_sequences_count_every_epoch_once():
    cs = correction_set(n=130, drop=slice(45, 47))
    runs = contiguous_runs(cs)  # 45 and 83 epochs
    ds = CorrectionSequences(cs, runs, seq_len=20)
    y = ds.labels()
    assert np.count_nonzero(y >= 0) == len(cs)
    assert sorted(y[y >= 0].tolist()) == sorted(cs.y.tolist())
    x0, y0 = ds[0]
    assert x0.shape == (20, 2, 3000) and y0.shape == (20,)
    np.testing.assert_array_equal(x0.numpy()[0], cs.x[runs[0][0]])
    short = CorrectionSequences(cs, [runs[0][:7]], seq_len=20)
    xs, ys = short[0]
    assert (ys[7:] == -1).all() and float(xs[7:].abs().sum()) == 0.0


def test_data_identity_depends_on_labels_not_order():
    cs = correction_set(n=80)
    perm = np.random.default_rng(0).permutation(len(cs))
    shuffled = CorrectionSet(cs.x[perm], cs.y[perm], cs.fingerprint[perm], cs.epoch[perm], cs.source[perm])
    assert data_identity(shuffled) == data_identity(cs)
    cs.y[5] = (cs.y[5] + 1) % 5
    assert data_identity(shuffled) != data_identity(cs)


# -- fine-tuning ----------------------------------------------------------------------------

def test_finetune_child_and_parent_on_same_heldout(tmp_path, one_thread):
    parent_path = tiny_model_file(tmp_path / "parent")
    parent, card = load_model(parent_path)
    before = {k: v.clone() for k, v in parent.state_dict().items()}
    cs = correction_set(n=160)
    events = []
    res = finetune(parent, card, cs, tmp_path / "child", FineTuneOptions(epochs=2, lr=1e-3, patience=5, min_steps=0),
                   events=events.append)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "parent" and kinds.count("epoch") == 2 and kinds.count("step") >= 2
    assert all(np.isfinite(e["loss"]) for e in events if e["event"] == "step")
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2]
    # the per-pass figures the events carried are those the loop validated on
    assert [e["val_macro_f1"] for e in events if e["event"] == "epoch"] == pytest.approx(
        res.card.metrics["finetune"]["val_macro_f1_per_epoch"])
    # the parent is untouched
    for k, v in parent.state_dict().items():
        assert torch.equal(v, before[k]), k
    child, child_card = load_model(res.path)
    assert child_card.parent == card.version and child_card.version != card.version
    h = child_card.metrics["heldout"]
    assert h["child"]["n_epochs"] == h["parent"]["n_epochs"] == h["n_epochs"] == res.split.report.size
    # the reported epochs chose nothing: the kept pass was chosen on the other held-out part
    assert not set(res.split.report) & set(res.split.select) and res.split.select.size > 0
    assert child_card.metrics["selection"]["n_epochs"] == res.split.select.size
    # the reported figures are the child's and the parent's on the report part, recomputed here
    from sleepscope.model.train import evaluate

    seq_len = parent.config.seq_len
    report, select = (CorrectionSequences(cs, runs, seq_len) for runs in (res.split.report_runs, res.split.select_runs))
    for model, key in ((child, "child"), (parent, "parent")):
        a = evaluate(model, report)
        assert (h[key]["accuracy"], h[key]["macro_f1"]) == pytest.approx((a.accuracy, a.macro_f1))
    assert child_card.metrics["selection"]["child"]["macro_f1"] == pytest.approx(evaluate(child, select).macro_f1)
    assert set(h["child"]["f1"]) == {"W", "N1", "N2", "N3", "REM"}
    assert child_card.metrics["data_identity"] == data_identity(cs)
    assert data_identity(cs)[:16] in child_card.data


def test_finetune_cancel_writes_nothing(tmp_path, one_thread):
    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    cs = correction_set(n=160)
    token = CancelToken()

    def events(e):
        if e["event"] == "step":
            token.cancel()

    with pytest.raises(Cancelled):
        finetune(parent, card, cs, tmp_path / "child", FineTuneOptions(epochs=3), events=events, cancel=token)
    assert not list(tmp_path.glob("child*"))


# -- the command ------------------------------------------------------------------------------

def run_jsonl(args: list[str], timeout: float = 240) -> tuple[int, list[dict], str]:
    # Own process group: on a timeout every process it started (torchrun's workers too) is killed.
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    return p.returncode, [json.loads(line) for line in out.splitlines() if line.strip()], err


def test_cli_jsonl_and_register(tmp_path):
    _, scoring = corrected_night_files(tmp_path / "rec", n=100)
    parent = tiny_model_file(tmp_path / "parent")
    rc, events, err = run_jsonl(cli("--scoring", str(scoring), "--from", str(parent), "--out",
                                    str(tmp_path / "child"), "--epochs", "1", "--progress", "jsonl", "--register",
                                    "--min-steps", "6", "--pseudo-balance"))
    assert rc == 0, err
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "done" and "step" in kinds and "epoch" in kinds and "parent" in kinds
    done = events[-1]
    # --min-steps reaches the run (the default is 40); --pseudo-balance is accepted (no pseudo-labels here)
    assert done["metrics"]["finetune"]["min_steps"] == 6 and 6 <= kinds.count("step") < 40
    assert Path(done["model"]).exists() and done["parent"] == load_model(parent)[1].version
    assert done["metrics"]["heldout"]["n_epochs"] > 0
    # the card names the stages the corrections hardly held (100 epochs of one night cannot hold 20 of each)
    per_stage = next(e for e in events if e["event"] == "corrections")["per_stage"]
    scarce = done["metrics"]["finetune"]["scarce_stages"]
    assert scarce and scarce == [n for n, c in per_stage.items() if c < 20]
    from sleepscope.model.registry import ModelRegistry

    reg = ModelRegistry()
    assert [v.version for v in reg.versions()] == [done["parent"], done["version"]]
    assert Path(done["registered"]) == reg.get(done["version"]).path
    assert reg.active_version() is None  # activation is the technician's decision


def test_cli_errors_are_events_and_exit_2(tmp_path):
    _, scoring = corrected_night_files(tmp_path / "rec", n=60)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    (tmp_path / "bad.json").write_text("{}")
    rc, events, err = run_jsonl(cli("--scoring", str(scoring), "--from", str(bad), "--out", str(tmp_path / "c"),
                                    "--progress", "jsonl"))
    assert rc == 2 and events[-1]["event"] == "error" and "model card" in events[-1]["message"]
    assert "error" in err


def test_cli_sigterm_stops_promptly_without_model(tmp_path):
    _, scoring = corrected_night_files(tmp_path / "rec", n=100)
    parent = tiny_model_file(tmp_path / "parent")
    proc = subprocess.Popen(cli("--scoring", str(scoring), "--from", str(parent), "--out", str(tmp_path / "child"),
                                "--epochs", "50", "--patience", "50", "--progress", "jsonl", "--register"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        for line in proc.stdout:
            if json.loads(line)["event"] == "step":
                break
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        stopped = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    rest = [json.loads(line)["event"] for line in proc.stdout.read().splitlines() if line.strip()]
    # Prompt means at the next step: at most the step under way when the signal came is finished (the run asked
    # for 50). The time bound is loose because interpreter shutdown alone takes seconds on a loaded CI machine;
    # the GUI kills a process still alive 2 s after Cancel, which writes nothing either.
    assert rest.count("step") <= 1, rest
    assert stopped <= 10.0, stopped
    assert "done" not in rest and rest[-1] == "cancelled"
    assert proc.returncode != 0
    assert not list(tmp_path.glob("child*"))
    from sleepscope.model.registry import ModelRegistry

    assert ModelRegistry().versions() == []


def test_cli_under_torchrun_two_processes(tmp_path):
    _, scoring = corrected_night_files(tmp_path / "rec", n=120)
    parent = tiny_model_file(tmp_path / "parent")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           "-m", "sleepscope", "finetune", "--scoring", str(scoring), "--from", str(parent),
           "--out", str(tmp_path / "child"), "--epochs", "2", "--min-steps", "4", "--device", "cpu",
           "--progress", "jsonl", "--register"]
    rc, events, err = run_jsonl(cmd)
    assert rc == 0, err[-2000:]
    kinds = [e["event"] for e in events]
    assert kinds.count("done") == 1 and kinds.count("parent") == 1  # rank 0 alone reports
    done = events[-1]
    assert done["metrics"]["finetune"]["processes"] == 2
    assert load_model(done["model"])[1].version == done["version"]
    from sleepscope.model.registry import ModelRegistry

    assert done["version"] in ModelRegistry()


def test_the_child_is_calibrated_on_the_selection_part_of_the_corrections(tmp_path, one_thread):
    from sleepscope.model.calibration import ece, fit_temperature, softmax
    from sleepscope.model.train import dataset_scores

    parent_path = tiny_model_file(tmp_path / "parent")
    parent, card = load_model(parent_path)
    card.calibration = {"temperature": 3.0, "unsure_threshold": 0.7}
    cs = correction_set(n=900)
    opts = FineTuneOptions(epochs=1, max_steps=3, min_steps=0, holdout=0.3)
    res = finetune(parent, card, cs, tmp_path / "child", opts)
    assert res.split.select.size >= 100
    child, child_card = load_model(res.path)
    cal = child_card.calibration
    assert cal["fitted_on"] == "the selection part of the corrections"
    assert child.calibration == cal  # what predict applies
    seq_len = parent.config.seq_len
    select, report = (CorrectionSequences(cs, runs, seq_len) for runs in (res.split.select_runs, res.split.report_runs))
    y, scores = dataset_scores(child, select, 8, torch.device("cpu"))
    assert cal["temperature"] == pytest.approx(fit_temperature(scores, y))
    y_r, scores_r = dataset_scores(child, report, 8, torch.device("cpu"))
    t = cal["temperature"]
    assert cal["ece"] == pytest.approx(ece(softmax(scores, t), y))  # fitted and judged there ...
    assert cal["report_ece"] == pytest.approx(ece(softmax(scores_r, t), y_r))  # ... reported on what fitted nothing
    assert cal["ece"] != pytest.approx(cal["report_ece"]) and "confidence_map" not in cal

    few = finetune(parent, card, correction_set(n=160), None, FineTuneOptions(epochs=1, max_steps=2, min_steps=0))
    assert few.card.calibration == {"unsure_threshold": 0.7}  # too few to fit: the parent's threshold, no temperature


def test_the_child_fits_its_own_eog_only_temperature_on_the_selection_part_without_its_eeg(tmp_path, one_thread):
    from sleepscope.model.calibration import ece, fit_temperature, softmax
    from sleepscope.model.train import dataset_scores

    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    card.calibration = {"temperature": 3.0, "unsure_threshold": 0.7, "eog_only_temperature": 1.7}
    cs = tone_corrections(eeg=2.0, eog=0.4)  # the EOG tells the stage, the EEG tells it better
    opts = FineTuneOptions(epochs=4, max_steps=40, min_steps=40, holdout=0.3, lr=3e-3, keep_parent=0.0, distill=0.0,
                           channel_dropout=0.3, seq_len=5)  # short sequences: fast
    res = finetune(parent, card, cs, None, opts)
    cal = res.card.calibration
    without_eeg = copy.deepcopy(cs)
    without_eeg.x[:, 0] = 0  # as an EOG-only recording reaches the model
    select, report = (CorrectionSequences(without_eeg, runs, opts.seq_len)
                      for runs in (res.split.select_runs, res.split.report_runs))
    y, scores = dataset_scores(res.model, select, 8, torch.device("cpu"))
    logp = np.log(softmax(scores, cal["temperature"]))  # after the child's own temperature, as predict applies it
    assert cal["eog_only_temperature"] == pytest.approx(fit_temperature(logp, y), rel=1e-6)
    # Fitted on the two-channel scores it would be 1 (the child's temperature was fitted there), and it is not the
    # parent's.
    assert abs(np.log(cal["eog_only_temperature"])) > 0.1 and cal["eog_only_temperature"] != pytest.approx(1.7)
    y_r, scores_r = dataset_scores(res.model, report, 8, torch.device("cpu"))
    t = cal["temperature"] * cal["eog_only_temperature"]
    assert cal["eog_only_report_ece"] == pytest.approx(ece(softmax(scores_r, t), y_r), rel=1e-5)

    assert "eog_only_base_temperature" not in cal  # the child's own temperature is the base
    # The reported epochs with one channel removed, child beside parent, as one-channel recordings reach them.
    from sleepscope.model.finetune import _metrics

    one = res.card.metrics["heldout_one_channel"]
    assert one["EOG only"]["child"] == _metrics(y_r, scores_r)
    assert one["EOG only"]["parent"] == _metrics(*dataset_scores(parent, report, 8, torch.device("cpu")))
    without_eog = copy.deepcopy(cs)
    without_eog.x[:, 1] = 0
    eeg_report = CorrectionSequences(without_eog, res.split.report_runs, opts.seq_len)
    assert one["EEG only"]["child"] == _metrics(*dataset_scores(res.model, eeg_report, 8, torch.device("cpu")))
    assert one["EEG only"]["child"]["accuracy"] > one["EOG only"]["child"]["accuracy"]  # the EEG tells more here

    # Corrections without an EOG, or too few to fit on: the parent's whole EOG-only scaling is kept.
    brief = FineTuneOptions(epochs=1, max_steps=1, min_steps=0, holdout=0.3)
    eeg_only = copy.deepcopy(cs)
    eeg_only.x[:, 1] = 0
    kept = finetune(parent, card, eeg_only, None, brief).card
    assert (kept.calibration["eog_only_base_temperature"], kept.calibration["eog_only_temperature"]) == (3.0, 1.7)
    assert kept.metrics["heldout_one_channel"] is None  # the corrections had one channel already
    few = finetune(parent, card, correction_set(n=160), None, brief).card.calibration
    assert few == {"unsure_threshold": 0.7, "eog_only_base_temperature": 3.0, "eog_only_temperature": 1.7}
    from sleepscope.model.finetune import child_calibration

    none = (np.zeros(0, np.int64), np.zeros((0, 5), np.float32))
    card.calibration = {**few, "unsure_threshold": 0.6}  # a child of that child keeps the same scaling
    assert child_calibration(card, none, none)["eog_only_base_temperature"] == 3.0


def test_the_child_keeps_the_parents_stage_transitions(tmp_path, one_thread):
    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    chain = (np.eye(5) * 0.8 + 0.04).tolist()
    card.calibration = {"temperature": 3.0, "unsure_threshold": 0.7, "transitions": chain,
                        "smoothed_temperature": 2.0, "transitions_from": "test nights"}
    opts = FineTuneOptions(epochs=1, max_steps=2, min_steps=0, holdout=0.3)
    fitted = finetune(parent, card, correction_set(n=900), None, opts).card.calibration
    few = finetune(parent, card, correction_set(n=160), None, opts).card.calibration
    for cal in (fitted, few):
        assert cal["transitions"] == chain and cal["smoothed_temperature"] == 2.0
        assert cal["transitions_from"] == "test nights"
    assert fitted["temperature"] != 3.0  # the child's own temperature, the parent's chain


def test_keep_parent_averages_the_kept_child_with_the_parent(tmp_path, one_thread):
    parent_path = tiny_model_file(tmp_path / "parent")
    parent, card = load_model(parent_path)
    cs = correction_set(n=160)
    opts = FineTuneOptions(epochs=2, lr=1e-3, min_steps=0, seed=3, keep_parent=0.0)
    plain = finetune(parent, card, cs, None, opts)
    kept = finetune(parent, card, cs, None, replace(opts, keep_parent=0.5))
    assert FineTuneOptions().keep_parent == 0.5  # the default (bench_site --child-weight, two labs)
    p, c, k = parent.state_dict(), plain.model.state_dict(), kept.model.state_dict()
    floats = [name for name in p if p[name].is_floating_point()]
    assert any(not torch.allclose(c[n], p[n]) for n in floats)  # training moved the child ...
    for n in floats:  # ... and the kept model lies halfway back to the parent
        torch.testing.assert_close(k[n], 0.5 * c[n] + 0.5 * p[n], rtol=1e-5, atol=1e-6)
    assert kept.card.metrics["finetune"]["keep_parent"] == 0.5 and "averaged with the parent" in kept.card.notes
    # the reported figures are the averaged model's
    from sleepscope.model.train import evaluate

    report = CorrectionSequences(cs, kept.split.report_runs, parent.config.seq_len)
    assert kept.card.metrics["heldout"]["child"]["accuracy"] == pytest.approx(evaluate(kept.model, report).accuracy)
    with pytest.raises(SleepScopeError, match="parent's share"):
        finetune(parent, card, cs, None, replace(opts, keep_parent=1.0))


def _always(model: SleepStager, stage: int) -> SleepStager:
    """`model` made to name one stage for every epoch (its classifier reads nothing but a bias)."""
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.fill_(-10.0)
        model.classifier.bias[stage] = 10.0
    return model


def _wrong_parent(tmp_path, cs):
    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    with torch.no_grad():  # a parent sure of the stage the night has least of: the corrections are worth keeping
        parent.classifier.bias.zero_()
        parent.classifier.bias[int(np.bincount(cs.y, minlength=5).argmin())] = 3.0
    return parent, card


def test_keep_parent_leaves_a_site_pretrained_start_out(tmp_path, one_thread):
    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    parent.encoder_only = True  # as `sleepscope pretrain --recordings` leaves it: its head never read this encoder
    cs = correction_set(n=160)
    opts = FineTuneOptions(epochs=1, lr=1e-3, min_steps=0, seed=3, keep_parent=0.0)
    plain = finetune(parent, card, cs, None, opts)
    kept = finetune(parent, card, cs, None, replace(opts, keep_parent=0.5))
    for name, v in kept.model.state_dict().items():
        assert torch.equal(v, plain.model.state_dict()[name]), name
    assert kept.card.metrics["finetune"]["keep_parent"] == 0.0


def test_a_child_passes_on_how_its_parent_was_trained(tmp_path, one_thread):
    """Frozen encoders and channel dropout, read from the card, reach the grandchildren too."""
    from sleepscope.model.lineage import trained_channel_dropout, trained_with_frozen_encoders

    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    card.metrics = {"freeze_encoders": True}
    card.familiarity = {"channel_dropout": 0.3}
    child = finetune(parent, card, correction_set(n=160), None, FineTuneOptions(epochs=1, max_steps=1, min_steps=0))
    c = child.card
    assert not c.familiarity  # the statistics were the parent's training nights'
    assert trained_with_frozen_encoders(c.metrics) and trained_channel_dropout(c.familiarity, c.metrics) == 0.3
    assert not trained_with_frozen_encoders({}) and trained_channel_dropout({}, {}) == 0.0  # the control
    assert not trained_with_frozen_encoders({"freeze_encoders": True, "encoder_only": True})


def _encoder_stats(model) -> dict:
    return {k: v for k, v in model.state_dict().items() if ".encoder." in f".{k}" and "running_" in k}


class _Copies(list):
    """The copies holding the corrections' statistics that fine-tuning makes, in order; those made as a recording
    without one channel would be read in `one_channel`, as (absent channel, copy)."""

    def __init__(self) -> None:
        super().__init__()
        self.one_channel: list = []


def _statistics_copies(monkeypatch) -> _Copies:
    from sleepscope.model import night_norm

    made = _Copies()

    def spy(model, x, absent=None):
        if absent is None:
            made.append(night_norm.with_statistics(model, x))
            return made[-1]
        x = x.copy()
        x[:, absent] = 0
        made.one_channel.append((absent, night_norm.with_statistics(model, x)))
        return made.one_channel[-1][1]

    monkeypatch.setattr(night_norm, "corrections_statistics", spy)
    return made


def _parent_of_frozen_encoders(tmp_path: Path, night_statistics: bool):
    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    parent.config = card.config = parent.config.with_(night_statistics=night_statistics)
    card.metrics = {"freeze_encoders": True}
    return parent, card


@pytest.mark.parametrize("night_statistics", [False, True])
def test_a_model_scored_with_night_statistics_is_compared_as_it_reads_the_corrections(
        tmp_path, one_thread, night_statistics, monkeypatch):
    """Its child learns on the trained statistics and is scored with them; the parent's figures are its
    figures with the corrections' statistics."""
    from sleepscope.model.train import evaluate

    made = _statistics_copies(monkeypatch)
    parent, card = _parent_of_frozen_encoders(tmp_path, night_statistics)
    cs = correction_set(n=160)
    child = finetune(parent, card, cs, tmp_path / "child", FineTuneOptions(epochs=1, max_steps=2, min_steps=0,
                                                                           reading="trained"))
    got = _encoder_stats(load_model(child.path)[0])
    for k, v in _encoder_stats(parent).items():
        torch.testing.assert_close(got[k], v)
    assert load_model(child.path)[0].config.night_statistics is False
    assert parent.config.night_statistics is night_statistics
    assert len(made) == int(night_statistics)
    if night_statistics:  # the copy the parent was compared as holds the corrections' statistics
        assert any(not torch.equal(v, _encoder_stats(parent)[k]) for k, v in _encoder_stats(made[0]).items())
    report = CorrectionSequences(cs, child.split.report_runs, parent.config.seq_len)
    got, want = child.card.metrics["heldout"]["parent"], evaluate(made[0] if made else parent, report)
    assert (got["accuracy"], got["macro_f1"]) == pytest.approx((want.accuracy, want.macro_f1))
    # Without the EOG it reads the corrections' EEG statistics and keeps its trained EOG branch, as it would
    # read an EEG-only recording.
    from sleepscope.model.correction_data import WithoutChannel

    assert [a for a, _ in made.one_channel] == ([1, 0] if night_statistics else [])
    if night_statistics:
        eeg_only = made.one_channel[0][1]
        stats = _encoder_stats(eeg_only)
        assert all(torch.equal(v, _encoder_stats(parent)[k]) for k, v in stats.items() if k.startswith("eog_branch."))
        assert any(not torch.equal(v, _encoder_stats(parent)[k]) for k, v in stats.items() if k.startswith("eeg_branch."))
    got = child.card.metrics["heldout_one_channel"]["EEG only"]["parent"]
    want = evaluate(made.one_channel[0][1] if night_statistics else parent, WithoutChannel(report, 1))
    assert (got["accuracy"], got["macro_f1"]) == pytest.approx((want.accuracy, want.macro_f1))


def test_a_child_asked_to_read_nights_as_its_parent_does_is_judged_so(tmp_path, one_thread, monkeypatch):
    from sleepscope.model.train import evaluate

    made = _statistics_copies(monkeypatch)
    parent, card = _parent_of_frozen_encoders(tmp_path, True)
    cs = correction_set(n=160)
    opts = FineTuneOptions(epochs=1, max_steps=2, min_steps=0, reading="night")
    child = finetune(parent, card, cs, tmp_path / "child", opts)
    model, child_card = load_model(child.path)
    assert model.config.night_statistics is True and child_card.config.night_statistics is True
    for k, v in _encoder_stats(parent).items():  # it learned, and is stored, with the trained statistics
        torch.testing.assert_close(_encoder_stats(model)[k], v)
    # its held-out figures are taken as it reads these recordings: with the corrections' statistics, as the parent's
    assert len(made) == 2
    for k, v in model.state_dict().items():
        if "running_" not in k and "num_batches" not in k:
            torch.testing.assert_close(made[1].state_dict()[k], v)
    report = CorrectionSequences(cs, child.split.report_runs, parent.config.seq_len)
    want, got = evaluate(made[1], report), child.card.metrics["heldout"]["child"]
    assert (got["accuracy"], got["macro_f1"]) == pytest.approx((want.accuracy, want.macro_f1))
    # control: a parent that reads with its trained statistics only has a child that does too
    parent.config = card.config = parent.config.with_(night_statistics=False)
    assert finetune(parent, card, cs, None, opts).model.config.night_statistics is False
    assert len(made) == 2


def _joined(*sets: CorrectionSet) -> CorrectionSet:
    return CorrectionSet(*(np.concatenate([getattr(s, k) for s in sets]) for k in
                           ("x", "y", "fingerprint", "epoch", "source")),
                         {k: v for s in sets for k, v in s.recording_files.items()})


def test_a_child_is_also_checked_on_a_corrected_recording_it_did_not_learn_from(tmp_path, one_thread, monkeypatch):
    import sleepscope.model.train as training
    from sleepscope.model.finetune import MIN_OTHER_EPOCHS, recordings_to_leave_out
    from sleepscope.model.train import evaluate

    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    big, small = correction_set("SC4011E0", n=220, subject=1), correction_set("SC4021E0", n=130, subject=2)
    assert len(small) >= MIN_OTHER_EPOCHS
    cs = _joined(big, small)
    seen = []
    real_train = training.train

    def spy(model, train_data, *a, **k):  # the epochs each fine-tuning draws its sequences from
        seen.append(train_data.x)
        return real_train(model, train_data, *a, **k)

    monkeypatch.setattr(training, "train", spy)
    opts = FineTuneOptions(epochs=1, lr=1e-3, min_steps=0)
    events = []
    res = finetune(parent, card, cs, None, opts, events=events.append)
    left = small.fingerprint[0]
    assert recordings_to_leave_out(cs) == ([left], "SC402")  # the smaller of the two subjects
    # the kept child learns from both recordings, the check child from the other one only
    assert len(seen) == 2 and np.array_equal(seen[0], cs.x) and np.array_equal(seen[1], big.x)
    o = res.card.metrics["other_recording"]
    assert (o["recording"], o["n_epochs"], o["n_trained_on"]) == ("SC4021E0.edf", len(small), len(big))
    assert (o["by"], o["subject"]) == ("subject", "SC402")
    a = evaluate(parent, CorrectionSequences(small, contiguous_runs(small), parent.config.seq_len))
    assert (o["parent"]["accuracy"], o["parent"]["macro_f1"]) == pytest.approx((a.accuracy, a.macro_f1))
    assert o["child"]["n_epochs"] == len(small)
    diff, low, high = o["macro_f1_difference"]
    assert diff == pytest.approx(o["child"]["macro_f1"] - o["parent"]["macro_f1"]) and low <= diff <= high
    assert o["verdict"] in ("better", "worse", "no clear difference")
    steps = [e for e in events if e["event"] == "check_step"]
    assert steps and all(e["recording"] == "SC4021E0.edf" for e in steps)
    # controls: one recording, or the check turned off, train once and carry no check
    for corrections, options in ((big, opts), (cs, replace(opts, other_recording=False))):
        seen.clear()
        res = finetune(parent, card, corrections, None, options)
        assert len(seen) == 1 and "other_recording" not in res.card.metrics


def test_reading_verdict_keeps_the_trained_reading_unless_the_nights_own_is_clearly_ahead():
    from sleepscope.model.finetune import reading_verdict

    block = np.repeat(np.arange(10), 20)
    trained = np.tile(np.r_[np.ones(15, bool), np.zeros(5, bool)], 10)
    assert reading_verdict(np.ones(200, bool), trained, block)["kept"] == "night"
    assert reading_verdict(trained, trained, block)["kept"] == "trained"  # a tie keeps the trained reading
    v = reading_verdict(~trained, trained, block)
    assert v["kept"] == "trained" and v["accuracy"] == {"trained": 0.75, "night": 0.25}


def test_the_check_child_chooses_how_the_kept_child_reads_nights(tmp_path, one_thread, monkeypatch):
    """The check child reads the subject it left out with its trained statistics and with that recording's own;
    the kept child reads nights as the check says, and a parent without night statistics or one recording's
    corrections leave the trained reading."""
    import sleepscope.model.finetune as ft

    compared = []
    real = ft.reading_verdict

    def spy(right_night, right_trained, block):  # the night's own statistics read the left-out subject better
        compared.append((np.asarray(right_night), np.asarray(right_trained)))
        return {**real(right_night, right_trained, block), "kept": "night"}

    monkeypatch.setattr(ft, "reading_verdict", spy)
    parent, card = _parent_of_frozen_encoders(tmp_path, True)
    # the shipped card's chain too: the check child's test of it runs beside the choice of reading
    card.calibration = {"temperature": 1.0, "transitions": (np.full((5, 5), 0.02) + np.eye(5) * 0.9).tolist(),
                        "smoothed_temperature": 1.0}
    big, small = correction_set("SC4011E0", n=220, subject=1), correction_set("SC4021E0", n=130, subject=2)
    opts = FineTuneOptions(epochs=1, max_steps=2, min_steps=0, reading="choose", choose_share=False)
    res = finetune(parent, card, _joined(big, small), None, opts)
    choice = res.card.metrics["other_recording"]["reading_choice"]
    assert len(compared) == 1 and compared[0][0].size == len(small)
    assert choice["kept"] == "night" and choice["recording"] == "SC4021E0.edf"
    assert res.model.config.night_statistics is True
    assert res.card.metrics["finetune"]["reading"] == choice["kept"]
    # the trained reading compared is the check child's figure on the recording it left out
    assert choice["accuracy"]["trained"] == pytest.approx(res.card.metrics["other_recording"]["child"]["accuracy"])
    # controls: one recording's corrections, or a parent that reads with its trained statistics only
    assert finetune(parent, card, big, None, opts).model.config.night_statistics is False
    parent.config = card.config = parent.config.with_(night_statistics=False)
    res = finetune(parent, card, _joined(big, small), None, opts)
    assert res.model.config.night_statistics is False and res.card.metrics["other_recording"]["reading_choice"] is None
    assert len(compared) == 1


def test_the_recording_left_out_must_leave_enough_on_both_sides():
    from sleepscope.model.finetune import MIN_OTHER_EPOCHS, recordings_to_leave_out

    big = correction_set("SC4011E0", n=220, subject=1)
    assert recordings_to_leave_out(big) is None  # one recording
    tiny = correction_set("SC4021E0", n=MIN_OTHER_EPOCHS - 20, subject=2)
    # too small to check on: the other
    assert recordings_to_leave_out(_joined(big, tiny)) == ([big.fingerprint[0]], "SC401")
    assert recordings_to_leave_out(_joined(tiny, tiny.rows(np.arange(10)))) is None  # neither is big enough


def test_a_subjects_other_night_is_left_out_with_it():
    from sleepscope.model.finetune import recordings_to_leave_out

    one = correction_set("SC4011E0", n=150, subject=1, night=1)
    again = correction_set("SC4012E0", n=120, subject=1, night=2)
    other = correction_set("SC4021E0", n=220, subject=2)
    cs = _joined(one, again, other)
    # by subject: SC401 has 270 corrections and SC402 220, so SC402 is left out (the smallest recording,
    # SC4012E0, shares its subject's set-up with SC4011E0, which the check child would learn from)
    assert recordings_to_leave_out(cs) == ([other.fingerprint[0]], "SC402")
    # control: names that say nothing of subjects leave out the smallest recording
    anonymous = replace(cs, recording_files={fp: f"rec{i}.edf" for i, fp in enumerate(cs.recording_files)})
    assert recordings_to_leave_out(anonymous) == ([again.fingerprint[0]], None)
    # a subject's two nights are left out together when that subject is the smaller
    small_subject = _joined(one.rows(np.arange(60)), again.rows(np.arange(60)), other)
    assert recordings_to_leave_out(small_subject) == ([one.fingerprint[0], again.fingerprint[0]], "SC401")


@pytest.mark.parametrize("said", ["worse", "no clear difference"])
def test_the_command_says_what_the_check_found(said):
    from sleepscope.model.finetune_commands import other_recording_line

    line = other_recording_line({"recording": "SC4021E0.edf", "subject": "SC402", "n_epochs": 300,
                                 "child": {"macro_f1": 0.55, "accuracy": 0.7},
                                 "parent": {"macro_f1": 0.6, "accuracy": 0.75},
                                 "macro_f1_difference": [-0.05, -0.09, -0.01 if said == "worse" else 0.02],
                                 "verdict": said})
    assert "subject SC402 (SC4021E0.edf)" in line and "0.550 vs parent 0.600" in line
    assert "90 % interval -0.090 to" in line and f"): {said}" in line
    assert ("correct some epochs of each kind of recording" in line) == (said == "worse")


def test_with_two_recordings_the_share_is_chosen_on_the_one_the_check_child_left_out(tmp_path, one_thread,
                                                                                       monkeypatch):
    import sleepscope.model.train as training

    big, small = correction_set("SC4011E0", n=220, subject=1), correction_set("SC4021E0", n=130, subject=2)
    cs = _joined(big, small)
    parent, card = _wrong_parent(tmp_path, cs)
    trained = []
    real_train = training.train
    monkeypatch.setattr(training, "train", lambda model, data, *a, **k: trained.append(len(data))
                        or real_train(model, data, *a, **k))
    opts = FineTuneOptions(epochs=1, lr=3e-2, min_steps=12, seed=3, seq_len=5)  # short sequences: fast
    assert opts.choose_share  # the default (bench_site, three corrected nights, five labs)
    r = finetune(parent, card, cs, None, opts)
    choice = r.card.metrics["finetune"]["share_choice"]
    assert choice["method"] == "left-out recording" and choice["recording"] == "SC4021E0.edf", choice
    assert choice["n_epochs"] == len(small) and choice["kept"] == "child" and choice["gap"] > choice["standard_error"]
    assert r.card.metrics["finetune"]["keep_parent"] == 0.0 and "kept as trained" in r.card.notes
    assert len(trained) == 2  # the kept child and the check child: the choice costs no training of its own
    # Control: nothing learned (a learning rate of 1e-12), so the check child reads the left-out night as its
    # average does: the share is kept.
    still = finetune(parent, card, cs, None, replace(opts, lr=1e-12)).card.metrics["finetune"]
    assert still["share_choice"]["kept"] == "average" and still["keep_parent"] == 0.5
    # One recording: nothing left out to decide on, so the parent's share is kept as it is.
    one = finetune(parent, card, big, None, opts).card.metrics["finetune"]
    assert one["share_choice"] is None and one["keep_parent"] == 0.5


def test_cli_choose_share_reaches_the_options():
    from sleepscope.cli import build_parser
    from sleepscope.model.finetune_commands import options_from

    def opts(*flags: str) -> FineTuneOptions:
        args = ["finetune", "--scoring", "x", "--from", "m", "--out", "c", *flags]
        return options_from(build_parser().parse_args(args))

    assert opts().choose_share is FineTuneOptions().choose_share and opts().keep_parent == FineTuneOptions().keep_parent
    assert opts("--choose-share").choose_share is True and opts("--no-choose-share").choose_share is False
    assert opts("--keep-parent", "0").keep_parent == 0.0
    default = FineTuneOptions()
    assert (opts().distill, opts().distill_agreed, opts().opinion) == (default.distill, default.distill_agreed,
                                                                       default.opinion)
    given = opts("--distill", "0.5", "--no-distill-agreed", "--opinion", "choose")
    assert (given.distill, given.distill_agreed, given.opinion) == (0.5, False, "choose")
    assert opts().reading == default.reading and opts("--reading", "choose").reading == "choose"


def tone_corrections(n: int = 900, seed: int = 0, eeg: float = 0.0, eog: float = 2.0) -> CorrectionSet:
    """Corrections whose stage is a tone (runs of 10 epochs) of amplitude `eeg` in the EEG and `eog` in the EOG,
    over unit noise; by default in the EOG alone."""
    rng = np.random.default_rng(seed)
    y = np.repeat(rng.integers(0, 5, n // 10 + 1), 10)[:n]
    t = np.arange(3000) / 100.0
    x = rng.standard_normal((n, 2, 3000))
    tone = np.sin(2 * np.pi * np.array([1.0, 6.0, 13.0, 2.0, 9.0])[y][:, None] * t)
    x[:, 0] += eeg * tone
    x[:, 1] += eog * tone
    x = ((x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True)).astype(np.float32)
    return CorrectionSet(x, y.astype(np.int64), np.full(n, "tone", object), np.arange(n),
                         np.full(n, "technician", object), {"tone": "tone.edf"})


def test_the_child_drops_the_one_channel_opinions_where_the_selection_part_reads_better_without_them(tmp_path,
                                                                                                       one_thread):
    from sleepscope.model.finetune import _metrics
    from sleepscope.model.train import dataset_scores

    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    parent.config = card.config = parent.config.with_(eeg_opinion=0.5)
    cs = tone_corrections()
    opts = FineTuneOptions(epochs=4, max_steps=40, min_steps=40, holdout=0.3, lr=3e-3, keep_parent=0.0,
                           distill=0.0, opinion="keep", seq_len=5)  # short sequences: fast
    chosen = finetune(parent, card, cs, tmp_path / "child", replace(opts, opinion="choose"))
    choice = chosen.card.metrics["finetune"]["opinion_choice"]
    f1 = {float(w): v for w, v in choice["macro_f1"].items()}
    assert choice["kept"] == 0.0 and f1[0.0] > f1[0.5]  # the EEG alone tells nothing here
    child, child_card = load_model(chosen.path)
    assert child.config.eeg_opinion == child_card.config.eeg_opinion == child_card.config.eog_opinion == 0.0
    select = CorrectionSequences(cs, chosen.split.select_runs, opts.seq_len)
    scores = dataset_scores(child, select, 8, torch.device("cpu"))
    assert _metrics(*scores)["macro_f1"] == pytest.approx(f1[0.0], abs=1e-4)
    # the control: the same run without the choice keeps the mixture, and its report part reads worse
    kept = finetune(parent, card, cs, None, opts)
    assert kept.model.config.eeg_opinion == 0.5 and kept.card.metrics["finetune"]["opinion_choice"] is None
    assert chosen.card.metrics["heldout"]["child"]["macro_f1"] > kept.card.metrics["heldout"]["child"]["macro_f1"]
    # a parent that weighs the EOG alone too drops both
    parent.config = card.config = parent.config.with_(eeg_opinion=0.25, eog_opinion=0.25)
    dropped = finetune(parent, card, cs, None, replace(opts, opinion="drop", max_steps=1, min_steps=0))
    assert dropped.model.config.eeg_opinion == dropped.model.config.eog_opinion == 0.0
    assert "one-channel opinions weighted 0 (the parent's 0.5)" in dropped.card.notes
    with pytest.raises(SleepScopeError, match="kept, dropped or chosen"):
        finetune(parent, card, cs, None, replace(opts, opinion="sometimes"))
