"""Backup channels: where the model's EEG or EOG fails for a stretch of the night, the model reads another
derivation of the same kind there.

An electrode that comes off at 3 a.m. leaves its derivation flat, drifting or
clipped until it is fixed; the AASM keeps backup electrodes for this (F3-M2,
C3-M2, O1-M2 beside F4-M1, C4-M1, O2-M1) and records both eyes. Those epochs
were artefact epochs without a stage. Where the file holds another EEG
derivation, or the other eye, that is clean in them
(`ChannelChoice.backup_eeg`, `ChannelChoice.backup_eog`), the model reads it
in those epochs instead (measured on synthetic nights in
`benchmarks/bench_backups.py`). Epochs whose EOG still fails are read from the
EEG alone (`EpochQuality.eeg_alone`); the EOG alone is no substitute for the
EEG within a two-channel night (same benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.model.quality import FLAG_NAMES, channel_flags
from sleepscope.tasks import CancelToken


@dataclass(frozen=True)
class Backup:
    """Which epochs the model read from a backup channel, and what was wrong with its own channel there."""

    kind: str  # "eeg" or "eog"
    channel: str
    backup: str
    epochs: np.ndarray = field(repr=False)  # (n_epochs,) bool
    problems: tuple[tuple[str, int], ...] = ()  # (what was wrong, epochs)

    def message(self) -> str:
        n = int(self.epochs.sum())
        what = ", ".join(f"{k} in {v}" for k, v in self.problems)
        read = "the backup EEG" if self.kind == "eeg" else "the other eye"
        return (f"the {self.kind.upper()} {self.channel!r} failed in {n} epoch{'s' if n != 1 else ''} ({what}): "
                f"the model read {read} {self.backup!r} there")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "channel": self.channel, "backup": self.backup,
                "epochs": [int(i) for i in np.flatnonzero(self.epochs)], "problems": dict(self.problems)}


@dataclass(frozen=True)
class Reading:
    """A recording as the model reads it (`read_for_model`)."""

    recording: Any  # with failed epochs taken from the backups
    x: np.ndarray = field(repr=False)  # (n_epochs, 2, 3000) model input
    quality: Any  # sleepscope.model.quality.EpochQuality of `recording`
    backups: tuple = ()
    #: (n_epochs,) bool: EEG epochs read through the drift high-pass (`sleepscope.model.drift`)
    high_passed: np.ndarray | None = field(default=None, repr=False)
    #: sleepscope.model.heartbeats.Heartbeats: the ECG's beats subtracted from the EEG and EOG; None: not
    heartbeats: Any = None
    #: `drift.eog_drift` of an EOG read alone (None where an EEG is read, or no EOG), and whether that drift sent
    #: every EOG epoch through the drift high-pass
    eog_drift: float | None = None
    eog_high_passed: bool = False


def read_for_model(rec, normalisation: str, cancel: CancelToken | None = None) -> Reading:
    """The one way a recording becomes model input, for pre-scoring and for what learns from corrections and
    fits calibration: backups where a channel fails, a channel unusable most of the night absent, the EOG of the
    epochs whose EOG alone fails zeroed, the ECG's beats subtracted where they show on the EEG and EOG, the EEG
    of the epochs a slow drift dominates high-passed, and an EOG read alone that a drift dominates too."""
    from sleepscope.model.drift import NORMALISATIONS as DRIFT_NORMALISATIONS
    from sleepscope.model.drift import EOG_DRIFT_LIMIT, drifting, eog_drift, slow_ratio
    from sleepscope.model.heartbeats import lead_beats, without_heartbeats
    from sleepscope.model.inputs import model_input
    from sleepscope.model.quality import epoch_quality

    quality = epoch_quality(rec)
    lead = lead_beats(rec, cancel)
    rec, heartbeats = without_heartbeats(rec, lead, cancel)
    rec, backups = with_backups(rec, cancel, flags=quality.flags, beats=None if lead is None else lead.at)
    if backups:  # the channels read now are partly others: their flags, absent channels and EEG-alone epochs
        quality = epoch_quality(rec)
    slow = eog_slow = None
    if normalisation in DRIFT_NORMALISATIONS and "eeg" not in quality.absent:
        slow = slow_ratio(rec)
    if (rec.eeg_name is None or "eeg" in quality.absent) and "eog" not in quality.absent:
        eog_slow = eog_drift(rec, ~quality.artefact)
    high_pass_eog = normalisation in DRIFT_NORMALISATIONS and eog_slow is not None and eog_slow > EOG_DRIFT_LIMIT
    x = model_input(rec, normalisation, absent=quality.absent, eeg_alone=quality.eeg_alone, cancel=cancel, slow=slow,
                    eog_high_pass=high_pass_eog)
    return Reading(rec, x, quality, backups, drifting(slow, rec.n_epochs), heartbeats, eog_slow, high_pass_eog)


def with_backups(rec, cancel: CancelToken | None = None, flags: dict[str, np.ndarray] | None = None,
                 beats: np.ndarray | None = None):
    """(`rec` with its EEG's and EOG's failed epochs taken from their backups where those are clean, the
    `Backup`s used). `flags`: the channels' problem flags where already found (`EpochQuality.flags`). `beats`:
    the ECG lead's R peaks, whose beats each backup is read without (`sleepscope.model.heartbeats`; a backup's own
    beats, of another size or sign, are not its channel's). `rec` itself is not changed: the window shows the
    channels as recorded."""
    used = []
    for kind in ("eeg", "eog"):
        rec, backup = _substitute(rec, kind, cancel, None if flags is None else flags.get(kind), beats)
        if backup is not None:
            used.append(backup)
    return rec, tuple(used)


def _substitute(rec, kind: str, cancel: CancelToken | None, flags: np.ndarray | None, beats: np.ndarray | None):
    choice = getattr(rec, "channel_choice", None)
    own = rec.eeg_name if kind == "eeg" else rec.eog_name
    name = getattr(choice, f"backup_{kind}", None)
    if own is None or name is None or name == own:
        return rec, None
    if flags is None:
        flags = channel_flags(rec.epochs(kind), kind, rec.fs)
    failed = (flags != 0) & ~rec.gap
    if not failed.any():
        return rec, None
    signal = _backup_signal(rec, name, cancel)
    if signal is None:
        return rec, None
    if beats is not None:
        from sleepscope.model.heartbeats import subtract

        signal = subtract(signal, beats, rec.fs, cancel=cancel)[0]
    per = int(round(rec.fs * 30))
    n = rec.n_epochs
    backup_epochs = signal[: n * per].reshape(n, per)
    use = failed & (channel_flags(backup_epochs, kind, rec.fs) == 0)
    if not use.any():
        return rec, None
    mended = np.array(rec.channels[own], dtype=np.float32, copy=True)
    mended[: n * per].reshape(n, per)[use] = backup_epochs[use]
    problems = tuple((text, k) for bit, text in FLAG_NAMES.items() if (k := int(np.count_nonzero(flags[use] & bit))))
    return replace(rec, channels={**rec.channels, own: mended}, _quality=None), Backup(kind, own, name, use, problems)


def _backup_signal(rec, name: str, cancel: CancelToken | None) -> np.ndarray | None:
    """The backup's µV samples aligned with `rec`'s (a backup that fails to read is no backup)."""
    got = channel_samples(rec, name, cancel)
    return None if got is None else got[0]


def channel_samples(rec, name: str, cancel: CancelToken | None = None) -> tuple[np.ndarray, float] | None:
    """(µV samples of channel `name` aligned with `rec`'s, the rate its file recorded it at): loaded already (a
    lane of the window), else read from the file; None when it cannot be read."""
    if name in rec.channels:
        return np.asarray(rec.channels[name], dtype=np.float32), float(rec.source_rates.get(name, rec.fs))
    if rec.path is None:
        return None
    from sleepscope.io.recording import read_lanes

    try:
        channels, rates = read_lanes(rec.path, [name], cancel=cancel)  # that channel alone
    except (SleepScopeError, OSError, ValueError):
        return None
    signal = channels[name][rec.first_sample: rec.first_sample + rec.n_samples]
    return (signal, float(rates[name])) if len(signal) == rec.n_samples else None
