"""Every configuration the solo harness times, and how to build each implementation of it.

A configuration is a training step (or one operation with its backward) with a label for the
table, its steps per timed block and the issue's target. ``build(config, impl)`` imports only
the library that ``impl`` needs: ``chainrule`` and ``chainrule_*`` import chainrule,
``torch`` and ``torch_*`` import PyTorch, ``numpy`` (the step by hand) and ``floor`` (the
matrix products alone) import neither.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import workload_cnn
import workload_lstm
import workload_mlp
import workload_ops


class UnavailableError(Exception):
    """This implementation does not exist for this configuration (or cannot be built here)."""


@dataclass(frozen=True)
class Workload:
    name: str
    label: str
    kind: str  # "mlp", "cnn", "lstm" or "op"
    steps: int  # steps per timed block
    target: str = ""
    detail: str = ""  # the train_step.py name, the LSTM variant or the operation
    equivalent: str | None = None  # for an operation: the configuration it must not lose to
    floor: str = ""  # what ``floor`` times for this configuration, for the report; "" if none
    floor_target: str = ""  # the target of a step's time over its floor, if the issue set one


def _mlp(name: str, label: str, detail: str, target: str, **floor: str) -> Workload:
    steps = workload_mlp.MLP_CONFIGS[detail][-1]
    return Workload(name, label, "mlp", steps, target, detail, **floor)


LSTM_FLOOR = (
    "its 104 matrix products alone (the input product of all steps, 49 recurrent products "
    "forward and 49 back, the two weight gradients, the head's three)"
)


WORKLOADS = {
    w.name: w
    for w in [
        _mlp("xor", "XOR 2-2-1, batch 4 (nn + SGD)", "xor", "≤ 0.25; compiled ≤ 15 µs"),
        _mlp("digits", "digits 64-128-10, batch 64", "digits", "≤ 0.5; compiled ≤ 75 µs"),
        _mlp(
            "mlp784",
            "784-512-512-10, batch 128",
            "mlp",
            "≤ 0.95, and ≤ 1.10× its matrix products",
            floor=(
                "its 8 matrix products alone (3 forward, 3 weight gradients, 2 input gradients)"
            ),
            floor_target="≤ 1.10",
        ),
        *(
            Workload(
                f"mlp784-{optimizer}",
                f"784-512-512-10, batch 128, {label}",
                "mlp",
                workload_mlp.MLP_CONFIGS["mlp"][-1],
                "",
                "mlp",
            )
            for optimizer, label in [
                ("adam", "Adam"),
                ("momentum", "SGD with momentum 0.9"),
                ("rmsprop", "RMSprop"),
            ]
        ),
        Workload(
            "cnn",
            "CNN conv16-pool-conv32-pool-fc, batch 64, 28×28",
            "cnn",
            workload_cnn.STEPS_PER_BLOCK,
            "≤ 1.2 (moonshot ≤ 1.0)",
        ),
        Workload(
            "lstm",
            "LSTM I32 H128 T50 B32 + fc (batch-first, CE)",
            "lstm",
            workload_lstm.STEPS_PER_BLOCK,
            "≤ 1.2 (moonshot ≤ 1.0)",
            "bf-ce",
            floor=LSTM_FLOOR,
        ),
        Workload(
            "gru",
            "GRU I32 H128 T50 B32 + fc (batch-first, CE)",
            "lstm",
            workload_lstm.STEPS_PER_BLOCK,
            "",
            "gru-bf-ce",
        ),
        Workload(
            "lstm-tm",
            "LSTM I32 H128 T50 B32 + fc (time-major, MSE)",
            "lstm",
            workload_lstm.STEPS_PER_BLOCK,
            "≤ 1.2 (moonshot ≤ 1.0)",
            "tm-mse",
            floor=LSTM_FLOOR,
        ),
    ]
}
for _name, (_label, _, _equivalent, _) in workload_ops.OPS.items():
    _target = ""
    if _equivalent is not None:
        _target = f"no slower than {workload_ops.OPS[_equivalent][0]}"
    WORKLOADS[_name] = Workload(
        _name,
        f"{_label} on {workload_ops.SIZE} floats, + backward",
        "op",
        workload_ops.STEPS_PER_BLOCK,
        _target,
        _name,
        _equivalent,
    )
del _name, _label, _equivalent, _target

GROUPS = {
    "steps": ["xor", "digits", "mlp784", "cnn", "lstm"],
    "ops": list(workload_ops.OPS),
}
GROUPS["all"] = GROUPS["steps"] + GROUPS["ops"]
ALIASES = {"mlp": "mlp784"}  # train_step.py's name


def threads() -> int:
    """Threads each library may use: CHAINRULE_BENCH_THREADS, else the cores this process
    may run on."""
    return int(os.environ.get("CHAINRULE_BENCH_THREADS") or len(os.sched_getaffinity(0)))


def load_torch() -> ModuleType:
    """PyTorch, imported only by the processes that time it, on as many threads as NumPy's
    BLAS has."""
    import torch

    torch.set_num_threads(threads())
    return torch


def load_chainrule() -> ModuleType:
    import chainrule

    return chainrule


def library(impl: str) -> str:
    """Which library a process timing ``impl`` imports: chainrule, torch or numpy."""
    if impl.startswith("chainrule"):
        return "chainrule"
    if impl.startswith("torch"):
        return "torch"
    return "numpy"


def build(config: str, impl: str) -> tuple[Callable[[], Any], dict]:
    """The step of ``impl`` on ``config``, and facts about it (the FLOPs of ``floor``)."""
    workload = WORKLOADS[ALIASES.get(config, config)]
    builders = {"mlp": _build_mlp, "cnn": _build_cnn, "lstm": _build_lstm, "op": _build_op}
    return builders[workload.kind](workload, impl)


def _build_mlp(workload: Workload, impl: str) -> tuple[Callable[[], Any], dict]:
    setup, _ = workload_mlp.mlp_setup(workload.detail)
    # mlp784-adam, mlp784-momentum, ...: the optimiser after the dash; plain SGD without one
    optimizer = workload.name.partition("-")[2] or "sgd"
    if impl in ("chainrule", "chainrule_numpy"):
        library_module = _step_library(workload, impl)
        return workload_mlp.module_step(library_module, *setup, optimizer_name=optimizer), {}
    if impl == "torch":
        return workload_mlp.module_step(load_torch(), *setup, optimizer_name=optimizer), {}
    if optimizer != "sgd":
        raise UnavailableError(f"{workload.name} is written for eager chainrule and PyTorch only")
    if impl == "torch_tensors":
        return workload_mlp.tensor_step(load_torch(), *setup), {}
    if impl == "numpy":
        return workload_mlp.numpy_step(*setup), {}
    if impl == "floor":
        step, flops = workload_mlp.matmul_floor(setup[0], setup[1])
        return step, {"flops": flops}
    if library(impl) == "chainrule":
        # chainrule's other step implementations (TrainStep, tensor code, compiled) live
        # with the in-process benchmark, which imports chainrule itself.
        import train_step

        try:
            steps, _ = train_step.configuration(workload.detail, only=impl)
        except ValueError as error:
            raise UnavailableError(str(error)) from error
        return steps[impl], {}
    raise UnavailableError(f"no implementation {impl!r} of {workload.name}")


def _build_cnn(workload: Workload, impl: str) -> tuple[Callable[[], Any], dict]:
    weights, x, y = workload_cnn.cnn_setup()
    if impl == "numpy":
        return workload_cnn.NumpyCNN(weights, x, y), {}
    lib = _step_library(workload, impl)
    step = workload_cnn.step_function(lib, workload_cnn.build_model(lib, weights))
    return _bind(lib, impl, step, lib.from_numpy(x), lib.from_numpy(y)), {}


def _build_lstm(workload: Workload, impl: str) -> tuple[Callable[[], Any], dict]:
    weights, x, y = workload_lstm.lstm_setup(workload.detail)
    if impl in ("floor", "numpy") and workload.detail.startswith("gru-"):
        raise UnavailableError(f"no {impl} for the GRU step (they are written for the LSTM)")
    if impl == "floor":
        step, flops = workload_lstm.products_floor(weights, x, workload.detail)
        return step, {"flops": flops}
    if impl == "numpy":
        if workload.detail != "bf-ce":
            raise UnavailableError("the NumPy LSTM step by hand is written for bf-ce only")
        return workload_lstm.NumpyLSTM(weights, x, y), {}
    lib = _step_library(workload, impl)
    layout, loss = workload.detail.removeprefix("gru-").split("-")
    batch_first = layout == "bf"
    model = workload_lstm.build_model(lib, weights, batch_first)
    step = workload_lstm.step_function(lib, model, loss)
    return _bind(lib, impl, step, lib.from_numpy(x), lib.from_numpy(y)), {}


def _build_op(workload: Workload, impl: str) -> tuple[Callable[[], Any], dict]:
    if impl == "numpy":
        return workload_ops.numpy_op_step(workload.detail), {}
    if impl not in ("chainrule", "torch"):
        raise UnavailableError(f"no implementation {impl!r} of {workload.name}")
    return workload_ops.op_step(_step_library(workload, impl), workload.detail), {}


def _step_library(workload: Workload, impl: str) -> ModuleType:
    """The library of ``impl``; for ``chainrule_numpy``, chainrule with chainrule.native's
    numba loops turned off (every operation in NumPy, as where numba is not installed)."""
    if impl in ("chainrule", "chainrule_compiled", "chainrule_kernels"):
        return load_chainrule()
    if impl == "chainrule_numpy":
        lib = load_chainrule()
        if not hasattr(lib, "native"):
            raise UnavailableError("this chainrule has no chainrule.native to turn off")
        lib.native.enable(False)
        return lib
    if impl == "torch":
        return load_torch()
    raise UnavailableError(f"no implementation {impl!r} of {workload.name}")


def _bind(lib: ModuleType, impl: str, step: Callable, x: Any, y: Any) -> Callable[[], Any]:
    """``step`` on fixed data as a call without arguments; compiled first for
    ``chainrule_compiled`` (chainrule.compile records on the first call), and with numba's
    kernels for ``chainrule_kernels``."""
    if impl in ("chainrule_compiled", "chainrule_kernels"):
        compile_step = getattr(lib, "compile", None)
        if compile_step is None:
            raise UnavailableError("this chainrule has no compile()")
        kernels = {"kernels": True} if impl == "chainrule_kernels" else {}
        step = compile_step(step, **kernels)
    return lambda: step(x, y)
