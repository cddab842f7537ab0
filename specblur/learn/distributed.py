"""Training on several processes: what ``torchrun`` gives each process, and the few collectives the
training side needs.

``torchrun --nproc_per_node N -m specblur train ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` (and a rendezvous in ``MASTER_ADDR``/``MASTER_PORT``) in their
environment. :func:`setup` reads them and joins the process group: NCCL when the process trains on
a CUDA device, gloo otherwise (CPU). Without those variables (a plain ``specblur train``) it is one
process and every helper here is a no-op, so the one-process path runs no collective at all.

Which process does what: every rank computes; only rank 0 writes (run state, model, ledger, log
lines). Collectives must be entered by every rank in the same order: the training loop enters them
at fixed points (each step's status, the gradient sync of DistributedDataParallel, the measured
stages' energy), never from a branch that only some ranks take.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from specblur.errors import UsageError

_CPU_GROUP: Any = None
"""Under NCCL, a gloo group over the same ranks for what stays on the CPU (counts, messages, the
energy figures, the neural prior's training); under gloo, the default group."""

TIMEOUT = timedelta(minutes=60)
"""How long a collective waits for the slowest rank (rank 0 evaluates and saves while the others
wait at the next step); a rank that died is noticed sooner, when its connection closes."""


@dataclass(frozen=True)
class World:
    """This process's place in the job."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = ""
    """``"gloo"`` or ``"nccl"``; empty for one process."""
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def describe(self) -> str:
        if not self.distributed:
            return f"1 process on {self.device}"
        return f"{self.size} processes ({self.backend}), this one rank {self.rank} on {self.device}"


def from_env(env: Any = None) -> tuple[int, int, int] | None:
    """(rank, world size, local rank) from torchrun's variables; ``None`` outside torchrun."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env or "RANK" not in env:
        return None
    try:
        rank, size = int(env["RANK"]), int(env["WORLD_SIZE"])
        local = int(env.get("LOCAL_RANK", rank))
    except ValueError as exc:
        raise UsageError(f"torchrun: RANK/WORLD_SIZE/LOCAL_RANK are not numbers ({exc})") from None
    if not 0 <= rank < size:
        raise UsageError(f"torchrun: RANK {rank} is outside WORLD_SIZE {size}")
    return rank, size, local


def setup(device: str = "auto") -> World:
    """Join the job torchrun started (or stay one process) and pick this rank's device.

    ``device`` is the ``--device`` option: ``auto`` takes CUDA where there is one. Under torchrun
    each rank takes the GPU of its ``LOCAL_RANK`` and the backend is NCCL; on CPU it is gloo.
    """
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device here; use --device cpu or auto")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    place = from_env()
    if place is None or place[1] == 1:
        return World(device=torch.device("cuda" if use_cuda else "cpu"))
    rank, size, local = place
    if use_cuda:
        if local >= torch.cuda.device_count():
            raise UsageError(
                f"rank {rank}: LOCAL_RANK {local} but {torch.cuda.device_count()} GPUs here; "
                "give torchrun --nproc_per_node at most the number of GPUs"
            )
        torch.cuda.set_device(local)
        where, backend = torch.device("cuda", local), "nccl"
    else:
        where, backend = torch.device("cpu"), "gloo"
    global _CPU_GROUP
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=TIMEOUT)
    _CPU_GROUP = dist.new_group(backend="gloo", timeout=TIMEOUT) if backend == "nccl" else None
    return World(rank=rank, size=size, local_rank=local, backend=backend, device=where)


def teardown(world: World, finished: bool = False) -> None:
    """Leave the process group. ``finished`` (every rank's work done, none failed): first wait for
    the others, so that no rank tears its connections down while another still uses them (a
    2-process CPU run once ended with rank 1 aborted by "terminate called without an active
    exception" on a fresh clone's test run, its work done)."""
    global _CPU_GROUP
    if world.distributed and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()
    _CPU_GROUP = None


def cpu_group() -> Any:
    """The process group for CPU tensors (``None``: the default group, itself gloo)."""
    return _CPU_GROUP


def active() -> bool:
    """Whether collectives are on (a process group of more than one process)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def sum_(values: np.ndarray | torch.Tensor) -> Any:
    """The element-wise sum over ranks, on the CPU (the input returned as it is with one process).

    Integer arrays (counts) are summed as int64, so tables of counts add exactly."""
    if not active():
        return values
    as_numpy = isinstance(values, np.ndarray)
    t = torch.from_numpy(np.ascontiguousarray(values)) if as_numpy else values
    dtype = t.dtype
    work = t.cpu().to(torch.int64 if not t.is_floating_point() else torch.float64).clone()
    dist.all_reduce(work, op=dist.ReduceOp.SUM, group=_CPU_GROUP)
    out = work.cpu().to(dtype)
    return out.numpy() if as_numpy else out


def reduce_(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over ranks in place (a tensor on this rank's training device: the default group,
    NCCL on GPUs); returns it."""
    if active():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def max_(value: float) -> float:
    if not active():
        return value
    t = torch.tensor([float(value)], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=_CPU_GROUP)
    return float(t.item())


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    if not active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj, group=_CPU_GROUP)
    return out


def cat_rows(t: torch.Tensor) -> torch.Tensor:
    """Every rank's ``t`` (the same shape on each) concatenated along the first axis, in rank order:
    with the batch split in contiguous shares, the rows of the whole batch as one process has them."""
    if not active():
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def first_failure(message: str | None) -> tuple[int, str] | None:
    """Called by every rank at the same point: ``(rank, message)`` of the lowest rank that failed
    (``message`` not ``None``), else ``None``. Costs one small all-reduce when nothing failed."""
    if not active():
        return (0, message) if message is not None else None
    flag = torch.tensor([0 if message is None else 1], dtype=torch.int64)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=_CPU_GROUP)
    if int(flag.item()) == 0:
        return None
    messages = gather(message)
    for rank, m in enumerate(messages):
        if m is not None:
            return rank, m
    return None  # pragma: no cover - the flag says one failed
