"""The backup EEG: where the model's EEG fails for a stretch of the night, the model reads another EEG derivation.

An electrode that comes off at 3 a.m. leaves its derivation flat, drifting or
clipped until it is fixed; the AASM keeps backup electrodes for this (F3-M2,
C3-M2, O1-M2 beside F4-M1, C4-M1, O2-M1). Those epochs were artefact epochs
without a stage. Where the file holds another EEG derivation that is clean in
them (`ChannelChoice.backup_eeg`), the model reads it in those epochs instead
(measured on synthetic nights in `benchmarks/bench_backup_eeg.py`); the EOG
alone is no substitute within a two-channel night (same benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.model.quality import FLAG_NAMES, channel_flags
from sleepscope.tasks import CancelToken


@dataclass(frozen=True)
class BackupEeg:
    """Which epochs the model read from the backup EEG, and what was wrong with its EEG there."""

    eeg: str
    backup: str
    epochs: np.ndarray = field(repr=False)  # (n_epochs,) bool
    problems: tuple[tuple[str, int], ...] = ()  # (what was wrong, epochs)

    def message(self) -> str:
        n = int(self.epochs.sum())
        what = ", ".join(f"{k} in {v}" for k, v in self.problems)
        return (f"the EEG {self.eeg!r} failed in {n} epoch{'s' if n != 1 else ''} ({what}): the model read the "
                f"backup EEG {self.backup!r} there")

    def to_dict(self) -> dict:
        return {"eeg": self.eeg, "backup": self.backup, "epochs": [int(i) for i in np.flatnonzero(self.epochs)],
                "problems": dict(self.problems)}


def with_backup_eeg(rec, cancel: CancelToken | None = None):
    """(`rec` with its EEG's failed epochs taken from the backup EEG where that is clean, the `BackupEeg` said),
    or (`rec`, None) when the EEG does not fail, the file has no backup or it fails there too. `rec` itself is
    not changed: the window shows the EEG as recorded."""
    choice = getattr(rec, "channel_choice", None)
    name = getattr(choice, "backup_eeg", None)
    if rec.eeg_name is None or name is None or name == rec.eeg_name:
        return rec, None
    flags = channel_flags(rec.epochs("eeg"), "eeg", rec.fs)
    failed = (flags != 0) & ~rec.gap
    if not failed.any():
        return rec, None
    signal = _backup_signal(rec, name, cancel)
    if signal is None:
        return rec, None
    per = int(round(rec.fs * 30))
    n = rec.n_epochs
    backup_epochs = signal[: n * per].reshape(n, per)
    use = failed & (channel_flags(backup_epochs, "eeg", rec.fs) == 0)
    if not use.any():
        return rec, None
    eeg = np.array(rec.eeg, dtype=np.float32, copy=True)
    eeg[: n * per].reshape(n, per)[use] = backup_epochs[use]
    problems = tuple((text, k) for bit, text in FLAG_NAMES.items() if (k := int(np.count_nonzero(flags[use] & bit))))
    substituted = replace(rec, channels={**rec.channels, rec.eeg_name: eeg}, _quality=None)
    return substituted, BackupEeg(rec.eeg_name, name, use, problems)


def _backup_signal(rec, name: str, cancel: CancelToken | None) -> np.ndarray | None:
    """The backup's µV samples aligned with `rec`'s: loaded already (a lane of the window), else read from the
    file; None when it cannot be read (a backup that fails to read is no backup)."""
    if name in rec.channels:
        return np.asarray(rec.channels[name], dtype=np.float32)
    if rec.path is None:
        return None
    from sleepscope.io.recording import open_recording

    try:
        other = open_recording(rec.path, eeg=name, eog=rec.eog_name, cancel=cancel)
    except (SleepScopeError, OSError, ValueError):
        return None
    signal = other.channels[other.eeg_name][rec.first_sample: rec.first_sample + rec.n_samples]
    return signal if len(signal) == rec.n_samples else None
