"""Background pre-scoring: a QObject worker on its own QThread.

The worker holds the signals and the model path, never the window: the
window listens to its signals, and a job whose window went away (or whose
recording was replaced) is cancelled and simply finishes into nothing.
Signals follow napari's worker: started, progress, finished, errored, aborted.

The worker calls ``predict(recording, model)``, the one input path of the
CLI and the GUI (``sleepscope.model.inputs.model_input``): its numpy
preparation runs in chunks and torch releases the GIL inside its ops, so the
GUI thread keeps getting the interpreter while a night is scored.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QThread, Signal

from sleepscope.gui.jobs import Job, JobWorker
from sleepscope.tasks import check


@dataclass
class PreScoreResult:
    job_id: int
    probs: np.ndarray  # (n_epochs, 5) float32
    stages: np.ndarray  # (n_epochs,) int8
    model_version: str
    model_path: Path
    card: Any
    fingerprint: str
    seconds: float
    #: the full sleepscope.model.infer.Prediction: unsure and artefact epochs, familiarity, channels, notes
    prediction: Any = None


class _ModelCache:
    """The last loaded model, shared by jobs (loading costs more than a short night)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, float] | None = None
        self._value: tuple[Any, Any] | None = None

    def get(self, path: Path) -> tuple[Any, Any]:
        from sleepscope.model.checkpoint import load_model

        try:
            key = (str(Path(path).resolve()), Path(path).stat().st_mtime)
        except OSError:
            key = (str(path), -1.0)
        with self._lock:
            if self._key == key and self._value is not None:
                return self._value
        value = load_model(path)
        with self._lock:
            self._key, self._value = key, value
        return value


MODEL_CACHE = _ModelCache()


def lower_thread_priority(steps: int = 10) -> bool:
    """Make the calling thread (and the torch threads it starts) yield the CPU to the GUI thread.

    On Linux the nice value is per thread and inherited by threads it
    creates, so the OpenMP pool torch starts from the worker runs behind
    the event loop. Elsewhere this does nothing (QThread priorities cover it).
    """
    import os

    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + steps))
    except OSError:
        return False
    return True


def preload_torch_extension() -> bool:
    """Load torch's compiled extension (and libtorch) with the GIL released; True when done.

    Python holds the GIL while it loads an extension module, and torch's pulls
    in libtorch (hundreds of MB, thousands of operators registered by static
    constructors): on the 2-core machine the GUI thread got no interpreter for
    150-320 ms when the pre-scoring worker first imported torch. A C function
    called through ctypes runs with the GIL released, so the libraries are
    loaded here through the C library's ``dlopen``, in torch's order and with
    the flags the import uses; ``import torch`` then finds them loaded and is
    left with its Python part, which hands the GIL over every few ms. Where
    this cannot be done (no ``dlopen``, another layout) nothing is loaded and
    the plain import does it all.
    """
    import ctypes
    import importlib.machinery
    import importlib.util
    import os
    import sys

    if "torch" in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.origin is None:
            return False
        pkg = Path(spec.origin).parent
        ext = next((pkg / f"_C{sfx}" for sfx in importlib.machinery.EXTENSION_SUFFIXES
                    if (pkg / f"_C{sfx}").is_file()), None)
        if ext is None:
            return False
        dlopen = ctypes.CDLL(None).dlopen
        dlopen.restype = ctypes.c_void_p
        dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)
        global_deps = pkg / "lib" / "libtorch_global_deps.so"  # torch loads it first, RTLD_GLOBAL
        if global_deps.is_file():
            dlopen(os.fsencode(global_deps), os.RTLD_NOW | os.RTLD_GLOBAL)
        return bool(dlopen(os.fsencode(ext), sys.getdlopenflags()))
    except (AttributeError, OSError, TypeError, ValueError):  # no dlopen here (Windows)
        return False


def import_inference_runtime() -> None:
    """Import torch and the inference code from a worker thread without stalling the GUI thread.

    Two things hold the GIL for long while torch is imported: loading its
    compiled libraries (see :func:`preload_torch_extension`) and the garbage
    collector's full passes, which the import's hundreds of thousands of new
    objects set off (91 and 123 ms each on the 2-core machine, over a heap
    made mostly of long-lived modules). The collector is paused for the
    import, and what the import made is frozen: modules live as long as the
    process, so later full passes need not walk them again.
    """
    import gc
    import sys

    if "sleepscope.model.infer" in sys.modules:
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        preload_torch_extension()
        import sleepscope.model.checkpoint  # noqa: F401
        import sleepscope.model.infer  # noqa: F401
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


class PreScoreWorker(JobWorker):
    """Runs a model over a whole night; lives on a QThread made by `PreScoreJob`."""

    started = Signal(int)
    traceback_limit = 6

    def __init__(self, recording: Any, model_path: Path, fingerprint: str) -> None:
        super().__init__()
        self._recording = recording
        self._model_path = Path(model_path)
        self._fingerprint = fingerprint

    def unexpected(self, exc: Exception, detail: str) -> str:
        return f"Pre-scoring failed: {type(exc).__name__}: {exc}\n\n{detail}"

    def work(self) -> PreScoreResult:
        lower_thread_priority()
        self.started.emit(self.job_id)
        try:
            self._progress(0, 1, "Loading the model")
            import_inference_runtime()
            from sleepscope.model.infer import predict

            model, card = MODEL_CACHE.get(self._model_path)
            check(self.cancel_token)
            self._progress(0, 1, "Preparing epochs")
            # predict's batches take tens of ms each on a CPU core: Cancel answers well within a second.
            pred = predict(self._recording, model, progress=self._progress, cancel=self.cancel_token)
            check(self.cancel_token)
        finally:
            self._recording = None
        return PreScoreResult(
            job_id=self.job_id, probs=pred.probs, stages=pred.stages, model_version=pred.model_version,
            model_path=self._model_path, card=card, fingerprint=self._fingerprint,
            seconds=self.elapsed(), prediction=pred,
        )


class PreScoreJob(Job):
    """A pre-scoring worker and its thread, at low priority (the GUI thread comes first)."""

    def __init__(self, worker: PreScoreWorker) -> None:
        super().__init__(worker, "prescore", QThread.Priority.LowPriority)


def start_prescore(recording: Any, model_path: Path) -> PreScoreJob:
    """Start scoring `recording` (a sleepscope.io.Recording) with the model at `model_path`."""
    worker = PreScoreWorker(recording, model_path, recording.fingerprint())
    job = PreScoreJob(worker)
    job.start()
    return job
