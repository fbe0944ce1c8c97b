"""Random EDF/BDF headers: a clear message or a correct read, never a traceback.

Headers are generated field by field (sizes, scalings, units, durations, record
counts; sane and absurd values), so that the expected verdict is known: a
header that breaks a rule of the format must be refused with SleepScopeError,
one that keeps them must read back exactly as written. Random byte flips and
cuts on top of that have no oracle: a message or a read, never another exception.
"""

import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sleepscope.errors import SleepScopeError
from sleepscope.io.edfheader import read_header, record_onsets
from sleepscope.io.recording import open_recording, read_info

def _fit(text: str, width: int) -> bytes:
    return text.encode("utf-8", "replace")[:width].ljust(width, b" ")


@st.composite
def headers(draw):
    """(file bytes, fields): an EDF/BDF file whose header fields are drawn, data sized to the header."""
    bdf = draw(st.booleans())
    ns = draw(st.integers(1, 4))
    sig = []
    for i in range(ns):
        annotation = i == ns - 1 and draw(st.booleans())
        dlim = (-8388608, 8388607) if bdf else (-32768, 32767)
        sig.append({
            "label": ("BDF" if bdf else "EDF") + " Annotations" if annotation else draw(
                st.sampled_from(["EEG Fpz-Cz", "EOG horizontal", "EMG", "C3-M2", "Resp"])) + f" {i}",
            "unit": "" if annotation else draw(st.sampled_from(["uV", "UV", "mV", "V", "nV", "µV", "degC", "", "%"])),
            "pmin": draw(st.one_of(st.sampled_from([-500.0, -1.0, 0.0, 3.0]), st.floats(-1e6, 1e6))),
            "pmax": draw(st.one_of(st.sampled_from([500.0, 1.0, 3.0]), st.floats(-1e6, 1e6))),
            "dmin": draw(st.one_of(st.just(dlim[0]), st.integers(-10**8, 10**8))),
            "dmax": draw(st.one_of(st.just(dlim[1]), st.integers(-10**8, 10**8))),
            "spr": draw(st.one_of(st.sampled_from([1, 10, 100]), st.integers(-5, 300))),
            "annotation": annotation,
        })
    duration = draw(st.one_of(st.sampled_from([1.0, 30.0, 0.5, 0.0, -1.0, math.nan, math.inf]), st.floats(-10, 100)))
    n_records = draw(st.one_of(st.integers(1, 4), st.integers(-3, 6)))
    records_written = draw(st.integers(0, 5))
    reserved = draw(st.sampled_from(["", "EDF+C", "EDF+D", "BDF+C", "24BIT"]))
    return bdf, sig, duration, n_records, records_written, reserved


def _build(bdf, sig, duration, n_records, records_written, reserved) -> bytes:
    ns = len(sig)
    h = (b"\xffBIOSEMI" if bdf else b"0       ") + _fit("X X X X", 80) + _fit("Startdate 04-MAR-2022 X X X", 80)
    h += _fit("04.03.22", 8) + _fit("22.30.00", 8) + _fit(str(256 * (ns + 1)), 8) + _fit(reserved, 44)
    h += _fit(str(n_records), 8) + _fit(f"{duration:g}", 8) + _fit(str(ns), 4)
    h += b"".join(_fit(s["label"], 16) for s in sig) + b"".join(_fit("", 80) for _ in sig)
    h += b"".join(_fit(s["unit"], 8) for s in sig)
    h += b"".join(_fit(f"{s[k]:.6g}" if isinstance(s[k], float) else str(s[k]), 8)
                  for k in ("pmin", "pmax", "dmin", "dmax") for s in sig)
    h += b"".join(_fit("", 80) for _ in sig) + b"".join(_fit(str(s["spr"]), 8) for s in sig)
    h += b"".join(_fit("", 32) for _ in sig)
    width = 3 if bdf else 2
    per_record = sum(max(s["spr"], 0) for s in sig) * width
    records = []
    for r in range(records_written):
        rec = b""
        for s in sig:
            n = max(s["spr"], 0) * width
            if s["annotation"]:
                rec += (f"+{r * duration:g}".encode() + b"\x14\x14\x00").ljust(n, b"\x00")[:n]
            else:
                rec += np.random.default_rng(r).integers(0, 256, n, dtype=np.uint8).tobytes()
        records.append(rec[:per_record])
    return h + b"".join(records)


def _as_written(value, kind):
    """The value the 8-character field holds once written (None where it is no number)."""
    text = (f"{value:.6g}" if isinstance(value, float) else str(value))[:8].strip()
    if kind is float and isinstance(value, float) and not math.isfinite(value):
        text = f"{value:g}"[:8]
    try:
        v = kind(text)
    except ValueError:
        return None
    return v if kind is int or math.isfinite(v) else None


def _expected_valid(bdf, sig, duration, n_records, records_written, reserved) -> bool:
    """The format's rules, written independently of the parser, on the fields as written."""
    dlim = (-8388608, 8388607) if bdf else (-32768, 32767)
    duration = _as_written(duration, float)
    if duration is None or duration < 0 or n_records < -1:
        return False
    for s in sig:
        fields = [_as_written(s[k], kind) for k, kind in
                  (("pmin", float), ("pmax", float), ("dmin", int), ("dmax", int), ("spr", int))]
        if any(f is None for f in fields):
            return False
        pmin, pmax, dmin, dmax, spr = fields
        if spr < 0:
            return False
        if s["annotation"]:
            continue
        if spr == 0 or not dlim[0] <= dmin < dmax <= dlim[1] or pmin == pmax:
            return False
    data = [s for s in sig if not s["annotation"]]
    if data and duration <= 0:
        return False
    per_record = sum(s["spr"] for s in sig) * (3 if bdf else 2)
    if per_record and n_records > records_written:
        return False
    return True


SETTINGS = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(headers())
def test_random_headers_refused_with_a_message_or_read_exactly(h):
    bdf, sig, duration, n_records, records_written, reserved = h
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.edf"
        p.write_bytes(_build(*h))
        valid = _expected_valid(*h)
        try:
            hdr = read_header(p)
        except SleepScopeError as exc:
            assert str(exc) and "\n" not in str(exc)
            assert not valid, f"a valid header was refused: {exc}"
            return
        assert valid, "a header breaking the format's rules was read"
        assert hdr.format.startswith("BDF" if bdf else "EDF")
        assert [s.label for s in hdr.signals] == [s["label"] for s in sig]
        assert [s.samples_per_record for s in hdr.signals] == [s["spr"] for s in sig]
        assert [s.digital_min for s in hdr.signals] == [_as_written(s["dmin"], int) for s in sig]
        assert [s.physical_max for s in hdr.signals] == [_as_written(s["pmax"], float) for s in sig]
        assert [s.unit for s in hdr.signals] == [s["unit"].encode().decode("latin-1") for s in sig]
        assert hdr.record_duration == _as_written(duration, float)
        # -1 ("unknown") is counted from the file's size; records of zero bytes cannot be counted.
        per_record = sum(s["spr"] for s in sig)
        expect_records = (records_written if per_record else 0) if n_records == -1 else n_records
        assert hdr.n_records == expect_records
        try:  # what the other readers build on the header: a message or an answer
            info = read_info(p)
            assert info.duration_s >= 0 and len(info.channels) == sum(not s["annotation"] for s in sig)
            assert len(record_onsets(hdr)) == hdr.n_records
        except SleepScopeError:
            pass


@SETTINGS
@given(headers(), st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=4),
       st.one_of(st.none(), st.integers(0, 3000)))
def test_random_byte_flips_and_cuts_never_a_traceback(h, flips, cut):
    data = bytearray(_build(*h))
    for at, value in flips:
        if at < len(data):
            data[at] = value
    if cut is not None:
        data = data[:cut]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.edf"
        p.write_bytes(bytes(data))
        for read in (read_header, read_info):
            try:
                read(p)
            except SleepScopeError as exc:
                assert str(exc)


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers())
def test_random_headers_open_or_explain(h):
    # Through MNE too: every header the parser lets through is read, or refused with a message.
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.edf"
        p.write_bytes(_build(*h))
        try:
            open_recording(p, eeg=None, eog=None)
        except SleepScopeError as exc:
            assert str(exc)


def test_the_generator_makes_both_verdicts():
    """A control: the strategy yields valid and invalid headers (the properties test both sides)."""
    seen = set()

    @settings(max_examples=200, deadline=None, database=None)
    @given(headers())
    def collect(h):
        seen.add(_expected_valid(*h))

    collect()
    assert seen == {True, False}
