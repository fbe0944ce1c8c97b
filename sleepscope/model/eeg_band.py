"""Does a recording's EEG carry the band the model tells wake from REM by?

On the real 5-minute Sleep-EDF wake recording, the shipped model reads W partly
from the EEG's faster activity (muscle and beta over Fpz-Cz): the same minutes
low-passed at 25 Hz, or sampled at 50 Hz, read REM with high confidence, while
a 30-Hz low-pass keeps them W (``reports/fast-noise-synthetic/narrow_band.py``);
its card names that band (``calibration["wake_band_hz"]``). A model whose card
names none is held to :data:`WAKE_BAND_HZ`, the band of the model before it.
The synthetic nights it learned from cannot show what real wake looks like
without that band, so where a recording's header says its EEG stops below the
model's band (its sampling rate, or the low-pass in its prefiltering field),
its W and REM suggestions are marked unsure (the review queue) and a note says
why. A file filtered without saying so is not caught: the header is the only
account of the band that does not depend on the sleep in it (a gentle low-pass
moves the fast band too little to be told from the EEG's own spectrum,
``reports/acquisition-real-clips/``; a second-order one at 20 Hz turns the real
wake minutes REM). A model fine-tuned on a lab's corrected W and REM at a
narrower band carries that band in its card (:func:`learned_band`) and stops
flagging it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sleepscope.stages import Stage

#: Below this top frequency (Hz) of the EEG, real wake read as REM (the lowest cut-off that kept it W) for a model
#: whose card names no band: e6675eac, the model shipped before the card named one.
WAKE_BAND_HZ = 35.0
#: W and REM labels each that a narrow-band recording must bring before a child stops flagging its band.
MIN_BAND_LABELS = 50


@dataclass(frozen=True)
class NarrowBand:
    """An EEG whose header puts its top frequency below :data:`WAKE_BAND_HZ`."""

    top_hz: float
    why: str  # "sampled at 50 Hz", "low-pass 30 Hz in its header"

    def message(self) -> str:
        return (f"the EEG holds nothing above {self.top_hz:g} Hz ({self.why}): the model tells wake from REM "
                "partly by faster EEG activity, so its wake and REM suggestions are marked unsure; check them, "
                "or correct a few hundred epochs and fine-tune")

    def to_dict(self) -> dict:
        return {"top_hz": self.top_hz, "why": self.why}


def narrow_eeg(recording, below: float = WAKE_BAND_HZ) -> NarrowBand | None:
    """The EEG's band from `recording`'s header (source rate, prefiltering low-pass) if its top lies `below`
    (a model's ``calibration["wake_band_hz"]``, else :data:`WAKE_BAND_HZ`), or None."""
    limits = _limits(recording)
    if not limits:
        return None
    top, why = min(limits)
    return NarrowBand(top, why) if top < below else None


def eeg_top_hz(recording) -> float | None:
    """The highest frequency `recording`'s EEG holds by its header, or None (no EEG, nothing said)."""
    limits = _limits(recording)
    return min(limits)[0] if limits else None


def _limits(recording) -> list[tuple[float, str]]:
    name = getattr(recording, "eeg_name", None)
    if name is None:
        return []
    limits = []
    rate = (getattr(recording, "source_rates", None) or {}).get(name)
    if rate:
        limits.append((rate / 2.0, f"sampled at {rate:g} Hz"))
    lowpass = (getattr(recording, "source_lowpass", None) or {}).get(name)
    if lowpass:
        limits.append((lowpass, f"low-pass {lowpass:g} Hz in its header"))
    return limits


def learned_band(corrections, below: float = WAKE_BAND_HZ, min_labels: int = MIN_BAND_LABELS) -> float:
    """The band a model fine-tuned on `corrections` (a CorrectionSet) no longer needs flagged: the lowest EEG top
    among the corrected recordings below `below` (the parent's) that bring at least `min_labels` W and as many
    REM labels, or `below` itself. A lab that corrects its own narrow-band wake and REM teaches the child what they
    look like there, and its next recordings should not have every W and REM suggestion queued for review."""
    y, fps = np.asarray(corrections.y), np.asarray(corrections.fingerprint)
    out = float(below)
    for fp, top in corrections.eeg_top_hz.items():
        mine = y[fps == fp]
        if top < out and min(np.count_nonzero(mine == int(Stage.W)), np.count_nonzero(mine == int(Stage.REM))) \
                >= min_labels:
            out = float(top)
    return out


def wake_or_rem(stages: np.ndarray) -> np.ndarray:
    """Where `stages` suggest W or REM: the epochs a narrow EEG band leaves in doubt."""
    return np.isin(np.asarray(stages), (int(Stage.W), int(Stage.REM)))


def unsure_epochs(probs: np.ndarray, calibration: dict | None, recording=None) -> tuple[np.ndarray, NarrowBand | None]:
    """(per epoch, is the suggestion to be checked; the EEG's narrow band or None) from calibrated `probs`:
    the top probability under the card's unsure threshold (artefact epochs carry uniform probabilities, so
    they are among them), and W and REM where `recording`'s header puts its EEG below the model's wake band
    (``calibration["wake_band_hz"]``, else :data:`WAKE_BAND_HZ`). The one rule `predict` and the
    workstation's review queue follow."""
    from sleepscope.model import calibration as cal

    calibration = calibration or {}
    probs = np.asarray(probs)
    unsure = probs.max(axis=1) < float(calibration.get("unsure_threshold", cal.DEFAULT_UNSURE))
    band = None if recording is None else narrow_eeg(recording, float(calibration.get("wake_band_hz", WAKE_BAND_HZ)))
    if band is not None:
        unsure |= wake_or_rem(probs.argmax(axis=1))
    return unsure, band
