"""Where a training step's time goes: reading the batch, the forward pass, the backward pass, the optimiser.

    .venv/bin/python benchmarks/bench_train_step.py [--device cuda] [--cache CACHE.h5] [--config default]
        [--batch-size 16] [--steps 20] [--threads N] [--processes K]

The supervised step of ``sleepscope train`` (sequences of the model's L epochs, channel dropout 0.3,
cross-entropy, Adam), timed part by part (on a GPU each part ends with a synchronisation, so the parts
add up to the step). With ``--cache`` the batches are read from a training cache as the training loop
reads them (``SequenceDataset`` through a ``DataLoader``); without it, from random tensors already in
memory (the data part is then only the copy to the device). Also printed: operator calls per step (a
GPU step of small layers is bounded by launching them, not by arithmetic) and the step rate against
the forward pass alone (the same process, the same batch). ``--processes K`` runs K copies at once,
each with ``--threads`` CPU threads, as ``models/train_parent_gpu.sh`` runs its seeds, and prints each
one's step rate against the single process's.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(config: str, device: str, batch_size: int, steps: int, cache: str | None, threads: int | None,
            seed: int = 0) -> dict:
    """Median seconds per part of a supervised training step, over `steps` steps after two warm-up steps."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from sleepscope.model.config import get_config
    from sleepscope.model.inputs import drop_channels
    from sleepscope.model.network import SleepStager

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    dev = torch.device(device)
    cfg = get_config(config).with_(normalisation="epoch+amplitude")
    model = SleepStager(cfg).to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    L = cfg.seq_len
    if cache:
        from sleepscope.data.datasets import SequenceDataset

        ds = SequenceDataset(cache, None, seq_len=L)
        order = np.random.default_rng(seed).permutation(len(ds))
        need = (steps + 2) * batch_size
        order = np.resize(order, need)
        loader = iter(DataLoader(ds, batch_sampler=[list(order[i:i + batch_size]) for i in range(0, need, batch_size)]))
        next_batch = lambda: next(loader)  # noqa: E731
    else:
        g = torch.Generator().manual_seed(seed)
        x0 = torch.randn(batch_size, L, 2, cfg.epoch_samples, generator=g)
        y0 = torch.randint(0, cfg.n_classes, (batch_size, L), generator=g)
        next_batch = lambda: (x0, y0)  # noqa: E731
    parts: dict[str, list[float]] = {k: [] for k in ("data", "to_device", "forward", "backward", "optimiser", "step")}
    forward_only = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        x, y = next_batch()
        x = drop_channels(x, 0.3, torch.Generator().manual_seed(i))
        t1 = time.perf_counter()
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        _sync(dev)
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, cfg.n_classes), y.reshape(-1), ignore_index=-1)
        _sync(dev)
        t3 = time.perf_counter()
        loss.backward()
        _sync(dev)
        t4 = time.perf_counter()
        opt.step()
        float(loss.detach())
        _sync(dev)
        t5 = time.perf_counter()
        if i >= 2:
            for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0)):
                parts[k].append(v)
            with torch.no_grad():
                _sync(dev)
                a = time.perf_counter()
                model(x)
                _sync(dev)
                forward_only.append(time.perf_counter() - a)
    from torch.profiler import ProfilerActivity, profile

    x, y = next_batch() if not cache else (x.cpu(), y.cpu())
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        opt.zero_grad(set_to_none=True)
        out = model(x.to(dev))
        F.cross_entropy(out.reshape(-1, cfg.n_classes), y.to(dev).reshape(-1), ignore_index=-1).backward()
        opt.step()
        _sync(dev)
    ops = sum(e.count for e in prof.key_averages() if e.key.startswith("aten::"))
    med = {k: float(np.median(v)) for k, v in parts.items()}
    med["forward_no_grad"] = float(np.median(forward_only))
    med["aten_calls"] = int(ops)
    med["epochs_per_step"] = batch_size * L
    return med


def _worker(args, queue) -> None:
    queue.put(measure(args.config, args.device, args.batch_size, args.steps, args.cache, args.threads))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cache", default=None, help="a training cache (sleepscope train --cache) to read batches from")
    ap.add_argument("--config", default="default")
    ap.add_argument("--batch-size", type=int, default=16, help="sequences per step (train_parent_gpu.sh: 16)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads per process (default: torch's)")
    ap.add_argument("--processes", type=int, default=1, help="also run this many copies at once")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    one = measure(args.config, args.device, args.batch_size, args.steps, args.cache, args.threads)
    step = one["step"]
    print(f"{args.config} on {args.device}, {args.batch_size} sequences = {one['epochs_per_step']} epochs a step, "
          f"{'cache ' + args.cache if args.cache else 'batches in memory'}:")
    for k in ("data", "to_device", "forward", "backward", "optimiser"):
        print(f"  {k:10s} {one[k] * 1000:8.1f} ms  {one[k] / step:5.0%} of the step")
    print(f"  step       {step * 1000:8.1f} ms  ({1 / step:.1f} steps/s); forward alone without gradients "
          f"{one['forward_no_grad'] * 1000:.1f} ms -> the step is {step / one['forward_no_grad']:.1f}x it")
    print(f"  {one['aten_calls']} operator calls a step")
    if args.processes > 1:
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(args, queue)) for _ in range(args.processes)]
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        rates = [1 / r["step"] for r in results]
        print(f"  {args.processes} processes at once: {', '.join(f'{r:.1f}' for r in rates)} steps/s each, "
              f"{sum(rates):.1f} in all -> {sum(rates) * step:.2f}x the single process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
