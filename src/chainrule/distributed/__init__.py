"""Data-parallel training across processes and machines, through MPI (``torch.distributed``'s
names).

Launch R copies of a training script with ``mpiexec -n R python train.py``. Each calls
:func:`init`, wraps its model in :class:`DistributedDataParallel` and reads its shard of the
data through :class:`DistributedSampler`; after every ``loss.backward()`` the gradients are
averaged across the processes, so all R take the same steps as one process would on batches
R times larger. ``mpi4py`` and an MPI library are the optional extra
``pip install "chainrule[mpi]"``; without ``mpiexec`` the same script runs as one process.

```pycon
>>> import chainrule.distributed as dist
>>> dist.is_initialized(), dist.is_main_process()
(False, True)

```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainrule.data.sampler import DistributedSampler
from chainrule.distributed.process_group import (
    ReduceOp,
    all_reduce,
    average_figures,
    barrier,
    broadcast,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init,
    init_process_group,
    is_available,
    is_initialized,
    is_main_process,
)

if TYPE_CHECKING:
    from chainrule.distributed.data_parallel import DistributedDataParallel


def __getattr__(name: str) -> Any:
    # DistributedDataParallel is a Module: loading it loads chainrule.nn, which the sampler
    # and the process group (what chainrule.data and chainrule.train use) do not need.
    if name == "DistributedDataParallel":
        from chainrule.distributed.data_parallel import DistributedDataParallel

        return DistributedDataParallel
    raise AttributeError(f"module 'chainrule.distributed' has no attribute {name!r}")


__all__ = [
    "DistributedDataParallel",
    "DistributedSampler",
    "ReduceOp",
    "all_reduce",
    "average_figures",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_main_process",
]
