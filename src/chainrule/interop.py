"""Weights across the border with PyTorch, both ways, through NumPy.

A chainrule model and its PyTorch twin share state-dict names (``0.weight``,
``1.running_mean``, ``weight_ih_l0``...), so moving weights is a matter of converting each
tensor. :func:`from_torch_state_dict` turns a PyTorch state dict into chainrule tensors and
:func:`to_torch_state_dict` turns a chainrule model (or state dict) into PyTorch tensors. Both
keep the keys in their order, copy the values (neither side shares memory with the other), and
keep every dtype, so the round trip is exact bit for bit.

Nested state converts too: in dicts, lists and tuples every tensor is converted and every other
value (numbers, strings, None) is kept. An optimizer's ``state_dict()`` (a mapping of exactly
``"state"`` and ``"param_groups"``, alone or inside a checkpoint) is translated between the two
libraries' layouts: PyTorch keeps each parameter's ``step`` (and ASGD's ``eta``, ``mu``) as a
0-d tensor where chainrule keeps a Python number, and chainrule keeps the moment buffers as
arrays. So ``optimizer.load_state_dict(from_torch_state_dict(torch_optimizer.state_dict()))``
continues PyTorch's run in chainrule, and back.

PyTorch is not a dependency: this module imports it only inside :func:`to_torch_state_dict`.

```pycon
>>> import torch, chainrule
>>> torch_model = torch.nn.Linear(3, 2)
>>> model = chainrule.nn.Linear(3, 2)
>>> model.load_state_dict(from_torch_state_dict(torch_model.state_dict()))  # doctest: +SKIP
>>> torch_model.load_state_dict(to_torch_state_dict(model))  # doctest: +SKIP

```
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy

from chainrule import backend
from chainrule.creation import from_numpy
from chainrule.tensor import Tensor

__all__ = ["from_torch_state_dict", "to_torch_state_dict"]

# A leaf converter: (value, where it sits, its kind of place) -> the converted value, or None
# when ``value`` is not one of the things it converts. The places: "model" (anywhere outside
# an optimizer's state), "state" (an optimizer's per-parameter state) and "scalar" (an entry
# of that state that PyTorch keeps as a 0-d tensor and chainrule as a number).
Leaf = Callable[[Any, str, str], Any]
SCALAR_STATE = ("step", "eta", "mu")


def from_torch_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """PyTorch's ``state_dict`` with every ``torch.Tensor`` copied to a chainrule Tensor.

    Each tensor is detached, moved to the CPU, made contiguous and copied, keeping its dtype
    (float16/32/64, bfloat16 with the optional package ml_dtypes, integers, bool) and its
    shape (0-d tensors such as ``num_batches_tracked`` stay 0-d). Keys keep their order.
    NumPy arrays become tensors as well; nested values convert as the module docstring says.

    Raises TypeError for a ``state_dict`` that is not a mapping, or a tensor chainrule cannot
    hold (complex, float8, sparse, quantized, on the meta device), naming its key; ImportError
    for a bfloat16 tensor without ml_dtypes.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            "from_torch_state_dict: expected a state dict (a mapping of names to tensors, "
            f"e.g. model.state_dict()), got {type(state_dict).__name__}"
        )
    return _convert(state_dict, "state_dict", _from_torch, "model")


def to_torch_state_dict(model_or_state_dict: Any) -> dict[str, Any]:
    """A chainrule model's ``state_dict()`` (or a given state dict) as PyTorch tensors.

    Every chainrule Tensor (and NumPy array) becomes a ``torch.Tensor`` of the same dtype,
    shape and values, on the CPU, not requiring grad and sharing no memory with the model;
    keys keep their order. ``torch_model.load_state_dict(to_torch_state_dict(model))`` gives
    the PyTorch twin chainrule's weights. An optimizer (or its state dict) converts to
    PyTorch's layout of optimizer state.

    Raises ImportError when PyTorch is not installed; TypeError for an argument that is
    neither a model, an optimizer nor a mapping.
    """
    from chainrule.optional import require

    torch = require("torch", "chainrule.interop.to_torch_state_dict")
    state_dict = model_or_state_dict
    if not isinstance(state_dict, Mapping) and callable(getattr(state_dict, "state_dict", None)):
        state_dict = state_dict.state_dict()
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            "to_torch_state_dict: expected a chainrule Module, an Optimizer or a state dict, "
            f"got {type(model_or_state_dict).__name__}"
        )

    def leaf(value: Any, where: str, place: str) -> Any:
        return _to_torch(torch, value, where, place)

    return _convert(state_dict, "state_dict", leaf, "model")


def _convert(value: Any, where: str, leaf: Leaf, place: str) -> Any:
    """``value`` with ``leaf`` applied to everything inside its nesting of containers."""
    converted = leaf(value, where, place)
    if converted is not None:
        return converted
    if place == "model" and _is_optimizer_state(value):
        return {
            "state": _convert(value["state"], f"{where}['state']", leaf, "state"),
            "param_groups": _convert(
                value["param_groups"], f"{where}['param_groups']", leaf, "model"
            ),
        }
    if isinstance(value, Mapping):
        converted = {}
        for key, item in value.items():
            inner = place
            if place != "model":
                inner = "scalar" if key in SCALAR_STATE else "state"
            converted[key] = _convert(item, f"{where}[{key!r}]", leaf, inner)
        return converted
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        items = [_convert(item, f"{where}[{i}]", leaf, place) for i, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    return value


def _is_optimizer_state(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and set(value) == {"state", "param_groups"}
        and isinstance(value["state"], Mapping)
    )


# ---- PyTorch to chainrule -----------------------------------------------------------------------


def _from_torch(value: Any, where: str, place: str) -> Any:
    """A chainrule copy of ``value`` if it is a torch tensor or NumPy array, else None.

    In an optimizer's state, a ``step`` becomes a Python number and a buffer an array, as
    chainrule's optimizers keep them."""
    if isinstance(value, numpy.ndarray):
        array = numpy.array(value, order="C")
    else:
        torch = sys.modules.get("torch")  # a torch tensor exists only if torch was imported
        if torch is None or not isinstance(value, torch.Tensor):
            return None
        if place == "scalar" and value.ndim == 0:
            return value.item()
        array = _numpy_copy(torch, value, where)
    if place != "model":
        return backend.as_array(array)
    return from_numpy(array)


def _numpy_copy(torch: Any, tensor: Any, where: str) -> numpy.ndarray:
    """A C-ordered NumPy copy of a torch tensor, of the same dtype (bfloat16 via ml_dtypes)."""
    tensor = tensor.detach()
    if tensor.layout != torch.strided or tensor.is_quantized:
        raise TypeError(
            f"from_torch_state_dict: {where} is a {tensor.layout} tensor; convert it to a "
            "dense one first (tensor.to_dense() or tensor.dequantize())"
        )
    if tensor.is_meta:
        raise TypeError(f"from_torch_state_dict: {where} is on the meta device and holds no data")
    tensor = tensor.cpu().resolve_conj().resolve_neg().contiguous()
    if tensor.dtype == torch.bfloat16:
        # NumPy has no bfloat16: the bits travel as int16 and are read as ml_dtypes' bfloat16.
        return tensor.view(torch.int16).numpy().copy().view(_bfloat16(where))
    try:
        array = tensor.numpy()
    except TypeError:  # a dtype NumPy has no counterpart for (float8, ...)
        array = None
    if array is None or array.dtype.kind not in "biuf":
        raise TypeError(
            f"from_torch_state_dict: {where} has dtype {tensor.dtype}, which chainrule cannot "
            "hold (it keeps bool, integers, float16, bfloat16, float32 and float64)"
        )
    # A copy: the chainrule tensor must not change when the PyTorch model trains on.
    return array.copy()


def _bfloat16(where: str) -> numpy.dtype:
    from chainrule.dtypes import bfloat16_dtype

    try:
        return bfloat16_dtype()
    except ImportError as error:
        raise ImportError(
            f"from_torch_state_dict: {where} is bfloat16, and {error}; or convert it in "
            "PyTorch with tensor.float()"
        ) from error


# ---- chainrule to PyTorch -----------------------------------------------------------------------


def _to_torch(torch: Any, value: Any, where: str, place: str) -> Any:
    """A torch copy of ``value`` if it is a chainrule tensor or an array, else None.

    In an optimizer's state, a ``step`` becomes a 0-d tensor as PyTorch keeps it."""
    if isinstance(value, Tensor):
        array = backend.to_numpy(value.array)
    elif isinstance(value, (numpy.ndarray, backend.xp.ndarray)):
        array = backend.to_numpy(value)
    elif place == "scalar" and isinstance(value, (int, float, numpy.number)):
        return torch.tensor(float(value))
    else:
        return None
    array = numpy.array(array, order="C")  # a copy, in index order, that torch may own
    if array.dtype.name == "bfloat16":
        return torch.from_numpy(array.view(numpy.int16)).view(torch.bfloat16)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"to_torch_state_dict: {where} has dtype {array.dtype}")
    return torch.from_numpy(array)
