"""Corrections as training data: the held-out split and the sequences fine-tuning reads.

The corrections are cut into blocks of consecutive epochs of one recording;
whole blocks are held out, chosen so that every stage keeps about the asked
fraction (stratified), and the training data loses ``guard`` epochs on each
side of a held-out block: 30-s neighbours look alike, and a held-out epoch
whose twin was trained on would flatter the child. The held-out blocks are
themselves cut in two parts: one chooses the kept pass (early stopping), the
other is only scored, so the child's figures are not flattered by the choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from sleepscope.errors import SleepScopeError
from sleepscope.scoring.corrections import CorrectionSet
from sleepscope.stages import N_CLASSES

#: the shortest stretch of consecutive epochs held out (halved between choosing and reporting)
MIN_HELD_BLOCK = 4


def _indices(runs: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(runs) if runs else np.zeros(0, np.int64)


@dataclass
class Split:
    """Indices into a CorrectionSet: contiguous runs for training, for choosing the kept pass, and for reporting.

    The selection and report parts together are the held-out epochs; neither is trained on.
    """

    train_runs: list[np.ndarray]
    select_runs: list[np.ndarray]
    report_runs: list[np.ndarray]
    dropped: int  # guard epochs used for neither

    @property
    def heldout_runs(self) -> list[np.ndarray]:
        return self.select_runs + self.report_runs

    @property
    def train(self) -> np.ndarray:
        return _indices(self.train_runs)

    @property
    def select(self) -> np.ndarray:
        return _indices(self.select_runs)

    @property
    def report(self) -> np.ndarray:
        return _indices(self.report_runs)

    @property
    def heldout(self) -> np.ndarray:
        return _indices(self.heldout_runs)


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


def _stratified_pick(counts: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Which blocks (rows of per-stage counts) to pick so that every stage keeps about `fraction` of its epochs."""
    target = fraction * counts.sum(0).astype(np.float64)
    scale = np.maximum(target, 1.0)
    # Greedy: a block is picked when it brings every stage's picked count, relative to
    # its target, closer overall (squared error); relative error lets rare stages count.
    # Blocks holding the rarest stages come first so those stages reach their share.
    freq = counts.sum(0).astype(np.float64)
    rarity = np.array([freq[c > 0].min() if c.any() else np.inf for c in counts])
    order = np.lexsort((rng.random(len(counts)), rarity))
    picked = np.zeros(len(counts), bool)
    need = target.copy()
    # the total counts as much as all stages together, so rare stages cannot inflate it
    weight_total = float(np.count_nonzero(target > 0))

    def err(n: np.ndarray) -> float:
        return float(np.sum((n / scale) ** 2) + weight_total * (n.sum() / max(target.sum(), 1.0)) ** 2)

    for b in order:
        after = need - counts[b]
        if err(after) < err(need):
            picked[b] = True
            need = after
    return picked


def split_heldout(cs: CorrectionSet, fraction: float, block: int, guard: int = 1, seed: int = 0) -> Split:
    """Hold out whole blocks of `block` consecutive epochs, stratified by stage, with guard gaps.

    The held-out blocks are then halved and the halves shared, again stratified,
    between the part that chooses the kept pass and the part that is reported.
    """
    if block < 1:
        raise SleepScopeError("the held-out block must be at least one epoch long")
    rng = np.random.default_rng(seed)
    # Corrections made a stage at a time leave blocks each larger than their stage's share, and the
    # stratified pick then takes none: hold out shorter blocks, down to the first pick that checks every
    # stage with room for a shortest block in its share (failing that, the first that holds anything).
    big = np.bincount(cs.y, minlength=N_CLASSES)[:N_CLASSES] * fraction >= MIN_HELD_BLOCK
    chosen = None
    finer = [b for b in (block // 2, block // 4, MIN_HELD_BLOCK) if MIN_HELD_BLOCK <= b < block]
    for size in dict.fromkeys([block, *finer]):
        blocks = [run[i : i + size] for run in contiguous_runs(cs) for i in range(0, run.size, size)]
        counts = np.stack([np.bincount(cs.y[b], minlength=N_CLASSES)[:N_CLASSES] for b in blocks])
        held = _stratified_pick(counts, fraction, rng)
        if not held.any() or held.all():
            continue
        if size == block or np.all(counts[held].sum(0)[big] > 0):
            chosen = blocks, held, rng.bit_generator.state
            break
        chosen = chosen or (blocks, held, rng.bit_generator.state)
    if chosen is not None:  # the halves are then drawn as they would be had this pick been the only one
        blocks, held, rng.bit_generator.state = chosen
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
    halves = [h for b in np.flatnonzero(held) for h in np.array_split(blocks[b], 2) if h.size]
    if len(halves) < 2:
        raise SleepScopeError(
            f"{len(cs)} labelled epochs leave too few held-out epochs to both choose and check the model; "
            "label more epochs (a few hundred at least) or raise the held-out fraction")
    half_counts = np.stack([np.bincount(cs.y[h], minlength=N_CLASSES)[:N_CLASSES] for h in halves])
    to_report = _stratified_pick(half_counts, 0.5, rng)
    if to_report.all() or not to_report.any():
        to_report[:] = False
        to_report[1::2] = True
    is_report = np.zeros(len(cs), bool)
    for h in np.flatnonzero(to_report):
        is_report[halves[h]] = True
    train_runs, select_runs, report_runs = [], [], []
    for run in contiguous_runs(cs):
        for mask, out in ((~is_held[run] & ~drop[run], train_runs), (is_held[run] & ~is_report[run], select_runs),
                          (is_report[run], report_runs)):
            sel = run[mask]
            if sel.size:
                cuts = np.flatnonzero(np.diff(cs.epoch[sel]) != 1) + 1
                out.extend(r for r in np.split(sel, cuts) if r.size)
    return Split(train_runs, select_runs, report_runs, int(drop.sum()))


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


class WithoutChannel(Dataset):
    """A sequence dataset's items with one channel removed (zeros; 0 the EEG, 1 the EOG), as a recording without it
    reaches the model; epochs without the other channel are unlabelled (-1), having nothing left to score."""

    def __init__(self, data: Dataset, channel: int) -> None:
        self.data, self.channel = data, channel

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        x, y = self.data[i]
        x = x.clone()
        x[:, self.channel] = 0
        return x, torch.where(x[:, 1 - self.channel].flatten(1).abs().amax(dim=1) > 0, y, -1)


class Weighted(Dataset):
    """Items (x, y, w) of a sequence dataset, every epoch of it weighing `weight` in the loss.

    With `per_epoch` (one weight per epoch of the CorrectionSet behind a CorrectionSequences), each epoch
    weighs `weight` times its own weight.
    """

    def __init__(self, data: Dataset, weight: float, per_epoch: np.ndarray | None = None) -> None:
        self.data, self.weight, self.per_epoch = data, float(weight), per_epoch

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        x, y = self.data[i]
        w = torch.full(y.shape, self.weight, dtype=torch.float32)
        if self.per_epoch is not None:
            idx = self.data.items[i][0]
            w[: idx.size] *= torch.from_numpy(np.asarray(self.per_epoch[idx], np.float32))
        return x, y, w


__all__ = ["Split", "split_heldout", "contiguous_runs", "CorrectionSequences", "WithoutChannel", "Weighted",
           "MIN_HELD_BLOCK"]
