"""The resumable state of a training run: safetensors for tensors, JSON for the rest.

`NAME.state.json` is the commit point: the tensors are written first to
`NAME.state-STEP.safetensors` (temporary name, then renamed), then the JSON
that names that file replaces the previous JSON atomically, and only then is
the previous tensors file removed. A crash at any moment leaves either the
old state or the new one, never a mix. No pickles: optimizer tensors and the
RNG state are safetensors entries, everything else is JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sleepscope.errors import SleepScopeError

STATE_FORMAT = 1


@dataclass
class LoopState:
    """Where a run stands; JSON-serialisable."""

    kind: str  # "pretrain" or "train"
    step: int = 0  # optimiser steps done
    epoch: int = 0  # pass over the data in progress
    batch_in_epoch: int = 0  # batches of that pass already done
    finished: bool = False
    best_metric: float | None = None
    best_epoch: int = -1  # pass of the best validation
    best_step: int = -1  # step of the best validation
    bad_epochs: int = 0  # validations since the best one
    stopped_early: bool = False  # patience ran out
    seconds: float = 0.0  # wall and CPU time spent in the loop, over every resumption
    cpu_seconds: float = 0.0
    losses: list[float] = field(default_factory=list)  # one per step
    history: list[dict[str, Any]] = field(default_factory=list)  # one per validation
    settings: dict[str, Any] = field(default_factory=dict)  # what the run was started with


def state_paths(base: str | os.PathLike) -> Path:
    """The JSON file of the state of a run whose model is `base` (suffix ignored)."""
    p = Path(base)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".state.json")


def save_state(
    base: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: LoopState,
    best_weights: dict[str, torch.Tensor] | None = None,
) -> Path:
    from safetensors.torch import save_file

    json_path = state_paths(base)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        tensors[f"model.{k}"] = v.detach().cpu().contiguous()
    if best_weights is not None:
        for k, v in best_weights.items():
            tensors[f"best.{k}"] = v.detach().cpu().contiguous()
    opt = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in opt["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optim.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[key] = value
    tensors["rng.torch"] = torch.get_rng_state()

    tensor_name = f"{json_path.name[: -len('.json')]}-{state.step}.safetensors"
    tensor_path = json_path.with_name(tensor_name)
    tmp = tensor_path.with_name(tensor_path.name + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, tensor_path)

    doc = {
        "format": STATE_FORMAT,
        "tensors": tensor_name,
        "loop": asdict(state),
        "optimizer": {"param_groups": opt["param_groups"], "scalars": scalars},
        "has_best": best_weights is not None,
    }
    tmp_json = json_path.with_name(json_path.name + ".tmp")
    tmp_json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    previous = _tensor_file_of(json_path)
    os.replace(tmp_json, json_path)
    if previous is not None and previous != tensor_path and previous.exists():
        previous.unlink()
    return json_path


def _tensor_file_of(json_path: Path) -> Path | None:
    try:
        return json_path.with_name(json.loads(json_path.read_text(encoding="utf-8"))["tensors"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def has_state(base: str | os.PathLike) -> bool:
    return state_paths(base).exists()


def load_state(
    base: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[LoopState, dict[str, torch.Tensor] | None]:
    """Restore model, optimizer and torch RNG in place; returns the loop state and best weights."""
    from safetensors.torch import load as load_bytes

    json_path = state_paths(base)
    if not json_path.exists():
        raise SleepScopeError(
            f"no training state to resume at {json_path}; run the command without --resume to start afresh")
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
        tensor_path = json_path.with_name(doc["tensors"])
        # From bytes, not load_file: its tensors map the file, and the optimizer state and
        # best weights outlive the file (a later cut or full disk would SIGBUS the process).
        tensors = load_bytes(tensor_path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SleepScopeError(
            f"the training state {json_path} cannot be read ({exc}); delete it and start without --resume") from exc
    if int(doc.get("format", 0)) != STATE_FORMAT:
        raise SleepScopeError(f"the training state {json_path} has an unknown format; start without --resume")
    model_sd = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_sd, strict=True)
    except RuntimeError as exc:
        raise SleepScopeError(
            f"the training state {json_path} is for another model configuration "
            f"({str(exc).splitlines()[0]}); start without --resume or use the same --config") from exc

    entries: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, idx, key = k.split(".", 2)
            entries.setdefault(int(idx), {})[key] = v
    for idx, extra in doc["optimizer"]["scalars"].items():
        entries.setdefault(int(idx), {}).update(extra)
    groups = doc["optimizer"]["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    device = next(model.parameters()).device
    try:
        optimizer.load_state_dict({"state": entries, "param_groups": groups})
    except (ValueError, KeyError) as exc:
        raise SleepScopeError(
            f"the training state {json_path} was saved with other trainable parameters ({exc}); "
            "resume with the options the run was started with, or start without --resume") from exc
    for entry in optimizer.state.values():
        for key, value in entry.items():
            # Adam keeps its step counter on the CPU unless capturable/fused.
            if torch.is_tensor(value) and key != "step":
                entry[key] = value.to(device)
    torch.set_rng_state(tensors["rng.torch"])
    best = None
    if doc.get("has_best"):
        best = {k[len("best.") :]: v.to(device) for k, v in tensors.items() if k.startswith("best.")}
    return LoopState(**doc["loop"]), best


def check_same_settings(saved: LoopState, current: dict[str, Any], where: str | os.PathLike,
                        added: dict[str, Any] | None = None) -> None:
    """Refuse to resume a run with settings that change what its saved position means. `added`: settings
    introduced after states were first saved, each with the value its absence from a saved state stands for."""
    was = {**(added or {}), **saved.settings}
    changed = {k: (was.get(k), v) for k, v in current.items() if was.get(k) != v}
    if changed:
        text = ", ".join(f"{k} was {old!r}, now {new!r}" for k, (old, new) in changed.items())
        raise SleepScopeError(
            f"the run saved at {state_paths(where)} was started with other settings ({text}); "
            "resume with the same options, or start without --resume")


def read_loop_state(base: str | os.PathLike) -> LoopState:
    """The loop part of a run's state (step, losses, history), without loading tensors."""
    json_path = state_paths(base)
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SleepScopeError(f"cannot read the training state {json_path} ({exc})") from exc
    return LoopState(**doc["loop"])


def start_or_resume(
    state_path: str | os.PathLike | None,
    resume: bool,
    kind: str,
    settings: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    added: dict[str, Any] | None = None,
) -> tuple[LoopState, dict[str, torch.Tensor] | None]:
    """A fresh loop state, or (``resume``) the saved one of the same kind and settings restored in place.

    Returns the loop state and the best weights saved with it (None for a fresh run). `added`: as for
    :func:`check_same_settings`.
    """
    label = {"train": "training", "pretrain": "pre-training"}.get(kind, kind)
    if not resume or state_path is None:
        return LoopState(kind=kind, settings=dict(settings)), None
    if not has_state(state_path):
        raise SleepScopeError(f"--resume: there is no saved state beside {state_path}; start without --resume")
    saved = read_loop_state(state_path)
    if saved.kind != kind:
        raise SleepScopeError(f"the state at {state_path} is not a {label} run; start without --resume")
    check_same_settings(saved, settings, state_path, added)
    return load_state(state_path, model, optimizer)
