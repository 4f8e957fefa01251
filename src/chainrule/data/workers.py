"""Loading batches in worker processes: ``DataLoader(..., num_workers=N)``.

The main process starts N worker processes (with the ``multiprocessing`` start method in use,
fork on Linux) and keeps up to ``prefetch_factor`` tasks waiting on each. A task is the
indices of one batch (for an iterable data set: "your next batch"); tasks go to the workers in
turn, each worker reads its batches with the same code as the main process would
(:mod:`chainrule.data.fetch`) and sends them back on one shared queue, and the main process
hands them out in the order the tasks were made (or as they come, with ``in_order=False``).

Each worker seeds Python's ``random``, NumPy's global generator and chainrule's generator from
``base_seed + worker_id``, where ``base_seed`` is drawn from the loader's generator (or
chainrule's) when the workers start, then calls ``worker_init_fn(worker_id)``;
:func:`get_worker_info` tells code running in a worker which one it is. An exception in a
worker is raised again in the main process, with the worker's traceback in its message.

Tensors travel between processes as their NumPy arrays: the batch's lists, tuples and dicts
are walked and each tensor replaced by its array, and rebuilt on arrival. (A tensor that is a
view would otherwise drag its base, the whole data set, along.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import multiprocessing
import os
import pickle
import queue
import random
import time
import traceback
import weakref
from collections.abc import Iterator
from typing import Any

import numpy

from chainrule import backend
from chainrule.data.fetch import IterableFetcher, MapFetcher
from chainrule.random import manual_seed
from chainrule.tensor import Tensor

_POLL_SECONDS = 1.0  # how often a wait for a batch looks whether the workers are still alive


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """Which worker this is: ``id`` (0 .. num_workers - 1), ``num_workers``, its ``seed``,
    and its copy of the ``dataset``.

    ```pycon
    >>> import chainrule as cr
    >>> class Numbers(cr.data.IterableDataset):
    ...     def __iter__(self):
    ...         info = cr.data.get_worker_info()
    ...         if info is None:  # the main process reads everything
    ...             return iter(range(4))
    ...         return iter(range(info.id, 4, info.num_workers))
    >>> sorted(cr.data.DataLoader(Numbers(), batch_size=None, num_workers=2))
    [0, 1, 2, 3]

    ```
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The :class:`WorkerInfo` of the worker process this runs in; None in the main process.

    An :class:`~chainrule.data.IterableDataset` reads it in ``__iter__`` to give each worker
    its own share of the stream.

    ```pycon
    >>> import chainrule as cr
    >>> cr.data.get_worker_info() is None
    True

    ```
    """
    return _worker_info


@dataclasses.dataclass
class WorkerSpec:
    """Everything a worker needs, given to it once when it starts."""

    dataset: Any
    iterable: bool
    batched: bool  # automatic batching: tasks are lists of indices, answers collated batches
    batch_size: int | None  # of an iterable data set's batches
    drop_last: bool
    collate_fn: Any
    read_batches: bool  # may read TensorDatasets a batch at a time (default collate_fn)
    worker_init_fn: Any
    num_workers: int
    base_seed: int


# ---- the worker process ------------------------------------------------------------------------


class _Failure:
    """An exception raised in a worker, as it travels to the main process."""

    def __init__(self, worker_id: int, error: BaseException, where: str) -> None:
        self.worker_id, self.where = worker_id, where
        self.name = type(error).__name__
        self.kind = type(error) if _picklable(type(error)) else RuntimeError
        self.text = "".join(traceback.format_exception(error))

    def reraise(self) -> None:
        message = (
            f"DataLoader worker {self.worker_id} raised {self.name} in {self.where}; "
            f"its traceback:\n{self.text}"
        )
        try:
            error = self.kind(message)
        except Exception:  # an exception class that needs other arguments
            error = RuntimeError(message)
        raise error


_END = "end of stream"  # a worker's answer once its iterable data set is exhausted


def worker_loop(spec: WorkerSpec, worker_id: int, tasks: Any, results: Any) -> None:
    """Answer tasks ``(epoch, task_id, indices)`` with ``(epoch, task_id, batch)`` until a
    None task arrives."""
    global _worker_info
    seed = spec.base_seed + worker_id
    random.seed(seed)
    numpy.random.seed(numpy.random.SeedSequence([spec.base_seed, worker_id]).generate_state(1))
    manual_seed(seed)
    _worker_info = WorkerInfo(worker_id, spec.num_workers, seed, spec.dataset)
    failure = None
    if spec.worker_init_fn is not None:
        try:
            spec.worker_init_fn(worker_id)
        except Exception as error:
            failure = _Failure(worker_id, error, "worker_init_fn")
    fetcher: Any = None
    fetcher_epoch = None
    parent = os.getppid()
    try:
        while True:
            try:
                task = tasks.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if os.getppid() != parent:  # the main process died without stopping us
                    return
                continue
            if task is None:
                return
            epoch, task_id, indices = task
            if failure is not None:
                results.put((epoch, task_id, pickle.dumps(failure)))
                continue
            try:
                if fetcher is None or (spec.iterable and fetcher_epoch != epoch):
                    fetcher, fetcher_epoch = _fetcher(spec), epoch  # a new pass over a stream
                batch = pack(fetcher.fetch(indices))
            except Exception as error:
                if spec.iterable and isinstance(error, StopIteration):
                    batch = _END
                else:  # StopIteration from a map-style data set too: raised in the main
                    batch = _Failure(worker_id, error, "the data set or collate_fn")
            results.put((epoch, task_id, _serialised(batch, worker_id)))
    except KeyboardInterrupt:  # the main process is stopping; it stops the workers itself
        return
    finally:
        # Answers nobody will read (an epoch left early) must not keep this process from
        # exiting: by default it would wait until the main process drained the queue.
        results.cancel_join_thread()


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def _serialised(batch: Any, worker_id: int) -> bytes:
    """The answer as bytes, made here: a queue pickles in a background thread, where an
    object that cannot be pickled would be dropped with a printed error, and the main process
    would wait for it forever."""
    try:
        return pickle.dumps(batch)
    except Exception as error:
        return pickle.dumps(_Failure(worker_id, error, "sending the batch to the main process"))


def _fetcher(spec: WorkerSpec) -> MapFetcher | IterableFetcher:
    if spec.iterable:
        return IterableFetcher(spec.dataset, spec.batch_size, spec.drop_last, spec.collate_fn)
    return MapFetcher(spec.dataset, spec.batched, spec.collate_fn, spec.read_batches)


class _TensorData:
    """A tensor on its way between processes: its array (a NumPy view pickles only its own
    elements) and whether it requires grad, without the tensor's links to other tensors."""

    def __init__(self, tensor: Tensor) -> None:
        self.array = backend.to_numpy(tensor.array)
        self.requires_grad = tensor.requires_grad


def pack(value: Any) -> Any:
    """``value`` with every tensor inside lists, tuples and dicts replaced for the trip."""
    if isinstance(value, Tensor):
        return _TensorData(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(pack(item) for item in value))
    if isinstance(value, (list, tuple)):
        return type(value)(pack(item) for item in value)
    if isinstance(value, dict):
        return {key: pack(item) for key, item in value.items()}
    return value


def unpack(value: Any) -> Any:
    """Undo :func:`pack`: tensors again."""
    if isinstance(value, _TensorData):
        tensor = Tensor._make(backend.as_array(value.array), False, None)
        return tensor.requires_grad_() if value.requires_grad else tensor
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(unpack(item) for item in value))
    if isinstance(value, (list, tuple)):
        return type(value)(unpack(item) for item in value)
    if isinstance(value, dict):
        return {key: unpack(item) for key, item in value.items()}
    return value


# ---- the main process ----------------------------------------------------------------------------


class WorkerPool:
    """The worker processes of one DataLoader, and their queues.

    A pool serves one epoch at a time (:meth:`epoch`); a loader with ``persistent_workers``
    keeps its pool for every epoch, otherwise each epoch starts a pool and shuts it down when
    the epoch ends or is abandoned. Answers to an earlier epoch's tasks are recognised by
    their epoch number and dropped.
    """

    def __init__(self, spec: WorkerSpec, context: Any, timeout: float, prefetch: int) -> None:
        context = context if context is not None else multiprocessing.get_context()
        self.timeout, self.prefetch = timeout, prefetch
        self.results = context.Queue()
        self.tasks = [context.Queue() for _ in range(spec.num_workers)]
        self.workers = []
        for worker_id, task_queue in enumerate(self.tasks):
            process = context.Process(
                target=worker_loop,
                args=(spec, worker_id, task_queue, self.results),
                daemon=True,  # never outlive the main process
                name=f"chainrule DataLoader worker {worker_id}",
            )
            process.start()
            self.workers.append(process)
        self.epochs = itertools.count()
        # Shut the workers down when the pool is dropped, even without a call to shutdown().
        self._finalizer = weakref.finalize(self, _stop, self.workers, self.tasks, self.results)

    def epoch(
        self, tasks: Iterator[Any] | None, batches: int | None, in_order: bool, last: bool
    ) -> Any:
        """An iterator over one epoch's batches: ``tasks`` yields each batch's indices (None:
        an iterable data set, asked for batches until every worker's stream has ended).
        With ``last`` the workers stop when the epoch ends."""
        return _EpochInWorkers(self, next(self.epochs), tasks, batches, in_order, last)

    def get(self) -> tuple:
        """The next answer of any worker; an error if a worker died or the timeout passed."""
        deadline = time.monotonic() + self.timeout if self.timeout > 0 else None
        while True:
            wait = _POLL_SECONDS
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                return self.results.get(timeout=wait)
            except queue.Empty:
                pass
            dead = [(i, w) for i, w in enumerate(self.workers) if not w.is_alive()]
            if dead:
                i, worker = dead[0]
                self.shutdown()
                raise RuntimeError(
                    f"DataLoader: worker {i} (pid {worker.pid}) exited unexpectedly with exit "
                    f"code {worker.exitcode}; a crash in the data set's code, or the system "
                    "ran out of memory"
                )
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(
                    f"DataLoader: timed out after {self.timeout} seconds waiting for a batch "
                    "from the worker processes"
                )

    def shutdown(self) -> None:
        self._finalizer()


def _stop(workers: list, tasks: list, results: Any) -> None:
    for task_queue, worker in zip(tasks, workers):
        if worker.is_alive():
            with contextlib.suppress(OSError, ValueError):  # the queue is already closed
                task_queue.put(None)
    for worker in workers:
        worker.join(timeout=5)
        if worker.is_alive():
            worker.terminate()
            worker.join()
    for channel in [*tasks, results]:
        channel.cancel_join_thread()  # do not wait on data nobody will read
        channel.close()


class _EpochInWorkers:
    """One epoch read by the pool's workers: tasks handed out in turn, answers reordered."""

    def __init__(
        self,
        pool: WorkerPool,
        number: int,
        tasks: Iterator[Any] | None,
        batches: int | None,
        in_order: bool,
        last: bool,
    ) -> None:
        self.pool, self.number, self.tasks, self.last = pool, number, tasks, last
        self.batches, self.in_order = batches, in_order
        self.active = list(range(len(pool.workers)))  # workers whose stream has not ended
        self.turn = 0
        self.sent = 0  # tasks handed out so far, numbered 0, 1, ...
        self.next_task = 0  # the task whose batch is due next (in order)
        self.waiting: dict[int, Any] = {}  # answers that came early
        self.outstanding: set[int] = set()
        self.assigned: dict[int, int] = {}  # task -> the worker it went to (iterable data)
        self.yielded = 0
        for _ in range(pool.prefetch * len(pool.workers)):
            if not self._send():
                break

    def __iter__(self) -> _EpochInWorkers:
        return self

    def __len__(self) -> int:
        if self.batches is None:
            raise TypeError("this DataLoader's data set has no length")
        return self.batches - self.yielded

    def _send(self) -> bool:
        if not self.active:
            return False
        if self.tasks is None:
            indices = None
        else:
            indices = next(self.tasks, _END)
            if indices is _END:
                return False
        worker = self.active[self.turn % len(self.active)]
        self.turn += 1
        self.pool.tasks[worker].put((self.number, self.sent, indices))
        self.outstanding.add(self.sent)
        if self.tasks is None:
            self.assigned[self.sent] = worker
        self.sent += 1
        return True

    def __next__(self) -> Any:
        while True:
            if not self.in_order and self.waiting:
                task_id, batch = self.waiting.popitem()
            elif self.next_task in self.waiting:
                task_id, batch = self.next_task, self.waiting.pop(self.next_task)
            elif not self.outstanding:
                if self.last:
                    self.pool.shutdown()
                raise StopIteration
            else:
                try:
                    epoch, task_id, answer = self.pool.get()
                except RuntimeError:  # a worker died, or the timeout passed
                    if self.last:
                        self.pool.shutdown()
                    raise
                if epoch == self.number:
                    self.outstanding.discard(task_id)
                    self.waiting[task_id] = pickle.loads(answer)
                continue
            if self.in_order:
                self.next_task += 1
            if isinstance(batch, str) and batch == _END:
                self._ended(task_id)
                continue
            if isinstance(batch, _Failure):
                if self.last:  # the epoch is over; its workers need not wait for the GC
                    self.pool.shutdown()
                batch.reraise()
            self._send()
            self.yielded += 1
            return unpack(batch)

    def _ended(self, task_id: int) -> None:
        """A worker's stream has ended: it gets no more tasks."""
        worker = self.assigned.pop(task_id, None)
        if worker in self.active:
            self.active.remove(worker)
