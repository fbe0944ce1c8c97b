"""Time the pieces a budget is made of, so that a budget's duration can be predicted before running it.

Measures, on a few synthetic nights written to a temporary folder: the HDF5
cache build per night, one pre-training step of each method, one fine-tuning
step, and scoring speed. Both wall seconds and the process's CPU seconds
(`time.process_time`) are reported: on a machine shared with other work, CPU
seconds per step stay put while wall seconds grow with the load, so a
prediction for a quiet machine is made from CPU seconds (one thread: CPU =
wall when nothing else runs).
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sleepscope.experiments.budgets import Budget
from sleepscope.tasks import CancelToken, Progress, check, report


@dataclass
class Piece:
    name: str
    wall_s: float  # per unit
    cpu_s: float  # per unit
    unit: str


@dataclass
class Timings:
    config: str
    threads: int
    load_average: float | None
    pieces: list[Piece]

    def get(self, name: str) -> Piece:
        return next(p for p in self.pieces if p.name == name)

    def to_dict(self) -> dict:
        return {"config": self.config, "threads": self.threads, "load_average": self.load_average,
                "pieces": [asdict(p) for p in self.pieces]}


def _timed(fn) -> tuple[float, float, object]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def time_pieces(config: str = "default", *, nights: int = 2, steps: int = 5, pretrain_batch: int = 32,
                batch_size: int = 4, threads: int = 1, folder: str | Path | None = None,
                progress: Progress | None = None, cancel: CancelToken | None = None) -> Timings:
    """Measure the pieces for `config`; synthetic nights go to `folder` (a temporary one by default)."""
    import os

    import torch

    import sleepscope.model.infer as infer
    from sleepscope.data.cohorts import scan_sleep_cassette
    from sleepscope.data.datasets import EpochDataset, SequenceDataset, build_cache
    from sleepscope.data.synthetic import write_night
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager
    from sleepscope.model.pretrain import PretrainConfig, pretrain
    from sleepscope.model.train import TrainConfig, train

    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    old_cores = infer.physical_cores
    infer.physical_cores = lambda: threads  # predict() otherwise uses every core
    pieces: list[Piece] = []
    todo = 2 + 3 + 2
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(folder) if folder is not None else Path(tmp)
            names = [f"SC4{s:02d}1E0" for s in (0, 20, 1, 21, 2, 22)[:nights]]
            report(progress, 0, todo, "writing synthetic nights")
            for name in names:
                check(cancel)
                if not (root / f"{name}-PSG.edf").exists():
                    write_night(root, name, seed=0)
            found = scan_sleep_cassette(root)
            cache = root / "timing-cache.h5"
            cache.unlink(missing_ok=True)
            report(progress, 1, todo, "building the cache")
            w, c, _ = _timed(lambda: build_cache(found, cache))
            pieces.append(Piece("cache build", w / len(found), c / len(found), "night"))
            epochs = EpochDataset(cache, None, labelled_only=False)
            seqs = SequenceDataset(cache, None)
            for i, method in enumerate(("clip", "simclr", "tstcc")):
                check(cancel)
                report(progress, 2 + i, todo, f"pre-training step ({method})")
                model = SleepStager(get_config(config))
                pretrain(model, epochs, PretrainConfig(method=method, batch_size=pretrain_batch, max_steps=1))
                w, c, _ = _timed(lambda: pretrain(model, epochs, PretrainConfig(
                    method=method, batch_size=pretrain_batch, max_steps=steps)))
                pieces.append(Piece(f"pre-training step {method}", w / steps, c / steps,
                                    f"step of {pretrain_batch} epochs"))
            report(progress, 5, todo, "fine-tuning step")
            model = SleepStager(get_config(config))
            train(model, seqs, None, TrainConfig(batch_size=batch_size, max_steps=1))
            w, c, _ = _timed(lambda: train(model, seqs, None, TrainConfig(batch_size=batch_size, max_steps=steps)))
            pieces.append(Piece("fine-tuning step", w / steps, c / steps,
                                f"step of {batch_size} x {model.config.seq_len} epochs"))
            report(progress, 6, todo, "scoring")
            import h5py

            with h5py.File(cache, "r") as f:
                x = f["nights"][found[0].name]["x"][()]
            infer.predict(x[:50], model)
            w, c, _ = _timed(lambda: infer.predict(x, model))
            pieces.append(Piece("scoring", w / len(x), c / len(x), "epoch"))
            report(progress, todo, todo, "done")
    finally:
        torch.set_num_threads(old_threads)
        infer.physical_cores = old_cores
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return Timings(config=config, threads=threads, load_average=load, pieces=pieces)


@dataclass
class Estimate:
    cache_s: float
    pretrain_s: float
    finetune_s: float
    validation_s: float
    test_s: float

    @property
    def total_s(self) -> float:
        return self.cache_s + self.pretrain_s + self.finetune_s + self.validation_s + self.test_s


def estimate(b: Budget, t: Timings, *, nights: int = 153, runs: int | None = None,
             night_epochs: int = 930, test_epochs: int = 8769, use: str = "cpu_s",
             ns: tuple[int, ...] = (3, 6, 9, 12), nights_per_subject: int = 2) -> Estimate:
    """Most time the budget takes (no early stopping) on the synthetic Sleep-EDF-78 cohort.

    `use="cpu_s"` predicts a quiet single-threaded machine from CPU seconds.
    Defaults: 153 nights of ~930 epochs after trimming, 2 per subject; the 4
    validation subjects have 8 nights; the 8 test nights hold 8,769 epochs
    (synthetic cohort). A budget in passes (`finetune_passes`) makes more steps
    at larger N; `runs` (default 4 methods per N and seed) is spread evenly over `ns`.
    """
    from sleepscope.model.config import get_config

    runs = runs if runs is not None else 4 * len(ns) * b.seeds
    g = lambda name: getattr(t.get(name), use)  # noqa: E731
    pre_jobs = b.seeds if b.pretrain_per_seed else 1
    pre = pre_jobs * b.pretrain_steps * sum(g(f"pre-training step {m}") for m in ("clip", "simclr", "tstcc"))
    pre *= b.pretrain_batch / 32  # the pieces are timed at a batch of 32
    val_nights = 4 if b.val_first_night_only else 8
    per_val = val_nights * min(night_epochs, b.val_epochs_per_night or night_epochs) * g("scoring")
    seq_len = b.seq_len or get_config(b.config).seq_len
    steps, validations = 0.0, 0.0
    for n in ns:
        per_pass = math.ceil(n * nights_per_subject * math.ceil(night_epochs / seq_len) / b.batch_size)
        most, every = b.steps_at(per_pass)
        steps += most * runs / len(ns)
        validations += math.ceil(most / every) * runs / len(ns)
    return Estimate(cache_s=nights * g("cache build"), pretrain_s=pre,
                    finetune_s=steps * g("fine-tuning step") * b.batch_size / 4,
                    validation_s=validations * per_val, test_s=runs * test_epochs * g("scoring"))
