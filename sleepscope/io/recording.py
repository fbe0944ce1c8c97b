"""Recordings: EDF/EDF+/BDF files read through MNE into 100-Hz µV arrays.

Only the channels asked for are read (a 22-h Sleep-EDF file has 7 signals, the
stager needs 2). Channels are read one sampling-rate group at a time, because
MNE brings every channel of a call to the highest rate among them: reading the
100-Hz EEG/EOG apart from Sleep-EDF's 1-Hz channels keeps their samples exact.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.io.channels import ChannelChoice, choose_channels, derived_channels, find_channel
from sleepscope.io.edfheader import EdfHeader, microvolts_per_unit, prefilter_lowpass, read_header, record_onsets
from sleepscope.io.resampling import resample_stream
from sleepscope.tasks import CancelToken, Progress, check, report

EPOCH_SECONDS = 30
TARGET_FS = 100
EPOCH_SAMPLES = EPOCH_SECONDS * TARGET_FS

#: An epoch whose standard deviation is below this (µV) is flat-lined: a
#: disconnected electrode or a clipped amplifier. Real EEG/EOG epochs have a
#: standard deviation of several µV; z-scoring a flat line would only blow up
#: quantisation noise (or divide by zero), so it becomes zeros instead.
FLAT_STD_UV = 0.1

_CHUNK_SECONDS = 3600  # read and resample an hour at a time: progress, cancel, bounded buffers

#: The largest EEG/EOG amplitude a header may claim: amplifiers span a few mV at most;
#: a range of a volt or more means the unit is wrong (µV numbers labelled V).
MAX_PLAUSIBLE_UV = 1e6
#: The smallest: a full scale under a tenth of a µV cannot show EEG (V numbers labelled µV).
MIN_PLAUSIBLE_UV = 0.1


@dataclass(frozen=True)
class ChannelInfo:
    name: str
    fs: float
    unit: str
    n_samples: int


@dataclass(frozen=True)
class RecordingInfo:
    path: Path
    format: str
    start_time: datetime
    duration_s: float
    n_epochs: int
    channels: tuple[ChannelInfo, ...]
    #: (start s, end s) of each stretch without signal in an EDF+D file, from the start time
    gaps: tuple[tuple[float, float], ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        d["start_time"] = self.start_time.isoformat()
        return d


@dataclass(frozen=True)
class SignalQuality:
    """What was wrong in the signals and how the model input works around it."""

    nan_samples: dict[str, int]  # per channel: NaN samples (set to 0 in the model input)
    flat_epochs: dict[str, tuple[int, ...]]  # per channel: flat-lined epochs (zeros in the model input)

    @property
    def ok(self) -> bool:
        return not any(self.nan_samples.values()) and not any(self.flat_epochs.values())

    def summary(self) -> str:
        parts = [f"{n}: {k} NaN samples" for n, k in self.nan_samples.items() if k]
        parts += [f"{n}: {len(e)} flat epochs" for n, e in self.flat_epochs.items() if e]
        return "; ".join(parts) if parts else "no NaN samples, no flat epochs"


@dataclass(eq=False)
class Recording:
    path: Path | None
    start_time: datetime
    fs: float
    channels: dict[str, np.ndarray]
    eeg_name: str | None  # None: the recording has no EEG (the model reads the EOG alone)
    eog_name: str | None  # None: no EOG (the model reads the EEG alone)
    source_rates: dict[str, float]
    _fingerprint: str | None = field(default=None, repr=False)
    _quality: SignalQuality | None = field(default=None, repr=False)
    #: per epoch, True where the file holds no signal for part or all of it (a gap of an EDF+D file);
    #: None: no gaps. Gap epochs read as zeros and are shown, not scored.
    gap_mask: np.ndarray | None = field(default=None, repr=False)
    #: which channels the model reads and why (`sleepscope.io.channels.choose_channels`); None: given by the caller
    channel_choice: ChannelChoice | None = field(default=None, repr=False)
    #: per channel, the low-pass (Hz) its file header says it was recorded through (EDF prefiltering field)
    source_lowpass: dict[str, float] = field(default_factory=dict, repr=False)
    #: the file's 100-Hz sample this recording's sample 0 is (`cropped`); channels read later start there
    first_sample: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        lengths = {len(v) for v in self.channels.values()}
        if len(lengths) != 1:
            raise ValueError(f"channels of unequal lengths: {sorted(lengths)}")
        if self.eeg_name is None and self.eog_name is None:
            raise ValueError("a recording needs an EEG or an EOG channel")
        for key in (self.eeg_name, self.eog_name):
            if key is not None and key not in self.channels:
                raise ValueError(f"channel {key!r} is not among {list(self.channels)}")
        if self.n_epochs < 1:
            where = f"{self.path}" if self.path else "this recording"
            raise SleepScopeError(
                f"{where} lasts {self.duration_s:.1f} s, shorter than one {EPOCH_SECONDS}-s epoch: "
                "there is nothing to score. Open the full-night recording."
            )

    # ---- construction from arrays (tests, generated data)
    @classmethod
    def from_arrays(
        cls,
        eeg: np.ndarray,
        eog: np.ndarray,
        fs: float = TARGET_FS,
        start_time: datetime | None = None,
        eeg_name: str = "EEG Fpz-Cz",
        eog_name: str = "EOG horizontal",
    ) -> "Recording":
        eeg = np.asarray(eeg, dtype=np.float32)
        eog = np.asarray(eog, dtype=np.float32)
        if eeg.shape != eog.shape or eeg.ndim != 1:
            raise ValueError(f"eeg and eog must be 1-D of equal length, got {eeg.shape} and {eog.shape}")
        rates = {eeg_name: float(fs), eog_name: float(fs)}
        if fs != TARGET_FS:
            eeg, eog = resample_to_target(eeg, fs), resample_to_target(eog, fs)
        return cls(
            path=None, start_time=start_time or datetime(2000, 1, 1, 23, 0, 0), fs=float(TARGET_FS),
            channels={eeg_name: eeg, eog_name: eog}, eeg_name=eeg_name, eog_name=eog_name,
            source_rates=rates,
        )

    # ---- shape
    @property
    def eeg(self) -> np.ndarray:
        return self.channels[self.eeg_name]

    @property
    def eog(self) -> np.ndarray:
        return self.channels[self.eog_name]

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.channels.values())))

    @property
    def n_epochs(self) -> int:
        return int(self.n_samples // int(round(self.fs * EPOCH_SECONDS)))

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def gap(self) -> np.ndarray:
        """Per epoch: True in a gap of the recording (no signal), never scored."""
        if self.gap_mask is None:
            return np.zeros(self.n_epochs, dtype=bool)
        return np.asarray(self.gap_mask[: self.n_epochs], dtype=bool)

    @property
    def epoch_onsets_s(self) -> np.ndarray:
        """Seconds from `start_time` to each epoch's start: gaps keep their place on the clock."""
        return np.arange(self.n_epochs, dtype=np.float64) * EPOCH_SECONDS

    def epoch_time(self, i: int) -> datetime:
        """Clock time at which epoch `i` starts."""
        return self.start_time + timedelta(seconds=float(i) * EPOCH_SECONDS)

    def cropped(self, seconds: float) -> "Recording":
        """The recording from `seconds` on, its epochs counted from there: a lab's scoring whose 30-s epochs begin
        seconds into the recording's (`Hypnogram.grid_offset`) is compared with and trained on its own epochs.
        The signals are views; an epoch touching a gap of the original is a gap."""
        skip = int(round(seconds * self.fs))
        if not 0 <= skip < self.n_samples:
            raise ValueError(f"cannot crop {seconds} s of a {self.duration_s:.0f}-s recording")
        gap_mask = None
        if self.gap_mask is not None:
            per = int(round(self.fs * EPOCH_SECONDS))
            n = (self.n_samples - skip) // per
            first = (skip + per * np.arange(n)) // per
            last = np.minimum((skip + per * np.arange(1, n + 1) - 1) // per, len(self.gap_mask) - 1)
            old = np.asarray(self.gap_mask, bool)
            gap_mask = old[first] | old[last]
        return replace(self, start_time=self.start_time + timedelta(seconds=skip / self.fs),
                       channels={k: v[skip:] for k, v in self.channels.items()}, gap_mask=gap_mask, _quality=None,
                       first_sample=self.first_sample + skip)

    # ---- epochs
    def epochs(self, name: str) -> np.ndarray:
        """Raw µV epochs `(n_epochs, 3000)` of "eeg", "eog" or a channel name (a view, not a copy)."""
        key = {"eeg": self.eeg_name, "eog": self.eog_name}.get(name, name)
        if key not in self.channels:
            raise KeyError(f"no channel {name!r}; loaded: {list(self.channels)}")
        per = int(round(self.fs * EPOCH_SECONDS))
        return self.channels[key][: self.n_epochs * per].reshape(self.n_epochs, per)

    def model_input(self) -> np.ndarray:
        """`(n_epochs, 2, 3000)` float32 [EEG, EOG], each epoch z-scored; never NaN; a missing channel is zeros."""
        from sleepscope.model.inputs import model_input  # the one input path (the paper's normalisation)

        q = self.quality
        if any(q.nan_samples.get(n, 0) for n in (self.eeg_name, self.eog_name)):
            warnings.warn(f"recording has missing samples ({q.summary()}); they are set to 0 after z-scoring",
                          stacklevel=2)
        return model_input(self)

    @property
    def quality(self) -> SignalQuality:
        if self._quality is None:
            nan = {n: int(np.count_nonzero(np.isnan(v))) for n, v in self.channels.items()}
            flat = {}
            for n in (self.eeg_name, self.eog_name):
                if n is None:
                    continue
                e = self.epochs(n)
                if nan[n]:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN epochs
                        sd = np.nanstd(e, axis=1)
                else:  # nanstd is several times slower than std
                    sd = e.std(axis=1, dtype=np.float64)
                gap = self.gap  # a gap is reported as a gap, not as a flat-lined electrode
                flat[n] = tuple(int(i) for i in np.flatnonzero(~(sd >= FLAT_STD_UV) & ~gap))
            self._quality = SignalQuality(nan, flat)
        return self._quality

    # ---- identity
    def fingerprint(self) -> str:
        """sha256 of the source file (header and all signal bytes), or of the arrays when there is no file."""
        if self._fingerprint is None:
            if self.path is not None and Path(self.path).is_file():
                self._fingerprint = file_fingerprint(self.path)
            else:
                h = hashlib.sha256()
                h.update(f"fs={self.fs};eeg={self.eeg_name};eog={self.eog_name}".encode())
                for name in sorted(self.channels):
                    h.update(name.encode())
                    h.update(np.ascontiguousarray(self.channels[name], dtype=np.float32).tobytes())
                self._fingerprint = "sha256:" + h.hexdigest()
        return self._fingerprint


def file_fingerprint(path: str | os.PathLike, chunk_bytes: int = 8 << 20, cancel: CancelToken | None = None) -> str:
    """sha256 of every byte of a file, read in chunks (a 100-MB file: a fraction of a second)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            check(cancel)
            block = f.read(chunk_bytes)
            if not block:
                break
            h.update(block)
    return "sha256:" + h.hexdigest()


def zscore_epochs(x: np.ndarray) -> np.ndarray:
    """Z-score over the last axis: x' = (x - mean) / std; flat epochs → zeros, NaN → 0."""
    x = np.asarray(x, dtype=np.float32)
    nan = np.isnan(x)
    has_nan = bool(nan.any())
    if has_nan:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN epochs give NaN stats, handled below
            mean = np.nanmean(x, axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)
            std = np.nanstd(x, axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)
        out = x - mean
    else:
        # The common case, on the pre-scoring path: the mean in float64, the
        # deviations and their sum of squares in float32 (3x faster than
        # np.std in float64; the z-scores agree to about 1e-6).
        mean = x.mean(axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)
        out = x - mean
        std = np.sqrt(np.einsum("...i,...i->...", out, out)[..., None] / np.float32(x.shape[-1]))
    flat = ~(std >= FLAT_STD_UV)  # also catches NaN std
    out /= np.where(flat, np.float32(1.0), std)
    out[np.broadcast_to(flat, out.shape)] = 0.0
    if has_nan:
        out[nan] = 0.0
    return out


def resample_to_target(x: np.ndarray, fs: float, target: float = TARGET_FS) -> np.ndarray:
    """Polyphase resampling to `target` Hz (anti-aliasing included), float32.

    scipy's `resample_poly(..., padtype="line")`: continuing the trend avoids the decay to 0 at
    both ends that zero padding gives slow channels (temperature, 1 Hz) and DC-offset signals.
    """
    if fs == target:
        return np.asarray(x, dtype=np.float32)
    x = np.asarray(x, dtype=np.float64)
    out = np.empty((1, int(round(len(x) * target / fs))), dtype=np.float32)
    resample_stream(lambda a, b: x[None, a:b], len(x), fs, target, out, block_in=_CHUNK_SECONDS * int(fs))
    return out[0]


def read_info(path: str | os.PathLike) -> RecordingInfo:
    """Channels, rates, start, duration and epochs of a recording from its header alone."""
    hdr = _signal_header(path)
    channels = tuple(
        ChannelInfo(s.label, hdr.rate(s), s.unit, s.samples_per_record * hdr.n_records)
        for s in hdr.data_signals
    )
    runs = _runs(hdr)
    duration = runs[-1][2] + (runs[-1][1] - runs[-1][0]) * hdr.record_duration if runs else 0.0
    return RecordingInfo(
        path=Path(path), format=hdr.format, start_time=hdr.start_time, duration_s=duration,
        n_epochs=int(duration // EPOCH_SECONDS), channels=channels, gaps=_gaps(runs, hdr.record_duration),
    )


def _signal_header(path: str | os.PathLike) -> EdfHeader:
    """The header of a file that holds signals (refuses an annotation-only EDF+ file)."""
    hdr = read_header(path)
    if not hdr.data_signals:
        kinds = ", ".join(sorted({s.label for s in hdr.signals})) or "nothing"
        raise SleepScopeError(
            f"{hdr.path} holds no signals, only {kinds}: it is an annotation file (a hypnogram or "
            "event list), not a recording. Open the recording it belongs to (for Sleep-EDF, the "
            "...-PSG.edf file); its hypnogram can be imported into the scoring.")
    return hdr


def _runs(hdr: EdfHeader) -> list[tuple[int, int, float]]:
    """(first record, end record, onset s) of each stretch of back-to-back data records."""
    if not hdr.is_discontinuous:
        return [(0, hdr.n_records, 0.0)] if hdr.n_records else []
    onsets = record_onsets(hdr)
    runs: list[tuple[int, int, float]] = []
    for r, t in enumerate(onsets):
        if runs and abs(t - (runs[-1][2] + (r - runs[-1][0]) * hdr.record_duration)) < 1e-6:
            runs[-1] = (runs[-1][0], r + 1, runs[-1][2])
        else:
            runs.append((r, r + 1, t))
    return runs


def _gaps(runs: list[tuple[int, int, float]], record_duration: float) -> tuple[tuple[float, float], ...]:
    out = []
    end = 0.0
    for first, stop, onset in runs:
        if onset > end + 1e-6:
            out.append((end, onset))
        end = onset + (stop - first) * record_duration
    return tuple(out)


def open_recording(
    path: str | os.PathLike,
    eeg: str | None = None,
    eog: str | None = None,
    extra: Iterable[str] = (),
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    ecg: str | None = None,
) -> Recording:
    """Read the EEG, the EOG (and `extra` channels) of an EDF/EDF+/BDF file at 100 Hz in µV; `ecg` names the ECG
    lead (`choose_channels`: by default found by name).

    An EDF+D file's records are placed at their own start times: the gaps
    between them read as zeros and are marked in `Recording.gap`.
    """
    path = Path(path)
    hdr = _signal_header(path)
    names = [s.label for s in hdr.data_signals]
    choice = choose_channels(names, eeg, eog, ecg)
    eeg_name, eog_name = choice.eeg, choice.eog
    wanted = [n for n in (eeg_name, eog_name) if n is not None]
    wanted = list(dict.fromkeys([*wanted, *_found(path, names, extra)]))
    channels, rates, gap_mask, lowpass = _read(path, hdr, names, wanted, progress, cancel)
    return Recording(
        path=path, start_time=hdr.start_time, fs=float(TARGET_FS), channels=channels,
        eeg_name=eeg_name, eog_name=eog_name, source_rates=rates, gap_mask=gap_mask,
        channel_choice=choice, source_lowpass=lowpass,
    )


def read_lanes(path: str | os.PathLike, names: Iterable[str], progress: Progress | None = None,
               cancel: CancelToken | None = None) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """(channels at 100 Hz in µV, the rates they were recorded at) of `names` only, of a recording already open:
    a lane added to the window reads that lane, not the EEG and EOG again."""
    path = Path(path)
    hdr = _signal_header(path)
    labels = [s.label for s in hdr.data_signals]
    wanted = list(dict.fromkeys(_found(path, labels, names)))
    channels, rates, _, _ = _read(path, hdr, labels, wanted, progress, cancel)
    return channels, rates


def _found(path: Path, names: list[str], wanted: Iterable[str]) -> list[str]:
    """The file's channel (or derivation) for each of `wanted`; a name it does not hold is refused."""
    out = []
    for name in wanted:
        found = find_channel(names, name)
        if found is None:
            raise SleepScopeError(f"no channel named {name!r} in {path.name}. Its channels are: {', '.join(names)}.")
        out.append(found)
    return out


def _read(path: Path, hdr, names: list[str], wanted: list[str], progress: Progress | None,
          cancel: CancelToken | None) -> tuple[dict[str, np.ndarray], dict[str, float], np.ndarray | None,
                                               dict[str, float]]:
    """(channels `wanted` at 100 Hz in µV, their source rates, the gap mask, their header low-passes)."""
    by_label = {s.label: s for s in hdr.data_signals}
    # A derivation the file does not store (C4-M1 of a referential recording) is read as its two channels.
    derived = {n: parts for n, parts in derived_channels(names).items() if n in wanted}
    stored = list(dict.fromkeys(p for n in wanted for p in derived.get(n, (n,))))
    for name in stored:
        _check_amplitude(path, by_label[name])
    lowpass = {}
    for name in wanted:
        cut = [hz for p in derived.get(name, (name,)) if (hz := prefilter_lowpass(by_label[p].prefilter)) is not None]
        if cut:
            lowpass[name] = min(cut)
    runs = _runs(hdr)
    recorded_s = hdr.n_records * hdr.record_duration
    if recorded_s < EPOCH_SECONDS:
        raise SleepScopeError(
            f"{path} lasts {recorded_s:.1f} s, shorter than one {EPOCH_SECONDS}-s epoch: "
            "there is nothing to score. Open the full-night recording."
        )
    rates = {s.label: hdr.rate(s) for s in hdr.data_signals}
    groups: dict[float, list[str]] = {}
    for name in stored:
        groups.setdefault(rates[name], []).append(name)
    total = sum(int(hdr.n_records * hdr.record_duration * r) * len(g) for r, g in groups.items())
    done = 0
    channels: dict[str, np.ndarray] = {}
    covered = None
    for rate, group in groups.items():
        raw, picks = _mne_raw(hdr, [by_label[name] for name in group])
        scale = np.asarray([_to_microvolt(by_label[name]) for name in group])[:, None]

        def read(start: int, stop: int, raw=raw, picks=picks, scale=scale) -> np.ndarray:
            check(cancel)
            try:
                block = raw.get_data(picks=picks, start=start, stop=stop)
            except Exception as exc:  # MNE raises many types on damaged data blocks
                raise SleepScopeError(f"could not read the signals of {path}: {exc}. The file is damaged; "
                                      "export or download it again.") from exc
            # In place; the caller stores float32 µV, the samples a whole-channel read held.
            return np.multiply(block, scale, out=block)

        def advanced(n: int, k: int = len(group)) -> None:
            nonlocal done
            done += n * k
            report(progress, done, total, f"reading {path.name}")

        data, covered = _on_clock(read, len(group), rate, hdr.record_duration, runs, advanced)
        for i, name in enumerate(group):
            channels[name] = data[i]
    n_min = min(len(v) for v in channels.values())  # rounding of odd rates can differ by a sample
    for name, (active, reference) in derived.items():
        channels[name] = channels[active][:n_min] - channels[reference][:n_min]
    channels = {k: np.ascontiguousarray(channels[k][:n_min]) for k in wanted}
    for name, parts in derived.items():
        rates[name] = min(rates[p] for p in parts)
    gap_mask = None
    if len(runs) > 1 or (runs and runs[0][2] > 0):
        n_ep = n_min // EPOCH_SAMPLES
        gap_mask = ~covered[: n_ep * EPOCH_SAMPLES].reshape(n_ep, EPOCH_SAMPLES).all(axis=1)
    return channels, {k: rates[k] for k in wanted}, gap_mask, lowpass


def _on_clock(read: Callable[[int, int], np.ndarray], n_channels: int, rate: float, record_duration: float,
              runs: list[tuple[int, int, float]], advanced: Callable[[int], None] | None = None,
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """Samples at 100 Hz `(n_channels, n)` placed at their records' times, zeros in gaps; and where
    signal was recorded (None for a file without gaps).

    `read(a, b)` gives the file's samples [a, b) at `rate`; they are read and resampled a block at a
    time, so only the 100-Hz result is held whole. Each run of back-to-back records is resampled on
    its own, so the filter never smooths across a gap.
    """
    per = rate * record_duration
    block = max(1, int(_CHUNK_SECONDS * rate))

    def n_at_target(first: int, stop: int) -> int:
        return int(round((int(round(stop * per)) - int(round(first * per))) * TARGET_FS / rate))

    if len(runs) == 1 and runs[0][2] == 0:
        y = np.empty((n_channels, n_at_target(runs[0][0], runs[0][1])), dtype=np.float32)
        resample_stream(read, int(round(runs[0][1] * per)), rate, TARGET_FS, y, block, advanced)
        return y, None
    first, stop, onset = runs[-1]
    end = int(round((onset + (stop - first) * record_duration) * TARGET_FS))
    y = np.zeros((n_channels, end), dtype=np.float32)
    covered = np.zeros(end, dtype=bool)
    for first, stop, onset in runs:
        a0 = int(round(first * per))
        at = int(round(onset * TARGET_FS))
        seg = y[:, at:at + n_at_target(first, stop)]
        n = resample_stream(lambda a, b, a0=a0: read(a0 + a, a0 + b), int(round(stop * per)) - a0, rate,
                            TARGET_FS, seg, block, advanced)
        covered[at:at + n] = True
    return y, covered


def check_channel_units(path: str | os.PathLike, names: Iterable[str | None]) -> None:
    """Refuse (SleepScopeError) when the named channels' stated units make their ranges impossible."""
    signals = read_header(path).data_signals
    by_label = {s.label: s for s in signals}
    derived = derived_channels(list(by_label))
    for name in names:
        for part in derived.get(name, (name,)):
            if part in by_label:
                _check_amplitude(Path(path), by_label[part])


def _check_amplitude(path: Path, s) -> None:
    """Refuse an EEG/EOG whose stated unit makes its range impossible for a body signal."""
    peak = s.peak_microvolts
    if peak is None:
        return
    if peak > MAX_PLAUSIBLE_UV or peak < MIN_PLAUSIBLE_UV:
        raise SleepScopeError(
            f"{path.name}: channel {s.label!r} spans ±{max(abs(s.physical_min), abs(s.physical_max)):g} "
            f"{s.unit}, that is ±{peak:g} µV, which no EEG or EOG reaches: its unit is probably wrong "
            f"(written {s.unit!r}). Export the recording again with the right physical dimension "
            "(µV for EEG and EOG).")


def _mne_raw(hdr: EdfHeader, signals: list):
    """(MNE's lazy reader of `signals`, the index of each in its channels)."""
    import mne
    from mne.io.edf.edf import RawBDF, RawEDF

    is_bdf = hdr.format.startswith("BDF")
    if hdr.path.suffix.lower() == (".bdf" if is_bdf else ".edf"):
        reader = mne.io.read_raw_bdf if is_bdf else mne.io.read_raw_edf
    else:
        # MNE's readers go by the file name's extension ("Only BDF files are supported")
        # while the header says what the file is; its classes read by content.
        reader = RawBDF if is_bdf else RawEDF
    include = list(dict.fromkeys(s.mne_label for s in signals))
    try:
        raw = reader(hdr.path, include=include, preload=False, verbose="error")
    except Exception as exc:  # MNE raises ValueError, RuntimeError, OSError... for bad files
        raise SleepScopeError(f"MNE could not read {hdr.path}: {exc}. The file is damaged or not a "
                              "standard EDF/BDF; export or download it again.") from exc
    # MNE reads every data signal whose label it was given, in file order, and renames those that share one:
    # each is found by its place among them, not by name (MNE's pick by name also drops a label's NULs).
    read = [i for i, s in enumerate(hdr.signals) if not s.is_annotation and s.mne_label in include]
    if len(read) != len(raw.ch_names):
        raise SleepScopeError(f"MNE did not read the channels {[s.label for s in signals]} of {hdr.path} "
                              f"as expected (it sees {raw.ch_names}).")
    picks = [read.index(next(i for i, h in enumerate(hdr.signals) if h is s)) for s in signals]
    return raw, picks


def _mne_scale(unit: str) -> float:
    """What MNE multiplies a signal's physical values by (mne.io.edf.edf._read_edf_header).

    MNE knows only uV (its µ/μ spellings) and mV; anything else it leaves as written.
    """
    if unit in ("\u03bcV", "\u00b5V", "\x83\xcaV", "uV"):
        return 1e-6
    return 1e-3 if unit == "mV" else 1.0


def _to_microvolt(s) -> float:
    """Factor from MNE's values to ours: voltages in µV whatever the spelling; other units as written."""
    per = microvolts_per_unit(s.unit)
    return (1.0 if per is None else per) / _mne_scale(s.mne_unit)
