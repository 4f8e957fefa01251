"""DistributedDataParallel: one model per process, each on its own shard of every batch, whose
gradients are averaged across the processes after each backward pass.

Why averaging is exact: the loss of a batch of N samples is the mean of their losses,
C = (1/N) Σ_n C_n, and differentiation is linear, so ∂C/∂w = (1/N) Σ_n ∂C_n/∂w. Split the batch
into R shards of B = N/R samples, one per process; process r computes
g_r = (1/B) Σ_{n in shard r} ∂C_n/∂w, and (1/R) Σ_r g_r = ∂C/∂w. Every process then holds the
gradient of the whole batch, takes the same optimiser step, and the models stay identical.

How: :meth:`DistributedDataParallel.forward` puts a hook on the model's output. When the
backward pass reaches it, the hook asks the engine to call back once the pass has filled
every ``.grad`` (``engine.queue_callback``). The callback packs the gradients into a few flat
buffers (*buckets*, up to ``bucket_cap_mb`` each), sums each bucket across the processes with
one ``MPI_Allreduce`` (a few large messages cost far less than one per parameter: each
message pays a fixed latency), divides by the world size and writes the means back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd import engine
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.distributed import process_group
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

_MIB = 1024 * 1024


class Bucket:
    """Tensors sent together: one flat NumPy buffer holding each tensor's values at its
    offset, then (for gradients) one flag per tensor, 1 where this process has a gradient."""

    def __init__(self, tensors: list[Tensor], dtype: numpy.dtype, flags: bool) -> None:
        self.tensors = tensors
        self.offsets = []
        size = 0
        for tensor in tensors:
            self.offsets.append(size)
            size += tensor.array.size
        self.size = size
        self.buffer = numpy.zeros(size + (len(tensors) if flags else 0), dtype=dtype)

    def views(self) -> Iterator[tuple[Tensor, numpy.ndarray]]:
        """Each tensor with the part of the buffer that holds its values, in its shape."""
        for tensor, offset in zip(self.tensors, self.offsets):
            size = tensor.array.size
            yield tensor, self.buffer[offset : offset + size].reshape(tensor.array.shape)


def make_buckets(tensors: list[Tensor], cap_bytes: float, flags: bool) -> list[Bucket]:
    """``tensors`` grouped, in order, into buckets of one dtype each, a bucket closed once it
    holds ``cap_bytes`` or more (a tensor larger than the cap gets a bucket of its own)."""
    by_dtype: dict[numpy.dtype, list[list[Tensor]]] = {}
    filled: dict[numpy.dtype, float] = {}
    for tensor in tensors:
        dtype = _wire_dtype(tensor.array.dtype)
        groups = by_dtype.setdefault(dtype, [[]])
        if filled.get(dtype, 0) >= cap_bytes:
            groups.append([])
            filled[dtype] = 0
        groups[-1].append(tensor)
        filled[dtype] = filled.get(dtype, 0) + tensor.array.size * dtype.itemsize
    return [Bucket(group, dtype, flags) for dtype, groups in by_dtype.items() for group in groups]


def _wire_dtype(dtype: Any) -> numpy.dtype:
    """The dtype a tensor travels in: its own for the types MPI sums natively, else float32
    (float16, bfloat16) or float64."""
    dtype = numpy.dtype(dtype)
    if dtype in (numpy.float32, numpy.float64) or dtype.kind in "iub":
        return dtype
    return numpy.dtype(numpy.float64 if dtype.itemsize > 4 else numpy.float32)


class DistributedDataParallel(Module):
    """Wraps ``module`` so that after ``loss.backward()`` every parameter's ``.grad`` is the
    mean of the processes' gradients: training with R processes on shards of B samples takes
    the steps of one process on batches of R·B.

    At construction the parameters and buffers of rank 0 are copied to every process, so all
    start from the same model. ``forward`` calls ``module`` (and with ``broadcast_buffers``
    first gives every process rank 0's buffers, e.g. batch norm's running statistics). The
    gradients travel in buckets of up to ``bucket_cap_mb`` MiB, one ``Allreduce`` each. Inside
    :meth:`no_sync`, backward passes only accumulate local gradients; the first backward after
    it averages the accumulated sums. A parameter that got no gradient in some process counts
    as zero there; one that got none anywhere keeps ``.grad`` None.

    ``device_ids`` and ``output_device`` are accepted for PyTorch scripts and must be None or
    name the device the module is on: the module computes where its parameters are.
    ``state_dict()`` keys start with ``module.``, as in PyTorch.

    Averaging happens in ``loss.backward()`` (and ``fit``); ``chainrule.autograd.grad`` and
    ``backward(create_graph=True)`` or ``backward(inputs=...)`` leave local gradients.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.distributed as dist
    >>> dist.init()  # doctest: +SKIP
    >>> model = dist.DistributedDataParallel(cr.nn.Linear(3, 1))  # doctest: +SKIP
    >>> loss = model(cr.randn(4, 3)).pow(2).mean()  # doctest: +SKIP
    >>> loss.backward()  # model.module.weight.grad: the mean over ranks  # doctest: +SKIP

    ```
    """

    def __init__(
        self,
        module: Module,
        device_ids: list[Any] | None = None,
        output_device: Any = None,
        *,
        broadcast_buffers: bool = True,
        bucket_cap_mb: float = 25,
        find_unused_parameters: bool = False,
    ) -> None:
        super().__init__()
        where = "DistributedDataParallel"
        if not isinstance(module, Module):
            raise TypeError(f"{where}: module must be a chainrule.nn.Module, got {type(module)}")
        if isinstance(bucket_cap_mb, bool) or not (
            isinstance(bucket_cap_mb, (int, float)) and bucket_cap_mb > 0
        ):
            raise ValueError(
                f"{where}: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}"
            )
        group = process_group._require_group(where)
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = bucket_cap_mb
        self.find_unused_parameters = bool(find_unused_parameters)  # unused ones count as zero
        self.device_ids, self.output_device = device_ids, output_device
        # PyTorch's name: False inside no_sync(), where backward passes only accumulate.
        self.require_backward_grad_sync = True
        params = _trained(module)
        _check_same_model(group, module, where)
        cap = bucket_cap_mb * _MIB
        self._grad_buckets = make_buckets(params, cap, flags=True)
        self._buffer_buckets = make_buckets(list(module.buffers()), cap, flags=False)
        self.allreduce_calls = 0  # how many Allreduce calls average_gradients has made
        state = list(module.parameters()) + list(module.buffers())
        _broadcast(group, make_buckets(state, cap, flags=False))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        group = process_group._require_group("DistributedDataParallel.forward")
        if self.broadcast_buffers and self._buffer_buckets and group.size > 1:
            _broadcast(group, self._buffer_buckets)
        output = self.module(*args, **kwargs)
        if self.require_backward_grad_sync and is_grad_enabled() and group.size > 1:
            for tensor in _tensors_in(output):
                if tensor._requires_grad and tensor._ctx is not None:
                    tensor.register_hook(self._output_reached)
        return output

    def _output_reached(self, grad: Tensor) -> None:
        """A hook on the output: the backward pass has started through the model."""
        engine.queue_callback(self.average_gradients)

    def average_gradients(self) -> None:
        """Replace every parameter's ``.grad`` by its mean over the processes (one
        ``Allreduce`` per bucket); ``backward()`` calls it, and so may a custom loop."""
        group = process_group._require_group("DistributedDataParallel.average_gradients")
        mpi = group.mpi
        if not self._buckets_match():  # the module was converted (.to(dtype)) since
            cap = self.bucket_cap_mb * _MIB
            self._grad_buckets = make_buckets(_trained(self.module), cap, flags=True)
        for bucket in self._grad_buckets:
            flags = bucket.buffer[bucket.size :]
            for index, (param, view) in enumerate(bucket.views()):
                grad = param._grad
                if grad is None:
                    view[...] = 0
                    flags[index] = 0
                else:
                    view[...] = backend.to_numpy(grad.array)
                    flags[index] = 1
            group.comm.Allreduce(mpi.IN_PLACE, bucket.buffer, op=mpi.SUM)
            self.allreduce_calls += 1
            bucket.buffer[: bucket.size] /= group.size
            for index, (param, view) in enumerate(bucket.views()):
                if flags[index] > 0:
                    _set_gradient(param, view)

    def _buckets_match(self) -> bool:
        return all(
            bucket.buffer.dtype == _wire_dtype(param.array.dtype)
            for bucket in self._grad_buckets
            for param in bucket.tensors
        )

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes of forward passes made inside this block keep local gradients,
        to accumulate several batches before one averaging (gradient accumulation without a
        message per batch).

        ```pycon
        >>> with model.no_sync():  # doctest: +SKIP
        ...     model(x1).sum().backward()  # local
        >>> model(x2).sum().backward()  # averages the sum of both batches' gradients
        ... # doctest: +SKIP

        ```
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def extra_repr(self) -> str:
        return f"bucket_cap_mb={self.bucket_cap_mb}, buckets={len(self._grad_buckets)}"


def _trained(module: Module) -> list[Tensor]:
    return [p for p in module.parameters() if p.requires_grad]


def _tensors_in(value: Any) -> Iterator[Tensor]:
    """The tensors in a model's output: itself, or inside tuples, lists and dicts."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors_in(item)


def _set_gradient(param: Tensor, mean: numpy.ndarray) -> None:
    """``param.grad = mean``, on the parameter's device. Written into the existing gradient's
    memory where it may be (after a finished backward pass the parameter owns it, as the
    engine assumes when it accumulates in place), else as a new array."""
    grad = param._grad
    if grad is None:
        values = mean.astype(param.array.dtype)  # a copy: the bucket is reused next step
        values = backend.transfer(values, backend.module_of(param.array))
        param._grad = Tensor._make(values, False, None)
    elif backend.writeable(grad.array):
        grad.array[...] = backend.transfer(mean, backend.module_of(grad.array))
    else:
        values = mean.astype(grad.array.dtype)
        grad.array = backend.transfer(values, backend.module_of(grad.array))


def _broadcast(group: Any, buckets: list[Bucket]) -> None:
    """Copy rank 0's values of the buckets' tensors into every process, in place."""
    for bucket in buckets:
        for tensor, view in bucket.views():
            view[...] = backend.to_numpy(tensor.array)
        group.comm.Bcast(bucket.buffer, root=0)
        for tensor, view in bucket.views():
            tensor.array[...] = backend.transfer(view, backend.module_of(tensor.array))


def _check_same_model(group: Any, module: Module, where: str) -> None:
    """ValueError in every process unless all hold parameters and buffers of the same names,
    shapes and dtypes: a mismatch would otherwise mix unrelated numbers, or hang."""
    layout = [
        (name, tuple(t.shape), str(t.array.dtype))
        for name, t in list(module.named_parameters()) + list(module.named_buffers())
    ]
    layouts = group.comm.allgather(layout)
    for rank, other in enumerate(layouts):
        if other != layouts[0]:
            first = next((a, b) for a, b in zip(layouts[0] + [None], other + [None]) if a != b)
            raise ValueError(
                f"{where}: rank {rank}'s model differs from rank 0's: rank 0 has {first[0]}, "
                f"rank {rank} has {first[1]} (name, shape, dtype); every process must build "
                "the same model"
            )
