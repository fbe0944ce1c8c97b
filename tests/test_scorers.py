"""Scorers: one interface for our stager, YASA and combinations; the disagreement mask and review queue;
`prescore --second-opinion`; the app without yasa."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sleepscope.model.infer import Prediction
from sleepscope.scorers import (
    ProbabilityAverage,
    Scorer,
    StagerScorer,
    YasaScorer,
    choose_weight,
    disagreement,
    doubt,
    errors_caught,
    review_queue,
    yasa_available,
)

REAL = Path("tests/data/SC4001E0-PSG-first300s.edf")
needs_yasa = pytest.mark.skipif(not yasa_available(), reason="the yasa extra is not installed")


def _pred(probs, version="v"):
    probs = np.asarray(probs, np.float32)
    return Prediction(probs=probs, model_version=version, stages=probs.argmax(1).astype(np.int8))


class Fixed:
    """A scorer that always answers the same probabilities."""

    def __init__(self, name, probs):
        self.name, self._probs = name, np.asarray(probs, np.float32)

    @property
    def version(self):
        return f"{self.name}-1"

    def score(self, recording, progress=None, cancel=None):
        return _pred(self._probs, self.version)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch

    from sleepscope.model.checkpoint import save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny"
    save_model(SleepStager(get_config("tiny")), path)
    return path


def test_disagreement_mask():
    a = np.array([0, 1, 2, -1, 4, 3])
    b = np.array([0, 2, 2, 3, -1, 4])
    assert disagreement(a, b).tolist() == [False, True, False, False, False, True]  # unscored never disagrees


def test_review_queue_weighs_a_disagreement_by_how_plausible_the_other_stage_was():
    probs = np.array([[0.90, 0.10, 0, 0, 0],    # sure, YASA agrees
                      [0.50, 0.45, 0.05, 0, 0],  # unsure, YASA agrees
                      [0.55, 0.44, 0.01, 0, 0],  # YASA says N1, which we nearly chose: doubt 0.89
                      [0.60, 0.40, 0, 0, 0],     # unsure (0.40), YASA agrees
                      [0.94, 0.01, 0.05, 0, 0],  # YASA says N1, which we all but excluded: doubt 0.07
                      [0.99, 0.01, 0, 0, 0]])
    yasa = np.array([0, 0, 1, 0, 1, 0])
    np.testing.assert_allclose(doubt(probs, yasa), [0.10, 0.50, 0.89, 0.40, 0.07, 0.01], atol=1e-6)
    np.testing.assert_allclose(doubt(probs), 1 - probs.max(1))
    q = review_queue(probs, share=0.5, second_stages=yasa)  # 3 epochs
    assert np.flatnonzero(q).tolist() == [1, 2, 3]  # the implausible disagreement (4) waits
    assert np.flatnonzero(review_queue(probs, share=0.5)).tolist() == [1, 2, 3]
    assert np.flatnonzero(review_queue(probs, share=1 / 6, second_stages=yasa)).tolist() == [2]
    assert np.flatnonzero(review_queue(probs, share=1 / 6)).tolist() == [1]
    labels = np.array([0, 1, 1, 0, 0, 0])
    stages = probs.argmax(1)  # wrong on 1 and 2
    assert errors_caught(review_queue(probs, 1 / 6, yasa), stages, labels) == 0.5
    assert errors_caught(review_queue(probs, 2 / 6, yasa), stages, labels) == 1.0


def test_choose_weight_on_validation_and_combination():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 400)
    good_a = np.eye(5)[labels] * 0.6 + rng.dirichlet(np.ones(5), 400) * 0.4
    noise_b = rng.dirichlet(np.ones(5), 400)
    w, acc = choose_weight(good_a, noise_b, labels)
    assert w >= 0.5 and acc == pytest.approx((good_a.argmax(1) == labels).mean())
    # a helpful second opinion where the first is confidently wrong: the weight moves to the second
    wrong = np.eye(5)[(labels + 1) % 5] * 0.4 + 0.12
    w2, acc2 = choose_weight(wrong, good_a, labels)
    assert w2 < 0.6 and acc2 == pytest.approx((good_a.argmax(1) == labels).mean())

    a, b = Fixed("A", [[0.6, 0.4, 0, 0, 0], [0.1, 0.9, 0, 0, 0]]), Fixed("B", [[0, 1, 0, 0, 0], [0, 1, 0, 0, 0]])
    combo = ProbabilityAverage([a, b], weights=[3, 1])
    assert isinstance(combo, Scorer) and isinstance(a, Scorer)
    p = combo.score(None)
    np.testing.assert_allclose(p.probs[0], [0.45, 0.55, 0, 0, 0], atol=1e-6)
    assert p.stages.tolist() == [1, 1] and p.model_version == combo.version
    assert combo.version == "avg(A:A-1*0.75,B:B-1*0.25)"
    # an epoch the primary model leaves unscored (artefact) stays unscored
    first = _pred([[0.2] * 5, [0.1, 0.9, 0, 0, 0]])
    first.stages[0] = -1
    assert combo.combine([first, b.score(None)]).stages.tolist() == [-1, 1]
    with pytest.raises(ValueError):
        ProbabilityAverage([a])


def test_stager_scorer_is_predict(tiny_model):
    from sleepscope.io import open_recording
    from sleepscope.model.infer import predict

    s = StagerScorer.load(tiny_model)
    rec = open_recording(REAL)
    p = s.score(rec)
    np.testing.assert_array_equal(p.probs, predict(rec, s.model).probs)
    assert p.model_version == s.version and isinstance(s, Scorer)


@needs_yasa
def test_yasa_scorer_maps_its_classes_onto_ours():
    import mne
    import yasa

    from sleepscope.io import open_recording

    rec = open_recording(REAL, extra=("EMG submental",))
    p = YasaScorer().score(rec)
    assert p.probs.shape == (rec.n_epochs, 5) and np.allclose(p.probs.sum(1), 1, atol=1e-5)
    assert p.model_version.startswith(f"yasa-{yasa.__version__}")
    assert "emg" not in p.model_version  # Sleep-EDF's 1-Hz EMG envelope is not given to YASA
    # the same night through YASA directly: class by class, in our order W, N1, N2, N3, REM
    raw = mne.io.read_raw_edf(REAL, include=["EEG Fpz-Cz", "EOG horizontal"], preload=True, verbose=False)
    hyp = yasa.SleepStaging(raw, eeg_name="EEG Fpz-Cz", eog_name="EOG horizontal").predict()
    theirs = hyp.proba[["WAKE", "N1", "N2", "N3", "REM"]].to_numpy()
    np.testing.assert_allclose(p.probs, theirs, atol=0.02)  # MNE's reading vs ours, both at 100 Hz
    names = {"WAKE": 0, "N1": 1, "N2": 2, "N3": 3, "REM": 4}
    assert p.stages.tolist() == [names[s] for s in hyp.hypno]


@needs_yasa
def test_prescore_second_opinion_columns(tiny_model, tmp_path):
    from sleepscope.cli import main

    out = tmp_path / "p.csv"
    assert main(["prescore", str(REAL), "--model", str(tiny_model), "--out", str(out), "--second-opinion",
                 "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 10
    assert list(rows[0])[-7:] == ["yasa_stage", "yasa_p_W", "yasa_p_N1", "yasa_p_N2", "yasa_p_N3", "yasa_p_REM",
                                  "disagree"]
    for r in rows:
        yp = [float(r[f"yasa_p_{s}"]) for s in ("W", "N1", "N2", "N3", "REM")]
        assert abs(sum(yp) - 1) < 1e-4 and r["yasa_stage"] == ["W", "N1", "N2", "N3", "REM"][int(np.argmax(yp))]
        assert r["disagree"] == str(int(r["stage"] != r["yasa_stage"]))
    jout = tmp_path / "p.json"
    assert main(["prescore", str(REAL), "--model", str(tiny_model), "--out", str(jout), "--json",
                 "--second-opinion", "--quiet"]) == 0
    data = json.loads(jout.read_text())
    assert data["second_opinion"].startswith("yasa-") and "yasa_p_REM" in data["epochs"][0]


def test_app_works_without_yasa(tiny_model, tmp_path):
    """yasa hidden from a fresh interpreter: pre-scoring works, the second opinion says how to get it."""
    code = f"""
import sys
sys.modules["yasa"] = None  # as if not installed
from sleepscope.cli import main
import sleepscope.scorers as s
assert not s.yasa_available()
rc = main(["prescore", {str(REAL)!r}, "--model", {str(tiny_model)!r}, "--out", {str(tmp_path / 'a.csv')!r},
           "--quiet"])
assert rc == 0, rc
rc = main(["prescore", {str(REAL)!r}, "--model", {str(tiny_model)!r}, "--out", {str(tmp_path / 'b.csv')!r},
           "--second-opinion", "--quiet"])
print("RC", rc)
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    assert "RC 2" in r.stdout and "pip install yasa" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "a.csv").exists() and not (tmp_path / "b.csv").exists()


@needs_yasa
def test_the_second_opinion_reads_the_central_eeg_yasa_learned_on_beside_the_models_frontal_one(tmp_path):
    """An AASM montage (F4-M1, C4-M1, E1-M2): the model reads F4-M1, YASA the central C4-M1 read beside it
    (yasa_extra), as it does when C4-M1 is the only EEG; the control reads YASA on F4-M1 and differs."""
    from sleepscope.io import open_recording
    from sleepscope.io.export import write_edf
    from sleepscope.scorers.yasa_scorer import yasa_extra

    real = open_recording(REAL)
    signals = {"F4-M1": (real.eog[::-1].copy(), 100.0), "C4-M1": (real.eeg, 100.0), "E1-M2": (real.eog, 100.0)}
    aasm = write_edf(tmp_path / "aasm.edf", signals, real.start_time)
    central_only = write_edf(tmp_path / "central.edf", {k: signals[k] for k in ("C4-M1", "E1-M2")}, real.start_time)
    assert yasa_extra(aasm) == ("C4-M1",)
    rec = open_recording(aasm, extra=yasa_extra(aasm))
    assert (rec.eeg_name, rec.eog_name) == ("F4-M1", "E1-M2") and "C4-M1" in rec.channels
    ours = YasaScorer().score(rec).probs
    alone = YasaScorer().score(open_recording(central_only)).probs
    np.testing.assert_allclose(ours, alone, atol=1e-6)
    frontal = YasaScorer().score(open_recording(aasm)).probs  # without the extra: YASA gets the model's F4-M1
    assert np.abs(frontal - ours).max() > 0.05
