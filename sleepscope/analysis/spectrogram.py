"""The whole night's EEG spectrum, one Welch estimate per 30-s epoch, and the classic band powers.

One power spectrum per epoch (4-s Hann windows, half overlap) is what a
technician's spectrogram shows and what the band powers of an epoch come
from, so both use the same numbers. Computed in chunks with progress and
cancel; cached on disk per recording, channel and settings, so reopening a
night costs a file read.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sleepscope.atomic import replacing
from sleepscope.tasks import CancelToken, Progress, check, report

EPOCH_SECONDS = 30.0
WINDOW_SECONDS = 4.0
FMAX_HZ = 30.0
#: The bands a technician reads (Hz, lower edge included, upper excluded), AASM's usual edges.
BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 12.0),
    "sigma": (12.0, 16.0),
    "beta": (16.0, 30.0),
}
#: Epochs per chunk between progress reports, cancel checks and yielding the interpreter.
CHUNK = 32
_CACHE_VERSION = 1
#: Spectrograms kept in the cache: the nights a technician goes back to.
CACHE_KEEP = 64
#: Floor of the dB scale: a flat or missing epoch has no power at all.
FLOOR_DB = -40.0


@dataclass
class Spectrogram:
    freqs: np.ndarray  # (n_freqs,) Hz
    power_db: np.ndarray  # (n_epochs, n_freqs) float32, 10·log10(µV²/Hz)
    epoch_s: float = EPOCH_SECONDS

    @property
    def n_epochs(self) -> int:
        return int(self.power_db.shape[0])

    def band_powers(self, epoch: int) -> dict[str, float]:
        """Share (0..1) of the 0.5–30 Hz power in each band for one epoch (all 0 for a flat epoch)."""
        if not (self.power_db[epoch] > FLOOR_DB).any():
            return {name: 0.0 for name in BANDS}
        return relative_band_powers(self.freqs, 10.0 ** (self.power_db[epoch].astype(np.float64) / 10.0))

    def display_levels(self) -> tuple[float, float]:
        """Colour range that keeps the night's contrast: 2nd to 98th percentile of the finite powers."""
        v = self.power_db[self.power_db > FLOOR_DB]
        if v.size == 0:
            return FLOOR_DB, 0.0
        lo, hi = np.percentile(v, [2, 98])
        return float(lo), float(max(hi, lo + 1.0))


def relative_band_powers(freqs: np.ndarray, psd: np.ndarray) -> dict[str, float]:
    """Share of the power between the lowest and highest band edge in each band (sums to 1)."""
    bands = {name: float(psd[(freqs >= lo) & (freqs < hi)].sum()) for name, (lo, hi) in BANDS.items()}
    total = sum(bands.values())
    if total <= 0:
        return {name: 0.0 for name in bands}
    return {name: v / total for name, v in bands.items()}


def epoch_spectrogram(signal: np.ndarray, fs: float, epoch_s: float = EPOCH_SECONDS, fmax: float = FMAX_HZ,
                      progress: Progress | None = None, cancel: CancelToken | None = None) -> Spectrogram:
    """Welch spectrum of each whole epoch of `signal` (µV at `fs` Hz) up to `fmax` Hz."""
    from scipy.signal import welch

    per = int(round(fs * epoch_s))
    n = len(signal) // per
    nperseg = min(per, int(round(fs * WINDOW_SECONDS)))
    freqs = np.fft.rfftfreq(nperseg, 1.0 / fs)
    keep = freqs <= fmax
    out = np.empty((n, int(keep.sum())), np.float32)
    epochs = np.asarray(signal[: n * per]).reshape(n, per)
    for lo in range(0, n, CHUNK):
        check(cancel)
        hi = min(n, lo + CHUNK)
        x = epochs[lo:hi].astype(np.float64)
        bad = ~np.isfinite(x)
        if bad.any():  # missing samples count as silence, not as a spectrum of NaN
            x[bad] = 0.0
        _, psd = welch(x, fs=fs, nperseg=nperseg, noverlap=nperseg // 2, axis=-1)
        with np.errstate(divide="ignore"):
            out[lo:hi] = np.maximum(10.0 * np.log10(psd[:, keep]), FLOOR_DB)
        report(progress, hi, n, "Spectrogram")
        time.sleep(0)  # hand the interpreter to the GUI thread between chunks
    return Spectrogram(freqs=freqs[keep].astype(np.float32), power_db=out, epoch_s=float(epoch_s))


def cache_path(fingerprint: str, channel: str, fs: float, folder: Path | None = None) -> Path:
    if folder is None:
        from sleepscope.paths import user_data_dir

        folder = user_data_dir() / "cache" / "spectrogram"
    key = f"{_CACHE_VERSION}|{fingerprint}|{channel}|{fs:g}|{EPOCH_SECONDS:g}|{WINDOW_SECONDS:g}|{FMAX_HZ:g}"
    return folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".npz")


def cached_spectrogram(signal: np.ndarray, fs: float, fingerprint: str, channel: str,
                       progress: Progress | None = None, cancel: CancelToken | None = None,
                       folder: Path | None = None) -> Spectrogram:
    """The spectrogram of a recording's channel from the cache, computed and stored when missing."""
    path = cache_path(fingerprint, channel, fs, folder)
    try:
        with np.load(path) as z:
            spec = Spectrogram(freqs=z["freqs"], power_db=z["power_db"], epoch_s=float(z["epoch_s"]))
        if spec.n_epochs == len(signal) // int(round(fs * EPOCH_SECONDS)):
            os.utime(path)  # used now: pruned last
            return spec
    except (OSError, KeyError, ValueError):
        pass  # not cached yet, or a damaged cache file: compute again
    spec = epoch_spectrogram(signal, fs, progress=progress, cancel=cancel)
    _store(spec, path)
    return spec


def _store(spec: Spectrogram, path: Path) -> None:
    # A cache that cannot be written (read-only home, full disk) only costs the next open a recomputation.
    try:
        with replacing(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, freqs=spec.freqs, power_db=spec.power_db, epoch_s=spec.epoch_s)
        prune_cache(path.parent)
    except OSError:
        pass


def prune_cache(folder: Path, keep: int = CACHE_KEEP) -> None:
    """Keep the `keep` spectrograms used last (a few MB each for a long night); remove the rest."""
    files = []
    for p in folder.glob("*.npz"):
        try:
            files.append((p.stat().st_mtime, p))
        except OSError:
            continue
    for _, p in sorted(files, reverse=True)[keep:]:
        p.unlink(missing_ok=True)
