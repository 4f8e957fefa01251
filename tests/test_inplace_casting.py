"""In-place arithmetic whose result the tensor's dtype cannot hold, against PyTorch: an int
tensor ``+= 0.5`` is refused with PyTorch's "result type Float can't be cast to the desired
output type Long", and every cast PyTorch allows goes through with its values."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

UPDATES = {
    "+= 0.5": lambda m, t: t.__iadd__(0.5),
    "-= 0.5": lambda m, t: t.__isub__(0.5),
    "*= 0.5": lambda m, t: t.__imul__(0.5),
    "/= 2": lambda m, t: t.__itruediv__(2),
    "/= 2.0": lambda m, t: t.__itruediv__(2.0),
    "add_(0.5)": lambda m, t: t.add_(0.5),
    "sub_(0.5)": lambda m, t: t.sub_(0.5),
    "mul_(0.5)": lambda m, t: t.mul_(0.5),
    "div_(2)": lambda m, t: t.div_(2),
    "add_(float tensor)": lambda m, t: t.add_(m.tensor([0.5, 1.0])),
    "+= float tensor": lambda m, t: t.__iadd__(m.tensor([0.5, 1.0])),
    "add_(0-d float64)": lambda m, t: t.add_(m.tensor(0.5, dtype=m.float64)),
    "add_(requires grad)": lambda m, t: t.add_(m.ones(2, requires_grad=True)),
    "mul_(1)": lambda m, t: t.mul_(1),
    "+= 1": lambda m, t: t.__iadd__(1),
    "+= int32 tensor": lambda m, t: t.__iadd__(m.tensor([1, 2], dtype=m.int32)),
}
TARGETS = {
    "int64": lambda m: m.tensor([1, 2]),
    "int32": lambda m: m.tensor([1, 2], dtype=m.int32),
    "uint8": lambda m: m.tensor([1, 2], dtype=m.uint8),
    "bool": lambda m: m.tensor([True, False]),
    "float32": lambda m: m.tensor([1.0, 2.0]),
    "float16": lambda m: m.tensor([1.0, 2.0], dtype=m.float16),
}


@pytest.mark.parametrize("update", sorted(UPDATES))
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_in_place_updates_cast_or_refuse_as_torch(update: str, target: str) -> None:
    theirs = TARGETS[target](torch)
    try:
        UPDATES[update](torch, theirs)
    except RuntimeError as error:
        message = str(error)
        # Casting errors match PyTorch's message; PyTorch refuses some updates for other
        # reasons (subtracting from a bool tensor), where an error is enough.
        fragment = re.escape(message) if "can't be cast" in message else None
        with pytest.raises(RuntimeError, match=fragment):
            UPDATES[update](cr, TARGETS[target](cr))
        return
    ours = TARGETS[target](cr)
    result = UPDATES[update](cr, ours)
    assert result is ours and str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    expected = theirs.detach().float().numpy()
    np.testing.assert_array_equal(ours.detach().float().numpy(), expected)


def test_the_int_update_of_the_brief_raises_torch_error_naming_the_operation() -> None:
    t = cr.tensor([1, 2])
    expected = "result type Float can't be cast to the desired output type Long"
    with pytest.raises(RuntimeError, match=re.escape(expected)) as caught:
        t += 0.5
    assert "in-place +=" in str(caught.value) and "t.float()" in str(caught.value)
    assert t.tolist() == [1, 2], "a refused update leaves the tensor as it was"


@pytest.mark.parametrize("graph", [False, True])
def test_a_refused_update_inside_a_graph_raises_the_same_error(graph: bool) -> None:
    def program(m: Any) -> None:
        t = m.tensor([1, 2])
        w = m.tensor([0.5, 1.5], requires_grad=graph)
        t.add_(w)

    with pytest.raises(RuntimeError) as theirs:
        program(torch)
    with pytest.raises(RuntimeError, match=re.escape(str(theirs.value))):
        program(cr)
