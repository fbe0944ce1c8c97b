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


def test_missing_file(tmp_path):
    assert main(["info", str(tmp_path / "nope.edf")]) == 2


def _write(tmp_path, labels, seconds=60):
    rng = np.random.default_rng(0)
    sig = {lab: (rng.normal(0, 10, seconds * 100), 100) for lab in labels}
    return write_edf(tmp_path / "r.edf", sig, datetime(2022, 1, 1, 23, 0))


def test_missing_eog_channel(tmp_path, capsys):
    p = _write(tmp_path, ["EEG Fpz-Cz", "EMG submental"])
    with pytest.raises(SleepScopeError) as err:
        open_recording(p)
    msg = str(err.value)
    assert "no EOG channel" in msg and "'EMG submental'" in msg and "--eog NAME" in msg
    assert main(["info", str(p)]) == 2
    captured = capsys.readouterr()
    assert "EMG submental" in captured.out and "--eog NAME" in captured.err
    # an explicit choice makes it usable
    rec = open_recording(p, eog="EMG submental")
    assert rec.eog_name == "EMG submental"
    assert main(["info", str(p), "--eog", "emg submental"]) == 0


def test_missing_eeg_channel(tmp_path):
    p = _write(tmp_path, ["EOG horizontal", "Resp oro-nasal"])
    with pytest.raises(SleepScopeError, match="no EEG channel.*--eeg NAME"):
        open_recording(p)


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
