"""chainrule.distributed in this one process, without MPI: errors before init, the missing
extra, the engine's end-of-backward callbacks, the buckets, and DistributedSampler's shards
against PyTorch's. (Runs across processes: tests/test_distributed.py.)"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy
import pytest
import torch.utils.data as tud

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn
from chainrule.autograd import engine
from chainrule.distributed.data_parallel import make_buckets


@pytest.mark.parametrize("call", [dist.get_rank, dist.get_world_size, dist.barrier])
def test_collectives_before_init_say_to_call_init(call: Callable[[], object]) -> None:
    with pytest.raises(RuntimeError, match=r"call chainrule.distributed.init\(\) first"):
        call()


def test_outside_a_group_this_process_is_the_main_one() -> None:
    assert not dist.is_initialized()
    assert dist.is_main_process()
    figures = {"loss": 0.5, "accuracy": 0.75}
    assert dist.average_figures(figures, weight=8) == figures
    with pytest.raises(RuntimeError, match="not initialised"):
        dist.all_reduce(cr.ones(2))


def test_wrapping_a_model_before_init_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="DistributedDataParallel: the process group"):
        dist.DistributedDataParallel(nn.Linear(2, 1))


def test_a_missing_mpi4py_says_which_extra_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    with pytest.raises(ImportError, match=r'pip install "chainrule\[mpi\]"'):
        dist.init()
    assert not dist.is_initialized()


def test_only_the_mpi_backend_is_offered() -> None:
    with pytest.raises(ValueError, match="backend 'nccl' is not available"):
        dist.init_process_group("nccl")


def test_pytorchs_addresses_reach_the_same_classes() -> None:
    from chainrule.utils.data.distributed import DistributedSampler

    import chainrule as torch
    from chainrule.nn.parallel import DistributedDataParallel

    assert DistributedSampler is cr.data.DistributedSampler is dist.DistributedSampler
    assert torch.utils.data.distributed.DistributedSampler is DistributedSampler
    assert DistributedDataParallel is dist.DistributedDataParallel
    assert torch.nn.parallel.DistributedDataParallel is DistributedDataParallel


# ---- the engine's callbacks at the end of backward ----------------------------------------------


def test_a_queued_callback_runs_once_after_every_grad_is_filled() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([0.5], requires_grad=True)
    seen = []

    def at_the_end() -> None:  # the leaves' gradients are complete by now
        seen.append((w.grad.tolist(), b.grad.tolist()))

    hidden = w * 3
    hidden.register_hook(lambda grad: engine.queue_callback(at_the_end) and None)
    out = hidden * 2  # the hook runs before the walk has reached w or b
    out.register_hook(lambda grad: engine.queue_callback(at_the_end) and None)
    (out.sum() + b.sum()).backward()
    assert seen == [([6.0, 6.0], [1.0])]  # queued twice in the pass, run once


def test_queue_callback_outside_backward_queues_nothing() -> None:
    assert engine.queue_callback(lambda: None) is False
    x = cr.tensor([2.0], requires_grad=True)
    y = x * x
    answers = []
    y.register_hook(lambda grad: answers.append(engine.queue_callback(lambda: None)))
    (grad,) = cr.autograd.grad(y.sum(), [x])  # fills no .grad: no end of backward to wait for
    assert answers == [False] and grad.tolist() == [4.0]


# ---- buckets ------------------------------------------------------------------------------------


def test_buckets_close_at_the_cap_and_keep_one_dtype_each() -> None:
    tensors = [cr.zeros(10, dtype=cr.float64), cr.zeros(3, dtype=cr.float64)]
    tensors += [cr.zeros(4, dtype=cr.float32), cr.zeros(20, dtype=cr.float64)]
    buckets = make_buckets(tensors, cap_bytes=80, flags=True)
    layout = [([t.numel() for t in b.tensors], b.buffer.dtype, b.buffer.size) for b in buckets]
    # 10 float64 fill the 80-byte cap: the next float64 tensors start a second bucket.
    assert layout == [
        ([10], numpy.float64, 11),
        ([3, 20], numpy.float64, 25),
        ([4], numpy.float32, 5),
    ]
    views = dict((id(t), v) for t, v in buckets[1].views())
    views[id(tensors[3])][...] = 7.0
    assert buckets[1].buffer[3:23].tolist() == [7.0] * 20  # each view is its place in the buffer


# ---- DistributedSampler against PyTorch's --------------------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 12, 13])
@pytest.mark.parametrize("replicas", [2, 3, 5])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shards_are_pytorchs_for_the_documented_permutation(
    n: int, replicas: int, drop_last: bool
) -> None:
    seed, epoch = 4, 2
    # Shuffled, a replica's shard is PyTorch's unshuffled shard of the positions, read through
    # the permutation chainrule documents (NumPy's default_rng(seed + epoch)).
    order = numpy.random.default_rng(seed + epoch).permutation(n)
    for rank in range(replicas):
        kwargs = {"num_replicas": replicas, "rank": rank, "drop_last": drop_last}
        positions = list(tud.DistributedSampler(range(n), shuffle=False, **kwargs))
        ours = dist.DistributedSampler(range(n), shuffle=True, seed=seed, **kwargs)
        ours.set_epoch(epoch)
        assert list(ours) == [int(order[p]) for p in positions]
        assert len(ours) == len(positions)
        plain = dist.DistributedSampler(range(n), shuffle=False, **kwargs)
        assert list(plain) == positions


def test_set_epoch_changes_the_order_the_same_way_on_every_replica() -> None:
    shards = {}
    for epoch in (0, 1):
        for rank in (0, 1):
            sampler = dist.DistributedSampler(range(10), num_replicas=2, rank=rank, seed=9)
            sampler.set_epoch(epoch)
            shards[epoch, rank] = list(sampler)
    for epoch in (0, 1):  # each epoch, the two shards split the data set between them
        assert sorted(shards[epoch, 0] + shards[epoch, 1]) == list(range(10))
    assert shards[0, 0] != shards[1, 0]


def test_a_data_loader_reads_the_replicas_shard_in_batches() -> None:
    data = cr.data.TensorDataset(cr.arange(10.0).reshape(10, 1))
    sampler = dist.DistributedSampler(data, num_replicas=2, rank=1, shuffle=False)
    loader = cr.data.DataLoader(data, batch_size=2, sampler=sampler)
    batches = [batch[0].reshape(-1).tolist() for batch in loader]
    assert batches == [[1.0, 3.0], [5.0, 7.0], [9.0]]
