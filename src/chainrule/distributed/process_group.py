"""The process group: which of the launched processes this one is, and what they do together.

``mpiexec -n 4 python train.py`` starts four copies of the script. Each calls :func:`init`,
which joins MPI's world of processes (through ``mpi4py``) and learns its *rank* (0 to 3) and
the *world size* (4). From then on the collectives :func:`all_reduce`, :func:`broadcast` and
:func:`barrier` act on all four at once: every process must make the same calls in the same
order. Run without ``mpiexec``, the script is a world of one process, and the same calls work.

``mpi4py`` is imported only by :func:`init`, so ``import chainrule.distributed`` costs nothing
on a machine without MPI.
"""

from __future__ import annotations

import enum
import importlib.util
import sys
import time
from types import ModuleType
from typing import Any

import numpy

from chainrule import backend
from chainrule.optional import require
from chainrule.tensor import Tensor


class ReduceOp(enum.Enum):
    """How :func:`all_reduce` combines the processes' values, element by element."""

    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


class _Group:
    """The state of an initialised process group: MPI, a communicator of our own (a duplicate
    of the world's, so that our messages never meet the user's), rank and world size."""

    def __init__(self, mpi: ModuleType) -> None:
        self.mpi = mpi
        self.comm = mpi.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.previous_excepthook = None


_group: _Group | None = None

_ABORT_GRACE_SECONDS = 0.5


def _load_mpi() -> ModuleType:
    """``mpi4py.MPI``, or an ImportError that says how to install it."""
    try:
        return require("mpi4py.MPI", "chainrule.distributed (training across processes)")
    except RuntimeError as error:  # mpi4py is there but finds no MPI library to load
        raise ImportError(
            f"chainrule.distributed: mpi4py found no MPI library ({error}); install one with "
            'pip install "chainrule[mpi]" (the mpich wheel), or your system\'s MPICH or Open MPI'
        ) from error


def _require_group(where: str) -> _Group:
    if _group is None:
        raise RuntimeError(
            f"{where}: the process group is not initialised; call chainrule.distributed.init() "
            "first (and launch the script with mpiexec -n N python script.py)"
        )
    return _group


# ---- starting and stopping ---------------------------------------------------------------------


def init_process_group(
    backend: str | None = "mpi", *, world_size: int = -1, rank: int = -1
) -> None:
    """Join the processes started by ``mpiexec`` (PyTorch's name; :func:`init` is the same).

    ``backend`` must be ``"mpi"`` (or None). ``world_size`` and ``rank``, when given, are
    checked against what MPI says; MPI, not the caller, decides them. In a world of more than
    one process an uncaught exception in any process stops all of them: its traceback is
    printed with its rank and the job is aborted (``MPI_Abort``), where otherwise the others
    would wait forever in their next collective.

    ```pycon
    >>> import chainrule.distributed as dist
    >>> dist.init_process_group("mpi")  # doctest: +SKIP
    >>> dist.get_rank(), dist.get_world_size()  # doctest: +SKIP
    (0, 1)

    ```
    """
    global _group
    if backend not in (None, "mpi"):
        raise ValueError(
            f"init_process_group: backend {backend!r} is not available; chainrule's processes "
            "talk through MPI: use backend='mpi' (or leave it out)"
        )
    if _group is not None:
        raise RuntimeError(
            "init_process_group: the process group is already initialised; call "
            "destroy_process_group() before initialising it again"
        )
    group = _Group(_load_mpi())
    for name, given, actual in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
        if given != -1 and given != actual:
            group.comm.Free()
            raise ValueError(
                f"init_process_group: {name}={given} was asked for, but MPI started this "
                f"process with {name}={actual}; launch with mpiexec -n N, or leave {name} out"
            )
    if group.size > 1:
        group.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught_exception
    _group = group


def init() -> None:
    """Join the processes started by ``mpiexec``: :func:`init_process_group` with MPI.

    ```pycon
    >>> import chainrule.distributed as dist
    >>> dist.init()  # doctest: +SKIP
    >>> dist.is_initialized()  # doctest: +SKIP
    True

    ```
    """
    init_process_group("mpi")


def destroy_process_group() -> None:
    """Leave the process group: the collectives stop working until the next :func:`init`.

    MPI itself stays initialised until the process exits (it cannot start twice).

    ```pycon
    >>> import chainrule.distributed as dist
    >>> dist.destroy_process_group()  # doctest: +SKIP
    >>> dist.is_initialized()
    False

    ```
    """
    global _group
    group = _require_group("destroy_process_group")
    if group.previous_excepthook is not None and sys.excepthook is _abort_on_uncaught_exception:
        sys.excepthook = group.previous_excepthook
    group.comm.Free()
    _group = None


def _abort_on_uncaught_exception(kind: type, value: BaseException, traceback: Any) -> None:
    """sys.excepthook while a group of several processes runs: print, then stop them all."""
    group = _group
    if group is None:  # the group was left; this is an ordinary single process again
        sys.__excepthook__(kind, value, traceback)
        return
    sys.stderr.write(
        f"chainrule.distributed: rank {group.rank} of {group.size} failed with an uncaught "
        f"{kind.__name__}; aborting all {group.size} processes\n"
    )
    (group.previous_excepthook or sys.__excepthook__)(kind, value, traceback)
    sys.stdout.flush()
    sys.stderr.flush()
    # mpiexec forwards each process's output through a helper process, which the abort kills:
    # a moment's wait lets the traceback reach the terminal first.
    time.sleep(_ABORT_GRACE_SECONDS)
    group.mpi.COMM_WORLD.Abort(1)


# ---- where this process stands -----------------------------------------------------------------


def is_available() -> bool:
    """Whether ``mpi4py`` is installed, so that :func:`init` can work.

    ```pycon
    >>> import chainrule.distributed as dist
    >>> isinstance(dist.is_available(), bool)
    True

    ```
    """
    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    """Whether :func:`init` has run (and :func:`destroy_process_group` has not since).

    ```pycon
    >>> import chainrule.distributed as dist
    >>> dist.is_initialized()
    False

    ```
    """
    return _group is not None


def get_rank() -> int:
    """This process's number, 0 to ``get_world_size() - 1``; rank 0 is the main process.

    ```pycon
    >>> import chainrule.distributed as dist
    >>> dist.get_rank()  # doctest: +SKIP
    0

    ```
    """
    return _require_group("get_rank").rank


def get_world_size() -> int:
    """How many processes the group holds (the ``-n`` of ``mpiexec``).

    ```pycon
    >>> import chainrule.distributed as dist
    >>> dist.get_world_size()  # doctest: +SKIP
    1

    ```
    """
    return _require_group("get_world_size").size


def get_backend() -> str:
    """The name of the communication library: always ``"mpi"``.

    ```pycon
    >>> import chainrule.distributed as dist
    >>> dist.get_backend()  # doctest: +SKIP
    'mpi'

    ```
    """
    _require_group("get_backend")
    return "mpi"


def is_main_process() -> bool:
    """True in rank 0, and in a process that has not called :func:`init`: the one process
    that prints, saves checkpoints and writes logs.

    ```pycon
    >>> import chainrule.distributed as dist
    >>> dist.is_main_process()
    True

    ```
    """
    return _group is None or _group.rank == 0


# ---- collectives ---------------------------------------------------------------------------------


def barrier() -> None:
    """Wait until every process has reached its call of ``barrier()``.

    ```pycon
    >>> import chainrule.distributed as dist
    >>> dist.barrier()  # doctest: +SKIP

    ```
    """
    _require_group("barrier").comm.Barrier()


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM) -> None:
    """Replace ``tensor``'s values, in place and in every process, by their combination over
    the processes: the element-wise sum (``ReduceOp.SUM``), product, minimum, maximum or mean
    (``ReduceOp.AVG``, floating tensors only). Every process passes a tensor of the same shape
    and dtype. Outside the graph: no gradient flows through it.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.distributed as dist
    >>> t = cr.tensor([float(dist.get_rank())])  # doctest: +SKIP
    >>> dist.all_reduce(t)  # doctest: +SKIP
    >>> t  # with 2 processes: 0 + 1  # doctest: +SKIP
    tensor([1.])

    ```
    """
    group = _require_group("all_reduce")
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a chainrule.distributed.ReduceOp, got {op!r}")
    array = _tensor_array(tensor, "all_reduce")
    if op is ReduceOp.AVG and array.dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got {array.dtype}")
    mpi = group.mpi
    mpi_op = {
        ReduceOp.SUM: mpi.SUM,
        ReduceOp.AVG: mpi.SUM,
        ReduceOp.PRODUCT: mpi.PROD,
        ReduceOp.MIN: mpi.MIN,
        ReduceOp.MAX: mpi.MAX,
    }[op]
    buffer = _host_buffer(array)
    group.comm.Allreduce(mpi.IN_PLACE, buffer, op=mpi_op)
    if op is ReduceOp.AVG:
        buffer /= group.size
    _write_back(array, buffer)


def broadcast(tensor: Tensor, src: int) -> None:
    """Give ``tensor``, in place and in every process, the values it has in process ``src``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.distributed as dist
    >>> t = cr.tensor([float(dist.get_rank())])  # doctest: +SKIP
    >>> dist.broadcast(t, src=0)  # doctest: +SKIP
    >>> t  # rank 0's value, in every process  # doctest: +SKIP
    tensor([0.])

    ```
    """
    group = _require_group("broadcast")
    if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < group.size:
        raise ValueError(
            f"broadcast: src must be a rank between 0 and {group.size - 1}, got {src!r}"
        )
    array = _tensor_array(tensor, "broadcast")
    buffer = _host_buffer(array)
    group.comm.Bcast(buffer, root=src)
    _write_back(array, buffer)


def average_figures(figures: dict[str, float], weight: float = 1.0) -> dict[str, float]:
    """``figures`` (the same names in every process) averaged over the processes, each
    process's values counted ``weight`` times (e.g. its number of samples); unchanged without
    a group of several processes. ``fit`` uses it so that every rank logs, and decides to stop
    on, the same figures.

    ```pycon
    >>> import chainrule.distributed as dist
    >>> dist.average_figures({"loss": 0.25, "accuracy": 0.5}, weight=32)  # alone: unchanged
    {'loss': 0.25, 'accuracy': 0.5}

    ```
    """
    group = _group
    if group is None or group.size == 1 or not figures:
        return figures
    names = sorted(figures)
    sums = numpy.array([figures[name] * weight for name in names] + [weight], dtype=numpy.float64)
    group.comm.Allreduce(group.mpi.IN_PLACE, sums, op=group.mpi.SUM)
    averaged = {name: float(total / sums[-1]) for name, total in zip(names, sums[:-1])}
    return {name: averaged[name] for name in figures}


# ---- arrays to and from MPI ------------------------------------------------------------------


def _tensor_array(tensor: Any, where: str) -> Any:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{where}: expected a chainrule Tensor, got {type(tensor).__name__}")
    return tensor.array


def _host_buffer(array: Any) -> numpy.ndarray:
    """A contiguous, writable NumPy array of ``array``'s values: ``array`` itself when it is
    one already (MPI then works in its memory), otherwise a copy."""
    if isinstance(array, numpy.ndarray) and array.flags.c_contiguous and array.flags.writeable:
        return array
    return numpy.ascontiguousarray(backend.to_numpy(array)).copy()


def _write_back(array: Any, buffer: numpy.ndarray) -> None:
    if buffer is not array:
        array[...] = backend.transfer(buffer, backend.module_of(array))
