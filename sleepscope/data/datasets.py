"""Training data: a one-time HDF5 cache of z-scored epochs, and torch datasets over it.

The cache holds, per night, the EEG and EOG epochs already resampled to 100 Hz
and prepared as the model reads them (`x`, float32 `(n, 2, 3000)`: z-scored
per epoch, or per night with `normalisation="night"`, through
`sleepscope.model.inputs.model_input`, the path `predict` takes) and their stages (`y`,
int8, -1 unscored), trimmed to the paper's window (30 min of wake around the
sleep). Training never parses EDF again. The datasets open the file lazily in
each DataLoader worker and read only the slices they return, so iterating the
78-subject cohort (~3.7 GB of cache) stays far below 2 GB of memory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from sleepscope.data.cohorts import Night
from sleepscope.errors import SleepScopeError
from sleepscope.tasks import CancelToken, Progress, check, report

#: 2: a night whose scoring's epochs begin seconds into the recording's is cached on the scoring's epochs;
#: 3: nights read as pre-scoring reads them (`backups.read_for_model`) unless `as_recorded`
CACHE_VERSION = 3


@dataclass(frozen=True)
class CachedNight:
    name: str
    subject: int
    night: int
    n_epochs: int
    first_epoch: int  # index of the cache's epoch 0 (trim start) among its scoring's epochs (attrs grid_offset)
    n_labelled: int


def _stamp(path: Path | None) -> list | None:
    if path is None:
        return None
    st = Path(path).stat()
    return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]


def _manifest(nights: Sequence[Night], margin_epochs: int, eeg: str | None, eog: str | None,
              normalisation: str = "epoch", as_recorded: bool = False) -> str:
    from sleepscope.model.drift import HIGHPASS_HZ
    from sleepscope.model.drift import NORMALISATIONS as DRIFT_NORMALISATIONS

    extra = {} if normalisation == "epoch" else {"normalisation": normalisation}
    if normalisation in DRIFT_NORMALISATIONS:  # caches from before the drift high-pass hold other input
        extra["drift_highpass_hz"] = HIGHPASS_HZ
    if as_recorded:
        extra["as_recorded"] = True
    else:  # caches from before an ECG lead's beats were subtracted hold other input for files with one
        extra["ecg_beats_subtracted"] = True
    return json.dumps({
        "version": CACHE_VERSION, "margin_epochs": margin_epochs, "eeg": eeg, "eog": eog, **extra,
        "nights": [[n.name, n.subject, n.night, _stamp(n.psg), _stamp(n.hypnogram)] + ([n.codes] if n.codes else [])
                   for n in nights],
    }, sort_keys=True)


def build_cache(
    nights: Sequence[Night],
    cache_path: str | os.PathLike,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    *,
    margin_epochs: int = 60,
    eeg: str | None = None,
    eog: str | None = None,
    normalisation: str = "epoch",
    as_recorded: bool = False,
) -> Path:
    """Write (or reuse) the HDF5 cache of `nights`; returns its path.

    Reused as is when a complete cache built from the same files (paths, sizes,
    modification times) and settings exists. Written to a temporary file and
    renamed at the end, so an interrupted build never leaves a half cache.
    Nights without a hypnogram are kept whole with every label -1.

    Each night is read as pre-scoring will read it (`backups.read_for_model`: a backup channel where the model's
    fails, the EOG of epochs whose EOG alone fails zeroed), so that the model learns each label from the input it
    will be given; `as_recorded` keeps the channels as they are (the paper's experiment, which reads as the paper).
    """
    from sleepscope.io import open_recording
    from sleepscope.io.hypnogram import trim_wake
    from sleepscope.model.backups import read_for_model
    from sleepscope.model.inputs import model_input
    from sleepscope.model.quality import epoch_quality

    cache_path = Path(cache_path)
    nights = list(nights)
    if not nights:
        raise SleepScopeError("no nights to cache: the cohort folder holds no Sleep-EDF recordings.")
    names = [n.name for n in nights]
    if len(set(names)) != len(names):
        raise SleepScopeError(f"the same night is listed twice: {sorted({x for x in names if names.count(x) > 1})}")
    manifest = _manifest(nights, margin_epochs, eeg, eog, normalisation, as_recorded)
    if _is_current(cache_path, manifest):
        report(progress, len(nights), len(nights), "cache up to date")
        return cache_path
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_name(f".{cache_path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["version"] = CACHE_VERSION
            f.attrs["complete"] = False
            group = f.create_group("nights")
            for i, night in enumerate(nights):
                check(cancel)
                report(progress, i, len(nights), f"caching {night.name}")
                rec = open_recording(night.psg, eeg=eeg, eog=eog, cancel=cancel)
                offset = 0.0
                if night.hypnogram is not None:
                    rec, labels, offset = night.read_scoring(rec)
                    window = trim_wake(labels, margin_epochs)
                else:
                    labels = np.full(rec.n_epochs, -1, dtype=np.int8)
                    window = slice(0, rec.n_epochs)
                if as_recorded:
                    x = model_input(rec, normalisation, absent=epoch_quality(rec).absent, cancel=cancel)[window]
                else:
                    x = read_for_model(rec, normalisation, cancel).x[window]
                y = labels[window].astype(np.int8)
                g = group.create_group(night.name)
                # Contiguous layout: a sequence of L epochs is one contiguous read, no chunk cache.
                g.create_dataset("x", data=x, dtype=np.float32)
                g.create_dataset("y", data=y, dtype=np.int8)
                g.attrs.update({
                    "subject": night.subject, "night": night.night, "first_epoch": window.start,
                    "grid_offset": offset,
                    "psg": str(night.psg), "eeg": rec.eeg_name, "eog": rec.eog_name,
                    "fingerprint": rec.fingerprint(),
                })
                del rec, x
            f.attrs["order"] = json.dumps(names)
            f.attrs["manifest"] = manifest
            f.attrs["complete"] = True
        os.replace(tmp, cache_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    report(progress, len(nights), len(nights), "cache built")
    return cache_path


def _is_current(path: Path, manifest: str) -> bool:
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            return bool(f.attrs.get("complete", False)) and f.attrs.get("manifest") == manifest
    except OSError:  # a damaged cache is rebuilt
        return False


def cache_index(cache: str | os.PathLike) -> list[CachedNight]:
    """The nights of a cache, in the order they were built."""
    with _open(cache) as f:
        out = []
        for name in json.loads(f.attrs["order"]):
            g = f["nights"][name]
            y = g["y"][()]
            out.append(CachedNight(name, int(g.attrs["subject"]), int(g.attrs["night"]), len(y),
                                   int(g.attrs["first_epoch"]), int(np.count_nonzero(y >= 0))))
        return out


def _open(cache: str | os.PathLike) -> h5py.File:
    path = Path(cache)
    try:
        f = h5py.File(path, "r")
    except (OSError, FileNotFoundError) as exc:
        raise SleepScopeError(f"cannot open the training cache {path}: {exc}. Build it again with build_cache.") from exc
    if not f.attrs.get("complete", False):
        f.close()
        raise SleepScopeError(f"the training cache {path} is incomplete; build it again.")
    return f


def _night_names(cache: str | os.PathLike, nights: Iterable[Night | str] | None) -> list[str]:
    with _open(cache) as f:
        available = json.loads(f.attrs["order"])
    if nights is None:
        return available
    names = [n.name if isinstance(n, Night) else str(n) for n in nights]
    missing = [n for n in names if n not in available]
    if missing:
        raise SleepScopeError(f"nights {missing} are not in the cache {cache}; rebuild it with these nights.")
    return names


class _CacheDataset(Dataset):
    """Common lazy-HDF5 handling: each process (DataLoader worker) opens its own handle."""

    def __init__(self, cache: str | os.PathLike, nights: Iterable[Night | str] | None) -> None:
        self.cache = Path(cache)
        self.nights = _night_names(self.cache, nights)
        self._file: h5py.File | None = None
        self._pid: int | None = None
        with _open(self.cache) as f:
            self._labels = [f["nights"][n]["y"][()].astype(np.int64) for n in self.nights]
            self.subjects = [int(f["nights"][n].attrs["subject"]) for n in self.nights]

    def _x(self, night_index: int) -> h5py.Dataset:
        if self._file is None or self._pid != os.getpid():
            # A handle inherited through fork is not safe to use: open a fresh one here.
            self._file = h5py.File(self.cache, "r")
            self._pid = os.getpid()
        return self._file["nights"][self.nights[night_index]]["x"]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: h5py may already be gone
            pass


class EpochDataset(_CacheDataset):
    """Single epochs: `(x (2, 3000) float32, y int64)`; by default only scored epochs."""

    def __init__(self, cache: str | os.PathLike, nights: Iterable[Night | str] | None = None,
                 labelled_only: bool = True) -> None:
        super().__init__(cache, nights)
        night_idx, epoch_idx = [], []
        for i, y in enumerate(self._labels):
            keep = np.flatnonzero(y >= 0) if labelled_only else np.arange(len(y))
            night_idx.append(np.full(len(keep), i, dtype=np.int32))
            epoch_idx.append(keep.astype(np.int32))
        self._night = np.concatenate(night_idx) if night_idx else np.zeros(0, np.int32)
        self._epoch = np.concatenate(epoch_idx) if epoch_idx else np.zeros(0, np.int32)

    def __len__(self) -> int:
        return len(self._night)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        n, e = int(self._night[i]), int(self._epoch[i])
        x = self._x(n)[e]
        return torch.from_numpy(np.asarray(x, dtype=np.float32)), torch.tensor(self._labels[n][e], dtype=torch.int64)

    @property
    def labels(self) -> np.ndarray:
        """The label of every item (class weights, stratified sampling)."""
        out = np.empty(len(self._night), dtype=np.int64)
        for i, y in enumerate(self._labels):
            sel = self._night == i
            out[sel] = y[self._epoch[sel]]
        return out


class SequenceDataset(_CacheDataset):
    """Windows of `seq_len` consecutive epochs of one night: `(x (L, 2, 3000), y (L,) int64, -1 = ignore)`.

    Windows start every `stride` epochs (default `seq_len`: no overlap); a last
    window aligned to the night's end covers the remainder. Windows never cross
    nights; nights shorter than `seq_len` are skipped. With `labelled_only`
    (default) windows without any scored epoch are left out; pre-training on
    unlabelled nights passes `labelled_only=False`.
    """

    def __init__(self, cache: str | os.PathLike, nights: Iterable[Night | str] | None = None,
                 seq_len: int = 20, stride: int | None = None, labelled_only: bool = True) -> None:
        super().__init__(cache, nights)
        if seq_len < 1:
            raise ValueError("seq_len must be at least 1")
        self.seq_len = seq_len
        self.stride = stride or seq_len
        windows = []
        for i, y in enumerate(self._labels):
            n = len(y)
            if n < seq_len:
                continue
            starts = list(range(0, n - seq_len + 1, self.stride))
            if starts[-1] != n - seq_len:
                starts.append(n - seq_len)
            windows.extend((i, s) for s in starts if not labelled_only or (y[s:s + seq_len] >= 0).any())
        self._windows = np.array(windows, dtype=np.int32).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self._windows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        n, s = (int(v) for v in self._windows[i])
        x = self._x(n)[s:s + self.seq_len]
        y = self._labels[n][s:s + self.seq_len]
        return torch.from_numpy(np.asarray(x, dtype=np.float32)), torch.from_numpy(y.copy())
