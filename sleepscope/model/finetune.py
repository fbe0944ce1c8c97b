"""Fine-tuning a model on the technician's corrections (a CorrectionSet), with a held-out part.

The corrections are cut into blocks of consecutive epochs of one recording;
whole blocks are held out, chosen so that every stage keeps about the asked
fraction (stratified), and the training data loses ``guard`` epochs on each
side of a held-out block: 30-s neighbours look alike, and a held-out epoch
whose twin was trained on would flatter the child. The child and its parent
are then scored on exactly the same held-out epochs, with the same sequence
windows, so the technician compares like with like before activating.

The loop itself is :func:`sleepscope.model.train.train` (Adam, early stopping
on held-out macro-F1, best weights kept); this module feeds it sequences
built from the correction arrays in memory. The held-out epochs choose the
kept pass as well as score it, so the child's held-out figures lean slightly
optimistic; the card says so.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from sleepscope.errors import SleepScopeError
from sleepscope.model.checkpoint import ModelCard, save_model
from sleepscope.model.distributed import DistInfo
from sleepscope.model.network import SleepStager
from sleepscope.scoring.agreement import agreement
from sleepscope.scoring.corrections import CorrectionSet
from sleepscope.stages import N_CLASSES, NAMES
from sleepscope.tasks import CancelToken, Cancelled, Progress, check, report

#: events(dict): {"event": "parent"|"step"|"epoch", ...}; see `finetune`.
Events = Callable[[dict], None]

#: fewest labelled epochs worth fine-tuning on (below this the held-out part says nothing)
MIN_EPOCHS = 40


@dataclass
class FineTuneOptions:
    epochs: int = 10  # most passes over the training corrections
    lr: float = 1e-4  # smaller than training from scratch: the parent is already good
    batch_size: int = 4  # sequences per step
    freeze_encoders: bool = False
    holdout: float = 0.2  # fraction of the corrections held out for validation
    seq_len: int | None = None  # epochs per sequence (default: the model's L)
    block_epochs: int | None = None  # held-out unit (default: seq_len)
    guard_epochs: int = 1  # training epochs dropped beside each held-out block
    patience: int = 3
    class_weights: bool = False  # inverse stage frequency in the loss
    max_steps: int | None = None
    seed: int = 0

    def validate(self) -> None:
        if self.epochs < 1:
            raise SleepScopeError(f"training epochs must be at least 1, not {self.epochs}")
        if not (0.0 < self.lr < 1.0):
            raise SleepScopeError(f"learning rate {self.lr} is out of range; use e.g. 1e-4")
        if not (0.05 <= self.holdout <= 0.5):
            raise SleepScopeError(f"the held-out fraction {self.holdout} must be between 0.05 and 0.5")
        if self.batch_size < 1 or (self.seq_len is not None and self.seq_len < 1):
            raise SleepScopeError("batch size and sequence length must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise SleepScopeError("max steps must be at least 1")


@dataclass
class Split:
    """Indices into a CorrectionSet: contiguous runs for training and for held-out validation."""

    train_runs: list[np.ndarray]
    heldout_runs: list[np.ndarray]
    dropped: int  # guard epochs used for neither

    @property
    def train(self) -> np.ndarray:
        return np.concatenate(self.train_runs) if self.train_runs else np.zeros(0, np.int64)

    @property
    def heldout(self) -> np.ndarray:
        return np.concatenate(self.heldout_runs) if self.heldout_runs else np.zeros(0, np.int64)


@dataclass
class FineTuneResult:
    model: SleepStager
    card: ModelCard
    path: Path | None
    split: Split
    history: list[dict] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def data_identity(cs: CorrectionSet) -> str:
    """sha256 over the (recording fingerprint, epoch, label) triples, in a canonical order."""
    order = np.lexsort((cs.epoch, cs.fingerprint.astype(str)))
    h = hashlib.sha256()
    for i in order:
        h.update(f"{cs.fingerprint[i]}:{int(cs.epoch[i])}:{int(cs.y[i])}\n".encode())
    return h.hexdigest()


def contiguous_runs(cs: CorrectionSet) -> list[np.ndarray]:
    """Index arrays into `cs`, one per run of consecutive labelled epochs of one recording, in epoch order."""
    runs: list[np.ndarray] = []
    for fp in dict.fromkeys(cs.fingerprint.tolist()):
        idx = np.flatnonzero(cs.fingerprint == fp)
        idx = idx[np.argsort(cs.epoch[idx], kind="stable")]
        ep = cs.epoch[idx]
        cuts = np.flatnonzero(np.diff(ep) != 1) + 1
        runs.extend(r for r in np.split(idx, cuts) if r.size)
    return runs


def split_heldout(cs: CorrectionSet, fraction: float, block: int, guard: int = 1, seed: int = 0) -> Split:
    """Hold out whole blocks of `block` consecutive epochs, stratified by stage, with guard gaps."""
    if block < 1:
        raise SleepScopeError("the held-out block must be at least one epoch long")
    blocks: list[np.ndarray] = []
    for run in contiguous_runs(cs):
        blocks.extend(run[i : i + block] for i in range(0, run.size, block))
    counts = np.stack([np.bincount(cs.y[b], minlength=N_CLASSES)[:N_CLASSES] for b in blocks])
    target = fraction * counts.sum(0).astype(np.float64)
    scale = np.maximum(target, 1.0)
    rng = np.random.default_rng(seed)
    # Greedy: a block is held out when it brings every stage's held-out count, relative to
    # its target, closer overall (squared error); relative error lets rare stages count.
    # Blocks holding the rarest stages come first so those stages reach their share.
    freq = counts.sum(0).astype(np.float64)
    rarity = np.array([freq[c > 0].min() if c.any() else np.inf for c in counts])
    order = np.lexsort((rng.random(len(blocks)), rarity))
    held = np.zeros(len(blocks), bool)
    need = target.copy()
    # the total counts as much as all stages together, so rare stages cannot inflate it
    weight_total = float(np.count_nonzero(target > 0))

    def err(n: np.ndarray) -> float:
        return float(np.sum((n / scale) ** 2) + weight_total * (n.sum() / max(target.sum(), 1.0)) ** 2)

    for b in order:
        after = need - counts[b]
        if err(after) < err(need):
            held[b] = True
            need = after
    if not held.any() or held.all():
        raise SleepScopeError(
            f"{len(cs)} labelled epochs are too few to hold out {fraction:.0%} for validation and still "
            "train; label more epochs (a few hundred at least) or change the held-out fraction")
    # Guard: drop training epochs within `guard` epochs of a held-out epoch of the same recording.
    is_held = np.zeros(len(cs), bool)
    for b in np.flatnonzero(held):
        is_held[blocks[b]] = True
    drop = np.zeros(len(cs), bool)
    if guard > 0:
        for fp in dict.fromkeys(cs.fingerprint[is_held].tolist()):
            mine = np.flatnonzero(cs.fingerprint == fp)
            held_epochs = cs.epoch[mine][is_held[mine]]
            for i in mine[~is_held[mine]]:
                if np.min(np.abs(held_epochs - cs.epoch[i])) <= guard:
                    drop[i] = True
    train_runs, held_runs = [], []
    for run in contiguous_runs(cs):
        for mask, out in ((~is_held[run] & ~drop[run], train_runs), (is_held[run], held_runs)):
            sel = run[mask]
            if sel.size:
                cuts = np.flatnonzero(np.diff(cs.epoch[sel]) != 1) + 1
                out.extend(r for r in np.split(sel, cuts) if r.size)
    return Split(train_runs, held_runs, int(drop.sum()))


class CorrectionSequences(Dataset):
    """Sequences of L consecutive corrected epochs: `(x (L, 2, 3000) float32, y (L,) int64)`.

    Each run is tiled with windows of L from its start; the last window is
    aligned to the run's end and its epochs already covered get label -1, so
    every epoch is counted once. A run shorter than L is padded with flat
    (zero) epochs labelled -1.
    """

    def __init__(self, cs: CorrectionSet, runs: list[np.ndarray], seq_len: int) -> None:
        self.x = cs.x
        self.y = cs.y
        self.seq_len = seq_len
        self.items: list[tuple[np.ndarray, np.ndarray]] = []  # (indices, label mask)
        for run in runs:
            n = run.size
            if n <= seq_len:
                self.items.append((run, np.ones(n, bool)))
                continue
            starts = list(range(0, n - seq_len + 1, seq_len))
            covered = starts[-1] + seq_len
            for s in starts:
                self.items.append((run[s : s + seq_len], np.ones(seq_len, bool)))
            if covered < n:
                s = n - seq_len
                mask = np.arange(s, n) >= covered
                self.items.append((run[s:n], mask))

    def __len__(self) -> int:
        return len(self.items)

    def labels(self) -> np.ndarray:
        """The labels in item order, -1 where an item does not count an epoch (for scoring)."""
        return np.concatenate([self[i][1].numpy() for i in range(len(self))]) if self.items else np.zeros(0)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx, mask = self.items[i]
        x = np.zeros((self.seq_len, 2, self.x.shape[-1]), np.float32)
        y = np.full(self.seq_len, -1, np.int64)
        x[: idx.size] = self.x[idx]
        y[: idx.size] = np.where(mask, self.y[idx], -1)
        return torch.from_numpy(x), torch.from_numpy(y)


def _evaluate(model: SleepStager, data: CorrectionSequences, device: torch.device) -> dict:
    from sleepscope.model.train import evaluate, metrics_dict

    return metrics_dict(evaluate(model, data, device=device))


class _ValidationTap:
    """Sees the model's held-out predictions as the training loop validates, without a second pass.

    `train()` scores the held-out sequences after every pass in eval mode, in
    dataset order; a forward hook collects those logits and, once the pass is
    complete, reports its macro-F1 as an event. It also checks cancellation
    between validation batches, which the loop itself does not.
    """

    def __init__(self, model: SleepStager, labels: np.ndarray, n_items: int, events: Events | None,
                 cancel: CancelToken | None) -> None:
        self.labels, self.n_items, self.events, self.cancel = labels, n_items, events, cancel
        self.preds: list[np.ndarray] = []
        self.items = 0
        self.passes = 0
        self.enabled = False
        self.handle = model.register_forward_hook(self._hook)

    def _hook(self, module: torch.nn.Module, _inp, out: torch.Tensor) -> None:
        if not self.enabled or module.training:
            return
        check(self.cancel)
        self.preds.append(out.detach().argmax(-1).reshape(-1).cpu().numpy())
        self.items += out.shape[0]
        if self.items >= self.n_items:
            p = np.concatenate(self.preds)
            self.preds, self.items = [], 0
            self.passes += 1
            keep = self.labels >= 0
            a = agreement(self.labels[keep], p[: self.labels.size][keep])
            if self.events is not None:
                self.events({"event": "epoch", "epoch": self.passes, "val_macro_f1": a.macro_f1,
                             "val_accuracy": a.accuracy, "val_kappa": a.kappa})

    def close(self) -> None:
        self.enabled = False
        self.handle.remove()


_LOSS = re.compile(r"loss\s+(-?[0-9.]+(?:e[-+]?\d+)?|nan|inf)", re.I)


def finetune(
    parent: SleepStager,
    parent_card: ModelCard,
    corrections: CorrectionSet,
    out: str | Path | None = None,
    options: FineTuneOptions | None = None,
    *,
    info: DistInfo = DistInfo(),
    events: Events | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> FineTuneResult:
    """Fine-tune a copy of `parent` on `corrections`; the parent itself is not changed.

    Returns the child (best held-out pass) and its card; with `out` the child is
    saved there (`OUT.safetensors` + `OUT.json`, on the main process only).
    The card carries: parent = the parent's version, data = the identity of the
    corrections, metrics = held-out accuracy / macro-F1 / kappa / per-stage F1
    of the child AND of the parent on the same held-out epochs.

    `events` receives dicts as training goes: ``{"event": "parent", ...}``
    (the parent's held-out figures, before training), ``{"event": "step",
    "step", "total", "loss"}`` per optimiser step and ``{"event": "epoch",
    "epoch", "val_macro_f1", ...}`` per pass. Raises ``Cancelled`` when
    `cancel` fires (checked every step and every validation batch); nothing is
    written then.
    """
    from sleepscope.model.train import TrainConfig, inverse_frequency_weights, train

    opts = options or FineTuneOptions()
    opts.validate()
    started = time.perf_counter()
    if len(corrections) < MIN_EPOCHS:
        raise SleepScopeError(
            f"only {len(corrections)} technician-labelled epochs are available; fine-tuning needs at least "
            f"{MIN_EPOCHS} (a few hundred give a meaningful held-out check): score more epochs first")
    seq_len = opts.seq_len or parent.config.seq_len
    block = opts.block_epochs or seq_len
    split = split_heldout(corrections, opts.holdout, block, opts.guard_epochs, opts.seed)
    train_data = CorrectionSequences(corrections, split.train_runs, seq_len)
    held_data = CorrectionSequences(corrections, split.heldout_runs, seq_len)
    identity = data_identity(corrections)
    device = info.device
    check(cancel)

    parent = parent.to(device)
    parent_metrics = _evaluate(parent, held_data, device) if info.is_main else {}
    if events is not None and info.is_main:
        events({"event": "parent", "val_macro_f1": parent_metrics["macro_f1"],
                "val_accuracy": parent_metrics["accuracy"], "n_train": int(split.train.size),
                "n_heldout": int(split.heldout.size)})
    check(cancel)

    child = copy.deepcopy(parent)
    cfg = TrainConfig(epochs=opts.epochs, batch_size=opts.batch_size, lr=opts.lr, patience=opts.patience,
                      max_steps=opts.max_steps, seed=opts.seed, freeze_encoders=opts.freeze_encoders)
    weights = inverse_frequency_weights(corrections.y[split.train]) if opts.class_weights else None
    tap = _ValidationTap(child, held_data.labels(), len(held_data), events if info.is_main else None, cancel)

    def on_progress(done: int, total: int, message: str) -> None:
        report(progress, done, total, message)
        if events is not None and info.is_main:
            m = _LOSS.search(message)
            events({"event": "step", "step": done, "total": total, "loss": float(m.group(1)) if m else math.nan})

    tap.enabled = True  # it ignores the training forward passes (train mode)
    try:
        result = train(child, train_data, held_data, cfg, class_weights=weights, info=info,
                       progress=on_progress, cancel=cancel)
    finally:
        tap.close()
    check(cancel)

    child_metrics = _evaluate(child, held_data, device) if info.is_main else {}
    seconds = time.perf_counter() - started
    n_rec = len(set(corrections.fingerprint.tolist()))
    per_source = {s: int(np.count_nonzero(corrections.source == s)) for s in dict.fromkeys(corrections.source.tolist())}
    metrics = {
        "data_identity": identity,
        "heldout": {"child": child_metrics, "parent": parent_metrics, "n_epochs": int(split.heldout.size)},
        "finetune": {
            "n_corrections": len(corrections), "n_train": int(split.train.size),
            "n_heldout": int(split.heldout.size), "n_guard_dropped": split.dropped, "recordings": n_rec,
            "per_stage": corrections.counts_per_stage(), "per_source": per_source,
            "epochs": result.epochs, "steps": result.steps, "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early, "lr": opts.lr, "batch_size": opts.batch_size,
            "seq_len": seq_len, "holdout": opts.holdout, "block_epochs": block, "guard_epochs": opts.guard_epochs,
            "freeze_encoders": opts.freeze_encoders, "class_weights": opts.class_weights, "seed": opts.seed,
            "seconds": round(seconds, 2), "processes": info.world_size,
            "val_macro_f1_per_epoch": [h.get("val_macro_f1") for h in result.history],
        },
    }
    files = sorted(set(corrections.recording_files.values()))
    card = ModelCard(
        config=child.config,
        parent=parent_card.version or getattr(parent, "version", None),
        data=(f"fine-tuned on corrections sha256:{identity[:16]}: {len(corrections)} labelled epochs of {n_rec} "
              f"recording(s) ({', '.join(files[:5])}{', ...' if len(files) > 5 else ''}); "
              f"{split.train.size} trained on, {split.heldout.size} held out; from parent {parent_card.version}"),
        metrics=metrics,
        notes=(f"fine-tuned from {parent_card.version}: Adam lr {opts.lr}, {result.epochs} passes, best pass "
               f"{result.best_epoch + 1}" + (", encoders frozen" if opts.freeze_encoders else "")
               + (", class weights" if opts.class_weights else "")
               + ". The held-out epochs also chose the kept pass, so the child's held-out figures lean "
               "slightly optimistic; the parent's do not."),
    )
    path = None
    if out is not None and info.is_main:
        check(cancel)
        card = save_model(child, out, card)
        path = Path(out)
        if path.suffix != ".safetensors":
            path = path.with_name(path.name + ".safetensors")
    return FineTuneResult(child, card, path, split, list(result.history), list(result.losses), seconds)


def stage_f1_table(metrics: dict) -> list[tuple[str, float, float]]:
    """[(stage, child F1, parent F1)] from a fine-tuned card's held-out metrics."""
    h = metrics.get("heldout", {})
    c, p = h.get("child", {}).get("f1", {}), h.get("parent", {}).get("f1", {})
    return [(n, float(c.get(n, math.nan)), float(p.get(n, math.nan))) for n in NAMES]


__all__ = ["FineTuneOptions", "FineTuneResult", "Split", "CorrectionSequences", "finetune", "split_heldout",
           "contiguous_runs", "data_identity", "stage_f1_table", "Cancelled", "MIN_EPOCHS"]
