"""The ECG's beats on the EEG and EOG are found on the file's ECG lead and subtracted before the model reads the
night; an EEG that does not show them is read as recorded, bit for bit."""

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sleepscope.io import open_recording
from sleepscope.io.export import write_edf
from sleepscope.model.backups import read_for_model
from sleepscope.model.heartbeats import beats, subtract

WAKE = Path(__file__).parent / "data" / "SC4001E0-PSG-first300s.edf"


def heart(n: int, fs: float = 100.0, bpm: float = 66.0, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(unit-peak ECG as a scalp electrode sees it: a sharp QRS and a broad T wave at each beat, its R peaks'
    sample indices), beats at `bpm` with 4 % of jitter, each placed between samples where it falls."""
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    r = np.cumsum(period * (1 + 0.04 * rng.standard_normal(int(n / fs / period) + 2))) - period / 2
    r = r[(r > 0.3) & (r < n / fs - 0.6)]
    t = np.arange(n) / fs
    out = np.zeros(n)
    for ri in r:
        i, j = int((ri - 0.1) * fs), int((ri + 0.6) * fs)
        d = t[i:j] - ri
        out[i:j] += (np.exp(-0.5 * (d / 0.012) ** 2) - 0.2 * np.exp(-0.5 * ((d - 0.025) / 0.015) ** 2)
                     + 0.25 * np.exp(-0.5 * ((d - 0.25) / 0.05) ** 2))
    return out.astype(np.float32), np.round(r * fs).astype(np.int64)


def with_heart(rec, eeg_uv: float, eog_uv: float, lead_seed: int = 1):
    """`rec` with a heart's beats on its EEG and EOG and an ECG lead (`lead_seed` other than 1: another heart's)."""
    n = rec.n_samples
    spikes, _ = heart(n)
    lead, _ = heart(n, seed=lead_seed)
    noise = np.random.default_rng(9).normal(0, 10, n).astype(np.float32)
    ch = dict(rec.channels)
    ch[rec.eeg_name] = ch[rec.eeg_name] + np.float32(eeg_uv) * spikes[: len(ch[rec.eeg_name])]
    ch[rec.eog_name] = ch[rec.eog_name] + np.float32(eog_uv) * spikes[: len(ch[rec.eog_name])]
    ch["ECG"] = 800 * lead + noise
    return replace(rec, channels=ch, channel_choice=replace(rec.channel_choice, ecg="ECG"),
                   source_rates={**rec.source_rates, "ECG": rec.fs}, _quality=None)


def test_the_beats_of_an_inverted_noisy_lead_are_found_one_for_one():
    n = 20 * 60 * 100
    x, truth = heart(n)
    lead = -800 * x + np.random.default_rng(2).normal(0, 20, n).astype(np.float32)
    lead[50_000:50_100] += 5000  # a pop: one second of a lead come loose
    found = beats(lead, 100.0)
    nearest = np.abs(found[np.clip(np.searchsorted(found, truth), 0, len(found) - 1)] - truth)
    nearest = np.minimum(nearest, np.abs(found[np.clip(np.searchsorted(found, truth) - 1, 0, len(found) - 1)] - truth))
    assert np.mean(nearest <= 1) > 0.99
    assert abs(len(found) - len(truth)) <= 0.01 * len(truth)


def test_beats_on_the_real_eeg_are_subtracted_and_an_eeg_without_them_is_left_as_recorded():
    rec = open_recording(WAKE)  # REAL: five minutes of Sleep-EDF wake
    eeg = rec.channels[rec.eeg_name]
    spikes, _ = heart(len(eeg))
    own = beats(800 * heart(len(eeg))[0], rec.fs)
    # five minutes hold 331 beats: the template stands out of their spread from about 60 uV up (a night's blocks
    # of 2,000 beats, from about 20 uV)
    cleaned, used, ptp = subtract(eeg + 80 * spikes, own, rec.fs)
    assert used.all() and 70 < ptp < 100
    residual = cleaned - eeg
    # what stays is the template's noise (a tenth of the beats' RMS), not the beats read a sample off (a fifth)
    assert np.sqrt(np.mean(residual ** 2)) < 0.12 * np.sqrt(np.mean((80 * spikes) ** 2))
    # controls: the EEG without the beats, and the beats with another heart's lead, come back as they were
    same, used, _ = subtract(eeg, own, rec.fs)
    assert same is eeg and not used.any()
    other = beats(800 * heart(len(eeg), seed=2)[0], rec.fs)
    dirty = eeg + 80 * spikes
    same, used, _ = subtract(dirty, other, rec.fs)
    assert same is dirty and not used.any()


def test_the_model_reads_the_real_eeg_without_the_beats_and_as_recorded_with_another_hearts_lead():
    rec = open_recording(WAKE)
    plain = read_for_model(rec, "epoch+amplitude")
    assert plain.heartbeats is None
    dirty = with_heart(rec, 80.0, -150.0)
    read = read_for_model(dirty, "epoch+amplitude")
    assert read.heartbeats is not None and read.heartbeats.epochs.all()
    assert set(read.heartbeats.subtracted) == {rec.eeg_name, rec.eog_name}
    assert "beats found on the ECG 'ECG'" in read.heartbeats.message()
    # the input the model reads is the clean night's, not the one with the beats
    beaten = read_for_model(replace(dirty, channel_choice=replace(dirty.channel_choice, ecg=None)), "epoch+amplitude")
    assert np.abs(read.x - plain.x).mean() < 0.3 * np.abs(beaten.x - plain.x).mean()
    # another heart's lead: read as the file holds it, bit for bit
    other = read_for_model(with_heart(rec, 0.0, 0.0, lead_seed=2), "epoch+amplitude")
    assert other.heartbeats is None
    np.testing.assert_array_equal(other.x, plain.x)


def test_a_files_ecg_lead_is_found_by_its_label_and_read_from_the_file(tmp_path):
    n = 10 * 3000
    spikes, _ = heart(n)
    rng = np.random.default_rng(3)
    path = write_edf(tmp_path / "night.edf", {
        "EEG Fpz-Cz": ((rng.normal(0, 15, n) + 60 * spikes).astype(np.float32), 100.0),
        "EOG horizontal": ((rng.normal(0, 10, n) - 25 * spikes).astype(np.float32), 100.0),
        "ECG": ((800 * spikes + rng.normal(0, 10, n)).astype(np.float32), 100.0)}, datetime(2024, 1, 1, 23))
    rec = open_recording(path)
    assert rec.channel_choice.ecg == "ECG" and "ECG: 'ECG'" in rec.channel_choice.summary()
    got = read_for_model(rec, "epoch+amplitude").heartbeats
    assert got is not None and got.ecg == "ECG" and got.epochs.all()


def test_beats_at_the_very_edges_of_the_recording_are_left_alone():
    rec = open_recording(WAKE)
    eeg = rec.channels[rec.eeg_name]
    spikes, _ = heart(len(eeg))
    own = beats(800 * spikes, rec.fs)
    inner = own[(own > 100) & (own < len(eeg) - 100)]
    dirty = eeg + 80 * spikes
    edges = np.r_[21.3, inner, len(eeg) - 49.5]  # windows that would reach past either end
    np.testing.assert_array_equal(subtract(dirty, edges, rec.fs)[0], subtract(dirty, inner, rec.fs)[0])


def test_a_gap_stays_a_gap_and_the_beats_around_it_are_subtracted():
    rec = open_recording(WAKE)
    eeg = rec.channels[rec.eeg_name]
    spikes, _ = heart(len(eeg))
    dirty = eeg + 80 * spikes
    dirty[10_000:17_500] = np.nan  # a lead off for a quarter of the recording
    cleaned, used, _ = subtract(dirty, beats(800 * spikes, rec.fs), rec.fs)
    off = np.s_[10_000:17_500]
    assert used.all() and np.isnan(cleaned[off]).all() and not np.isnan(np.delete(cleaned, off)).any()
    residual = np.delete(cleaned - eeg, off)
    assert np.sqrt(np.mean(residual ** 2)) < 0.12 * np.sqrt(np.mean((80 * spikes) ** 2))


def test_yasas_second_opinion_reads_the_eeg_and_eog_without_the_beats_as_the_model_does():
    pytest.importorskip("yasa")
    from sleepscope.scorers.yasa_scorer import YasaScorer

    rec = open_recording(WAKE)
    beaten = with_heart(rec, 80.0, -150.0)
    unread = replace(beaten, channel_choice=replace(beaten.channel_choice, ecg=None))
    clean, lead, no_lead = (YasaScorer().score(r).probs for r in (rec, beaten, unread))
    assert np.abs(lead - clean).mean() < 0.3 * np.abs(no_lead - clean).mean()


def test_prescore_names_the_ecg_lead_and_the_epochs_read_without_its_beats(tmp_path, capsys):
    import csv

    from sleepscope.cli import main

    n = 10 * 3000
    spikes, _ = heart(n)
    rng = np.random.default_rng(5)
    for name, uv in (("beats.edf", 60.0), ("none.edf", 0.0)):  # the control: the lead, no beats on the EEG
        path = write_edf(tmp_path / name, {
            "EEG Fpz-Cz": ((rng.normal(0, 15, n) + uv * spikes).astype(np.float32), 100.0),
            "EOG horizontal": (rng.normal(0, 10, n).astype(np.float32), 100.0),
            "ECG": ((800 * spikes + rng.normal(0, 10, n)).astype(np.float32), 100.0)}, datetime(2024, 1, 1, 23))
        out = tmp_path / f"{name}.csv"
        assert main(["prescore", str(path), "--model", "tests/data/tiny-parent-AB.safetensors", "--quiet",
                     "--out", str(out)]) == 0
        err = capsys.readouterr().err
        assert "  ECG: 'ECG' (its beats are subtracted from the EEG and EOG where they show there)" in err
        assert ("NOTE: the heart's beats on 'EEG Fpz-Cz'" in err) == (uv > 0)
        assert {r["read_from"] for r in csv.DictReader(out.open())} == ({"ECG subtracted"} if uv > 0 else {""})


def test_a_backup_read_where_the_eeg_came_off_is_read_without_its_own_beats():
    """F4-M1 off (flat) for eight of 24 epochs: the model reads F3-M2 there, whose beats show with the other sign (the
    other mastoid); they are subtracted with F3-M2's own template, not left in."""
    from test_backups import recording

    n = 24 * 3000
    spikes, _ = heart(n)
    rng = np.random.default_rng(6)
    noise = {k: rng.normal(0, 20, n).astype(np.float32) for k in ("EEG F4-M1", "EEG F3-M2", "EOG E1-M2")}
    lead = (800 * spikes + rng.normal(0, 10, n)).astype(np.float32)

    def night(uv):
        chans = {"EEG F4-M1": noise["EEG F4-M1"] + uv * spikes, "EEG F3-M2": noise["EEG F3-M2"] - uv * spikes,
                 "EOG E1-M2": noise["EOG E1-M2"], "ECG": lead}
        chans["EEG F4-M1"][4 * 3000:12 * 3000] = 0.0
        return recording(chans, ("EEG F4-M1", "EEG F3-M2", "EOG E1-M2", "ECG"))

    beaten = night(80.0)
    clean = read_for_model(night(0.0), "epoch+amplitude").x
    got = read_for_model(beaten, "epoch+amplitude")
    off = slice(4, 12)
    assert [b.backup for b in got.backups] == ["EEG F3-M2"] and got.backups[0].epochs[off].all()
    no_lead = replace(beaten, channel_choice=replace(beaten.channel_choice, ecg=None))
    unread = read_for_model(no_lead, "epoch+amplitude").x
    # in the epochs read from the backup, as far from the clean input as the EEG's own epochs are
    assert np.abs(got.x[off, 0] - clean[off, 0]).mean() < 0.3 * np.abs(unread[off, 0] - clean[off, 0]).mean()
    assert np.abs(got.x[12:, 0] - clean[12:, 0]).mean() < 0.3 * np.abs(unread[12:, 0] - clean[12:, 0]).mean()


def test_prescore_ecg_names_a_lead_the_table_does_not_know_or_none(tmp_path, capsys):
    """`--ecg NAME` reads a lead labelled as no table would find it; `--ecg none` leaves a found lead's beats on the
    EEG (the control: the same file by default is read without them); a name the file lacks, or the EEG's own, is
    refused with the channels listed."""
    import csv

    from sleepscope.cli import main

    n = 10 * 3000
    spikes, _ = heart(n)
    rng = np.random.default_rng(5)
    for lead in ("Heart", "ECG"):
        write_edf(tmp_path / f"{lead}.edf", {
            "EEG Fpz-Cz": ((rng.normal(0, 15, n) + 60 * spikes).astype(np.float32), 100.0),
            "EOG horizontal": (rng.normal(0, 10, n).astype(np.float32), 100.0),
            lead: ((800 * spikes + rng.normal(0, 10, n)).astype(np.float32), 100.0)}, datetime(2024, 1, 1, 23))

    def read_from(name: str, *ecg: str) -> set[str]:
        out = tmp_path / f"{name}{len(ecg)}{ecg[-1] if ecg else ''}.csv"
        assert main(["prescore", str(tmp_path / name), "--model", "tests/data/tiny-parent-AB.safetensors", "--quiet",
                     "--out", str(out), *ecg]) == 0
        return {r["read_from"] for r in csv.DictReader(out.open())}

    assert read_from("Heart.edf") == {""}  # not found by name: its beats stay
    assert read_from("Heart.edf", "--ecg", "heart") == {"ECG subtracted"}
    assert "ECG: 'Heart'" in capsys.readouterr().err
    assert read_from("ECG.edf") == {"ECG subtracted"}
    assert "ECG: 'ECG'" in capsys.readouterr().err
    assert read_from("ECG.edf", "--ecg", "none") == {""}
    assert "ECG: 'ECG'" not in capsys.readouterr().err
    assert main(["prescore", str(tmp_path / "ECG.edf"), "--quiet", "--ecg", "EKG"]) == 2
    err = capsys.readouterr().err
    assert "no channel named 'EKG'" in err and "'ECG'" in err and "--ecg none" in err
    assert main(["prescore", str(tmp_path / "ECG.edf"), "--quiet", "--ecg", "EEG Fpz-Cz"]) == 2
    assert "is the EEG the model reads" in capsys.readouterr().err
