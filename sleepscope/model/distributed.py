"""DistributedDataParallel plumbing for `torchrun ... sleepscope pretrain|train`.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; when
they are absent we run as one process and nothing here touches
torch.distributed. Gloo on CPU, NCCL on GPU. Only rank 0 writes files and
shows progress.
"""

from __future__ import annotations

import os
from datetime import timedelta
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler

from sleepscope.errors import SleepScopeError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """`auto` picks the GPU when there is one; `cuda` without one is the user's error."""
    if name not in ("auto", "cpu", "cuda"):
        raise SleepScopeError(f"unknown device {name!r}; use auto, cpu or cuda")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise SleepScopeError("--device cuda was asked but no CUDA GPU is visible; use --device cpu")
    return torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str = "auto") -> DistInfo:
    """Join the process group torchrun prepared (if any) and pick this rank's device."""
    if not launched_by_torchrun():
        return DistInfo(device=resolve_device(device))
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    dev = resolve_device(device, local_rank)
    if not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        # Rank 0 may build the HDF5 cache of a whole cohort while the others
        # wait at a barrier: far longer than the default 30-minute timeout.
        dist.init_process_group(backend=backend, rank=rank, world_size=world, timeout=timedelta(hours=6))
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev)


def teardown(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def broadcast_float(value: float, info: DistInfo) -> float:
    """Rank 0's value on every rank (decisions such as early stopping must agree)."""
    if not info.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=_collective_device(info))
    dist.broadcast(t, src=0)
    return float(t.item())


def _collective_device(info: DistInfo) -> torch.device:
    # NCCL only moves CUDA tensors; gloo moves CPU ones.
    return info.device if info.device.type == "cuda" else torch.device("cpu")


def data_parallel(module: nn.Module, info: DistInfo) -> nn.Module:
    """`module` wrapped in DistributedDataParallel under torchrun, itself otherwise."""
    if not info.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(module, device_ids=[info.device.index] if info.device.type == "cuda" else None)


def sampler(dataset: Dataset, info: DistInfo, seed: int, shuffle: bool = True) -> DistributedSampler:
    """This rank's share of the dataset; every rank gets the same number of items.

    Also used with one process (num_replicas=1), so the shuffling order is the
    same function of (seed, epoch) whatever the world size: a resumed run
    recreates it from the epoch number alone.
    """
    return DistributedSampler(
        dataset, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle, seed=seed, drop_last=False
    )


class _GatherWithGrad(torch.autograd.Function):
    """all_gather along dim 0 whose backward sends each rank the gradient of its own rows.

    Every rank computes a loss on the gathered batch. The gradient of the sum
    of those losses with respect to rank r's rows is the sum over ranks of the
    gradient at those rows: an all-reduce of the incoming gradient, sliced.
    DDP then averages parameter gradients over the K ranks; as every rank
    computes the same global loss L, the result is exactly dL/dθ.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        world, rank = dist.get_world_size(), dist.get_rank()
        sizes = torch.tensor([x.shape[0]], dtype=torch.int64, device=x.device)
        all_sizes = [torch.zeros_like(sizes) for _ in range(world)]
        dist.all_gather(all_sizes, sizes)
        counts = [int(s.item()) for s in all_sizes]
        biggest = max(counts)
        padded = x
        if x.shape[0] < biggest:  # all_gather needs equal shapes
            pad = x.new_zeros((biggest - x.shape[0], *x.shape[1:]))
            padded = torch.cat([x, pad])
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded.contiguous())
        ctx.offset = sum(counts[:rank])
        ctx.count = counts[rank]
        return torch.cat([p[:c] for p, c in zip(parts, counts)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.offset : ctx.offset + ctx.count]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's `x` along dim 0, rank order; gradients flow back to each rank."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)
