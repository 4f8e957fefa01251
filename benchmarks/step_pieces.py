"""Time the pieces of a small training step that engine changes touch, in this process only.

One operation in a graph, one module call, the backward walk over the XOR 2-2-1 graph (kept
with retain_graph) and one SGD step on its 4 parameters; each the minimum over 9 repeats, in
µs. Run it once per source tree to see where a change's cost lies:

    PYTHONPATH=/tmp/base/src python benchmarks/step_pieces.py
    PYTHONPATH=src python benchmarks/step_pieces.py
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

import numpy as np
from workload_mlp import build_model, mlp_shapes, xor_data

import chainrule as cr


def per_call(fn: Callable[[], object], calls: int = 20000) -> float:
    return min(timeit.repeat(fn, number=calls, repeat=9)) / calls * 1e6


def main() -> None:
    a = cr.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    identity = cr.nn.Identity()
    x, y = xor_data()
    model, loss_fn = build_model(cr, mlp_shapes([2, 2, 1], seed=0), "sigmoid", "mse")
    optimizer = cr.optim.SGD(model.parameters(), lr=0.5)
    loss = loss_fn(model(cr.from_numpy(x)), cr.from_numpy(y))
    loss.backward(retain_graph=True)
    params = list(model.parameters())

    def walk() -> None:
        for p in params:
            p.grad = None
        loss.backward(retain_graph=True)

    pieces = {
        "op (neg 2x2, graph)": lambda: -a,
        "module call (Identity)": lambda: identity(a),
        "backward walk (XOR, 5 nodes)": walk,
        "optimizer.step (SGD, 4 params)": optimizer.step,
    }
    for name, fn in pieces.items():
        print(f"{name:32} {per_call(fn):7.2f} us")


if __name__ == "__main__":
    main()
