"""Reading a recording on a loader thread, with progress and cancel (mne-qt-browser's LoadThread).

The GUI thread only asks (file, channels) and shows; the signals are read
here in chunks by `sleepscope.io.open_recording`, which reports progress and
stops when the token is cancelled. The hypnogram paired with the recording
by name (or, without one, the sleep stages annotated in the recording
itself), the recording's own annotations and the events its hypnogram file
scores besides the stages (arousals, desaturations…), are read here too; a paired
file or an annotation channel that cannot be read does not stop the night
from opening: its problem travels with the result for the window to show.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal

from sleepscope.errors import SleepScopeError
from sleepscope.gui.jobs import CurrentJob, Job, JobWorker
from sleepscope.tasks import CancelToken


@dataclass
class PairedHypnogram:
    """A hypnogram file and what came of reading it: labels, notes, or the reason it is unusable."""

    path: Path
    labels: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    problem: str | None = None
    #: the stages are the recording's own EDF+ annotations (`path` is the recording), not a file beside it
    own: bool = False
    #: its stage codes read as no real night's (the problem then); each code and the stage it was read as
    doubt: str = ""
    read_as: tuple = ()

    @property
    def scorer_name(self) -> str:
        """The label set's name in the scoring file."""
        return f"stages in {self.path.name}" if self.own else self.path.name

    @property
    def where(self) -> str:
        return f"the sleep stages annotated in {self.path.name}" if self.own else f"the hypnogram beside it, {self.path}"


@dataclass
class LoadResult:
    job_id: int
    recording: Any
    paired: PairedHypnogram | None
    seconds: float
    #: the recording's own EDF+ annotations (sleepscope.io.annotations), and why they could not be read
    annotations: list = field(default_factory=list)
    annotations_problem: str | None = None


def read_paired_hypnogram(path: Path, n_epochs: int, start_time: Any = None, own: bool = False,
                          codes: dict[str, int] | None = None) -> PairedHypnogram:
    """Read a hypnogram for a recording of `n_epochs`, by the declared stage `codes` when given; never raises for
    a bad file (says why instead). `own`: `path` is the recording, whose EDF+ annotations carry its stages.
    Codes that read as no real night's are not taken (`doubt`, the problem)."""
    from sleepscope.io.hypnogram import load_hypnogram

    out = PairedHypnogram(Path(path), own=own)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hyp = load_hypnogram(path, n_epochs=n_epochs, start_time=start_time, codes=codes)
        out.notes = [n for n in hyp.notes if n != hyp.doubt_note]
        out.notes += [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        out.read_as = hyp.read_as
        if hyp.doubt:
            out.doubt = out.problem = hyp.doubt
        else:
            out.labels = np.asarray(hyp.labels)
    except SleepScopeError as exc:
        out.problem = str(exc)
    except Exception as exc:  # a reader's bug must not cost the technician the night
        out.problem = f"{type(exc).__name__}: {exc}"
    if out.labels is not None and not (out.labels >= 0).any():
        out.labels, out.problem = None, "it has no scored epoch"
    return out


class LoadWorker(JobWorker):
    """Reads one recording; lives on the QThread made by `LoadJob`."""

    def __init__(self, path: Path, eeg: str | None, eog: str | None, extra: list[str],
                 pair_hypnogram: bool = True, ecg: str | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self._eeg, self._eog, self._extra, self._ecg = eeg, eog, list(extra), ecg
        self._pair = pair_hypnogram

    def unexpected(self, exc: Exception, detail: str) -> str:
        return (f"Reading {self.path.name} failed unexpectedly ({type(exc).__name__}: {exc}). "
                f"Please report this together with the file's origin.\n\n{detail}")

    def work(self) -> LoadResult:
        import sleepscope.io as sio

        # The scoring file is keyed by the file's hash: every byte is read here, not on the GUI thread,
        # and beside the signals (hashlib lets go of the interpreter while it hashes).
        hashing = _FileHash(self.path)
        try:
            rec = sio.open_recording(self.path, eeg=self._eeg, eog=self._eog, extra=self._extra,
                                     progress=self._progress, cancel=self.cancel_token, ecg=self._ecg)
            self.cancel_token.raise_if_cancelled()
            rec = replace(rec, _fingerprint=hashing.result(self.cancel_token))
        finally:
            hashing.stop()
        paired = None
        if self._pair:
            from sleepscope.io.pairing import find_scoring

            hyp = find_scoring(self.path)  # beside it, or the recording's own stage annotations
            if hyp is not None:
                paired = read_paired_hypnogram(hyp, rec.n_epochs, rec.start_time, own=hyp == Path(self.path))
        from sleepscope.io.annotations import hypnogram_file_events, read_annotations

        annotations, problem = read_annotations(self.path)
        if paired is not None and not paired.own and paired.problem is None:
            scored, unread = hypnogram_file_events(paired.path, rec.start_time)
            annotations = sorted(annotations + scored, key=lambda a: a.onset)
            problem = problem or (f"{paired.path.name}: {unread}" if unread else None)
        return LoadResult(self.job_id, rec, paired, self.elapsed(), annotations, problem)


class _FileHash:
    """`file_fingerprint` of a file on a thread of its own, stopped when not wanted any more."""

    def __init__(self, path: Path) -> None:
        from sleepscope.io import file_fingerprint

        self._stop = CancelToken()
        self._value: str | None = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = file_fingerprint(path, cancel=self._stop)
            except BaseException as exc:  # handed to the worker, which reports it
                self._error = exc

        self._thread = threading.Thread(target=run, name=f"sleepscope-hash-{path.name}", daemon=True)
        self._thread.start()

    def result(self, cancel: CancelToken) -> str:
        while self._thread.is_alive():
            cancel.raise_if_cancelled()
            self._thread.join(0.05)
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value

    def stop(self) -> None:
        self._stop.cancel()
        self._thread.join()


class LoadJob(Job):
    """A load worker and its thread."""

    def __init__(self, worker: LoadWorker) -> None:
        super().__init__(worker, "load")
        self.path = worker.path


class RecordingLoader(CurrentJob):
    """The window's loads: one current load; a newer request cancels the older one."""

    loaded = Signal(object)  # LoadResult

    def start(self, path: Path, eeg: str | None, eog: str | None, extra: list[str],
              pair_hypnogram: bool = True, ecg: str | None = None) -> LoadJob:
        return self.launch(LoadJob(LoadWorker(path, eeg, eog, extra, pair_hypnogram, ecg)))

    def _deliver(self, result: LoadResult) -> None:
        self.loaded.emit(result)


@dataclass
class LaneResult:
    job_id: int
    path: Path
    channels: dict[str, np.ndarray]  # at 100 Hz, µV, from the file's first sample
    source_rates: dict[str, float]


class LaneWorker(JobWorker):
    """Reads channels of a recording already open (the montage's lanes, View → Channels): those only, without the
    EEG and EOG the window holds, the file's hash or its annotations."""

    def __init__(self, path: Path, names: list[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self._names = list(names)

    def unexpected(self, exc: Exception, detail: str) -> str:
        return (f"Reading {', '.join(self._names)} of {self.path.name} failed unexpectedly ({type(exc).__name__}: "
                f"{exc}). Please report this together with the file's origin.\n\n{detail}")

    def work(self) -> LaneResult:
        import sleepscope.io.recording as rio

        channels, rates = rio.read_lanes(self.path, self._names, progress=self._progress, cancel=self.cancel_token)
        return LaneResult(self.job_id, self.path, channels, rates)


class LaneLoader(CurrentJob):
    """The window's lane reads: one at a time; a newer request cancels the older one."""

    loaded = Signal(object)  # LaneResult

    def start(self, path: Path, names: list[str]) -> Job:
        return self.launch(Job(LaneWorker(path, names), "lanes"))

    def _deliver(self, result: LaneResult) -> None:
        self.loaded.emit(result)
