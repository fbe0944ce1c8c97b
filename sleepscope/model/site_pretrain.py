"""Site pre-training: CLIP on a lab's own unlabelled recordings, continuing from a model's encoders.

`sleepscope pretrain --method clip --recordings PATH... --from MODEL --out MODEL`
reads EDF/EDF+/BDF files (folders searched), chooses the EEG and EOG as the
GUI does (:func:`sleepscope.io.open_recording`, any sampling rate, resampled
to 100 Hz), prepares them as the model's input and continues the parent's
encoders with the paper's contrastive objective (:mod:`sleepscope.model.pretrain`,
which also gives torchrun data parallelism and Ctrl-C resumption). No labels
are read.

A recording this cannot use (unreadable, no EEG, no EOG: CLIP pairs the two)
is listed with the reason and skipped; the run goes on with the others.

The result is *encoder-only*: its encoders moved while its decoders and
classifier stayed those of the parent, so its stages mean nothing until it is
fine-tuned on labels. Its card says so (`metrics["encoder_only"]`), pre-scoring
refuses it (:func:`sleepscope.model.infer.predict`), the registry keeps it but
will not activate it, and fine-tuning (`sleepscope finetune --from`) starts
from it; the fine-tuned child is an ordinary model.

With ``--progress jsonl`` it prints one JSON object per line for the GUI::

    {"event": "status", "message": ...}
    {"event": "recordings", "used": [...], "skipped": [[name, why], ...], "epochs": n}
    {"event": "step", "step": s, "total": n, "loss": ..., "epoch": pass (1-based)}
    {"event": "done", "model": path, "version": ..., "registered": path|null, "metrics": {...}}
    {"event": "error", "message": ...}
    {"event": "cancelled", "state": path}

SIGTERM or Ctrl-C stops it at the next step with its state saved; the same
command with ``--resume`` continues.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from torch.utils.data import Dataset

from sleepscope.errors import SleepScopeError
from sleepscope.tasks import CancelToken, Progress, check, report

#: card.metrics key marking a model whose encoders were pre-trained after its classifier was fitted
ENCODER_ONLY = "encoder_only"


def is_encoder_only(card_or_metrics) -> bool:
    """True for a model card (or its metrics) of an encoder-only model: it must be fine-tuned before it scores."""
    metrics = getattr(card_or_metrics, "metrics", card_or_metrics)
    return isinstance(metrics, dict) and bool(metrics.get(ENCODER_ONLY, False))


def encoder_only_message(version: str | None = None) -> str:
    who = f"model {version}" if version else "this model"
    return (f"{who} is a pre-trained encoder (site pre-training, no labels): its stages mean nothing until it is "
            "fine-tuned on labelled epochs. Fine-tune it first (`sleepscope finetune --from MODEL ...` or Model → "
            "Fine-tune on corrections… with it active in the registry), then pre-score with the fine-tuned model")


def site_anchor(card, registry=None):
    """(model, card) of the stager a site pre-trained encoder was continued from, following its card's parents
    through the model registry and the shipped model; None for a stager's card or when none is to be found.

    Fine-tuning averages its child with this stager and compares the child with it: it is what pre-scored
    the lab's nights before the site pre-training, and the encoder-only start itself cannot score.
    """
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.registry import ModelRegistry

    if not is_encoder_only(card):
        return None
    if registry is None:
        try:
            registry = ModelRegistry()
        except SleepScopeError:
            registry = None
    seen = set()
    version = card.parent
    while version and version not in seen:
        seen.add(version)
        paths = [registry.get(version).path] if registry is not None and version in registry else []
        paths.append(default_model_path())
        found = None
        for path in paths:
            if path.is_file():
                model, found_card = load_model(path)
                if found_card.version == version:
                    found = model, found_card
                    break
        if found is None:
            return None
        if not is_encoder_only(found[1]):
            return found
        version = found[1].parent
    return None


@dataclass
class UnlabelledNights:
    """The model input of every usable epoch of a set of recordings, and what was left out."""

    x: np.ndarray  # (n, 2, 3000) float32 [EEG, EOG]
    used: list[tuple[str, int]] = field(default_factory=list)  # (file, epochs kept)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)

    def __len__(self) -> int:
        return int(self.x.shape[0])


class EpochArray(Dataset):
    """Items (x,) of an (n, 2, 3000) array: what :func:`sleepscope.model.pretrain.pretrain` reads."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.x[i]))


def find_unlabelled(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Recording files among files and folders (hypnograms and annotation-only EDF+ files left out)."""
    from sleepscope.model.batch_prescore import find_recordings

    return find_recordings(paths)


def read_unlabelled(paths: Iterable[str | os.PathLike], normalisation: str = "epoch", *,
                    progress: Progress | None = None, cancel: CancelToken | None = None) -> UnlabelledNights:
    """Read every recording under `paths` as model input; a recording that cannot serve is skipped with why.

    Epochs with an artefact on the EEG or EOG (flat, clipped, huge) are left
    out: the contrastive objective would learn the artefact.
    """
    from sleepscope.io import open_recording
    from sleepscope.model.inputs import model_input
    from sleepscope.model.quality import epoch_quality

    files = find_unlabelled(paths)
    parts: list[np.ndarray] = []
    out = UnlabelledNights(np.zeros((0, 2, 3000), np.float32))
    for i, path in enumerate(files):
        check(cancel)
        report(progress, i, len(files), f"reading {path.name}")
        try:
            rec = open_recording(path, cancel=cancel)
            missing = [kind for kind, name in (("EEG", rec.eeg_name), ("EOG", rec.eog_name)) if name is None]
            if missing:
                raise SleepScopeError(f"no {' and no '.join(missing)} channel (CLIP learns from EEG and EOG together)")
            quality = epoch_quality(rec)
            if quality.absent:
                raise SleepScopeError(f"the {' and '.join(a.upper() for a in quality.absent)} is unusable for most "
                                      "of the night (flat or artefact)")
            keep = ~quality.artefact & ~quality.eeg_alone  # CLIP pairs the two channels: both sound
            if not keep.any():
                raise SleepScopeError("every epoch has an artefact on the EEG or the EOG")
            x = model_input(rec, normalisation, cancel=cancel)[keep]
        except SleepScopeError as exc:
            out.skipped.append((str(path), str(exc)))
            continue
        except (OSError, ValueError) as exc:  # a damaged file the reader did not explain
            out.skipped.append((str(path), f"cannot be read ({type(exc).__name__}: {exc})"))
            continue
        parts.append(x.astype(np.float32, copy=False))
        out.used.append((str(path), int(x.shape[0])))
    report(progress, len(files), len(files), "recordings read")
    if parts:
        out.x = np.concatenate(parts)
    return out


def mark_encoder_only(metrics: dict) -> dict:
    """The card metrics of an encoder-only model."""
    return {**metrics, ENCODER_ONLY: True}


def site_pretrain(parent, nights: UnlabelledNights, cfg, *, parent_version: str | None = None,
                  state_path: str | os.PathLike | None = None, resume: bool = False, info=None,
                  on_step=None, progress: Progress | None = None, cancel: CancelToken | None = None):
    """Continue `parent`'s encoders (in place) on `nights`; returns (PretrainResult, card metrics, card data).

    `cfg` is a :class:`~sleepscope.model.pretrain.PretrainConfig`. The metrics
    mark the model encoder-only; the data text names the recordings.
    """
    from sleepscope.model.distributed import DistInfo
    from sleepscope.model.pretrain import pretrain

    if len(nights) == 0:
        why = "; ".join(f"{Path(f).name}: {w}" for f, w in nights.skipped[:5]) or "no recording files found"
        raise SleepScopeError(f"none of the recordings can be used for site pre-training ({why}); give EDF/BDF "
                              "recordings with an EEG and an EOG channel")
    result = pretrain(parent, EpochArray(nights.x), cfg, state_path=state_path, resume=resume,
                      info=info or DistInfo(), on_step=on_step, progress=progress, cancel=cancel)
    metrics = mark_encoder_only({
        "method": cfg.method, **result.summary(), "site_recordings": [Path(f).name for f, _ in nights.used],
        "site_epochs": len(nights), "skipped_recordings": [[Path(f).name, w] for f, w in nights.skipped],
        "processes": (info or DistInfo()).world_size})
    data = (f"site pre-training ({cfg.method}, labels unused) on {len(nights.used)} recording(s), {len(nights)} "
            f"epochs ({', '.join(Path(f).name for f, _ in nights.used[:5])}{', ...' if len(nights.used) > 5 else ''})"
            f"; continued from {parent_version or 'the parent'}")
    return result, metrics, data


def site_card(parent_card, metrics: dict, data: str, path: str | os.PathLike = "MODEL.safetensors"):
    """The card of an encoder-only model continued from the model of `parent_card` (`metrics` and `data` from
    :func:`site_pretrain`; `path` where it is written, for the note on fine-tuning it)."""
    from sleepscope.model.checkpoint import ModelCard

    return ModelCard(config=parent_card.config, parent=parent_card.version, data=data, metrics=metrics,
                     calibration={}, familiarity=dict(parent_card.familiarity),
                     notes=("encoder-only: encoders continued by site pre-training, decoders and classifier "
                            f"those of {parent_card.version}; fine-tune on labels before it scores "
                            f"(`sleepscope finetune --from {path}`)"))


# -- the command -----------------------------------------------------------------

def run_command(args: argparse.Namespace) -> int:
    """`sleepscope pretrain --recordings ...` (see the module docstring)."""
    from sleepscope.model.finetune_commands import _Emitter
    from sleepscope.tasks import Cancelled

    emit = _Emitter(getattr(args, "progress", "tqdm") == "jsonl")
    cancel = CancelToken()
    restore = _on_signals(cancel)
    try:
        return _run(args, emit, cancel)
    except Cancelled:
        from sleepscope.model.train_state import state_paths

        emit({"event": "cancelled", "state": str(state_paths(args.out))})
        print(f"sleepscope: interrupted; the run's state is saved in {state_paths(args.out)}: run the same command "
              "with --resume to continue", file=sys.stderr)
        return 130
    except SleepScopeError as exc:
        emit({"event": "error", "message": str(exc)})
        raise
    except Exception as exc:
        emit({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        raise
    finally:
        restore()


def _on_signals(cancel: CancelToken):
    """SIGTERM (the GUI's Cancel) and Ctrl-C stop the run after the current step; under torchrun the launcher
    handles signals (one rank stopping alone would leave the others waiting)."""
    from sleepscope.model.distributed import launched_by_torchrun

    if launched_by_torchrun() or threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame) -> None:
        cancel.cancel()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)
    return restore


def _run(args: argparse.Namespace, emit, cancel: CancelToken) -> int:
    from sleepscope.model.checkpoint import default_model_path, load_model, save_model
    from sleepscope.model.distributed import setup, teardown
    from sleepscope.model.finetune_commands import _check_writable_before_training, _set_threads, _weights_path
    from sleepscope.model.finetune_commands import resolve_parent
    from sleepscope.model.pretrain import PretrainConfig
    from sleepscope.model.registry import ModelRegistry
    from sleepscope.tasks import TqdmProgress

    if args.method != "clip":
        raise SleepScopeError(f"site pre-training on --recordings uses CLIP (the paper's method), not "
                              f"{args.method!r}; drop --method or give --method clip")
    for name in ("--epochs", "--batch-size", "--max-steps", "--checkpoint-every"):
        value = getattr(args, name[2:].replace("-", "_"))
        if value is not None and value < 1:
            raise SleepScopeError(f"{name} must be at least 1, not {value}")
    missing = [str(p) for p in args.recordings if not Path(p).exists()]
    if missing:
        raise SleepScopeError(f"--recordings: {', '.join(missing)} not found; give EDF/BDF files or folders")
    args.register = bool(getattr(args, "register", False))
    _check_writable_before_training(args)
    if getattr(args, "threads", None) is not None or getattr(args, "progress", "tqdm") == "jsonl":
        _set_threads(getattr(args, "threads", None))
    if getattr(args, "nice", 0) > 0 and hasattr(os, "nice"):
        os.nice(args.nice)
    info = setup(args.device)
    emit.enabled = emit.enabled and info.is_main
    bar_on = getattr(args, "progress", "tqdm") == "tqdm" and info.is_main and not args.quiet
    try:
        emit({"event": "status", "message": "loading the model"})
        parent_path = resolve_parent(str(args.parent)) if args.parent else default_model_path()
        parent, parent_card = load_model(parent_path)
        emit({"event": "status", "message": "reading the recordings"})
        with TqdmProgress("reading recordings", disable=not bar_on) as bar:
            nights = read_unlabelled(args.recordings, parent.config.normalisation, progress=bar, cancel=cancel)
        for f, why in nights.skipped:
            print(f"sleepscope: skipped {f}: {why}", file=sys.stderr)
        emit({"event": "recordings", "used": [f for f, _ in nights.used], "skipped": nights.skipped,
              "epochs": len(nights)})
        cfg = PretrainConfig(method="clip", epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             max_steps=args.max_steps, seed=args.seed, checkpoint_every=args.checkpoint_every)
        emit({"event": "status", "message": f"pre-training on {len(nights)} epochs of {len(nights.used)} recordings"})

        def on_step(e) -> None:
            emit({"event": "step", "step": e.step, "total": e.total, "loss": e.loss, "epoch": e.epoch + 1})

        with TqdmProgress("site pre-training (clip)", disable=not bar_on) as bar:
            result, metrics, data = site_pretrain(parent, nights, cfg, parent_version=parent_card.version,
                                                  state_path=args.out, resume=args.resume, info=info,
                                                  on_step=on_step, progress=bar, cancel=cancel)
        if not info.is_main:
            return 0
        card = site_card(parent_card, metrics, data, _weights_path(args.out))
        card = save_model(parent, args.out, card)
        path = _weights_path(args.out)
        registered = None
        if args.register:
            reg = ModelRegistry()
            if parent_card.version not in reg:
                reg.add(parent_path)
            registered = str(reg.add(path).path)
        emit({"event": "done", "model": str(path), "version": card.version, "parent": card.parent,
              "registered": registered, "metrics": card.metrics})
        if getattr(args, "progress", "tqdm") != "jsonl":
            start, end = metrics["pretrain_loss_start"], metrics["pretrain_loss_end"]
            print(f"wrote {path} (version {card.version}, encoder-only: fine-tune before scoring; {result.steps} "
                  f"steps on {len(nights)} epochs of {len(nights.used)} recordings, loss {start:.4f} -> {end:.4f}"
                  + (f"; {len(nights.skipped)} skipped" if nights.skipped else "")
                  + (f"; registered as {registered}" if registered else "") + ")")
    finally:
        teardown(info)
    return 0
