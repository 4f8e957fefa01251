"""The memory of a training step, counted by tracemalloc (bytes allocated, not time): at its
peak a step holds little more than what backpropagation must keep, the activations that the
backward pass reads and one gradient per parameter, in eager mode and in a compiled replay.

The peak comes in the backward pass, when the first layer's weight gradient is made: by then
the later layers' activations and the gradients that flowed through them must be gone.
"""

from __future__ import annotations

import gc
import itertools
import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from test_compile import standard_step

# The benchmark's network (benchmarks/solo_step.py --memory traced): large enough that the
# optimiser's update, which works through a block of at most 256 KiB, is not the peak.
SIZES, BATCH = (784, 512, 512, 10), 128


def kept_bytes() -> int:
    """Each hidden layer's output and the logits, and a gradient per parameter (float32)."""
    activations = BATCH * sum(SIZES[1:])
    parameters = sum(a * b + b for a, b in itertools.pairwise(SIZES))
    return 4 * (activations + parameters)


def peak_of_a_step(compiled: bool) -> int:
    cr.manual_seed(0)
    layers = [nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(), nn.Linear(SIZES[1], SIZES[2]), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(SIZES[2], SIZES[3]))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.normal(size=(BATCH, SIZES[0])).astype(np.float32))
    y = cr.tensor(rng.integers(0, SIZES[-1], BATCH))

    step = standard_step(model, loss_fn, optimizer)
    if compiled:
        step = cr.compile(step)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(4):  # past a compiled step's two recordings
            step(x, y)
        gc.collect()
        tracemalloc.reset_peak()
        step(x, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_step_s_peak_memory_is_little_more_than_what_backpropagation_keeps(compiled) -> None:
    peak = peak_of_a_step(compiled)
    # Before the walk let go of the tensors it had run (and the replay of the gradients'
    # names), the peak was a quarter above this: every activation lived to the end.
    assert peak <= 1.1 * kept_bytes(), f"peak {peak} bytes, {peak / kept_bytes():.2f}x kept"
