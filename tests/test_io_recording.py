"""Reading recordings: the real Sleep-EDF excerpt, mixed rates, resampling, units, z-scoring."""

from datetime import datetime

import mne
import numpy as np
import pytest

from sleepscope.io import (
    EPOCH_SAMPLES,
    Recording,
    open_recording,
    read_info,
    zscore_epochs,
)
from sleepscope.io.export import write_edf
from sleepscope.tasks import Cancelled, CancelToken

REAL = "tests/data/SC4001E0-PSG-first300s.edf"


def test_real_sleep_edf_reads_only_eeg_and_eog_at_100hz():
    rec = open_recording(REAL)
    assert list(rec.channels) == ["EEG Fpz-Cz", "EOG horizontal"]
    assert rec.fs == 100.0 and rec.n_epochs == 10 and rec.n_samples == 30000
    assert rec.start_time == datetime(1989, 4, 24, 16, 13, 0)
    assert rec.eeg.dtype == np.float32
    # µV, equal to what MNE reads (in volts) for the same channel
    raw = mne.io.read_raw_edf(REAL, include=["EEG Fpz-Cz"], preload=True, verbose="error")
    np.testing.assert_allclose(rec.eeg, raw.get_data()[0] * 1e6, rtol=1e-5, atol=1e-3)
    assert 1.0 < rec.eeg.std() < 200.0  # a plausible µV scale, not volts


def test_real_info_header_only():
    info = read_info(REAL)
    rates = {c.name: c.fs for c in info.channels}
    assert rates["EEG Fpz-Cz"] == 100.0 and rates["EOG horizontal"] == 100.0
    assert rates["Temp rectal"] == 1.0 and len(rates) == 7
    assert info.n_epochs == 10 and info.duration_s == 300.0
    assert info.start_time == datetime(1989, 4, 24, 16, 13)


def test_extra_1hz_channel_is_resampled_and_eeg_stays_exact():
    rec = open_recording(REAL, extra=["temp rectal"])
    assert rec.source_rates == {"EEG Fpz-Cz": 100.0, "EOG horizontal": 100.0, "Temp rectal": 1.0}
    assert len(rec.channels["Temp rectal"]) == rec.n_samples
    ref = open_recording(REAL)
    np.testing.assert_array_equal(rec.eeg, ref.eeg)  # reading the 1-Hz channel did not touch the EEG
    temp = rec.channels["Temp rectal"]
    assert 30 < np.median(temp) < 40  # degrees C, left in its own unit


def test_resampling_from_200_and_256_hz(tmp_path):
    t200 = np.arange(60 * 200) / 200
    t256 = np.arange(60 * 256) / 256
    path = write_edf(tmp_path / "x.edf", {
        "C4-M1": (50 * np.sin(2 * np.pi * 10 * t200), 200),
        "E1-M2": (40 * np.sin(2 * np.pi * 2 * t256), 256),
        "Aux": (np.zeros(60), 1),
    }, datetime(2021, 3, 4, 22, 30))
    rec = open_recording(path)
    assert (rec.eeg_name, rec.eog_name) == ("C4-M1", "E1-M2")
    assert rec.n_samples == 6000 and rec.n_epochs == 2
    t = np.arange(6000) / 100
    mid = slice(500, 5500)  # away from the filter's edge effects
    np.testing.assert_allclose(rec.eeg[mid], 50 * np.sin(2 * np.pi * 10 * t[mid]), atol=2.0)
    np.testing.assert_allclose(rec.eog[mid], 40 * np.sin(2 * np.pi * 2 * t[mid]), atol=1.0)


def test_explicit_channels_and_partial_epoch(tmp_path):
    n = 75 * 100  # 2.5 epochs
    rng = np.random.default_rng(1)
    path = write_edf(tmp_path / "y.edf", {
        "EEG Pz-Oz": (rng.normal(0, 10, n), 100), "EEG Fpz-Cz": (rng.normal(0, 10, n), 100),
        "EOG horizontal": (rng.normal(0, 10, n), 100),
    }, datetime(2021, 3, 4, 22, 30))
    rec = open_recording(path, eeg="pz-oz")
    assert rec.eeg_name == "EEG Pz-Oz"
    assert rec.n_epochs == 2 and rec.epochs("eeg").shape == (2, EPOCH_SAMPLES)


def test_model_input_is_zscored_per_epoch():
    rec = open_recording(REAL)
    x = rec.model_input()
    assert x.shape == (10, 2, 3000) and x.dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=-1), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=-1), 1, atol=1e-3)
    e = rec.epochs("eeg")[3]
    np.testing.assert_allclose(x[3, 0], (e - e.mean()) / e.std(), atol=1e-4)


def test_zscore_flat_and_nan():
    x = np.zeros((3, 3000), dtype=np.float32)
    x[1] = np.random.default_rng(0).normal(0, 5, 3000)
    x[2] = x[1]
    x[2, 100:200] = np.nan
    z = zscore_epochs(x)
    assert not np.isnan(z).any()
    assert (z[0] == 0).all()
    assert (z[2, 100:200] == 0).all()
    assert abs(z[1].std() - 1) < 1e-3


def test_from_arrays_quality_and_fingerprint():
    rng = np.random.default_rng(2)
    eeg = rng.normal(0, 20, 9000).astype(np.float32)
    eog = rng.normal(0, 20, 9000).astype(np.float32)
    eog[3000:6000] = 7.0  # a flat-lined electrode for one epoch
    eeg[10:15] = np.nan
    rec = Recording.from_arrays(eeg, eog)
    q = rec.quality
    assert q.nan_samples["EEG Fpz-Cz"] == 5 and q.flat_epochs["EOG horizontal"] == (1,)
    with pytest.warns(UserWarning, match="NaN"):
        x = rec.model_input()
    assert np.isfinite(x).all() and (x[1, 1] == 0).all()
    other = Recording.from_arrays(eeg + 1, eog)
    assert rec.fingerprint() != other.fingerprint()
    assert rec.fingerprint() == Recording.from_arrays(eeg, eog).fingerprint()


def test_file_fingerprint_changes_with_content(tmp_path):
    data = open(REAL, "rb").read()
    a, b = tmp_path / "a.edf", tmp_path / "b.edf"
    a.write_bytes(data)
    changed = bytearray(data)
    changed[-5] ^= 1  # one bit of the last signal record
    b.write_bytes(bytes(changed))
    ra, rb = open_recording(a), open_recording(b)
    assert ra.fingerprint() == open_recording(REAL).fingerprint()
    assert ra.fingerprint() != rb.fingerprint()


def test_progress_and_cancel():
    calls = []
    open_recording(REAL, progress=lambda d, t, m: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1]
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        open_recording(REAL, cancel=token)


def test_chunked_reading_matches_one_read(monkeypatch):
    import sleepscope.io.recording as recording

    whole = open_recording(REAL)
    monkeypatch.setattr(recording, "_CHUNK_SECONDS", 47)  # chunks that straddle 30-s data records
    chunked = open_recording(REAL)
    np.testing.assert_array_equal(whole.eeg, chunked.eeg)
    np.testing.assert_array_equal(whole.eog, chunked.eog)


def _write_bdf(path, signals, seconds):
    """A minimal BDF (24-bit) file with 1-s records: BioSemi's header layout."""
    ns = len(signals)
    fixed = b"\xffBIOSEMI" + (
        f"{'X X X X':<80}{'Startdate 05-MAY-2023 X X X':<80}05.05.2323.15.00{256 * (ns + 1):<8}"
        f"{'24BIT':<44}{seconds:<8}{1:<8}{ns:<4}"
    ).encode()
    fields = [
        [f"{label:<16}" for label, _, _ in signals], [" " * 80] * ns, [f"{'uV':<8}"] * ns,
        [f"{-8388.61:<8}"] * ns, [f"{8388.61:<8}"] * ns, [f"{-8388608:<8}"] * ns, [f"{8388607:<8}"] * ns,
        [" " * 80] * ns, [f"{fs:<8}" for _, fs, _ in signals], [" " * 32] * ns,
    ]
    header = fixed + "".join("".join(f) for f in fields).encode()
    assert len(header) == 256 * (ns + 1)
    body = bytearray()
    for s in range(seconds):
        for _, fs, x in signals:
            digital = np.round(x[s * fs:(s + 1) * fs] * 1000).astype("<i4")  # 1 nV per unit
            body += digital.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    path.write_bytes(header + bytes(body))
    return path


def test_bdf_file(tmp_path):
    rng = np.random.default_rng(5)
    eeg = rng.normal(0, 30, 256 * 60)
    eog = rng.normal(0, 40, 256 * 60)
    p = _write_bdf(tmp_path / "night.bdf", [("C3-M2", 256, eeg), ("E1-M2", 256, eog), ("Status", 1, np.zeros(60))], 60)
    info = read_info(p)
    assert info.format == "BDF" and info.start_time == datetime(2023, 5, 5, 23, 15)
    rec = open_recording(p)
    assert (rec.eeg_name, rec.eog_name) == ("C3-M2", "E1-M2") and rec.n_epochs == 2
    ref = mne.io.read_raw_bdf(p, include=["C3-M2"], preload=True, verbose="error").get_data()[0] * 1e6
    np.testing.assert_allclose(ref, np.round(eeg * 1000) / 1000, atol=2e-3)  # our writer is right
    from sleepscope.io import resample_to_target

    np.testing.assert_allclose(rec.eeg, resample_to_target(ref, 256), atol=1e-3)


def test_referential_recording_is_read_as_the_derivations_it_stores_apart(tmp_path):
    """Electrodes stored against the amplifier's reference, mastoids apart (CFS, Grael, Nihon Kohden): the EEG and
    EOG read are C4 - M1 and E1 - M2, sample for sample, and the header's narrower band of the two parts counts."""
    real = open_recording(REAL)
    rng = np.random.default_rng(0)
    n = real.n_samples
    common = np.cumsum(rng.normal(0, 2.0, n))  # the amplifier reference's own drift and EEG, in every channel
    common -= common.mean()
    m1, m2 = common + rng.normal(0, 5, n), common + rng.normal(0, 5, n)
    path = write_edf(tmp_path / "ref.edf", {
        "EEG C4-Ref": (real.eeg + m1, 100.0), "EEG A1-Ref": (m1, 100.0), "EEG A2-Ref": (m2, 100.0),
        "EEG E1-Ref": (real.eog + m2, 100.0), "EMG": (rng.normal(0, 3, n), 100.0),
    }, real.start_time, prefilters={"EEG C4-Ref": "HP:0.3Hz LP:70Hz", "EEG A1-Ref": "HP:0.3Hz LP:35Hz"})
    rec = open_recording(path)
    assert (rec.eeg_name, rec.eog_name) == ("C4-A1", "E1-A2")
    assert "computed as EEG C4-Ref - EEG A1-Ref" in rec.channel_choice.eeg_reason
    # each part is quantised to 16 bits on its own range: the difference is exact to a few steps
    step = 2 * (np.abs(real.eeg + m1).max() + np.abs(m1).max()) / 65535
    np.testing.assert_allclose(rec.eeg, real.eeg, atol=4 * step)
    np.testing.assert_allclose(rec.eog, real.eog, atol=4 * step + 0.05)
    assert np.abs(rec.eeg - real.eeg).max() < 0.01 * np.abs(common).max()  # the reference's drift is gone
    assert rec.source_lowpass["C4-A1"] == 35.0 and rec.source_rates["C4-A1"] == 100.0
    assert list(rec.channels) == ["C4-A1", "E1-A2"]
    # named again (the window re-reading a night for an extra trace), the derivation is found by its name
    again = open_recording(path, eeg="C4-A1", eog="e1-a2", extra=["EMG"])
    np.testing.assert_array_equal(again.eeg, rec.eeg)
    assert list(again.channels) == ["C4-A1", "E1-A2", "EMG"]
    # the bare electrode is still there for who asks for it: the reference's drift included
    bare = open_recording(path, eeg="EEG C4-Ref")
    assert np.abs(bare.eeg - real.eeg).max() > 0.5 * np.abs(common).max()


def test_info_lists_the_derivations_a_referential_file_allows(tmp_path, capsys):
    from sleepscope.cli import main

    rng = np.random.default_rng(1)
    path = write_edf(tmp_path / "ref.edf", {n: (rng.normal(0, 20, 6000), 100.0) for n in ("C3", "C4", "M1", "M2", "E1")},
                     datetime(2021, 5, 1, 23, 0))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "derivations computed from the channels above" in out
    assert "C4-M1  C4 - M1  <- EEG" in out and "E1-M2  E1 - M2  <- EOG" in out and "C3-M2  C3 - M2" in out
    assert main(["info", str(path), "--eeg", "C3-M2"]) == 0
    assert "C3-M2  C3 - M2  <- EEG" in capsys.readouterr().out


def test_cropped_recording_counts_its_epochs_from_the_crop():
    """`Recording.cropped`: a lab's epochs that begin 12 s into the recording's become its epochs, signals,
    clock and gaps with them (an epoch touching a gap of the original is a gap)."""
    from datetime import timedelta

    n = 6 * 3000
    eeg = np.arange(n, dtype=np.float32)
    rec = Recording.from_arrays(eeg, -eeg)
    rec.gap_mask = np.array([0, 0, 0, 1, 0, 0], bool)
    c = rec.cropped(12)
    assert c.n_epochs == 5 and c.start_time == rec.start_time + timedelta(seconds=12)
    assert c.epochs("eeg")[0, 0] == 1200 and c.epochs("eog")[1, 0] == -4200
    assert c.gap.tolist() == [False, False, True, True, False]
    assert rec.n_epochs == 6 and rec.eeg[0] == 0  # the original untouched
    with pytest.raises(ValueError):
        rec.cropped(-1)
