"""One run, several processes: who writes the run folder, who waits, and how every process agrees.

`torchrun --nproc_per_node N -m finetuner train ...` or `accelerate launch ... -m finetuner train ...` starts
N copies of the training process. They train one model together (the Trainer wraps it in DDP, FSDP or
DeepSpeed), but the run folder must look as if one process wrote it, so:

* only the main process (global rank 0) takes the run's `.alive` and queue locks and writes status,
  events, reports and the model; the others write their task outputs to a scratch folder they delete;
* every decision that changes what the processes do next (the queue let us in, stop now, resume from
  which checkpoint) is taken by one process and *shared* with a collective, never read by each process
  from a file: two processes that saw a CANCEL file one step apart would leave one of them waiting
  forever in the next gradient all-reduce;
* data preparation and model download run on the main process first, the others then read its cache.

With one process (the usual case) every helper here is a no-op and torch is not imported.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterator

# The device collectives run on: the CPU for gloo, this process's GPU for NCCL. Set by `setup`.
_DEVICE = None


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one run (from torchrun's environment variables)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def broadcast(self, value: Any) -> Any:
        """The main process's `value`, on every process."""
        return broadcast(value) if self.distributed else value

    def any(self, flag: bool) -> bool:
        """True on every process when `flag` is true on at least one."""
        return any_process(flag) if self.distributed else bool(flag)

    def on_main(self, function: Callable[[], Any]) -> Any:
        """`function()` run on the main process only; every process gets its (picklable) result.

        When it raises there, the main process re-raises and the others raise a RunError naming the cause,
        instead of waiting for a result that never comes.
        """
        if not self.distributed:
            return function()
        result = error = None
        if self.is_main:
            try:
                result = function()
            except Exception as exc:  # noqa: BLE001 - shared with the others, then re-raised
                error = exc
        shared = broadcast((True, None) if error is not None else (False, result))
        if error is not None:
            raise error
        if shared[0]:
            from .errors import RunError  # noqa: PLC0415

            raise RunError("The main process (rank 0) stopped before training; its error is in its output.")
        return shared[1]

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Run the block on the main process first, then on the others (which then find its caches and downloads)."""
        if self.distributed and not self.is_main:
            any_process(False)  # wait for the main process to finish the block
        yield
        if self.distributed and self.is_main:
            any_process(False)


def current() -> World:
    """This process's world, from the environment torchrun and accelerate set (one process when unset)."""
    return World(rank=_int_env("RANK", 0), size=_int_env("WORLD_SIZE", 1), local_rank=_int_env("LOCAL_RANK", 0))


def setup(config=None) -> World:
    """This process's world; with several processes, the process group is initialised (once).

    The backend and timeout follow the run's `ddp_backend` / `ddp_timeout` training options when set
    (gloo on CPU and NCCL on GPU otherwise, as the Trainer would choose); the Trainer later reuses this group.
    """
    world = current()
    if world.distributed:
        _init_process_group(config)
    return world


def uses_cpu() -> bool:
    """True when several processes must train on the CPU (no GPU here): the Trainer needs `use_cpu` to go distributed."""
    import torch  # noqa: PLC0415

    return not torch.cuda.is_available()


def _init_process_group(config) -> None:
    global _DEVICE
    import torch  # noqa: PLC0415 - only when several processes train
    import torch.distributed as dist  # noqa: PLC0415

    if _DEVICE is not None and dist.is_initialized():
        return
    from accelerate import PartialState  # noqa: PLC0415

    extra = dict(config.training.extra_training_args) if config is not None else {}
    kwargs: dict[str, Any] = {"timeout": timedelta(seconds=int(extra.get("ddp_timeout") or 1800))}
    if extra.get("ddp_backend"):
        kwargs["backend"] = extra["ddp_backend"]
    cpu = bool(extra.get("use_cpu")) or not torch.cuda.is_available() or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    deepspeed = bool(extra.get("deepspeed")) and not cpu
    if deepspeed:  # as TrainingArguments does, so DeepSpeed's own communication layer owns the group
        os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
    try:
        state = PartialState(cpu=cpu, **kwargs)
    finally:
        if deepspeed:
            os.environ.pop("ACCELERATE_USE_DEEPSPEED", None)
    _DEVICE = state.device if str(getattr(state, "backend", "")) in ("nccl", "xccl", "hccl") else torch.device("cpu")


def _device():
    import torch  # noqa: PLC0415

    return _DEVICE if _DEVICE is not None else torch.device("cpu")


def broadcast(value: Any) -> Any:
    import torch.distributed as dist  # noqa: PLC0415

    holder = [value]
    dist.broadcast_object_list(holder, src=0, device=_device())
    return holder[0]


def any_process(flag: bool) -> bool:
    import torch  # noqa: PLC0415
    import torch.distributed as dist  # noqa: PLC0415

    tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def teardown() -> None:
    """Leave the process group (torch warns when a process exits without doing so)."""
    global _DEVICE
    if not current().distributed:
        return
    import torch.distributed as dist  # noqa: PLC0415

    if dist.is_initialized():
        dist.destroy_process_group()
    _DEVICE = None


def _int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default
