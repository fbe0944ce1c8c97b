"""Full-night pre-scoring: per-epoch probabilities for every epoch of a recording.

The network's expensive part (two U2-Net branches, fusion, per-epoch head) sees
one epoch at a time, so it runs exactly once per epoch, in batches. Only the
cheap sequence head mixes neighbouring epochs; it runs on overlapping windows
of L epochs (stride L/2) and each epoch keeps the output of the window where
it sits nearest the centre, so that every epoch has context on both sides
(the first and last windows keep their outer edges). A night shorter than L is
one window of its own length; any length is covered exactly once.
"""

from __future__ import annotations

import os
import weakref
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Iterator

import numpy as np
import torch

from sleepscope.errors import SleepScopeError
from sleepscope.stages import most_likely, no_stage_probs
from sleepscope.tasks import CancelToken, Progress, check, report


@dataclass
class Prediction:
    """Per-epoch stage probabilities (order W, N1, N2, N3, REM), the stage, and how far to trust them.

    Artefact epochs (see :mod:`sleepscope.model.quality`) get uniform
    probabilities and stage -1 (unscored): no confident stage. ``unsure``
    marks the epochs whose top probability is under the card's threshold, and
    artefact epochs. ``familiarity`` says whether the recording is like what
    the model learned (None for a bare array or a model without statistics).
    """

    probs: np.ndarray  # (n_epochs, 5) float32, rows sum to 1 (calibrated when the card has a temperature)
    model_version: str
    stages: np.ndarray  # (n_epochs,) int8, argmax of probs; -1 on artefact epochs
    unsure: np.ndarray | None = None  # (n_epochs,) bool
    artefact: np.ndarray | None = None  # (n_epochs,) bool
    quality: Any = None  # sleepscope.model.quality.EpochQuality (recordings only)
    familiarity: Any = None  # sleepscope.model.familiarity.Familiarity
    channels: Any = None  # sleepscope.io.channels.ChannelChoice (recordings opened from a file)
    temperature: float = 1.0
    unsure_threshold: float = 0.6
    #: the epochs [start, stop) whose encoder statistics the night was also scored with (``night_norm``);
    #: None when the model does not ask for it or the sleep period was too short
    night_statistics: tuple[int, int] | None = None
    #: sleepscope.model.eeg_band.NarrowBand: the EEG's header puts its band below what wake was read by
    eeg_band: Any = None
    #: sleepscope.model.backups.Backup of each channel read from its backup where it failed
    backups: tuple = ()
    #: sleepscope.model.chin_emg.ChinTone: the chin EMG's tone and whether it weighed in; None: no chin EMG, or
    #: a model whose card has no coefficients for one
    chin: Any = None
    #: (n_epochs,) bool: EEG epochs read through a 0.3-Hz high-pass, a slow drift dominating them
    #: (`sleepscope.model.drift`); None for prepared arrays
    high_passed: np.ndarray | None = None
    #: sleepscope.model.heartbeats.Heartbeats: the ECG's beats subtracted from the EEG and EOG before the model
    #: read them; None: no ECG lead, or no channel showed its beats
    heartbeats: Any = None
    #: `drift.eog_drift` of a night read from its EOG alone through the drift high-pass; None: not so read
    eog_high_passed: float | None = None

    @property
    def n_epochs(self) -> int:
        return int(self.probs.shape[0])

    @property
    def implausible(self) -> str | None:
        """Why the suggested stages of the whole night are unlike any real night's scoring (no wake in eight
        hours, N2 nearly absent), or None: a model misreading the recording, whatever its confidence."""
        from sleepscope.stages import unusual_mix

        return unusual_mix(self.stages)

    def implausible_note(self) -> str:
        return (f"the suggested stages are unlike any real night's scoring ({self.implausible}): the model may be "
                "misreading this recording; check them, or correct a few hundred epochs and fine-tune")

    def notes(self) -> list[str]:
        """What the user should know about this pre-scoring, one line each (CLI lines, GUI banner)."""
        out = []
        if self.familiarity is not None and not self.familiarity.familiar:
            out.append(self.familiarity.message())
        if self.implausible is not None:
            out.append(self.implausible_note())
        if self.eeg_band is not None:
            out.append(self.eeg_band.message())
        drifting = 0 if self.high_passed is None else int(np.count_nonzero(self.high_passed))
        if drifting:
            from sleepscope.model.drift import note

            out.append(note(drifting))
        if self.eog_high_passed is not None:
            from sleepscope.model.drift import eog_note

            out.append(eog_note(self.eog_high_passed))
        if self.heartbeats is not None:
            out.append(self.heartbeats.message())
        if self.channels is not None:
            for kind, name in (("EEG", self.channels.eeg), ("EOG", self.channels.eog)):
                if name is None:
                    out.append(f"no {kind} channel: pre-scored from the "
                               f"{'EOG' if kind == 'EEG' else 'EEG'} alone")
        out += [b.message() for b in self.backups]
        if self.chin_note is not None:
            out.append(self.chin_note)
        if self.quality is not None and (self.quality.absent or self.artefact is not None and self.artefact.any()):
            out.append(self.quality.summary())
        return out

    @property
    def chin_note(self) -> str | None:
        """Why the chin EMG was left out, where that is news to the technician (kept with the prediction in the
        scoring file, said again when the night is reopened); None otherwise."""
        chin = self.chin
        return chin.message() if chin is not None and not chin.used and chin.worth_saying else None

    def to_dict(self) -> dict:
        """Everything but the per-epoch arrays, as plain data (stored beside the probabilities)."""
        return {
            "model_version": self.model_version, "temperature": self.temperature,
            "unsure_threshold": self.unsure_threshold,
            "unsure_epochs": int(self.unsure.sum()) if self.unsure is not None else None,
            "quality": self.quality.to_dict() if self.quality is not None else None,
            "familiarity": self.familiarity.to_dict() if self.familiarity is not None else None,
            "channels": self.channels.to_dict() if self.channels is not None else None,
            "night_statistics": None if self.night_statistics is None else list(self.night_statistics),
            "eeg_band": None if self.eeg_band is None else self.eeg_band.to_dict(),
            "backups": [b.to_dict() for b in self.backups],
            "chin_emg": None if self.chin is None else self.chin.to_dict(),
            "high_passed_epochs": None if self.high_passed is None else int(np.count_nonzero(self.high_passed)),
            "eog_high_passed": self.eog_high_passed,
            "heartbeats": None if self.heartbeats is None else self.heartbeats.to_dict(),
            "notes": self.notes(),
        }


@dataclass(frozen=True)
class Window:
    """A window ``[start, start + length)`` of which ``[keep_from, keep_to)`` is kept (absolute epochs)."""

    start: int
    length: int
    keep_from: int
    keep_to: int


def window_plan(n: int, seq_len: int, stride: int | None = None) -> list[Window]:
    """Windows of ``seq_len`` epochs at ``stride`` whose kept parts partition ``range(n)``.

    Consecutive windows split their overlap in the middle; the last window is
    aligned to the end of the night. Each epoch is kept exactly once.
    """
    if n < 1:
        return []
    if seq_len < 1:
        raise ValueError("seq_len must be >= 1")
    if n <= seq_len:
        return [Window(0, n, 0, n)]
    stride = stride or max(1, seq_len // 2)
    if not 1 <= stride <= seq_len:
        raise ValueError("stride must be between 1 and seq_len")
    starts = list(range(0, n - seq_len + 1, stride))
    if starts[-1] != n - seq_len:
        starts.append(n - seq_len)
    bounds = [0] + [(a + seq_len + b) // 2 for a, b in zip(starts, starts[1:])] + [n]
    return [Window(s, seq_len, lo, hi) for s, lo, hi in zip(starts, bounds, bounds[1:])]


def pick_device(preferred: str | torch.device | None = None) -> torch.device:
    """CUDA if available, else Apple MPS, else CPU (or ``preferred`` when given)."""
    if preferred is not None:
        return torch.device(preferred)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads slow convolutions down)."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:
        allowed = set(range(os.cpu_count() or 1))
    cores: set[tuple[str, str]] = set()
    try:
        cpu = phys = core = None
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "processor":
                    cpu = int(value)
                elif key == "physical id":
                    phys = value
                elif key == "core id":
                    core = value
                elif not key and cpu is not None:
                    if cpu in allowed:
                        cores.add((str(phys), str(core if core is not None else cpu)))
                    cpu = phys = core = None
            if cpu is not None and cpu in allowed:
                cores.add((str(phys), str(core if core is not None else cpu)))
    except OSError:
        pass
    return max(1, min(len(cores) or len(allowed), len(allowed)))


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """torch's thread count is one setting for the whole process: set it for a while, then restore it."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _as_epochs(recording_or_array) -> np.ndarray:
    if hasattr(recording_or_array, "model_input"):
        x = recording_or_array.model_input()
    else:
        x = recording_or_array
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != 2 or x.shape[2] != 3000:
        raise SleepScopeError(
            f"pre-scoring needs epochs shaped (n_epochs, 2, 3000) [EEG, EOG at 100 Hz], got {x.shape}")
    if x.shape[0] == 0:
        raise SleepScopeError("the recording is shorter than one 30-s epoch: there is nothing to score")
    if not np.isfinite(x).all():
        raise SleepScopeError("the signals contain NaN or infinite values; check the recording's channels")
    return np.ascontiguousarray(x, dtype=np.float32)


#: model -> (weights version, device, its inference form: FastStager on the CPU, else batch-norm-folded copy): a GUI pre-scoring night after
#: night with the same model folds it once. Weak keys: a dropped model frees its copy.
_FOLDED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _inference_copy(model, version: str, dev: torch.device):
    from sleepscope.model.fast_eval import FastStager
    from sleepscope.model.network import fold_batchnorm

    if not hasattr(model, "eeg_branch"):  # any module with the split API (tests instrument it)
        return model.to(dev).eval()
    cached = _FOLDED.get(model)
    if cached is not None and cached[0] == version and cached[1] == dev:
        return cached[2]
    # On the CPU, the fused two-branch form (fast_eval) is about 1.5x faster than the folded
    # model (same process, 1 and 2 threads); accelerators, where it was not measured, keep the folded model.
    net = FastStager(model) if dev.type == "cpu" else fold_batchnorm(model).to(dev)
    _FOLDED[model] = (version, dev, net)
    return net


def predict(recording_or_array, model, *, batch_size: int | None = None,
            device: str | torch.device | None = None, seq_len: int | None = None,
            stride: int | None = None, threads: int | None = None,
            progress: Progress | None = None, cancel: CancelToken | None = None) -> Prediction:
    """Stage probabilities for every epoch of a night.

    ``recording_or_array`` is a :class:`sleepscope.io.Recording` (prepared
    by :func:`sleepscope.model.inputs.model_input` under the model's
    normalisation, with per-epoch signal quality and the familiarity check)
    or an array ``(n_epochs, 2, 3000)`` already prepared. ``model`` is a
    :class:`~sleepscope.model.network.SleepStager`; its card's calibration
    (``model.calibration``, set by ``load_model``) divides the logits by the
    fitted temperature, applies its confidence map and then reads the night
    through real nights' stage transitions, where it has them
    (``calibration.calibrated_probs``); where the card has chin-EMG coefficients and the recording a chin
    EMG, its tone adds to those probabilities on nights that show atonia (``sleepscope.model.chin_emg``).
    Inference runs on a private derived copy (on the CPU
    :class:`~sleepscope.model.fast_eval.FastStager`: batch norms folded, both
    branches fused; elsewhere the batch-norm-folded model), so the caller's
    model is not changed. ``seq_len`` defaults to the model's configured L,
    ``stride`` to L/2. On the CPU, ``threads`` worker threads (default: the
    physical cores) each compute whole batches on one torch thread (torch's
    thread count, one setting for the process, is 1 meanwhile and restored
    after). Same input, same output, whatever ``threads``: eval mode, no
    randomness. Raises ``Cancelled`` if ``cancel`` fires (checked between
    batches).
    """
    from sleepscope.model import calibration as cal
    from sleepscope.model.familiarity import assess

    if getattr(model, "encoder_only", False):
        from sleepscope.model.site_pretrain import encoder_only_message

        raise SleepScopeError(encoder_only_message(getattr(model, "version", None)))
    quality = channels = None
    backups: tuple = ()
    if hasattr(recording_or_array, "epochs") and hasattr(recording_or_array, "n_epochs"):
        from sleepscope.model.backups import read_for_model

        reading = read_for_model(recording_or_array, model.config.normalisation, cancel)
        rec, quality, backups = reading.recording, reading.quality, reading.backups
        channels = getattr(rec, "channel_choice", None)
        x = _as_epochs(reading.x)
    else:
        from sleepscope.model.inputs import check_prepared

        x = _as_epochs(recording_or_array)
        check_prepared(x, getattr(model.config, "normalisation", "epoch"))
    used: dict = {}
    feats, logits, version = night_outputs(x, model, batch_size=batch_size, device=device, seq_len=seq_len,
                                           stride=stride, threads=threads, progress=progress, cancel=cancel,
                                           artefact=None if quality is None else quality.artefact, used=used)
    calib = getattr(model, "calibration", None) or {}
    temperature = float(calib.get("temperature", 1.0))
    threshold = float(calib.get("unsure_threshold", cal.DEFAULT_UNSURE))
    artefact = quality.artefact if quality is not None else np.zeros(len(x), dtype=bool)
    probs = cal.calibrated_probs(logits.numpy(), calib, both_channels=has_both_channels(x),
                                 uninformative=artefact, eog_only=eog_only(x)).astype(np.float32, copy=False)
    probs[artefact] = no_stage_probs(int(artefact.sum()))
    stages = most_likely(probs)
    chin = None
    if quality is not None:
        from sleepscope.model.chin_emg import Coefficients, recording_tone, with_tone

        coefficients = Coefficients.from_calibration(calib)
        chin = None if coefficients is None else recording_tone(rec, stages, coefficients, cancel)
        if chin is not None and chin.used:
            import dataclasses

            probs[~artefact] = with_tone(probs[~artefact], chin.tone[~artefact], coefficients.weights)
            before, stages = stages, most_likely(probs)
            chin = dataclasses.replace(chin, decided=stages != before)
    from sleepscope.model.eeg_band import unsure_epochs

    unsure, band = unsure_epochs(probs, calib, rec if quality is not None else None)
    unsure |= artefact
    high_passed = None if quality is None else reading.high_passed & ~artefact
    familiarity = None
    stats = getattr(model, "familiarity", None) or {}
    if quality is not None:  # the check reads the signals: recordings only
        from sleepscope.model.familiarity import FEATURES, input_features

        inputs = input_features(rec)[~artefact] if stats.get("features") == FEATURES else None
        # an EOG read alone through the high-pass is read as the model learned: its drift is said in the notes
        familiarity = assess(inputs, stats or None, stages=stages[~artefact], channels=channels,
                             absent=quality.absent, trained_without_channel=float(stats.get("channel_dropout", 0)) > 0,
                             eog_drift=None if reading.eog_high_passed else reading.eog_drift)
    return Prediction(probs=probs, model_version=version, stages=stages, unsure=unsure, artefact=artefact,
                      quality=quality, familiarity=familiarity, channels=channels, temperature=temperature,
                      unsure_threshold=threshold, night_statistics=used.get("night_statistics"), eeg_band=band,
                      backups=backups, chin=chin, high_passed=high_passed,
                      heartbeats=None if quality is None else reading.heartbeats,
                      eog_high_passed=reading.eog_drift if quality is not None and reading.eog_high_passed else None)


def has_both_channels(x: np.ndarray) -> bool:
    """Does a prepared night (n, 2, 3000) have an EEG and an EOG (an absent channel is all zeros)?"""
    return bool(x[:, 0].any()) and bool(x[:, 1].any())


def eog_only(x: np.ndarray) -> bool:
    """Is a prepared night (n, 2, 3000) an EOG without an EEG?"""
    return not x[:, 0].any() and bool(x[:, 1].any())


def night_outputs(x: np.ndarray, model, *, batch_size: int | None = None,
                  device: str | torch.device | None = None, seq_len: int | None = None,
                  stride: int | None = None, threads: int | None = None,
                  progress: Progress | None = None, cancel: CancelToken | None = None,
                  artefact: np.ndarray | None = None, used: dict | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(per-epoch features (n, head_channels), logits (n, 5), weights version) of a prepared night, on the CPU.

    What :func:`predict` computes before calibration; calibration and the
    familiarity statistics are fitted on these same outputs. With the
    configuration's ``eeg_opinion`` w or ``eog_opinion`` v > 0 and both channels
    present, the logits are log((1 - w - v) p + w p_eeg + v p_eog): p from the
    whole input, p_eeg as if the EOG were absent (zeros), p_eog as if the EEG
    were (``epoch_features_opinions``: the branches run once), and the features
    are those of the whole input. With the configuration's
    ``night_statistics``, a first pass gives stages from which ``night_norm`` finds the
    night's sleep period; the night is then scored again with the encoders' batch-norm
    statistics re-estimated there (`artefact` epochs left out): the logits are the log of
    the two passes' mean probabilities, the features the second pass's; `used`, when given,
    gets ``"night_statistics"``: the sleep period's epochs (start, stop), or None.
    """
    from sleepscope.model.checkpoint import weights_version
    from sleepscope.model.network import mixes_opinions

    x = _as_epochs(x)
    n = x.shape[0]
    pair = mixes_opinions(model.config) and has_both_channels(x)
    dev = pick_device(device)
    # Hashed every time: a model fine-tuned in memory after loading has new weights.
    version = weights_version(model)
    seq_len = int(seq_len or model.config.seq_len)
    if batch_size is None:
        # CPU: 128 epochs per batch and worker beat 32 and 64 (same process, 2 workers: 0.098 s vs 0.124 and 0.101 s).
        batch_size = 256 if dev.type != "cpu" else 128
    check(cancel)
    net = _inference_copy(model, version, dev)
    adapt = bool(getattr(model.config, "night_statistics", False)) and hasattr(model, "eeg_branch")
    feats, logits = _outputs(net, x, model.config, pair, dev, batch_size, seq_len, stride, threads,
                             progress, cancel, passes=2 if adapt else 1)
    if adapt:
        from sleepscope.model.fast_eval import FastStager
        from sleepscope.model.network import fold_batchnorm, mix_opinions
        from sleepscope.model.night_norm import sample_epochs, with_statistics

        stages = logits.numpy().argmax(axis=1)
        if artefact is not None:
            stages = np.where(np.asarray(artefact, bool), -1, stages)
        idx = sample_epochs(stages)
        if idx is not None:
            adapted = with_statistics(model, x[idx])
            if used is not None:
                used["night_statistics"] = (int(idx[0]), int(idx[-1]) + 1)
            check(cancel)
            net = FastStager(adapted) if dev.type == "cpu" else fold_batchnorm(adapted).to(dev)
            first = logits
            feats, logits = _outputs(net, x, model.config, pair, dev, batch_size, seq_len, stride, threads,
                                     progress, cancel, passes=2, second=True)
            logits = mix_opinions(first, logits, 0.5)
        else:
            report(progress, 2 * (n + 1), 2 * (n + 1), "Pre-scoring epochs")
    return feats.float().cpu(), logits.cpu(), version


def _outputs(net, x: np.ndarray, config, pair: bool, dev: torch.device, batch_size: int, seq_len: int,
             stride: int | None, threads: int | None, progress: Progress | None, cancel: CancelToken | None,
             passes: int = 1, second: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, logits) of one pass of `net` over the prepared night `x`; progress counts `passes` passes."""
    from sleepscope.model.network import eog_weights, mix_opinions, opinion_weights

    n = x.shape[0]
    w, v = opinion_weights(config)
    features = partial(net.epoch_features_opinions, eog_alone=v > 0) if pair else net.epoch_features
    total = passes * (n + 1)
    done = n + 1 if second else 0
    if progress is not None:
        inner = progress
        progress = lambda i, _t, msg: inner(done + i, total, msg)  # noqa: E731
    with torch.inference_mode():
        if dev.type == "cpu":
            feats = _features_on_cpu(features, x, batch_size, threads or physical_cores(), progress, total, cancel)
        else:
            feats = _features_on_device(features, x, dev, batch_size, progress, total, cancel)
        check(cancel)
        plan = window_plan(n, seq_len, stride)
        if pair:
            opinions = [_sequence_logits(net, feats[:, k], plan, config.n_classes) for k in range(feats.shape[1])]
            eog, per_epoch = None, 0.0
            if v > 0:
                eog = opinions[2]
                per_epoch = eog_weights(v, torch.from_numpy(np.asarray(x[:, 1].any(axis=-1)))).to(eog.device)
            feats, logits = feats[:, 0], mix_opinions(opinions[0], opinions[1], w, eog, per_epoch)
        else:
            logits = _sequence_logits(net, feats, plan, config.n_classes)
        report(progress, n + 1, total, "Pre-scoring epochs")
    return feats, logits


def _sequence_logits(net, feats: torch.Tensor, plan, n_classes: int) -> torch.Tensor:
    """(n, n_classes) logits of per-epoch features (n, C), window by window of `plan`."""
    logits = torch.empty((feats.shape[0], n_classes), dtype=torch.float32, device=feats.device)
    # Windows of equal length go through the head together (all but a short night's only one).
    for i in range(0, len(plan), 256):
        group = plan[i:i + 256]
        batch = torch.stack([feats[w.start:w.start + w.length] for w in group])
        out = net.sequence_logits(batch).float()
        for j, w in enumerate(group):
            logits[w.keep_from:w.keep_to] = out[j, w.keep_from - w.start:w.keep_to - w.start]
    return logits


def _features_on_device(features, x: np.ndarray, dev: torch.device, batch_size: int,
                        progress: Progress | None, total: int, cancel: CancelToken | None) -> torch.Tensor:
    """Per-epoch features on an accelerator, batch after batch (one stream keeps it busy)."""
    n = x.shape[0]
    feats = None
    for lo in range(0, n, batch_size):
        check(cancel)
        f = features(torch.from_numpy(x[lo:lo + batch_size]).to(dev))
        if feats is None:
            feats = torch.empty((n, *f.shape[1:]), dtype=f.dtype, device=dev)
        feats[lo:lo + f.shape[0]] = f
        report(progress, min(n, lo + batch_size), total, "Pre-scoring epochs")
    return feats


def _features_on_cpu(features, x: np.ndarray, batch_size: int, workers: int,
                     progress: Progress | None, total: int, cancel: CancelToken | None) -> torch.Tensor:
    """Per-epoch features on the CPU: batches shared among ``workers`` threads of ONE torch thread each.

    The network's operators are small (at most 64 channels on at most 1,500
    samples): split over several OpenMP threads, each one ends at a barrier
    and the cores mostly wait for each other. Whole batches side by side keep
    every core busy instead. Measured on the 2-core machine, 1,000 epochs,
    ``default`` configuration, one process: one thread 0.164 s, two OpenMP
    threads 0.178 s, two single-threaded workers 0.098 s. Each batch is
    computed by one thread alone, so the result does not depend on
    ``workers`` and is the same from run to run.
    """
    n = x.shape[0]
    workers = max(1, int(workers))
    batch_size = max(1, min(batch_size, -(-n // workers)))  # every worker gets a batch
    done = 0

    def run(lo: int) -> tuple[int, torch.Tensor]:
        check(cancel)
        with torch.inference_mode():
            return lo, features(torch.from_numpy(x[lo:lo + batch_size]))

    parts: dict[int, torch.Tensor] = {}
    # Threads started by this thread inherit its scheduling priority (the GUI lowers it).
    pool = ThreadPoolExecutor(workers, thread_name_prefix="sleepscope-predict",
                              initializer=torch.set_num_threads, initargs=(1,))
    with _torch_threads(1), pool:
        futures = [pool.submit(run, lo) for lo in range(0, n, batch_size)]
        try:
            for fut in as_completed(futures):
                lo, f = fut.result()
                parts[lo] = f
                done += f.shape[0]
                report(progress, done, total, "Pre-scoring epochs")
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
    return torch.cat([parts[lo] for lo in sorted(parts)])
