"""The chin EMG in pre-scoring (`sleepscope.model.chin_emg`): found by label, its tone read from an envelope or a
raw EMG alike, weighed in only on a night that shows atonia, and said when it is not."""

from datetime import datetime

import numpy as np
import pytest
import torch

from sleepscope.errors import SleepScopeError
from sleepscope.io import Recording
from sleepscope.io.channels import choose_channels, find_emg
from sleepscope.io.recording import resample_to_target
from sleepscope.model import chin_emg as ce
from sleepscope.model.config import TINY
from sleepscope.model.infer import predict
from sleepscope.model.network import SleepStager

#: a night of 80 epochs: wake, N2, REM (atonia), N2, N3, REM
STAGES = np.array([0] * 8 + [2] * 24 + [4] * 12 + [2] * 16 + [3] * 8 + [4] * 12)
TONE_UV = {0: 4.0, 1: 3.0, 2: 2.0, 3: 1.8, 4: 0.4}
COEFFICIENTS = [2.0, 1.8, -0.2, -0.6, -3.0]


def per_second_tone(stages, rbd=False, seed=0):
    rng = np.random.default_rng(seed)
    tone = np.array([TONE_UV[2 if rbd and s == 4 else s] for s in stages], float) * rng.lognormal(0, 0.2, len(stages))
    return np.repeat(tone, 30) * rng.lognormal(0, 0.15, 30 * len(stages))


def envelope_channel(stages, **kw):
    """Sleep-EDF's way: the 1-Hz envelope, read at 100 Hz as the recording reads every channel."""
    return resample_to_target(per_second_tone(stages, **kw).astype(np.float32), 1.0)


def raw_channel(stages, fs=256.0, **kw):
    """A raw chin EMG at `fs`: muscle noise (from 20 Hz up) whose amplitude follows the tone, read at 100 Hz."""
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(1)
    amp = np.repeat(per_second_tone(stages, **kw), int(fs))
    noise = sosfiltfilt(butter(4, [min(20, fs / 4), min(100, 0.45 * fs)], btype="bandpass", fs=fs, output="sos"),
                        rng.normal(0, 1, len(amp)))
    return resample_to_target((10 * amp * noise / noise.std()).astype(np.float32), fs)


def test_the_chin_emg_is_found_by_label_and_other_muscles_are_not_it():
    assert find_emg(["EEG Fpz-Cz", "EOG horizontal", "EMG submental"]) == "EMG submental"
    assert find_emg(["Leg EMG", "EMG Chin"]) == "EMG Chin"
    assert find_emg(["LAT", "RAT", "EMG1-EMG2"]) == "EMG1-EMG2"
    assert find_emg(["Chin1-Chin2", "EMG"]) == "Chin1-Chin2"
    assert find_emg(["EMG Leg L", "ECG", "EMG tib R"]) is None
    assert find_emg(["C4-M1", "E1-M2"]) is None
    choice = choose_channels(["EEG F4-M1", "EOG E1-M2", "Leg EMG", "EMG Chin"])
    assert choice.emg == "EMG Chin"
    assert choice.lines()[-1] == "chin EMG: 'EMG Chin' (muscle tone: REM's atonia, wake)"


def test_an_envelope_and_a_raw_emg_give_the_same_relative_tone():
    n = len(STAGES)
    env, usable = ce.epoch_tone(envelope_channel(STAGES), 100.0, 1.0, n)
    raw, usable_raw = ce.epoch_tone(raw_channel(STAGES), 100.0, 256.0, n)
    assert usable.all() and usable_raw.all()
    a, b = ce.relative_tone(env, usable, 4.0), ce.relative_tone(raw, usable_raw, 4.0)
    assert np.corrcoef(a, b)[0, 1] > 0.95
    assert a[STAGES == 4].max() < a[STAGES == 2].min()  # atonia: REM the lowest tone of the night


def test_an_emg_that_cannot_show_tone_gives_no_evidence():
    n = len(STAGES)
    assert "too slow" in ce.epoch_tone(raw_channel(STAGES, fs=30.0), 100.0, 30.0, n)
    flat = np.zeros(n * 3000, np.float32)
    log_tone, usable = ce.epoch_tone(flat, 100.0, 256.0, n)
    assert not usable.any()
    assert "shows tone in only 0 of 80 epochs" in ce.relative_tone(log_tone, usable, 2.0)
    raw = raw_channel(STAGES)
    raw[: 40 * 3000] = np.nan  # half the night missing
    assert ce.epoch_tone(raw, 100.0, 256.0, n)[1].sum() == n - 40


def test_a_night_without_atonia_does_not_get_the_emg():
    coefficients = ce.Coefficients(np.array(COEFFICIENTS), 2.0)
    read = ce.read_tone(envelope_channel(STAGES), 100.0, 1.0, "EMG", STAGES, coefficients)
    assert read.used and not read.reason
    # the same night, its REM with the tone of N2 (REM sleep behaviour disorder)
    rbd = ce.read_tone(envelope_channel(STAGES, rbd=True), 100.0, 1.0, "EMG", STAGES, coefficients)
    assert not rbd.used and "shows no atonia" in rbd.reason and rbd.worth_saying
    # the check does not need the model to read REM where the atonia is: that is where the tone helps most
    misread = np.where(STAGES == 4, 2, STAGES)
    assert ce.read_tone(envelope_channel(STAGES), 100.0, 1.0, "EMG", misread, coefficients).used
    # a wake-only clip: too little NREM to look for atonia, and nothing to tell the technician
    short = ce.read_tone(envelope_channel(STAGES[:10]), 100.0, 1.0, "EMG", STAGES[:10], coefficients)
    assert not short.used and not short.worth_saying


def test_the_tone_moves_the_stages_by_at_most_the_bound():
    coefficients = ce.Coefficients(np.array(COEFFICIENTS), 2.0)
    assert coefficients.bound == pytest.approx(2.0 * 5.0)
    p = np.full((3, 5), 0.2, np.float32)
    q = ce.with_tone(p, np.array([-2.0, 0.0, 2.0]), coefficients.weights)
    assert q[0].argmax() == 4 and q[2].argmax() == 0
    np.testing.assert_allclose(q[1], p[1], atol=1e-6)  # no evidence, no change
    spread = np.log(q).max(axis=1) - np.log(q).min(axis=1)
    assert spread.max() <= coefficients.bound + 1e-4


@pytest.fixture(scope="module")
def n2_model():
    """A tiny model that reads every epoch N2 (0.36) over REM (0.22), whatever its input."""
    torch.manual_seed(0)
    model = SleepStager(TINY).eval()
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 0.0, 1.0, 0.0, 0.5]))
    return model


def night(emg=None, name="EMG submental", rate=1.0):
    rng = np.random.default_rng(0)
    n = len(STAGES) * 3000
    chans = {"EEG Fpz-Cz": rng.normal(0, 20, n).astype(np.float32),
             "EOG horizontal": rng.normal(0, 20, n).astype(np.float32)}
    if emg is not None:
        chans[name] = emg
    choice = choose_channels(list(chans))
    return Recording(path=None, start_time=datetime(2024, 1, 1, 23), fs=100.0, channels=chans, eeg_name=choice.eeg,
                     eog_name=choice.eog, source_rates={k: rate if k == name else 100.0 for k in chans},
                     channel_choice=choice)


def with_coefficients(model):
    import copy

    out = copy.copy(model)
    out.calibration = {"chin_emg": {"coefficients": COEFFICIENTS, "clip": 2.0}}
    return out


def test_prescoring_reads_atonia_as_rem_and_says_when_it_cannot(n2_model):
    model = with_coefficients(n2_model)
    plain = predict(night(), model)
    assert plain.chin is None and (plain.stages == 2).all()  # no chin EMG: the model alone
    without = predict(night(envelope_channel(STAGES)), n2_model)
    assert without.chin is None and (without.stages == 2).all()  # a card without coefficients: the model alone
    pred = predict(night(envelope_channel(STAGES)), model)
    assert pred.chin.used and pred.to_dict()["chin_emg"]["used"]
    assert (pred.stages[STAGES == 4] == 4).all() and (pred.stages[STAGES == 0] == 0).all()
    assert not any("chin EMG" in n for n in pred.notes())
    # where the tone changed the stage, the epoch says so (kept with the prediction, in its header and exports)
    from sleepscope.model.epoch_reading import CHIN_EMG, epoch_reading, read_from, reading_summary, reading_words

    moved = pred.stages != 2  # the model alone read every epoch N2
    assert moved[np.isin(STAGES, (0, 4))].all()
    np.testing.assert_array_equal(pred.chin.decided, moved)
    bits = epoch_reading(pred)
    assert (bits == np.where(moved, CHIN_EMG, 0)).all()
    assert reading_words(int(bits[STAGES == 4][0])) == "the chin EMG's tone decided the stage"
    assert read_from(int(bits[STAGES == 4][0])) == "chin EMG" and read_from(int(bits[STAGES == 2][0])) == ""
    n = int(moved.sum())
    assert reading_summary(bits) is None  # the EMG doing its work: not news for the reopened night's banner
    assert pred.chin.message().endswith(f"in {len(STAGES)} epochs; it decided the stage of {n})")
    # a raw EMG, found by another label, reads the same
    raw = predict(night(raw_channel(STAGES), name="Chin1-Chin2", rate=256.0), model)
    assert raw.chin.channel == "Chin1-Chin2" and (raw.stages[STAGES == 4] == 4).all()
    # REM without atonia: the model's own stages, and a note saying why
    rbd = predict(night(envelope_channel(STAGES, rbd=True)), model)
    assert not rbd.chin.used and (rbd.stages == 2).all()
    assert any("was not used: the night shows no atonia" in n for n in rbd.notes())


def test_a_damaged_chin_emg_entry_is_refused():
    from pathlib import Path

    from sleepscope.model.card_tables import check_card_tables

    check_card_tables({"chin_emg": {"coefficients": COEFFICIENTS, "clip": 2.0}}, {}, Path("card.json"))
    for bad in ({"coefficients": COEFFICIENTS[:4], "clip": 2.0}, {"coefficients": COEFFICIENTS, "clip": -1},
                {"coefficients": ["a"] * 5, "clip": 2.0}):
        with pytest.raises(SleepScopeError, match="chin_emg"):
            check_card_tables({"chin_emg": bad}, {}, Path("card.json"))


def test_coefficients_fitted_on_atonia_push_low_tone_to_rem():
    rng = np.random.default_rng(0)
    p = np.full((len(STAGES), 5), 0.2)
    tone = ce.relative_tone(np.log(per_second_tone(STAGES).reshape(-1, 30).mean(1)), np.ones(len(STAGES), bool), 2.0)
    w = ce.fit_coefficients([(p + rng.uniform(0, 0.01, p.shape), STAGES, tone)])
    assert w[4] < 0 < w[0]  # low tone: REM; high tone: wake
    # the tone says nothing between N2 and N3, even where their tones differ (here N3's is lower)
    assert w[2] == w[3] == 0


def test_a_fine_tuned_child_keeps_its_parents_coefficients():
    from sleepscope.model.checkpoint import ModelCard
    from sleepscope.model.finetune import child_calibration

    card = ModelCard(config=TINY, calibration={"unsure_threshold": 0.6,
                                               "chin_emg": {"coefficients": COEFFICIENTS, "clip": 2.0}})
    empty = (np.zeros(0, np.int64), np.zeros((0, 5), np.float32))
    assert child_calibration(card, empty, empty)["chin_emg"]["coefficients"] == COEFFICIENTS


def write_night(path, emg, fs_emg=200):
    import edfio

    rng = np.random.default_rng(0)
    n = len(STAGES) * 30
    signals = [edfio.EdfSignal(rng.normal(0, 20, n * 100), sampling_frequency=100, label=label,
                               physical_range=(-500, 500), physical_dimension="uV")
               for label in ("EEG Fpz-Cz", "EOG horizontal")]
    signals.append(edfio.EdfSignal(emg.astype(np.float64), sampling_frequency=fs_emg, label="EMG Chin",
                                   physical_range=(-500, 500), physical_dimension="uV"))
    edfio.Edf(signals, starttime=datetime(2024, 1, 1, 23).time()).write(path)
    return path


def raw_at(stages, fs, **kw):
    """A raw EMG at `fs` as a file holds it (not yet read at 100 Hz)."""
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(1)
    amp = np.repeat(per_second_tone(stages, **kw), fs)
    noise = sosfiltfilt(butter(4, [20, 90], btype="bandpass", fs=fs, output="sos"), rng.normal(0, 1, len(amp)))
    return 10 * amp * noise / noise.std()


def test_prescore_reads_the_chin_emg_from_the_file_and_says_which_and_why_not(n2_model, tmp_path, capsys):
    import csv

    from sleepscope.cli import main
    from sleepscope.model.checkpoint import ModelCard, save_model

    save_model(n2_model, tmp_path / "m", ModelCard(config=n2_model.config,
                                                   calibration={"chin_emg": {"coefficients": COEFFICIENTS,
                                                                             "clip": 2.0}}))
    out = {}
    for name, rbd in (("atonia", False), ("rbd", True)):
        edf = write_night(tmp_path / f"{name}.edf", raw_at(STAGES, 200, rbd=rbd))
        assert main(["prescore", str(edf), "--model", str(tmp_path / "m.safetensors"), "--quiet"]) == 0
        with open(tmp_path / f"{name}.prescore.csv") as f:
            rows = list(csv.DictReader(f))
        out[name] = [r["stage"] for r in rows]
        out[name + " read"] = [r["read_from"] for r in rows]
        out[name + " says"] = capsys.readouterr().err
    assert "chin EMG: 'EMG Chin'" in out["atonia says"] and "weighed in" in out["atonia says"]
    assert [s for s, st in zip(out["atonia"], STAGES) if st == 4] == ["REM"] * 24
    assert [r for r, st in zip(out["atonia read"], STAGES) if st == 4] == ["chin EMG"] * 24  # the tone decided
    assert set(out["rbd"]) == {"N2"} and set(out["rbd read"]) == {""}
    assert "NOTE: the chin EMG 'EMG Chin' was not used: the night shows no atonia" in out["rbd says"]
    # a folder pre-scored into the recordings' scoring files keeps the note with each prediction
    from sleepscope.io import open_recording
    from sleepscope.scoring import ScoringFile

    assert main(["prescore", str(tmp_path), "--model", str(tmp_path / "m.safetensors"), "--quiet"]) == 0
    kept = {}
    for name in ("atonia", "rbd"):
        with ScoringFile.open(open_recording(tmp_path / f"{name}.edf"), readonly=True) as sf:
            kept[name] = sf.latest_prediction().chin_note
    assert kept["atonia"] is None and kept["rbd"].startswith("the chin EMG 'EMG Chin' was not used: the night shows")


def test_the_ecg_a_chin_lead_picks_up_does_not_hide_the_atonia():
    """A raw EMG with a 60-µV ECG (QRS and T at 60 beats a minute, 10-Hz high-passed as EMG channels are) on
    top: its REM still reads under half of N2's tone. Control: each second's RMS, which every beat lifts, reads
    REM above half of N2."""
    from scipy.signal import butter, sosfiltfilt

    from sleepscope.data.synth.acquisition import _ecg

    fs, n = 256, len(STAGES)
    raw = raw_at(STAGES, fs)
    ecg = sosfiltfilt(butter(2, 10, btype="high", fs=fs, output="sos"), _ecg(np.random.default_rng(0), len(raw), fs,
                                                                           60.0).astype(np.float64))
    x = resample_to_target((raw + 60 * ecg / np.abs(ecg).max()).astype(np.float32), fs)
    log_tone, usable = ce.epoch_tone(x, 100.0, fs, n)
    ratio = np.exp(np.median(log_tone[STAGES == 4]) - np.median(log_tone[STAGES == 2]))
    band = sosfiltfilt(butter(4, [10, 45], btype="bandpass", fs=100, output="sos"), x.astype(np.float64))
    per_second = np.median(np.sqrt((band ** 2).reshape(n, 30, 100).mean(axis=2)), axis=1)
    assert ratio < ce.ATONIA_RATIO < np.median(per_second[STAGES == 4]) / np.median(per_second[STAGES == 2])
    assert ce.atonia_share(STAGES, log_tone, usable) >= ce.ATONIA_SHARE


def test_the_real_sleep_edf_wake_minutes_read_their_emg_and_say_nothing_of_it():
    """REAL data: Sleep-EDF SC4001E0's first 5 minutes (wake; its 1-Hz `EMG submental` read from the file), by
    the shipped model: all W, the EMG read but left out quietly (no sleep to look for atonia in)."""
    from pathlib import Path

    from sleepscope.io import open_recording
    from sleepscope.model.checkpoint import load_model

    root = Path(__file__).resolve().parents[1]
    model, _ = load_model(root / "models" / "sleepscope-default.safetensors")
    rec = open_recording(root / "tests" / "data" / "SC4001E0-PSG-first300s.edf")
    assert "EMG submental" not in rec.channels and rec.channel_choice.emg == "EMG submental"
    pred = predict(rec, model)
    assert (pred.stages == 0).all() and pred.chin.usable.all() and not pred.chin.used
    assert not any("chin EMG" in n for n in pred.notes())


def test_a_snorers_breaths_do_not_lift_the_tone_of_the_envelope():
    """Snoring lifts the chin's 1-Hz envelope fourfold in the first 1.5 s of every 4-s breath, through all N2: the
    epochs' tone stays that of the quiet night. Control: the median of the seconds, which half of them lift, reads
    N2 half as high again."""
    seconds = per_second_tone(STAGES)
    snored = seconds.copy()
    in_n2 = np.repeat(STAGES == 2, 30)
    inspiration = np.tile([1.0, 0.5, 0.0, 0.0], len(seconds) // 4)  # each second's share of the 1.5-s inspiration
    snored[in_n2] *= 1.0 + 3.0 * inspiration[in_n2]
    n = len(STAGES)
    quiet, _ = ce.epoch_tone(resample_to_target(seconds.astype(np.float32), 1.0), 100.0, 1.0, n)
    loud, usable = ce.epoch_tone(resample_to_target(snored.astype(np.float32), 1.0), 100.0, 1.0, n)
    n2 = STAGES == 2
    assert np.median(loud[n2] - quiet[n2]) < np.log(1.15)
    median_of_seconds = np.log(np.median(snored.reshape(n, 30), axis=1) / np.median(seconds.reshape(n, 30), axis=1))
    assert np.median(median_of_seconds[n2]) > np.log(1.5)
    assert ce.atonia_share(STAGES, loud, usable) >= ce.ATONIA_SHARE


def test_a_snorers_breaths_do_not_lift_the_tone_of_a_raw_emg():
    """The same snorer on a raw chin EMG (256 Hz): each breath's 1.5 s of vibration lifts the EMG fourfold through
    all N2, and its epochs' tone stays that of the quiet night. Control: each epoch's RMS, lifted by half again."""
    fs, n = 256, len(STAGES)
    quiet = raw_at(STAGES, fs)
    in_n2 = np.repeat(STAGES == 2, 30 * fs)
    inspiration = (np.arange(len(quiet)) % (4 * fs)) < 1.5 * fs
    loud = quiet * np.where(in_n2 & inspiration, 4.0, 1.0)
    a, _ = ce.epoch_tone(resample_to_target(quiet.astype(np.float32), fs), 100.0, fs, n)
    b, usable = ce.epoch_tone(resample_to_target(loud.astype(np.float32), fs), 100.0, fs, n)
    n2 = STAGES == 2
    assert np.median(b[n2] - a[n2]) < np.log(1.15)
    def rms(x):
        return np.sqrt((x.reshape(n, -1) ** 2).mean(axis=1))

    assert np.median(np.log(rms(loud) / rms(quiet))[n2]) > np.log(1.5)
    assert ce.atonia_share(STAGES, b, usable) >= ce.ATONIA_SHARE


def test_a_referential_files_chin_emg_is_computed_from_its_electrodes():
    """A system that stores each electrode against its amplifier's reference stores the chin's too: the chin EMG
    is one under the mandible against the one above it (the AASM's Chin1-ChinZ), else the two under it against each
    other, never one electrode alone (it holds the EEG and ECG its reference picks up) while two can be paired."""
    from sleepscope.io.channels import chin_derivation, derived_channels

    assert find_emg(["F4", "M1", "E1", "Chin1", "Chin2", "ChinZ"]) == "Chin1-ChinZ"
    assert find_emg(["EEG F4-Ref", "EMG Chin1-Ref", "EMG Chin2-Ref"]) == "Chin1-Chin2"
    assert chin_derivation(["EMG Chin1-Ref", "EMG Chin2-Ref"]) == {"Chin1-Chin2": ("EMG Chin1-Ref", "EMG Chin2-Ref")}
    assert find_emg(["Chin1", "Chin1-Chin2", "Chin2"]) == "Chin1-Chin2"  # recorded bipolar: as recorded
    assert find_emg(["Chin1"]) == "Chin1" and find_emg(["Chin1-Ref", "Chin2-AVG"]) == "Chin1-Ref"  # no common ref
    assert "Chin1-ChinZ" in derived_channels(["Chin1", "ChinZ"]) and derived_channels(["Chin1"]) == {}
    choice = choose_channels(["EEG Fpz-Cz", "EOG horizontal", "Chin1", "Chin2", "ChinZ"])
    assert choice.emg == "Chin1-ChinZ"
    assert choice.lines()[-1] == "chin EMG: 'Chin1-ChinZ' (muscle tone: REM's atonia, wake; computed as Chin1 - ChinZ)"


def test_prescoring_reads_the_chin_emg_of_a_referential_file(n2_model, tmp_path, capsys):
    """Chin1 and ChinZ each hold a 100-µV EEG-like wave and an ECG from the reference beside the chin's muscle; their
    difference is the chin EMG, and pre-scoring reads its atonia as REM. Control: Chin1 alone does not show it."""
    import csv

    import edfio

    from sleepscope.cli import main
    from sleepscope.model.checkpoint import ModelCard, save_model

    save_model(n2_model, tmp_path / "m", ModelCard(config=n2_model.config,
                                                   calibration={"chin_emg": {"coefficients": COEFFICIENTS,
                                                                             "clip": 2.0}}))
    fs, n = 200, len(STAGES) * 30
    rng = np.random.default_rng(3)
    t = np.arange(n * fs) / fs
    reference = 100 * np.sin(2 * np.pi * 20 * t) * (1 + rng.lognormal(0, 0.5, n).repeat(fs))  # the reference's EEG
    muscle = raw_at(STAGES, fs)
    chin = {"Chin1": reference + muscle / 2, "ChinZ": reference - muscle / 2, "Chin2": reference + 0.1 * muscle}
    rng_eeg = np.random.default_rng(0)
    signals = [edfio.EdfSignal(rng_eeg.normal(0, 20, n * 100), sampling_frequency=100, label=label,
                               physical_range=(-500, 500), physical_dimension="uV")
               for label in ("EEG Fpz-Cz", "EOG horizontal")]
    for label, x in chin.items():
        signals.append(edfio.EdfSignal(x, sampling_frequency=fs, label=label, physical_range=(-2000, 2000),
                                       physical_dimension="uV"))
    edfio.Edf(signals, starttime=datetime(2024, 1, 1, 23).time()).write(tmp_path / "ref.edf")
    assert main(["prescore", str(tmp_path / "ref.edf"), "--model", str(tmp_path / "m.safetensors"), "--quiet"]) == 0
    with open(tmp_path / "ref.prescore.csv") as f:
        stages = [r["stage"] for r in csv.DictReader(f)]
    said = capsys.readouterr().err
    assert "chin EMG: 'Chin1-ChinZ'" in said and "computed as Chin1 - ChinZ" in said and "weighed in" in said
    assert [s for s, st in zip(stages, STAGES) if st == 4] == ["REM"] * 24
    alone, usable = ce.epoch_tone(resample_to_target(chin["Chin1"].astype(np.float32), fs), 100.0, fs, len(STAGES))
    assert ce.atonia_share(STAGES, alone, usable) < ce.ATONIA_SHARE


@pytest.mark.parametrize("source_hz", [256.0, 1.0])
def test_a_night_read_hour_by_hour_gives_the_tone_of_the_night_read_whole(monkeypatch, source_hz):
    """`epoch_tone` reads a night in blocks (a 48-h raw EMG is never copied whole in float64): the same tone, to the
    last bit, as one block, with a block edge inside a stretch of missing samples and a last block cut short."""
    rng = np.random.default_rng(0)
    n = 250
    x = (np.repeat(rng.lognormal(0, 0.5, n), 3000) * rng.standard_normal(n * 3000)).astype(np.float32)
    x[120 * 3000 - 500: 120 * 3000 + 1700] = np.nan
    if source_hz == 1.0:
        x = np.abs(np.nan_to_num(x, nan=np.nan))
    blocks = ce.epoch_tone(x, 100.0, source_hz, n)
    monkeypatch.setattr(ce, "BLOCK_EPOCHS", 10 ** 6)
    whole = ce.epoch_tone(x, 100.0, source_hz, n)
    np.testing.assert_array_equal(blocks[1], whole[1])
    np.testing.assert_allclose(blocks[0], whole[0], rtol=0, atol=1e-12)


def test_reading_the_tone_stops_when_cancelled():
    """The window drops the tone of a night no longer shown: a cancelled token stops the reading between blocks."""
    from sleepscope.tasks import CancelToken, Cancelled

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        ce.epoch_tone(raw_channel(STAGES), 100.0, 256.0, len(STAGES), cancel=token)
    assert ce.epoch_tone(raw_channel(STAGES), 100.0, 256.0, len(STAGES), cancel=CancelToken())[1].all()
