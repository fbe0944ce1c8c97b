"""Reading the fixed-layout EDF/EDF+/BDF header ourselves.

MNE reads the signals, but we parse the header first because it is cheap
(a few kilobytes), lets `read_info` answer without MNE, and lets us refuse a
truncated or foreign file with a clear message before MNE fails deep inside
with a message about buffer sizes.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from pathlib import Path

from sleepscope.errors import SleepScopeError

#: File names of EDF, EDF+ and BDF recordings (".rec": what older EDF software wrote).
RECORDING_SUFFIXES = (".edf", ".bdf", ".rec")

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_ANNOTATION_LABELS = {"EDF Annotations", "BDF Annotations"}
#: the digital sample range each format can store (16-bit EDF, 24-bit BDF)
_DIGITAL_LIMITS = {False: (-32768, 32767), True: (-8388608, 8388607)}

#: µV per unit of each spelling of a voltage dimension, compared in lower case
#: without spaces: labs write µV as "uV", "UV", "µV" (micro sign), "μV" (Greek
#: mu) or, from Japanese software, the Shift-JIS bytes of mu read as Latin-1.
_MICROVOLTS_PER_UNIT = {
    "v": 1e6, "volt": 1e6, "volts": 1e6,
    "mv": 1e3, "millivolt": 1e3, "millivolts": 1e3,
    "uv": 1.0, "\u00b5v": 1.0, "\u03bcv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
    # the same µ/μ written in UTF-8 or Shift-JIS, read as Latin-1 (the header's own bytes)
    "\u00e2\u00b5v": 1.0, "\u00ce\u00bcv": 1.0, "\x83\xcav": 1.0,
    "nv": 1e-3, "nanovolt": 1e-3, "nanovolts": 1e-3,
}


#: the low-pass of a prefiltering field: "LP:35Hz" (the EDF spec's form), "LP: 70 Hz", "LPF=0.1kHz", "Lowpass 35 Hz"
_NUMBER = r"([0-9]+(?:[.,][0-9]+)?)"
#: "LP:35Hz", "LPF=40 Hz", "low-pass 45Hz", and without the unit when nothing follows but a separator ("LP:30").
_LOWPASS = re.compile(r"\b(?:LPF?|low[- ]?pass)\s*[:=]?\s*" + _NUMBER + r"\s*(?:(k?)hz|(?=[\s,;]|$))", re.IGNORECASE)
#: Notch specifications, left out before a range is read as a band ("N:50-60Hz", "50-60 Hz notch").
_NOTCH = re.compile(r"\b(?:N|notch)\s*[:=]?\s*[0-9.,]+\s*(?:hz)?(?:\s*[-\u2013]\s*[0-9.,]+\s*(?:hz)?)?"
                    r"|[0-9.,]+\s*(?:hz)?\s*[-\u2013]\s*[0-9.,]+\s*hz\s*notch", re.IGNORECASE)
#: A band written as a range ("BP:0.3-35Hz", "0.3 - 35 Hz"): its upper edge.
_BAND = re.compile(r"(?:^|[\s:=,;])" + _NUMBER + r"\s*(?:hz)?\s*[-\u2013]\s*" + _NUMBER + r"\s*(k?)hz", re.IGNORECASE)


def prefilter_lowpass(prefilter: str) -> float | None:
    """The low-pass cut-off (Hz) an EDF prefiltering field names ("HP:0.1Hz LP:35Hz N:50Hz" -> 35), or None."""
    m = _LOWPASS.search(prefilter or "")
    if m is not None:
        hz = float(m.group(1).replace(",", ".")) * (1000.0 if m.group(2) else 1.0)
    else:
        band = _BAND.search(_NOTCH.sub(" ", prefilter or ""))
        if band is None:
            return None
        low, high = (float(band.group(i).replace(",", ".")) for i in (1, 2))
        hz = high * (1000.0 if band.group(3) else 1.0)
        if hz <= low:
            return None
    return hz if hz > 0 else None


def microvolts_per_unit(unit: str) -> float | None:
    """µV in one unit of an EDF physical dimension ("UV" -> 1, "mV" -> 1000), None if not a voltage."""
    return _MICROVOLTS_PER_UNIT.get(re.sub(r"\s+", "", unit).lower())


@dataclass(frozen=True)
class SignalHeader:
    label: str
    unit: str
    samples_per_record: int
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    prefilter: str
    #: the label and unit as MNE reads them: only spaces stripped, so a NUL-padded field keeps its NULs there
    mne_label: str
    mne_unit: str

    @property
    def is_annotation(self) -> bool:
        return self.label in _ANNOTATION_LABELS

    @property
    def peak_microvolts(self) -> float | None:
        """The largest amplitude the header can express, in µV (None: not a voltage)."""
        per = microvolts_per_unit(self.unit)
        return None if per is None else per * max(abs(self.physical_min), abs(self.physical_max))


@dataclass(frozen=True)
class EdfHeader:
    path: Path
    format: str  # "EDF", "EDF+C", "EDF+D", "BDF", "BDF+C", "BDF+D"
    start_time: datetime
    header_bytes: int
    n_records: int
    record_duration: float
    signals: tuple[SignalHeader, ...]
    file_size: int

    @property
    def bytes_per_sample(self) -> int:
        return 3 if self.format.startswith("BDF") else 2

    @property
    def record_bytes(self) -> int:
        return sum(s.samples_per_record for s in self.signals) * self.bytes_per_sample

    @property
    def duration_s(self) -> float:
        return self.n_records * self.record_duration

    @property
    def data_signals(self) -> tuple[SignalHeader, ...]:
        return tuple(s for s in self.signals if not s.is_annotation)

    def rate(self, signal: SignalHeader) -> float:
        return signal.samples_per_record / self.record_duration

    @property
    def is_discontinuous(self) -> bool:
        return self.format.endswith("+D")


def read_header(path: str | os.PathLike) -> EdfHeader:
    """Parse and validate the header of an EDF, EDF+ or BDF file (raises SleepScopeError)."""
    path = Path(path)
    if not path.is_file():
        raise SleepScopeError(f"{path}: no such file. Check the path and try again.")
    size = path.stat().st_size
    with open(path, "rb") as f:
        fixed = f.read(256)
        if len(fixed) < 256:
            raise _not_edf(path, f"it has only {len(fixed)} bytes, less than an EDF header")
        is_bdf = fixed[:8] == b"\xffBIOSEMI"
        if not is_bdf and fixed[:8] != b"0       ":
            raise _not_edf(path, "its first bytes are not an EDF or BDF version field")
        # The patient and recording fields are free text that real recorders fill with accented names
        # (latin-1) despite the standard's ASCII; the numeric fields below decide whether this is an EDF.
        text = fixed[8:].decode("latin-1")
        try:
            header_bytes = int(_field_text(text[176:184]))
            reserved = _field_text(text[184:228])
            n_records = int(_field_text(text[228:236]))
            record_duration = float(_field_text(text[236:244]))
            ns = int(_field_text(text[244:248]))
        except ValueError:
            raise _not_edf(path, "its header fields (sizes, record count, duration) are not numbers") from None
        if not math.isfinite(record_duration) or record_duration < 0 or n_records < -1:
            raise _not_edf(path, f"its data record duration ({text[236:244].strip()!r}) or record count "
                                 f"({n_records}) is impossible")
        if ns < 0 or header_bytes != 256 * (ns + 1):
            raise _not_edf(path, f"its header declares {ns} signals but {header_bytes} header bytes")
        rest = f.read(256 * ns)
    if len(rest) < 256 * ns:
        raise SleepScopeError(
            f"{path} is truncated: its header is cut short. The file was not copied or "
            "downloaded completely; fetch it again."
        )
    try:
        signals = _parse_signals(rest.decode("latin-1"), ns)
    except ValueError:
        raise _not_edf(path, "its signal headers are not valid") from None
    for s in signals:
        _check_signal(path, s, is_bdf)
    fmt = ("BDF" if is_bdf else "EDF") + (f"+{reserved[4]}" if reserved.startswith(("EDF+", "BDF+")) and len(reserved) > 4 else "")
    start = _start_time(_field_text(text[160:168]), _field_text(text[168:176]), text[80:160])
    record_bytes = sum(s.samples_per_record for s in signals) * (3 if is_bdf else 2)
    available = (size - header_bytes) // record_bytes if record_bytes else 0
    if n_records < 0:  # -1: the recorder never wrote the count; the file size tells it
        n_records = available
    elif record_bytes and available < n_records:
        have_s = available * record_duration
        want_s = n_records * record_duration
        raise SleepScopeError(
            f"{path} is truncated: its header announces {n_records} data records "
            f"({_hms(want_s)}) but the file holds only {available} "
            f"({_hms(have_s)}, {size} bytes). The file was not copied or downloaded "
            "completely; fetch it again from its source."
        )
    if record_duration <= 0 and any(s.samples_per_record for s in signals if not s.is_annotation):
        raise _not_edf(path, f"its data record duration is {record_duration} s")
    return EdfHeader(path, fmt, start, header_bytes, n_records, record_duration, tuple(signals), size)


#: A record's time-keeping TAL (its start, and no annotation), which EDF+ writes first in every record.
_TIMEKEEPING = re.compile(rb"([+-]\d+(?:\.\d*)?)\x14\x14")
#: One TAL: onset, an optional duration, then annotations each closed by 0x14; the TAL is closed by 0x00.
_TAL = re.compile(rb"([+-]\d+(?:\.\d*)?)(?:\x15(\d+(?:\.\d*)?))?\x14((?:[^\x00]*?\x14)*)\x00")


def record_onsets(hdr: EdfHeader) -> list[float]:
    """Each data record's start, in seconds after the file's start time.

    EDF+ writes it in the first annotation of every record (the time-keeping
    TAL, ``+onset\\x14\\x14``); an EDF+D file has gaps between records, so
    only these times place its samples on the clock. A plain or EDF+C file is
    contiguous: record r starts at r x the record duration.
    """
    if not hdr.is_discontinuous:
        return [r * hdr.record_duration for r in range(hdr.n_records)]
    records = annotation_records(hdr)
    if records is None:
        raise SleepScopeError(
            f"{hdr.path} says it is discontinuous (EDF+D) but has no annotation signal giving the "
            "records' start times. Export the recording again.")
    onsets = []
    for r, data in enumerate(records):
        m = _TIMEKEEPING.match(data)
        onset = float(m.group(1)) if m else math.nan
        if not math.isfinite(onset) or (onsets and onset < onsets[-1] + hdr.record_duration - 1e-6):
            raise SleepScopeError(
                f"{hdr.path} is damaged: data record {r} of this discontinuous (EDF+D) file has "
                + ("no readable start time" if not math.isfinite(onset) else
                   f"start time {onset:g} s, before the end of the record before it")
                + ". Export or download it again.")
        onsets.append(onset)
    return onsets


def annotation_records(hdr: EdfHeader) -> list[bytes] | None:
    """The bytes of the annotation signals (EDF+ TALs) of each data record, or None without an annotation signal.

    Read as one strided view of the file rather than a seek per record: a 48-h file has 170,000 records."""
    import numpy as np

    spans, offset = [], 0
    for sig in hdr.signals:
        width = sig.samples_per_record * hdr.bytes_per_sample
        if sig.is_annotation:
            spans.append((offset, offset + width))
        offset += width
    if not spans:
        return None
    if hdr.n_records == 0 or hdr.record_bytes == 0:
        return []
    data = np.memmap(hdr.path, np.uint8, "r", offset=hdr.header_bytes, shape=(hdr.n_records, hdr.record_bytes))
    try:
        block = np.concatenate([data[:, a:b] for a, b in spans], axis=1)
    finally:
        del data
    return [row.tobytes() for row in block]


def annotations(hdr: EdfHeader) -> list[tuple[float, float, str]]:
    """(onset s, duration s (0 for an instant), text) of every EDF+ annotation, the records' time-keeping entries
    left out; [] without an annotation signal.

    Onsets are on the clock the signals are read on: after the file's start time in a discontinuous file, after
    its first sample in a contiguous one (whose first record may start a fraction of a second after the start
    time the header can write).

    Opening a night asks for them up to three times (is there a scoring in them, the scoring, the other
    annotations): the last files parsed are kept, keyed by the header and the file's modification time."""
    try:
        mtime = hdr.path.stat().st_mtime_ns
    except OSError:
        mtime = -1
    return list(_parsed_annotations(hdr, mtime))


@functools.lru_cache(maxsize=4)
def _parsed_annotations(hdr: EdfHeader, mtime_ns: int) -> tuple[tuple[float, float, str], ...]:
    records = annotation_records(hdr) or []
    shift = 0.0
    if records and not hdr.is_discontinuous:
        first = _TIMEKEEPING.match(records[0])
        shift = float(first.group(1)) if first else 0.0
    out = []
    for data in records:
        for m in _TAL.finditer(data):
            texts = [t for t in m.group(3).split(b"\x14") if t.strip()]
            if texts:
                onset, duration = float(m.group(1)) - shift, float(m.group(2) or 0.0)
                out.extend((onset, duration, _annotation_text(t)) for t in texts)
    return tuple(out)


def _field_text(raw: str) -> str:
    """A header field's text: some writers pad with NUL bytes instead of spaces (MNE reads up to the first)."""
    return raw.split("\x00", 1)[0].strip()


def _annotation_text(raw: bytes) -> str:
    """EDF+ writes annotations in UTF-8; older exporters wrote Latin-1 ("Stade \xe9veil"), which reads as such
    rather than losing its accented letters, and with them the stage or the arousal they name."""
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def _parse_signals(text: str, ns: int) -> list[SignalHeader]:
    def raw_field(offset: int, width: int) -> list[str]:
        base = offset * ns
        return [text[base + i * width: base + (i + 1) * width] for i in range(ns)]

    def field(offset: int, width: int) -> list[str]:
        return [_field_text(f) for f in raw_field(offset, width)]

    def mne_text(raw: str) -> str:
        return raw.encode("latin-1").strip().decode("latin-1")

    labels = field(0, 16)
    units = field(16 + 80, 8)
    pmin = field(16 + 80 + 8, 8)
    pmax = field(16 + 80 + 16, 8)
    dmin = field(16 + 80 + 24, 8)
    dmax = field(16 + 80 + 32, 8)
    prefilter = field(16 + 80 + 40, 80)
    nsamp = field(16 + 80 + 40 + 80, 8)
    out = []
    for i in range(ns):
        physical = float(pmin[i]), float(pmax[i])
        if not all(math.isfinite(v) for v in physical):
            raise ValueError("physical range is not finite")
        out.append(SignalHeader(
            label=labels[i], unit=units[i], samples_per_record=int(nsamp[i]),
            physical_min=physical[0], physical_max=physical[1],
            digital_min=int(dmin[i]), digital_max=int(dmax[i]), prefilter=prefilter[i],
            mne_label=mne_text(raw_field(0, 16)[i]), mne_unit=mne_text(raw_field(16 + 80, 8)[i]),
        ))
    return _distinct_labels(out)


def _distinct_labels(signals: list[SignalHeader]) -> list[SignalHeader]:
    """Signals that share a label (two "EEG", legs' "EMG") are told apart as "EEG (1)", "EEG (2)", in file order,
    so that each can be chosen and read; annotation signals keep theirs."""
    counts = Counter(s.label for s in signals if not s.is_annotation)
    seen: Counter = Counter()
    out = []
    for s in signals:
        if not s.is_annotation and counts[s.label] > 1:
            seen[s.label] += 1
            s = replace(s, label=f"{s.label} ({seen[s.label]})".strip())
        out.append(s)
    return out


def _check_signal(path: Path, s: SignalHeader, is_bdf: bool) -> None:
    """Refuse a signal whose header cannot be turned into amplitudes."""
    what = f"{path} signal {s.label!r}"
    if s.samples_per_record < 0:
        raise _not_edf(path, f"signal {s.label!r} declares {s.samples_per_record} samples per data record")
    if s.is_annotation:
        return
    if s.samples_per_record == 0:
        raise SleepScopeError(
            f"{what} has 0 samples per data record: it holds no data, which no EDF writer should "
            "produce. Export the recording again from the acquisition software.")
    lo, hi = _DIGITAL_LIMITS[is_bdf]
    if not lo <= s.digital_min < s.digital_max <= hi:
        raise SleepScopeError(
            f"{what} has an impossible scaling: digital minimum {s.digital_min}, maximum {s.digital_max} "
            f"(a {'BDF' if is_bdf else 'EDF'} file needs {lo} <= minimum < maximum <= {hi}), so its "
            "samples cannot be converted to amplitudes. Export the recording again.")
    if s.physical_min == s.physical_max:
        raise SleepScopeError(
            f"{what} has an impossible scaling: its physical minimum and maximum are both "
            f"{s.physical_min:g} {s.unit}, so every sample would read the same. Export the recording again.")


def _start_time(d: str, t: str, recording_field: str) -> datetime:
    """The header's start; a date that cannot be read is EDF's "unknown" 1985-01-01, keeping the time of day,
    which places hypnograms written in clock times, and 00:00:00 for a time that cannot be read."""
    try:
        # The standard's separator is "."; some writers put ":" in the time or "-" or "/" in the date.
        clock = time(*(int(x) for x in re.split(r"[.:]", t.strip())))
    except (ValueError, TypeError):
        clock = time(0, 0, 0)
    try:
        day, month, yy = (int(x) for x in re.split(r"[./-]", d.strip()))
        # EDF+ writes the 4-digit year in the recording field; plain EDF has only yy (1985-2084).
        year = 1900 + yy if yy >= 85 else 2000 + yy
        m = re.search(r"Startdate (\d{2})-([A-Z]{3})-(\d{4})", recording_field)
        if m and m.group(2) in _MONTHS:
            year = int(m.group(3))
        day_of = date(year, month, day)
    except ValueError:
        day_of = date(1985, 1, 1)  # EDF's own "unknown date" clipping year
    return datetime.combine(day_of, clock)


def _hms(seconds: float) -> str:
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h} h {rest // 60:02d} min {rest % 60:02d} s"


def _not_edf(path: Path, why: str) -> SleepScopeError:
    return SleepScopeError(
        f"{path} is not an EDF/EDF+/BDF file: {why}. Open the recording exported by the "
        "acquisition software in EDF or BDF format (other formats must be converted first)."
    )
