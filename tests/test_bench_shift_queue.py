"""bench_shift's review-queue figures with YASA installed (unsure epochs plus those the two opinions disagree on),
and its perturbation rows for a drifting or noisy night."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_shift_queue", ROOT / "benchmarks" / "bench_shift.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_shift_queue"] = mod
    spec.loader.exec_module(mod)
    return mod


def _part(stages, labels, unsure, second=None):
    n = len(stages)
    probs = np.full((n, 5), 0.1)
    probs[np.arange(n), stages] = 0.6
    return {"probs": probs, "stages": np.asarray(stages), "labels": np.asarray(labels),
            "unsure": np.asarray(unsure, bool), "artefact": np.zeros(n, bool), "unfamiliar": None, "second": second}


def test_the_queue_adds_the_disagreements_and_counts_the_errors_they_catch(bench):
    # 6 epochs, 3 wrong (1, 2, 4); the model is unsure of epoch 1 only; YASA disagrees on 2 and 5
    night = _part([0, 4, 4, 2, 3, 0], [0, 0, 0, 2, 2, 0], [0, 1, 0, 0, 0, 0], second=np.array([0, 4, 0, 2, 3, 1]))
    m = bench.row_metrics([night])
    assert m["flagged"] == pytest.approx(1 / 6) and m["caught"] == pytest.approx(1 / 3)
    assert m["queue_flagged"] == pytest.approx(3 / 6) and m["queue_caught"] == pytest.approx(2 / 3)
    # a night YASA could not stage keeps its unsure epochs alone, as in the app
    unstaged = _part([4, 4], [0, 0], [1, 0])
    m2 = bench.row_metrics([night, unstaged])
    assert m2["queue_flagged"] == pytest.approx(4 / 8) and m2["queue_caught"] == pytest.approx(3 / 5)
    # control: without YASA in the run there is no queue figure
    assert "queue_flagged" not in bench.row_metrics([unstaged])


def test_a_slow_sway_and_ecg_beats_on_both_channels_and_fast_noise_on_the_eeg_alone(bench):
    from sleepscope.io import Recording

    rng = np.random.default_rng(1)
    rec = Recording.from_arrays(*(20.0 * rng.standard_normal((2, 40 * 3000))).astype(np.float32))
    y = np.zeros(40, np.int64)
    eeg, eog = rec.eeg_name, rec.eog_name
    t = np.arange(40 * 3000) / rec.fs
    swayed = bench.perturb(rec, y, "slow sway")
    for k in (eeg, eog):
        np.testing.assert_allclose(swayed.channels[k] - rec.channels[k], 50.0 * np.sin(2 * np.pi * 0.05 * t), atol=1e-3)
    noisy = bench.perturb(rec, y, "fast noise")
    added = noisy.channels[eeg] - rec.channels[eeg]
    assert np.array_equal(noisy.channels[eog], rec.channels[eog])
    assert abs(added.std() - 6.0) < 0.01
    p = np.abs(np.fft.rfft(added)) ** 2
    f = np.fft.rfftfreq(len(added), 1.0 / rec.fs)
    assert p[(f >= 18) & (f <= 47)].sum() > 0.97 * p.sum()
    beats = bench.perturb(rec, y, "ECG beats")
    for k in (eeg, eog):
        added = beats.channels[k] - rec.channels[k]
        assert abs(added.max() - 60.0) < 0.5 and added.min() > -1e-3
        starts = np.flatnonzero(np.diff((added > 30.0).astype(np.int8)) == 1)
        assert len(starts) == 1320 and np.allclose(np.diff(starts) / rec.fs, 1 / 1.1, atol=0.011)  # 66 beats a minute
    # the same beats, and the ECG lead they come from, whose R peaks fall on them
    from sleepscope.model.heartbeats import beats as r_peaks

    led = bench.perturb(rec, y, "ECG beats and lead")
    for k in (eeg, eog):
        np.testing.assert_array_equal(led.channels[k], beats.channels[k])
    assert led.channel_choice.ecg == "ECG" and getattr(beats.channel_choice, "ecg", None) is None
    found = r_peaks(led.channels["ECG"], rec.fs)
    assert len(found) == 1320
    peaks = np.round(found).astype(int)
    assert np.all(beats.channels[eeg][peaks] - rec.channels[eeg][peaks] > 55)
    # the recording itself is left as it was
    assert np.array_equal(rec.channels[eeg], Recording.from_arrays(*(20.0 * np.random.default_rng(1).standard_normal(
        (2, 40 * 3000))).astype(np.float32)).channels[eeg])


def test_the_highpass_row_filters_and_halves_every_scalp_channel_and_leaves_the_chin_emg(bench):
    """'high-pass 0.5 Hz, x0.5' (bench_acquisition's change of that name): a 0.05-Hz wave on the EEG and EOG is
    taken away, a 10-Hz tone kept at half its size; the chin EMG envelope is not touched."""
    from sleepscope.io import Recording

    n = 40 * 3000
    t = np.arange(n) / 100.0
    slow, tone = 100.0 * np.sin(2 * np.pi * 0.05 * t), 20.0 * np.sin(2 * np.pi * 10 * t)
    rec = Recording.from_arrays((slow + tone).astype(np.float32), (slow - tone).astype(np.float32))
    rec.channels[bench.EMG] = np.full(n, 3.0, np.float32)
    out = bench.perturb(rec, np.zeros(40, np.int64), "high-pass 0.5 Hz, x0.5")
    late = slice(n // 2, None)  # past the causal filter's start
    for k, sign in ((rec.eeg_name, 1), (rec.eog_name, -1)):
        np.testing.assert_allclose(out.channels[k][late], sign * 0.5 * tone[late], atol=1.5)
        assert abs(np.corrcoef(out.channels[k][late], tone[late])[0, 1]) > 0.99
    np.testing.assert_array_equal(out.channels[bench.EMG], rec.channels[bench.EMG])


def test_rows_make_their_perturbed_nights_when_read_not_ahead(bench, monkeypatch):
    """build_rows holds the base nights only: a perturbed night is made as its row is read (every row's copies
    made ahead did not fit two runs in memory), the same each time, and a randomised lab's one-channel night
    stays in its EEG-only row as recorded and out of its EOG-only row."""
    from sleepscope.io import Recording

    rng = np.random.default_rng(2)

    def night(name, family, randomise, seed, cache):
        chans = (20.0 * rng.standard_normal((2, 40 * 3000))).astype(np.float32)
        rec = Recording.from_arrays(*chans)
        if randomise and name == "N2":  # a lab that records no EOG
            rec = Recording(path=None, start_time=rec.start_time, fs=rec.fs, channels={"EEG": chans[0]},
                            eeg_name="EEG", eog_name=None, source_rates={"EEG": rec.fs})
        return rec, np.zeros(40, np.int64)

    made = []
    real_perturb = bench.perturb
    monkeypatch.setattr(bench, "cached_recording", night)
    monkeypatch.setattr(bench, "perturb", lambda r, y, how: made.append(how) or real_perturb(r, y, how))
    rows = dict(bench.build_rows(["N1", "N2"], families=("A", "B"), log=lambda *a: None))
    assert made == []
    first = [r.channels[r.eeg_name].copy() for r, _ in rows["A fast noise"]]
    again = [r.channels[r.eeg_name] for r, _ in rows["A fast noise"]]
    assert made == ["fast noise"] * 4
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    one_channel = [r for r, _ in rows["B random EEG only"] if r.eog_name is None]
    assert len(one_channel) == 2 and sum(1 for _ in rows["B random EOG only"]) == 1


def test_the_generation_seed_reaches_every_night(bench, monkeypatch):
    """`--seed` draws the nights afresh: every night of every row is asked for with it (the card's are seed 0)."""
    from dataclasses import replace

    from sleepscope.io import Recording
    from sleepscope.io.channels import ChannelChoice

    asked = []

    def night(name, family, randomise, seed, cache):
        asked.append(seed)
        rec = Recording.from_arrays(*np.ones((2, 40 * 3000), np.float32))
        return replace(rec, channel_choice=ChannelChoice(rec.eeg_name, rec.eog_name, "", "")), np.zeros(40, np.int64)

    monkeypatch.setattr(bench, "cached_recording", night)
    monkeypatch.setattr(bench, "real_rows", lambda: [])
    bench.run([], ["N1"], use_yasa=False, log=lambda *a: None, families=("A",), seed=3)
    assert asked and set(asked) == {3}
    asked.clear()
    bench.run([], ["N1"], use_yasa=False, log=lambda *a: None, families=("A",))
    assert set(asked) == {0}


def test_the_comparison_sets_each_model_against_the_first_as_a_protocol_reads_it(bench):
    """Held-out mean over the plain and randomised rows of every family after A; unfamiliar nights summed over A and
    A random; the first model against itself (the control) moves nothing."""
    def figures(acc, unfamiliar="0/8"):
        return {"accuracy": acc, "unfamiliar": unfamiliar}

    results = {
        "A": {"old": figures(0.90), "new": figures(0.91, "1/8"), "YASA": figures(0.8)},
        "A random": {"old": figures(0.80, "2/8"), "new": figures(0.78, "0/8"), "YASA": figures(0.7)},
        "A fast noise": {"old": figures(0.50), "new": figures(0.90), "YASA": figures(0.7)},
        "B": {"old": figures(0.80), "new": figures(0.84)},
        "B random": {"old": figures(0.70), "new": figures(0.70)},
        "D": {"old": figures(0.90), "new": figures(0.90)},
        "D random": {"old": figures(0.60), "new": figures(0.64)},
    }
    (line,) = bench.comparison(results, ("A", "B", "D"))
    assert line.startswith("new against old: A 0.900 -> 0.910 (+0.010); A random 0.800 -> 0.780 (-0.020)")
    assert "A fast noise 0.500 -> 0.900 (+0.400)" in line
    assert "held-out mean (B, B random, D, D random) 0.750 -> 0.770 (+0.020)" in line
    assert line.endswith("unfamiliar among A and A random 2/16 -> 1/16")
    same = {row: {"old": m["old"], "again": m["old"]} for row, m in results.items()}
    (control,) = bench.comparison(same, ("A", "B", "D"))
    assert "(+0.020)" not in control and control.count("(+0.000)") == 4


def test_a_row_is_made_once_for_every_scorer(bench, monkeypatch):
    """With two models in the run, each perturbed night is made once, not once per scorer."""
    from dataclasses import replace

    from sleepscope.io import Recording
    from sleepscope.io.channels import ChannelChoice
    from sleepscope.model import checkpoint

    def night(name, family, randomise, seed, cache):
        rec = Recording.from_arrays(*np.ones((2, 40 * 3000), np.float32))
        return replace(rec, channel_choice=ChannelChoice(rec.eeg_name, rec.eog_name, "", "")), np.zeros(40, np.int64)

    made = []
    real_perturb = bench.perturb
    monkeypatch.setattr(bench, "cached_recording", night)
    monkeypatch.setattr(bench, "real_rows", lambda: [])
    monkeypatch.setattr(bench, "perturb", lambda r, y, how: made.append(how) or real_perturb(r, y, how))
    monkeypatch.setattr(checkpoint, "load_model", lambda p: (str(p), None))
    scored = []
    monkeypatch.setattr(bench, "score_model", lambda m, r, y: scored.append(m) or {})
    monkeypatch.setattr(bench, "row_metrics", lambda parts: {})
    monkeypatch.setattr(bench, "format_row", lambda name, res: name)
    bench.run([Path("one"), Path("two")], ["N1", "N2"], use_yasa=False, log=lambda *a: None, families=("A",))
    assert made.count("fast noise") == 2 and scored.count("two") == scored.count("one") > 0


def test_several_seeds_give_each_row_per_seed_and_its_mean(bench):
    """Over seeds: each figure's mean, accuracy and macro-F1 per seed with their SD, night counts summed, a scorer
    that cannot stage a row in one seed cannot in the mean, and the real recordings (no seed draws them) as read."""
    def fig(acc, unfamiliar="0/8"):
        return {"n_epochs": 100, "accuracy": acc, "macro_f1": acc - 0.1, "f1": {"W": acc}, "unfamiliar": unfamiliar,
                "chin_emg": "-"}

    per_seed = {
        0: {"A": {"m": fig(0.90, "1/8"), "YASA": fig(0.8)}, "real wake": {"m": fig(1.0, "0/1")}},
        1: {"A": {"m": fig(0.80, "2/8"), "YASA": None}, "real wake": {"m": fig(1.0, "0/1")}},
        2: {"A": {"m": fig(0.70, "0/8"), "YASA": fig(0.8)}, "real wake": {"m": fig(1.0, "0/1")}},
    }
    mean = bench.over_seeds(per_seed)
    a = mean["A"]["m"]
    assert a["accuracy"] == pytest.approx(0.80) and a["f1"]["W"] == pytest.approx(0.80)
    assert a["accuracy_sd"] == pytest.approx(0.10) and a["macro_f1_sd"] == pytest.approx(0.10)
    assert a["accuracy_by_seed"] == pytest.approx({"0": 0.90, "1": 0.80, "2": 0.70})
    assert a["unfamiliar"] == "3/24" and a["chin_emg"] == "-" and a["n_epochs"] == 300
    assert mean["A"]["YASA"] is None
    assert mean["real wake"] is per_seed[0]["real wake"]
    line = bench.format_spread("A", mean["A"])
    assert "0.800 ± 0.100 (0.900 0.800 0.700)" in line and "YASA" not in line


def test_the_seed_list_runs_every_seed_and_writes_both(bench, monkeypatch, tmp_path, capsys):
    """`--seed 0,2`: a run per seed, the JSON holds each seed's rows and their mean; one seed keeps the old shape."""
    seen = []

    def run(models, nights, use_yasa=True, log=print, cache=None, families=("A", "B"), seed=0):
        seen.append(seed)
        m = {"n_epochs": 10, "accuracy": 0.5 + seed / 10, "macro_f1": 0.5, "kappa": 0.4, "unfamiliar": "0/1",
             "f1": dict.fromkeys(("W", "N1", "N2", "N3", "REM"), 0.5), "ece": 0.1, "flagged": 0.1, "caught": 0.2,
             "artefact": 0.0, "chin_emg": "-", "share_w": 0.2, "share_rem": 0.2}
        return {"A": {"model": m}}

    monkeypatch.setattr(bench, "run", run)
    out = tmp_path / "shift.json"
    assert bench.main(["--model", "m.safetensors", "--families", "A", "--no-yasa", "--seed", "0,2",
                       "--json", str(out)]) == 0
    assert seen == [0, 2]
    got = json.loads(out.read_text())
    assert got["seeds"] == [0, 2] and set(got["per_seed"]) == {"0", "2"}
    assert got["results"]["A"]["model"]["accuracy"] == pytest.approx(0.6)
    assert "0.600 ± 0.141 (0.500 0.700)" in capsys.readouterr().out
    assert bench.main(["--model", "m.safetensors", "--families", "A", "--no-yasa", "--seed", "2",
                       "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["seed"] == 2 and got["results"]["A"]["model"]["accuracy"] == pytest.approx(0.7)
    with pytest.raises(SystemExit):
        bench.main(["--seed", "0,x"])
