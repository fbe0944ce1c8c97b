"""EDF+D (discontinuous) recordings: records placed at their own start times, gaps shown and not scored.

The files are written byte by byte here (`write_raw_edf`), so that the tests
control every header field: EDF+D record times, BDF, odd units and scalings.
"""

from datetime import datetime, timedelta

import numpy as np
import pytest

from sleepscope.cli import main
from sleepscope.errors import SleepScopeError
from sleepscope.io import open_recording, read_info

START = datetime(2022, 3, 4, 22, 30, 0)


def _field(value, width: int) -> bytes:
    text = value if isinstance(value, bytes) else str(value).encode("latin-1")
    if len(text) > width:
        raise ValueError(f"{value!r} does not fit {width} bytes")
    return text.ljust(width, b" ")


def write_raw_edf(path, signals, *, record_duration=1.0, onsets=None, reserved="EDF+C", bdf=False,
                  start=START, n_records=None, tals=None):
    """Write an EDF(+)/BDF(+) file from `signals`: a list of dicts with label, rate, data (physical
    values) and optional unit, pmin, pmax, dmin, dmax. `onsets` (seconds, one per record) adds an
    annotation signal with each record's time-keeping TAL (needed for EDF+C/EDF+D); `tals` ({record: bytes})
    adds annotations after a record's time-keeping TAL."""
    width = 3 if bdf else 2
    n_rec = len(signals[0]["data"]) // int(signals[0]["rate"] * record_duration)
    if onsets is None and reserved.endswith(("+C", "+D")):
        onsets = [r * record_duration for r in range(n_rec)]
    all_signals = list(signals)
    ann_samples = 30 if bdf else 45  # 90 bytes per record for the TAL
    if onsets is not None:
        all_signals.append({"label": ("BDF" if bdf else "EDF") + " Annotations", "annotation": True})
    ns = len(all_signals)
    dlim = (-8388608, 8388607) if bdf else (-32768, 32767)
    hdr = b"\xffBIOSEMI" if bdf else b"0       "
    hdr += _field("X X X X", 80)
    hdr += _field(f"Startdate {start.strftime('%d-%b-%Y').upper()} X X X", 80)
    hdr += _field(start.strftime("%d.%m.%y"), 8) + _field(start.strftime("%H.%M.%S"), 8)
    hdr += _field(256 * (ns + 1), 8) + _field(reserved if not bdf or reserved else "24BIT", 44)
    hdr += _field(n_rec if n_records is None else n_records, 8) + _field(f"{record_duration:g}", 8)
    hdr += _field(ns, 4)

    def col(key, default, w):
        return b"".join(_field(s.get(key, default(s)) if not s.get("annotation") else default(s), w)
                        for s in all_signals)

    hdr += b"".join(_field(s["label"], 16) for s in all_signals)
    hdr += col("transducer", lambda s: "", 80)
    hdr += col("unit", lambda s: "" if s.get("annotation") else "uV", 8)
    hdr += col("pmin", lambda s: dlim[0] if s.get("annotation") else -500, 8)
    hdr += col("pmax", lambda s: dlim[1] if s.get("annotation") else 500, 8)
    hdr += col("dmin", lambda s: dlim[0], 8)
    hdr += col("dmax", lambda s: dlim[1], 8)
    hdr += col("prefilter", lambda s: "", 80)
    hdr += b"".join(_field(ann_samples if s.get("annotation") else int(s["rate"] * record_duration), 8)
                    for s in all_signals)
    hdr += b"".join(_field("", 32) for _ in all_signals)
    records = []
    for r in range(n_rec):
        parts = []
        for s in all_signals:
            if s.get("annotation"):
                tal = f"+{onsets[r]:g}".encode() + b"\x14\x14\x00" + (tals or {}).get(r, b"")
                parts.append(tal.ljust(ann_samples * width, b"\x00"))
                continue
            per = int(s["rate"] * record_duration)
            x = np.asarray(s["data"][r * per:(r + 1) * per], dtype=np.float64)
            pmin, pmax = float(s.get("pmin", -500)), float(s.get("pmax", 500))
            dmin, dmax = int(s.get("dmin", dlim[0])), int(s.get("dmax", dlim[1]))
            d = np.round((x - pmin) / (pmax - pmin) * (dmax - dmin) + dmin) if pmax != pmin else np.full(per, dmin)
            d = np.clip(d, dlim[0], dlim[1]).astype(np.int32)
            if bdf:
                b = d.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
                parts.append(b.tobytes())
            else:
                parts.append(d.astype("<i2").tobytes())
        records.append(b"".join(parts))
    path.write_bytes(hdr + b"".join(records))
    return path


def _night_with_gap(tmp_path, before_s=600, gap_s=3600, after_s=600, name="gap.edf"):
    """EEG/EOG at 100 Hz, 30-s records; recording stops for `gap_s` after `before_s`."""
    rng = np.random.default_rng(5)
    rec_s = 30
    n_before, n_after = before_s // rec_s, after_s // rec_s
    onsets = [r * rec_s for r in range(n_before)] + [before_s + gap_s + r * rec_s for r in range(n_after)]
    n = (n_before + n_after) * rec_s * 100
    # a slow ramp on the EEG tells each sample's own time: value = minutes since the start of its record run
    eeg = rng.normal(0, 20, n)
    eeg[: before_s * 100] += 100.0   # before the gap: offset +100 µV
    eeg[before_s * 100:] -= 100.0    # after the gap: offset -100 µV
    eog = rng.normal(0, 20, n)
    sig = [{"label": "EEG Fpz-Cz", "rate": 100, "data": eeg}, {"label": "EOG horizontal", "rate": 100, "data": eog}]
    p = write_raw_edf(tmp_path / name, sig, record_duration=rec_s, onsets=onsets, reserved="EDF+D")
    return p, before_s, gap_s, after_s


def test_edf_plus_d_gap_keeps_the_clock(tmp_path):
    p, before, gap, after = _night_with_gap(tmp_path)
    info = read_info(p)
    assert info.format == "EDF+D"
    assert info.duration_s == before + gap + after
    assert info.gaps == ((before, before + gap),)
    rec = open_recording(p)
    n_ep = (before + gap + after) // 30
    assert rec.n_epochs == n_ep
    g = rec.gap
    assert g.dtype == bool and g.shape == (n_ep,)
    first_gap, first_after = before // 30, (before + gap) // 30
    assert not g[:first_gap].any() and g[first_gap:first_after].all() and not g[first_after:].any()
    # clock times after the gap are right: the epoch at 11:10 pm+1 h carries the after-gap signal
    assert rec.epoch_time(first_after) == START + timedelta(seconds=before + gap)
    assert rec.epoch_onsets_s[first_after] == before + gap
    eeg = rec.epochs("eeg")
    assert abs(eeg[first_after - 1].mean()) == 0.0        # the gap: no signal
    assert eeg[first_after].mean() < -80 and eeg[first_gap - 1].mean() > 80  # signal from the right side
    assert eeg[first_after:].mean() < -80                 # every after-gap epoch in its place
    # gaps are not flat-lined electrodes
    assert rec.quality.flat_epochs[rec.eeg_name] == ()
    assert np.isfinite(rec.model_input()).all()


def test_gap_epochs_not_scored_by_predict(tmp_path):
    import torch

    from sleepscope.model.config import TINY
    from sleepscope.model.infer import predict
    from sleepscope.model.network import SleepStager

    p, before, gap, _ = _night_with_gap(tmp_path, before_s=300, gap_s=900, after_s=300)
    rec = open_recording(p)
    torch.manual_seed(0)
    pred = predict(rec, SleepStager(TINY).eval(), threads=1)
    assert pred.n_epochs == rec.n_epochs
    assert (pred.stages[rec.gap] == -1).all() and (pred.stages[~rec.gap] >= 0).all()


def test_contiguous_edf_plus_has_no_gaps(tmp_path):
    rng = np.random.default_rng(1)
    sig = [{"label": "EEG Fpz-Cz", "rate": 100, "data": rng.normal(0, 20, 6000)},
           {"label": "EOG horizontal", "rate": 100, "data": rng.normal(0, 20, 6000)}]
    p = write_raw_edf(tmp_path / "c.edf", sig, record_duration=1.0, reserved="EDF+C")
    rec = open_recording(p)
    assert rec.n_epochs == 2 and not rec.gap.any() and read_info(p).gaps == ()


def test_edf_plus_d_records_out_of_order_refused(tmp_path):
    rng = np.random.default_rng(2)
    sig = [{"label": "EEG Fpz-Cz", "rate": 100, "data": rng.normal(0, 20, 9000)},
           {"label": "EOG horizontal", "rate": 100, "data": rng.normal(0, 20, 9000)}]
    p = write_raw_edf(tmp_path / "bad.edf", sig, record_duration=30, onsets=[0, 90, 60], reserved="EDF+D")
    with pytest.raises(SleepScopeError, match="record 2 .* before the end of the record before it"):
        open_recording(p)


def test_info_shows_the_gap(tmp_path, capsys):
    p, *_ = _night_with_gap(tmp_path)
    assert main(["info", str(p)]) == 0
    out = capsys.readouterr().out
    assert "EDF+D" in out and "gap:" in out and "60.0 min without signal" in out
