"""Bad recordings give one SleepScopeError with a helpful message; the CLI exits with code 2."""

from datetime import datetime

import numpy as np
import pytest

from sleepscope.cli import main
from sleepscope.errors import SleepScopeError
from sleepscope.io import open_recording, read_info
from sleepscope.io.export import write_edf

REAL = "tests/data/SC4001E0-PSG-first300s.edf"


@pytest.fixture
def truncated(tmp_path):
    data = open(REAL, "rb").read()
    p = tmp_path / "cut.edf"
    p.write_bytes(data[: len(data) // 2])
    return p


def test_truncated_edf(truncated, capsys):
    with pytest.raises(SleepScopeError, match="truncated.*10 data records.*0 h 05 min 00 s.*fetch it again"):
        open_recording(truncated)
    with pytest.raises(SleepScopeError, match="truncated"):
        read_info(truncated)
    assert main(["info", str(truncated)]) == 2
    assert "truncated" in capsys.readouterr().err


def test_truncated_inside_header(tmp_path):
    p = tmp_path / "cut.edf"
    p.write_bytes(open(REAL, "rb").read()[:1000])
    with pytest.raises(SleepScopeError, match="truncated"):
        open_recording(p)


def test_not_an_edf(tmp_path, capsys):
    p = tmp_path / "notes.edf"
    p.write_text("Patient slept well.\n" * 50)
    with pytest.raises(SleepScopeError, match="not an EDF/EDF\\+/BDF file"):
        open_recording(p)
    assert main(["info", str(p)]) == 2
    assert "not an EDF" in capsys.readouterr().err
    tiny = tmp_path / "tiny.edf"
    tiny.write_bytes(b"0       abc")
    with pytest.raises(SleepScopeError, match="not an EDF"):
        read_info(tiny)


def test_accented_patient_name_and_colon_time_of_real_writers_are_read(tmp_path, capsys):
    """Real recorders put latin-1 names in the patient field and some write the start time with colons; the
    standard wants ASCII and dots. Such a file opens, at its own start time (it was refused, and the colons
    turned the start into 1985-01-01 00:00)."""
    data = bytearray(open(REAL, "rb").read())
    data[8:88] = "X F 01-JAN-1950 Ren\xe9e_M\xfcller_\xd8stergaard".encode("latin-1").ljust(80, b" ")
    data[176:184] = b"16:13:00"
    p = tmp_path / "accented.edf"
    p.write_bytes(bytes(data))
    rec = open_recording(p)
    assert rec.start_time == datetime(1989, 4, 24, 16, 13, 0) and rec.n_epochs == 10
    np.testing.assert_array_equal(rec.eeg, open_recording(REAL).eeg)
    assert read_info(p).start_time == datetime(1989, 4, 24, 16, 13, 0)
    assert main(["info", str(p)]) == 0 and "EEG Fpz-Cz" in capsys.readouterr().out


def test_missing_file(tmp_path):
    assert main(["info", str(tmp_path / "nope.edf")]) == 2


def _write(tmp_path, labels, seconds=60):
    rng = np.random.default_rng(0)
    sig = {lab: (rng.normal(0, 10, seconds * 100), 100) for lab in labels}
    return write_edf(tmp_path / "r.edf", sig, datetime(2022, 1, 1, 23, 0))


def test_missing_eog_channel_opens_eeg_only(tmp_path, capsys):
    # Issue 11: a recording without EOG is common; it opens, and says the EOG is missing.
    p = _write(tmp_path, ["EEG Fpz-Cz", "EMG submental"])
    rec = open_recording(p)
    assert rec.eeg_name == "EEG Fpz-Cz" and rec.eog_name is None
    assert "EOG: none" in rec.channel_choice.summary()
    x = rec.model_input()
    assert x.shape == (2, 2, 3000) and not x[:, 1].any() and x[:, 0].any()
    assert main(["info", str(p)]) == 0
    assert "no EOG channel found" in capsys.readouterr().out
    # an explicit choice is still honoured
    rec = open_recording(p, eog="EMG submental")
    assert rec.eog_name == "EMG submental"
    assert main(["info", str(p), "--eog", "emg submental"]) == 0


def test_missing_eeg_channel_opens_eog_only(tmp_path):
    p = _write(tmp_path, ["EOG horizontal", "Resp oro-nasal"])
    rec = open_recording(p)
    assert rec.eeg_name is None and rec.eog_name == "EOG horizontal"


def test_neither_eeg_nor_eog(tmp_path, capsys):
    p = _write(tmp_path, ["Resp oro-nasal", "EMG submental"])
    with pytest.raises(SleepScopeError, match="neither an EEG nor an EOG.*--eeg NAME"):
        open_recording(p)
    assert main(["info", str(p)]) == 2
    assert "--eog NAME" in capsys.readouterr().err


def test_shorter_than_one_epoch(tmp_path):
    p = _write(tmp_path, ["EEG Fpz-Cz", "EOG horizontal"], seconds=20)
    with pytest.raises(SleepScopeError, match="shorter than one 30-s epoch"):
        open_recording(p)
    with pytest.raises(SleepScopeError, match="shorter than one"):
        from sleepscope.io import Recording

        Recording.from_arrays(np.zeros(2000), np.zeros(2000))


def test_flat_lined_stretch_gives_zeros_not_nan(tmp_path):
    rng = np.random.default_rng(3)
    eeg = rng.normal(0, 20, 9000)
    eeg[3000:6000] = 0.0  # electrode off for one epoch
    p = write_edf(tmp_path / "flat.edf", {"EEG Fpz-Cz": (eeg, 100), "EOG horizontal": (rng.normal(0, 20, 9000), 100)},
                  datetime(2022, 1, 1, 23, 0), physical_ranges={"EEG Fpz-Cz": (-200, 200), "EOG horizontal": (-200, 200)})
    rec = open_recording(p)
    assert rec.quality.flat_epochs["EEG Fpz-Cz"] == (1,)
    x = rec.model_input()
    assert np.isfinite(x).all() and (x[1, 0] == 0).all() and abs(x[0, 0].std() - 1) < 1e-3


# ---- issue 14: units, impossible scalings, annotation-only files, BDF named .edf, one channel twice

from test_edf_discontinuous import write_raw_edf  # noqa: E402

HYPNOGRAM = "tests/data/SC4001EC-Hypnogram.edf"


def _two_channels(tmp_path, name="u.edf", eeg_uv=None, **eeg_fields):
    """EEG and EOG of 60 s; the EEG written with `eeg_fields` (unit, pmin, pmax, dmin, dmax)."""
    rng = np.random.default_rng(4)
    eeg = rng.normal(0, 0.02, 6000) if eeg_uv is None else eeg_uv
    sig = [{"label": "EEG Fpz-Cz", "rate": 100, "data": eeg, **eeg_fields},
           {"label": "EOG horizontal", "rate": 100, "data": rng.normal(0, 20, 6000)}]
    return write_raw_edf(tmp_path / name, sig, reserved="")


@pytest.mark.parametrize("unit, per_unit", [
    ("uV", 1.0), ("UV", 1.0), ("uv", 1.0), ("\u00b5V", 1.0), ("\u00b5V".encode(), 1.0), ("\u03bcV".encode(), 1.0),
    (b"\x83\xcaV", 1.0), ("mV", 1e3), ("MV", 1e3),
    ("V", 1e6), ("nV", 1e-3), ("NV", 1e-3),
])
def test_voltage_units_any_spelling_read_in_microvolts(tmp_path, unit, per_unit):
    # The same 50-µV sine written in each unit: every file reads back as the same µV.
    t = np.arange(6000) / 100
    uv = 50 * np.sin(2 * np.pi * 1.5 * t)
    full = 200 / per_unit  # ±200 µV full scale in the file's own unit
    p = _two_channels(tmp_path, eeg_uv=uv / per_unit, unit=unit, pmin=f"{-full:.6g}", pmax=f"{full:.6g}")
    rec = open_recording(p)
    np.testing.assert_allclose(rec.eeg, uv, atol=0.02)


def test_digital_min_equal_max_refused(tmp_path, capsys):
    p = _two_channels(tmp_path, dmin=0, dmax=0)
    with pytest.raises(SleepScopeError, match="impossible scaling: digital minimum 0, maximum 0"):
        open_recording(p)
    assert main(["info", str(p)]) == 2
    assert "impossible scaling" in capsys.readouterr().err


def test_physical_min_equal_max_refused(tmp_path):
    p = _two_channels(tmp_path, pmin=100, pmax=100)
    with pytest.raises(SleepScopeError, match="physical minimum and maximum are both 100"):
        read_info(p)


def test_eeg_amplitude_implausible_for_its_unit_refused(tmp_path):
    # µV numbers labelled volts: ±500 V of EEG
    p = _two_channels(tmp_path, unit="V")
    with pytest.raises(SleepScopeError, match="'EEG Fpz-Cz' spans ±500 V.*unit is probably wrong"):
        open_recording(p)
    # volt numbers labelled µV: a full scale of ±0.001 µV
    p = _two_channels(tmp_path, name="v.edf", unit="uV", pmin=-0.001, pmax=0.001)
    with pytest.raises(SleepScopeError, match="no EEG or EOG reaches"):
        open_recording(p)


def test_annotation_only_edf_explained(capsys):
    with pytest.raises(SleepScopeError, match="holds no signals, only EDF Annotations.*annotation file"):
        read_info(HYPNOGRAM)
    with pytest.raises(SleepScopeError, match="annotation file"):
        open_recording(HYPNOGRAM)
    assert main(["info", HYPNOGRAM]) == 2
    err = capsys.readouterr().err
    assert "annotation file" in err and "Traceback" not in err


def test_zero_samples_per_record_refused(tmp_path):
    p = tmp_path / "zero.edf"
    rng = np.random.default_rng(0)
    write_raw_edf(p, [{"label": "EEG Fpz-Cz", "rate": 100, "data": rng.normal(0, 20, 6000)},
                      {"label": "EOG horizontal", "rate": 100, "data": rng.normal(0, 20, 6000)}], reserved="")
    data = bytearray(p.read_bytes())
    ns = 2
    at = 256 + ns * (16 + 80 + 8 * 5 + 80) + 8  # samples-per-record field of signal 2
    data[at:at + 8] = b"0       "
    p.write_bytes(bytes(data))
    with pytest.raises(SleepScopeError, match="'EOG horizontal' has 0 samples per data record"):
        read_info(p)


def test_bdf_named_edf_is_read_as_bdf(tmp_path):
    rng = np.random.default_rng(6)
    eeg, eog = rng.normal(0, 20, 6000), rng.normal(0, 20, 6000)
    sig = [{"label": "EEG Fpz-Cz", "rate": 100, "data": eeg}, {"label": "EOG horizontal", "rate": 100, "data": eog}]
    as_edf = write_raw_edf(tmp_path / "night.edf", sig, reserved="", bdf=True)
    as_bdf = write_raw_edf(tmp_path / "night.bdf", sig, reserved="", bdf=True)
    assert read_info(as_edf).format == "BDF"
    a, b = open_recording(as_edf), open_recording(as_bdf)
    np.testing.assert_array_equal(a.eeg, b.eeg)
    np.testing.assert_allclose(a.eeg, eeg, atol=0.01)  # 24 bits over ±500 µV


def test_eeg_and_eog_naming_the_same_channel_says_so(tmp_path, capsys):
    p = _write(tmp_path, ["EEG Fpz-Cz", "EOG horizontal"])
    with pytest.raises(SleepScopeError, match="both name the channel 'EEG Fpz-Cz'.*two different"):
        open_recording(p, eeg="EEG Fpz-Cz", eog="eeg fpz-cz")
    assert main(["info", str(p), "--eeg", "EEG Fpz-Cz", "--eog", "EEG Fpz-Cz"]) == 2
    err = capsys.readouterr().err
    assert "both name the channel" in err and "damaged" not in err


def test_header_fields_padded_with_nul_bytes_are_read(tmp_path, capsys):
    """Some writers pad the header's text fields with NUL bytes instead of spaces. Such a file reads as the
    space-padded one, amplitudes and clock included (it was refused: its labels kept their NULs and matched no
    channel MNE read, and a NUL-padded 'uV' would have been read in volts)."""
    data = bytearray(open(REAL, "rb").read())
    ns = int(data[252:256])

    def nul_pad(offset: int, width: int) -> None:
        data[offset:offset + width] = bytes(data[offset:offset + width]).rstrip(b" ").ljust(width, b"\x00")

    for offset, width in ((168, 8), (176, 8), (236, 8), (252, 4)):  # start date and time, records, signals
        nul_pad(offset, width)
    for field, width in ((0, 16), (96, 8), (104, 8), (112, 8), (120, 8), (128, 8), (216, 8)):
        for i in range(ns):  # labels, units, physical and digital ranges, samples per record
            nul_pad(256 + field * ns + i * width, width)
    p = tmp_path / "nul.edf"
    p.write_bytes(bytes(data))
    rec, ref = open_recording(p), open_recording(REAL)
    assert (rec.eeg_name, rec.eog_name) == ("EEG Fpz-Cz", "EOG horizontal")
    assert rec.start_time == ref.start_time
    np.testing.assert_array_equal(rec.eeg, ref.eeg)
    np.testing.assert_array_equal(rec.eog, ref.eog)
    assert main(["info", str(p)]) == 0 and "EEG Fpz-Cz" in capsys.readouterr().out


def test_signals_sharing_a_label_are_told_apart_and_each_is_read(tmp_path, capsys):
    """Two signals labelled 'EEG' (the file's Fpz-Cz and Pz-Oz): listed as 'EEG (1)' and 'EEG (2)', the first
    chosen, either readable by its name (MNE renamed both and the file could not be opened)."""
    data = bytearray(open(REAL, "rb").read())
    ns = int(data[252:256])
    data[256:256 + 32] = b"EEG".ljust(16) * 2
    p = tmp_path / "twice.edf"
    p.write_bytes(bytes(data))
    ref = open_recording(REAL, eeg="EEG Pz-Oz")
    first, second = open_recording(p), open_recording(p, eeg="EEG (2)")
    assert [c.name for c in read_info(p).channels][:3] == ["EEG (1)", "EEG (2)", "EOG horizontal"]
    assert first.eeg_name == "EEG (1)" and ns == 7
    np.testing.assert_array_equal(first.eeg, open_recording(REAL).eeg)
    np.testing.assert_array_equal(second.eeg, ref.eeg)
    np.testing.assert_array_equal(second.eog, ref.eog)
    assert main(["info", str(p)]) == 0 and "EEG (2)" in capsys.readouterr().out


def test_a_start_date_that_cannot_be_read_keeps_the_time_of_day(tmp_path):
    """A header whose date is no date (31 February) starts at EDF's unknown 1985-01-01, but at its own time of
    day: hypnograms in clock times (DOMINO, CAP, RML) are placed by it (it became midnight)."""
    data = bytearray(open(REAL, "rb").read())
    data[168:176] = b"31.02.99"
    p = tmp_path / "bad-date.edf"
    p.write_bytes(bytes(data))
    assert read_info(p).start_time == datetime(1985, 1, 1, 16, 13, 0)
    assert open_recording(p).start_time == datetime(1985, 1, 1, 16, 13, 0)
