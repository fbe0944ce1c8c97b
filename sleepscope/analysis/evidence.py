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
    channel: str  # "eeg" or "eog" (the model's two), or the name of another lead (`Leads.central`)
    start_s: float
    end_s: float


@dataclass
class EpochEvidence:
    epoch: int
    band_powers: dict[str, float]
    events: list[Event] = field(default_factory=list)
    #: None when the detectors ran; otherwise why there are no events
    detector_note: str | None = None
    #: (lead, alpha's share of its 0.5-30 Hz power) of an occipital lead beside the model's EEG: wake's rhythm
    occipital_alpha: tuple[str, float] | None = None

    def count(self, kind: str, in_epoch: bool = True) -> int:
        """Events of `kind` that overlap the epoch itself (or the whole window)."""
        t0, t1 = self.epoch * EPOCH_SECONDS, (self.epoch + 1) * EPOCH_SECONDS
        return sum(1 for e in self.events if e.kind == kind and (not in_epoch or (e.end_s > t0 and e.start_s < t1)))


def yasa_available() -> bool:
    return importlib.util.find_spec("yasa") is not None


@dataclass(frozen=True)
class Leads:
    """What the detectors read besides the model's EEG and EOG, where the window has loaded it."""

    #: (left eye, right eye): eye movements told by opposite deflections (:func:`eye_pair`)
    eyes: tuple[np.ndarray, np.ndarray] | None = None
    #: (name, signal) of a central EEG beside a model EEG that is not central: spindles are largest there
    central: tuple[str, np.ndarray] | None = None
    #: (name, signal) of an occipital EEG beside the model's: the alpha rhythm of wake is largest there
    occipital: tuple[str, np.ndarray] | None = None


def leads_of(channels: dict[str, np.ndarray], eeg_name: str | None, eog_name: str | None) -> Leads:
    """The :class:`Leads` among a recording's loaded `channels` (the window loads the AASM montage)."""
    from sleepscope.io.channels import central_eeg, occipital_eeg

    others = [n for n in channels if n != eeg_name]
    central = central_eeg(others)  # may name a derivation not loaded (C4 and M1)
    model_central = eeg_name is not None and central_eeg([eeg_name]) is not None
    occipital = occipital_eeg(others, exclude=[eeg_name])
    return Leads(eye_pair(channels, eog_name),
                 None if central not in channels or model_central else (central, channels[central]),
                 None if occipital not in channels else (occipital, channels[occipital]))


def eye_pair(channels: dict[str, np.ndarray], eog_name: str | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(left eye, right eye) among loaded `channels` when both eyes are there as channels of their own (E1-M2 and
    E2-M1, LOC and ROC), the model's EOG (`eog_name`) for its side; None otherwise (one eye, or a bipolar EOG)."""
    from sleepscope.io.channels import eye_side

    sides: dict[str, str] = {}
    for name in sorted(channels, key=lambda n: n != eog_name):
        side = eye_side(name)
        if side is not None and side not in sides:
            sides[side] = name
    if len(sides) < 2:
        return None
    return channels[sides["left"]], channels[sides["right"]]


def epoch_evidence(eeg: np.ndarray, eog: np.ndarray, fs: float, epoch: int, detectors: bool = True,
                   context_epochs: int = 1, leads: Leads | None = None) -> EpochEvidence:
    """Band powers of `epoch` and, with YASA, the spindles, slow waves and REMs around it. With `leads.eyes` (the
    left and right eye's channels) eye movements are found where the two eyes deflect in opposite directions, as
    conjugate movements do; from one EOG channel, every deflection of the right shape counts. With `leads.central`
    spindles are found on the central lead (the AASM's C4-M1), slow waves on the model's EEG either way."""
    leads = leads or Leads()
    per = int(round(fs * EPOCH_SECONDS))
    n = len(eeg) // per
    if not 0 <= epoch < n:
        raise ValueError(f"epoch {epoch} is outside 0..{n - 1}")
    def powers_of(x: np.ndarray) -> dict[str, float]:
        return epoch_spectrogram(np.asarray(x[epoch * per:(epoch + 1) * per], dtype=np.float64), fs).band_powers(0)

    powers = powers_of(eeg)
    alpha = None if leads.occipital is None else (leads.occipital[0], powers_of(leads.occipital[1])["alpha"])
    if not detectors:
        return EpochEvidence(epoch, powers, detector_note="Detectors off.", occipital_alpha=alpha)
    if not yasa_available():
        return EpochEvidence(epoch, powers, detector_note=NO_YASA, occipital_alpha=alpha)
    a = max(0, epoch - context_epochs) * per
    b = min(n, epoch + 1 + context_epochs) * per
    offset = a / fs
    def window(x: np.ndarray) -> np.ndarray:
        return np.nan_to_num(np.asarray(x[a:b], dtype=np.float64))

    if leads.eyes is not None:
        loc, roc = window(leads.eyes[0]), window(leads.eyes[1])
    else:
        # A horizontal EOG is the difference of the two eyes' channels: LOC and ROC are its halves, of
        # opposite sign, as a conjugate eye movement shows in each.
        y = window(eog)
        loc, roc = y / 2.0, -y / 2.0
    spindles = ("eeg", window(eeg)) if leads.central is None else (leads.central[0], window(leads.central[1]))
    return EpochEvidence(epoch, powers, events=_detect(window(eeg), spindles, loc, roc, fs, offset),
                         occipital_alpha=alpha)


def _detect(eeg: np.ndarray, spindles: tuple[str, np.ndarray], loc: np.ndarray, roc: np.ndarray, fs: float,
            offset: float) -> list[Event]:
    import yasa

    events: list[Event] = []
    # YASA logs and warns when a window holds nothing to detect: that is an answer, not a problem.
    logging.getLogger("yasa").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = yasa.spindles_detect(spindles[1], fs, verbose="ERROR")
        sw = yasa.sw_detect(eeg, fs, verbose="ERROR")
        rem = yasa.rem_detect(loc, roc, fs, verbose="ERROR")
    for res, kind, channel in ((sp, SPINDLE, spindles[0]), (sw, SLOW_WAVE, "eeg"), (rem, REM, "eog")):
        if res is None:
            continue
        table = res.summary()
        for start, end in zip(table["Start"].to_numpy(float), table["End"].to_numpy(float)):
            events.append(Event(kind, channel, offset + float(start), offset + float(end)))
    events.sort(key=lambda e: e.start_s)
    return events
