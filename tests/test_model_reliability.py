"""Knowing when it does not know: signal quality, missing channels, channel dropout, calibration, familiarity."""

from __future__ import annotations

import csv
from datetime import datetime

import numpy as np
import pytest
import torch

from sleepscope.cli import main
from sleepscope.errors import SleepScopeError
from sleepscope.io import Recording
from sleepscope.model.calibration import ece, fit_calibration, fit_temperature, softmax
from sleepscope.model.checkpoint import ModelCard, load_model, save_model
from sleepscope.model.config import TINY
from sleepscope.model.familiarity import assess, fit_familiarity
from sleepscope.model.fast_eval import FastStager
from sleepscope.model.infer import night_outputs
from sleepscope.model.infer import predict as _predict
from sleepscope.model.inputs import drop_channels, model_input
from sleepscope.model.network import SleepStager


def predict(*args, **kwargs):
    return _predict(*args, threads=1, **kwargs)


def signals(n_epochs, seed=0):
    """EEG and EOG in µV with a plausible size (tens of µV), varying over the night."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_epochs * 3000) / 100
    eeg = 25 * np.sin(2 * np.pi * 2 * t) * (1.2 + np.sin(t / 300)) + rng.normal(0, 8, t.size)
    eog = 40 * np.sign(np.sin(2 * np.pi * 0.3 * t)) * (t % 500 < 200) + rng.normal(0, 6, t.size)
    return eeg.astype(np.float32), eog.astype(np.float32)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return SleepStager(TINY).eval()


# ---------------------------------------------------------------- signal quality

def test_bad_epochs_get_no_confident_stage(tiny):
    eeg, eog = signals(12)
    ep = slice(2 * 3000, 3 * 3000)
    eeg[ep] = 0.0                                   # epoch 2: flat (electrode off)
    eeg[3 * 3000:4 * 3000] *= 1e6                   # epoch 3: absurd amplitude (µV read as V)
    e4 = eeg[4 * 3000:5 * 3000] * 20                # epoch 4: clipped at the amplifier's range
    eeg[4 * 3000:5 * 3000] = np.clip(e4, -150, 150)
    eeg[5 * 3000:6 * 3000] *= 1e-2                  # epoch 5: a gain error, 100x too small
    p = predict(Recording.from_arrays(eeg, eog), tiny)
    bad = [2, 3, 4, 5]
    assert list(np.flatnonzero(p.artefact)) == bad
    np.testing.assert_allclose(p.probs[bad], 0.2)
    assert (p.stages[bad] == -1).all() and p.unsure[bad].all()
    good = [i for i in range(12) if i not in bad]
    assert (p.stages[good] >= 0).all()
    reasons = {i: p.quality.reasons(i) for i in bad}
    assert "flat" in reasons[2][0] and "absurd" in reasons[3][0]
    assert "clipped" in reasons[4][0] and "small" in reasons[5][0]
    assert "4 artefact epochs" in " ".join(p.notes())


def test_a_flat_eog_all_night_is_read_as_missing(tiny):
    eeg, eog = signals(10)
    flat = Recording.from_arrays(eeg, np.zeros_like(eog))
    p = predict(flat, tiny)
    assert p.quality.absent == ("eog",) and not p.artefact.any()
    eeg_only = predict(Recording(path=None, start_time=datetime(2000, 1, 1), fs=100.0,
                                 channels={"EEG Fpz-Cz": eeg}, eeg_name="EEG Fpz-Cz", eog_name=None,
                                 source_rates={"EEG Fpz-Cz": 100.0}), tiny)
    np.testing.assert_array_equal(p.probs, eeg_only.probs)


# ---------------------------------------------------------------- missing channels and dropout

def test_channel_dropout_drops_one_whole_channel_per_sequence():
    x = torch.ones(400, 20, 2, 30)
    g = torch.Generator().manual_seed(0)
    assert drop_channels(x, 0.0, g) is x
    y = drop_channels(x, 1.0, g)
    per_seq = y.sum(dim=(1, 3))  # (B, 2): 600 where the channel is kept, 0 where dropped
    assert set(per_seq.unique().tolist()) == {0.0, 600.0}
    assert ((per_seq == 0).sum(dim=1) == 1).all()  # exactly one channel dropped, never both
    eeg_dropped, eog_dropped = int((per_seq[:, 0] == 0).sum()), int((per_seq[:, 1] == 0).sum())
    assert eeg_dropped > 150 and eog_dropped > 150  # both kinds of batch, about half each
    half = drop_channels(x, 0.5, g).sum(dim=(1, 3))
    assert 120 < int((half == 0).any(dim=1).sum()) < 280
    assert x.min() == 1  # the input is left alone


def test_eeg_only_recording_prescores_end_to_end(tmp_path, tiny, capsys):
    from sleepscope.io.export import write_edf

    eeg, _ = signals(6)
    rng = np.random.default_rng(1)
    path = write_edf(tmp_path / "eeg-only.edf", {"C3-A1": (eeg, 100), "EMG chin": (rng.normal(0, 5, eeg.size), 100)},
                     datetime(2022, 1, 1, 23, 0), physical_ranges={"C3-A1": (-500, 500), "EMG chin": (-100, 100)})
    save_model(tiny, tmp_path / "m")
    out = tmp_path / "p.csv"
    assert main(["prescore", str(path), "--model", str(tmp_path / "m.safetensors"), "--out", str(out),
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "EEG: 'C3-A1'" in err and "EOG: none" in err and "no EOG channel" in err
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6 and all(r["stage"] in ("W", "N1", "N2", "N3", "REM") for r in rows)


def test_neither_eeg_nor_eog_is_a_clear_error(tmp_path, tiny, capsys):
    from sleepscope.io.export import write_edf

    rng = np.random.default_rng(1)
    path = write_edf(tmp_path / "none.edf", {"EMG chin": (rng.normal(0, 5, 6000), 100),
                                             "ECG": (rng.normal(0, 50, 6000), 100)}, datetime(2022, 1, 1, 23, 0))
    save_model(tiny, tmp_path / "m")
    assert main(["prescore", str(path), "--model", str(tmp_path / "m.safetensors"), "--quiet"]) == 2
    assert "neither an EEG nor an EOG" in capsys.readouterr().err
    with pytest.raises(ValueError):
        Recording(path=None, start_time=datetime(2000, 1, 1), fs=100.0, channels={"x": np.zeros(3000)},
                  eeg_name=None, eog_name=None, source_rates={})


# ---------------------------------------------------------------- normalisation and the fast form

@pytest.mark.parametrize("eog_missing", [False, True])
def test_fast_form_equals_the_network_on_night_normalised_input(eog_missing):
    torch.manual_seed(3)
    cfg = TINY.with_(normalisation="night")
    model = SleepStager(cfg).eval()
    eeg, eog = signals(8, seed=2)
    rec = Recording.from_arrays(eeg, eog)
    x = torch.from_numpy(model_input(rec, "night", absent=("eog",) if eog_missing else ()))
    with torch.no_grad():
        ref = model.epoch_features(x)
        fast = FastStager(model).epoch_features(x)
    torch.testing.assert_close(fast, ref, atol=2e-5, rtol=1e-4)


def test_night_normalisation_keeps_relative_amplitude_and_ignores_gain():
    eeg, eog = signals(8)
    eeg[3000 * 4:3000 * 5] *= 4  # one epoch four times larger than the rest
    x = model_input(Recording.from_arrays(eeg, eog), "night")
    z = model_input(Recording.from_arrays(eeg, eog), "epoch")
    sd = x[:, 0].std(axis=1)
    assert sd[4] > 3 * np.median(sd)  # kept
    np.testing.assert_allclose(z[:, 0].std(axis=1), 1, atol=1e-3)  # per-epoch z-score throws it away
    x3 = model_input(Recording.from_arrays(3 * eeg, 0.3 * eog), "night")
    np.testing.assert_allclose(x3, x, atol=1e-4)


def test_config_normalisation_defaults_to_epoch_for_old_cards():
    d = TINY.to_dict()
    del d["normalisation"]
    assert type(TINY).from_dict(d).normalisation == "epoch"
    with pytest.raises(SleepScopeError, match="normalisation"):
        TINY.with_(normalisation="weekly")


# ---------------------------------------------------------------- calibration

def test_temperature_is_recovered_and_lowers_ece():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (6000, 5))
    p_true = softmax(logits, 2.5)
    labels = np.array([rng.choice(5, p=p) for p in p_true])
    t = fit_temperature(logits, labels)
    assert 2.2 < t < 2.8
    cal = fit_calibration(logits, labels)
    assert cal["ece"] < 0.03 < cal["ece_before"]
    flagged = [r["flagged"] for r in cal["error_capture"]]
    assert flagged == sorted(flagged)  # a higher threshold flags more
    assert ece(softmax(logits, t), labels) == pytest.approx(cal["ece_temperature"])


def test_predict_applies_the_card_calibration(tmp_path, tiny):
    eeg, eog = signals(6)
    rec = Recording.from_arrays(eeg, eog)
    save_model(tiny, tmp_path / "plain")
    save_model(tiny, tmp_path / "cal", ModelCard(config=TINY, calibration={"temperature": 3.0,
                                                                           "unsure_threshold": 0.7}))
    plain, _ = load_model(tmp_path / "plain.safetensors")
    cal, _ = load_model(tmp_path / "cal.safetensors")
    p0, p1 = predict(rec, plain), predict(rec, cal)
    _, logits, _ = night_outputs(model_input(rec), plain, threads=1)
    np.testing.assert_allclose(p0.probs, torch.softmax(logits, -1).numpy(), atol=1e-6)
    np.testing.assert_allclose(p1.probs, torch.softmax(logits / 3, -1).numpy(), atol=1e-6)
    np.testing.assert_array_equal(p0.stages, p1.stages)  # calibration never changes the stage
    assert p1.unsure_threshold == 0.7 and p0.unsure_threshold == 0.6


# ---------------------------------------------------------------- familiarity

def _synth(name, family, n=80, seed=0):
    from sleepscope.data.synthetic import real_hypnogram, synth_night

    labels = real_hypnogram(name)
    start = int(np.flatnonzero(labels == 2)[0])  # into the sleep: every stage in a few dozen epochs
    labels = labels[max(0, start - 10):max(0, start - 10) + n]
    kw = {"family": family} if family != "A" else {}
    s = synth_night(labels, subject=int(name[3:5]), night=int(name[5]), seed=seed, **kw)
    return Recording.from_arrays(s.signals["EEG Fpz-Cz"], s.signals["EOG horizontal"]), labels.astype(np.int64)


def test_familiarity_fires_on_a_held_out_family_not_in_distribution(tmp_path):
    pytest.importorskip("sleepscope.data.synth.families")
    from sleepscope.model.reliability import fit_reliability, night_arrays

    def arrays(rec, y):
        return night_arrays(rec, "epoch"), y

    train = [arrays(*_synth(n, "A")) for n in ("SC4011E0", "SC4021E0", "SC4031E0", "SC4041E0")]
    val = [arrays(*_synth(n, "A")) for n in ("SC4051E0", "SC4071E0")]
    # a small stager with a stem (cheap on the CPU), taught family A for a few dozen steps
    torch.manual_seed(0)
    model = SleepStager(TINY.with_(name="tiny-stem", stem_stride=2, stem_kernel=15, stem_pool=10,
                                   widths=(8, 8, 8), pools=(5, 3), rsu_heights=(2, 1, 1)))
    xs = torch.from_numpy(np.concatenate([night["x"] for night, _ in train])).reshape(-1, 20, 2, 3000)
    ys = torch.from_numpy(np.concatenate([y for _, y in train])).reshape(-1, 20)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(40):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xs).reshape(-1, 5), ys.reshape(-1), ignore_index=-1).backward()
        opt.step()
    model.eval()
    calibration, familiarity = fit_reliability(model, train, val)
    # the EOG-only temperature is fitted on the same nights with their EEG removed
    assert calibration["eog_only_temperature"] > 0 and 0 <= calibration["eog_only_ece"] <= 1
    save_model(model, tmp_path / "m", ModelCard(config=model.config, calibration=calibration,
                                                familiarity=familiarity))
    model, _ = load_model(tmp_path / "m.safetensors")
    same = predict(_synth("SC4081E0", "A")[0], model)
    other = predict(_synth("SC4081E0", "B")[0], model)
    assert same.familiarity.familiar, same.familiarity.reasons
    assert not other.familiarity.familiar
    assert other.familiarity.outlying > same.familiarity.outlying
    assert "unlike what the model learned" in other.notes()[0] and "fine-tune" in other.notes()[0]


def test_familiarity_reasons_without_statistics():
    from sleepscope.io.channels import choose_channels

    v = assess(None, None, channels=choose_channels(["C3-A1"]))
    assert not v.familiar and "no usable EOG" in v.reasons[0]
    assert assess(None, None, channels=choose_channels(["C3-A1"]), trained_without_channel=True).familiar
    rng = np.random.default_rng(0)
    f = rng.normal(0, 1, (2000, 4))
    y = rng.integers(0, 5, 2000)
    stats = fit_familiarity(f, y, [(rng.normal(0, 1, (300, 4)), None) for _ in range(3)])
    assert assess(rng.normal(0, 1, (300, 4)), stats).familiar
    assert not assess(rng.normal(4, 1, (300, 4)), stats).familiar


def test_calibrate_command_writes_the_card(tmp_path, tiny, capsys):
    from sleepscope.data.synthetic import real_hypnogram, write_night

    for name in ("SC4011E0", "SC4021E0", "SC4031E0"):
        labels = real_hypnogram(name)
        start = int(np.flatnonzero(labels == 2)[0])
        write_night(tmp_path / "data", name, labels=labels[start - 5:start + 40])
    save_model(tiny, tmp_path / "m")
    assert main(["calibrate", str(tmp_path / "m.safetensors"), "--data", str(tmp_path / "data"),
                 "--train-subjects", "1,2", "--val-subjects", "3"]) == 0
    assert "temperature" in capsys.readouterr().err
    model, card = load_model(tmp_path / "m.safetensors")
    assert card.calibration["temperature"] > 0 and "night_limit" in card.familiarity
    assert model.calibration == card.calibration  # predict applies what the card says
    assert main(["calibrate", str(tmp_path / "m.safetensors"), "--data", str(tmp_path / "data"),
                 "--train-subjects", "1,2", "--val-subjects", "2"]) == 2


def test_familiarity_of_a_recording_without_eog_compares_the_eeg_alone():
    from sleepscope.io.channels import choose_channels
    from sleepscope.model.familiarity import CHANNEL_COLUMNS

    rng = np.random.default_rng(0)
    f = rng.normal(0, 1, (3000, 15)) + 3  # zeros are far from every training epoch
    y = rng.integers(0, 5, 3000)
    stats = fit_familiarity(f, y, [(rng.normal(0, 1, (300, 15)) + 3, None) for _ in range(3)])
    night = rng.normal(0, 1, (300, 15)) + 3
    night[:, list(CHANNEL_COLUMNS["eog"]) + [14]] = 0.0  # what input_features gives without an EOG
    eeg_only = choose_channels(["C3-A1"])
    assert assess(night, stats, channels=eeg_only, trained_without_channel=True).familiar
    night[:, :7] += 5  # and an EEG unlike the training one is still caught
    assert not assess(night, stats, channels=eeg_only, trained_without_channel=True).familiar


def test_predict_applies_the_card_confidence_map(tmp_path, tiny):
    eeg, eog = signals(6)
    rec = Recording.from_arrays(eeg, eog)
    cmap = {"x": [0.2, 1.0], "y": [0.9, 0.95]}  # every epoch far surer than the tiny model says
    save_model(tiny, tmp_path / "cal", ModelCard(config=TINY, calibration={"temperature": 2.0, "confidence_map": cmap}))
    cal, _ = load_model(tmp_path / "cal.safetensors")
    p = predict(rec, cal)
    _, logits, _ = night_outputs(model_input(rec), cal, threads=1)
    tempered = torch.softmax(logits / 2, -1).numpy()
    np.testing.assert_allclose(p.probs.max(axis=1), np.interp(tempered.max(axis=1), cmap["x"], cmap["y"]), atol=1e-5)
    np.testing.assert_array_equal(p.stages, tempered.argmax(axis=1))


def test_a_night_with_one_channel_gets_the_temperature_without_the_map(tmp_path, tiny):
    eeg, _ = signals(6)
    rec = Recording(path=None, start_time=datetime(2000, 1, 1), fs=100.0, channels={"EEG Fpz-Cz": eeg},
                    eeg_name="EEG Fpz-Cz", eog_name=None, source_rates={"EEG Fpz-Cz": 100.0})
    cmap = {"x": [0.2, 1.0], "y": [0.9, 0.95]}  # fitted on two-channel nights
    save_model(tiny, tmp_path / "cal", ModelCard(config=TINY, calibration={"temperature": 2.0, "confidence_map": cmap}))
    cal, _ = load_model(tmp_path / "cal.safetensors")
    p = predict(rec, cal)
    _, logits, _ = night_outputs(model_input(rec), cal, threads=1)
    np.testing.assert_allclose(p.probs, torch.softmax(logits / 2, -1).numpy(), atol=1e-6)


def test_an_eog_only_night_gets_its_own_last_temperature(tmp_path, tiny):
    from sleepscope.model.calibration import calibrated_probs, fit_eog_only

    # an over-confident reader: labels drawn from the logits at temperature 2.5
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (4000, 5))
    labels = np.array([rng.choice(5, p=p) for p in softmax(logits, 2.5)])
    card = {"temperature": 1.0}
    fitted = fit_eog_only([(logits[:2000], labels[:2000], np.zeros(2000, bool)),
                           (logits[2000:], labels[2000:], np.zeros(2000, bool))], card)
    assert 2.2 < fitted["eog_only_temperature"] < 2.8 and fitted["eog_only_ece"] < 0.03 < fitted["eog_only_ece_before"]
    card.update(fitted)
    np.testing.assert_allclose(calibrated_probs(logits, card, False, eog_only=True),
                               softmax(logits, fitted["eog_only_temperature"]), atol=1e-9)
    np.testing.assert_allclose(calibrated_probs(logits, card, False), softmax(logits), atol=1e-12)  # EEG-only: not
    # a fine-tuned child that fitted none of its own: the parent's whole EOG-only scaling, on EOG-only nights alone
    child = {"temperature": 1.0, "eog_only_base_temperature": 2.0, "eog_only_temperature": 1.5}
    np.testing.assert_allclose(calibrated_probs(logits, child, False, eog_only=True), softmax(logits, 3.0), atol=1e-9)
    np.testing.assert_allclose(calibrated_probs(logits, child, False), softmax(logits), atol=1e-12)

    # predict: an EOG-only recording gets it, a two-channel one does not
    eeg, eog = signals(6)
    only = Recording(path=None, start_time=datetime(2000, 1, 1), fs=100.0, channels={"EOG horizontal": eog},
                     eeg_name=None, eog_name="EOG horizontal", source_rates={"EOG horizontal": 100.0})
    both = Recording.from_arrays(eeg, eog)
    save_model(tiny, tmp_path / "cal", ModelCard(config=TINY, calibration={"temperature": 1.0,
                                                                           "eog_only_temperature": 4.0}))
    cal, _ = load_model(tmp_path / "cal.safetensors")
    _, logits_only, _ = night_outputs(model_input(only), cal, threads=1)
    np.testing.assert_allclose(predict(only, cal).probs, torch.softmax(logits_only / 4, -1).numpy(), atol=1e-5)
    _, logits_both, _ = night_outputs(model_input(both), cal, threads=1)
    np.testing.assert_allclose(predict(both, cal).probs, torch.softmax(logits_both, -1).numpy(), atol=1e-5)
