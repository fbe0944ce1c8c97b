""""Why this stage": what a technician checks in an epoch, next to the model's probabilities.

Band powers (delta, theta, alpha, sigma, beta) of the epoch's EEG, from the
same Welch estimate as the night's spectrogram, and the events YASA's
detectors find around it: sleep spindles and slow waves on the EEG, rapid
eye movements on the EOG. YASA is optional: without it the band powers are
still given and `detector_note` says how to get the events.

Detectors run on the epoch with one epoch of context on each side (their
thresholds need some signal around an event); the events returned are those
of that whole window, in seconds from the recording start, so the traces
can show them on the neighbouring epochs as well.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

from sleepscope.analysis.spectrogram import EPOCH_SECONDS, epoch_spectrogram

SPINDLE = "spindle"
SLOW_WAVE = "slow wave"
REM = "rapid eye movement"
KINDS = (SPINDLE, SLOW_WAVE, REM)
NO_YASA = "Spindles, slow waves and eye movements need YASA: pip install yasa"


@dataclass(frozen=True)
class Event:
    kind: str
    channel: str  # "eeg" or "eog"
    start_s: float
    end_s: float


@dataclass
class EpochEvidence:
    epoch: int
    band_powers: dict[str, float]
    events: list[Event] = field(default_factory=list)
    #: None when the detectors ran; otherwise why there are no events
    detector_note: str | None = None

    def count(self, kind: str, in_epoch: bool = True) -> int:
        """Events of `kind` that overlap the epoch itself (or the whole window)."""
        t0, t1 = self.epoch * EPOCH_SECONDS, (self.epoch + 1) * EPOCH_SECONDS
        return sum(1 for e in self.events if e.kind == kind and (not in_epoch or (e.end_s > t0 and e.start_s < t1)))


def yasa_available() -> bool:
    return importlib.util.find_spec("yasa") is not None


def epoch_evidence(eeg: np.ndarray, eog: np.ndarray, fs: float, epoch: int, detectors: bool = True,
                   context_epochs: int = 1) -> EpochEvidence:
    """Band powers of `epoch` and, with YASA, the spindles, slow waves and REMs around it."""
    per = int(round(fs * EPOCH_SECONDS))
    n = len(eeg) // per
    if not 0 <= epoch < n:
        raise ValueError(f"epoch {epoch} is outside 0..{n - 1}")
    seg = np.asarray(eeg[epoch * per:(epoch + 1) * per], dtype=np.float64)
    powers = epoch_spectrogram(seg, fs).band_powers(0)
    if not detectors:
        return EpochEvidence(epoch, powers, detector_note="Detectors off.")
    if not yasa_available():
        return EpochEvidence(epoch, powers, detector_note=NO_YASA)
    a = max(0, epoch - context_epochs) * per
    b = min(n, epoch + 1 + context_epochs) * per
    offset = a / fs
    x = np.nan_to_num(np.asarray(eeg[a:b], dtype=np.float64))
    y = np.nan_to_num(np.asarray(eog[a:b], dtype=np.float64))
    return EpochEvidence(epoch, powers, events=_detect(x, y, fs, offset))


def _detect(eeg: np.ndarray, eog: np.ndarray, fs: float, offset: float) -> list[Event]:
    import yasa

    events: list[Event] = []
    # YASA logs and warns when a window holds nothing to detect: that is an answer, not a problem.
    logging.getLogger("yasa").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = yasa.spindles_detect(eeg, fs, verbose="ERROR")
        sw = yasa.sw_detect(eeg, fs, verbose="ERROR")
        # A horizontal EOG is the difference of the two eyes' channels: LOC and ROC are its halves, of
        # opposite sign, as a conjugate eye movement shows in each.
        rem = yasa.rem_detect(eog / 2.0, -eog / 2.0, fs, verbose="ERROR")
    for res, kind, channel in ((sp, SPINDLE, "eeg"), (sw, SLOW_WAVE, "eeg"), (rem, REM, "eog")):
        if res is None:
            continue
        table = res.summary()
        for start, end in zip(table["Start"].to_numpy(float), table["End"].to_numpy(float)):
            events.append(Event(kind, channel, offset + float(start), offset + float(end)))
    events.sort(key=lambda e: e.start_s)
    return events
