"""A model as a table of its layers, output shapes and parameter counts, in the layout of
torchinfo's ``summary`` (version 1.8, default columns), so that a PyTorch user reads it at once.

With an input (``input_size`` or ``input_data``) one forward pass runs, in eval mode without a
graph, and forward hooks record every layer call in order: a row per call, with the shape of
its output. A module called a second time is marked "(recursive)"; a container never called
itself (a ModuleList) gets a row above its first called child. Without an input the rows are
the module tree, with parameter counts only.

Columns and totals follow torchinfo:

- Param #: a layer's parameters (all below it once the table reaches ``depth``; in
  parentheses when none is trainable), or for a container shown with its children those it
  holds directly, "--" when none;
- Total mult-adds: for each leaf layer, weight elements × N × output positions for
  convolutions, and × N for the other weights and biases (N the output's first dimension);
- Forward/backward pass size: twice (values and gradients) the bytes of the outputs of leaf
  layers that have parameters; Params size: the bytes of the leaf layers' parameters; Input
  size: the bytes of the input tensors. Sizes are in MB of 10⁶ bytes.

```pycon
>>> from chainrule import nn
>>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2704, 10))
>>> table = summary(model, input_size=(16, 1, 28, 28))
==========================================================================================
Layer (type:depth-idx)                   Output Shape              Param #
==========================================================================================
Sequential                               [16, 10]                  --
├─Conv2d: 1-1                            [16, 4, 26, 26]           40
├─ReLU: 1-2                              [16, 4, 26, 26]           --
├─Flatten: 1-3                           [16, 2704]                --
├─Linear: 1-4                            [16, 10]                  27,050
==========================================================================================
Total params: 27,090
Trainable params: 27,090
Non-trainable params: 0
Total mult-adds (M): 0.82
==========================================================================================
Input size (MB): 0.05
Forward/backward pass size (MB): 0.35
Params size (MB): 0.11
Estimated Total Size (MB): 0.51
==========================================================================================

```
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import rand
from chainrule.dtypes import float32, to_dtype
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["LayerRow", "ModelSummary", "summary"]

NAME_WIDTH = 40  # the first column's width, widened in steps of 5 for deep or long names
COLUMN_WIDTH = 25


@dataclass
class LayerRow:
    """One call of one module (or one module of the tree, without an input)."""

    module: Module
    depth: int
    recursive: bool = False
    executed: bool = False
    output_shape: list[int] = field(default_factory=list)
    output_bytes: int = 0
    mult_adds: int = 0
    depth_index: int | None = None
    children: list[LayerRow] = field(default_factory=list)  # every row below this one

    def __post_init__(self) -> None:
        params = list(self.module.parameters())
        self.num_params = sum(p.numel() for p in params)
        self.trainable_params = sum(p.numel() for p in params if p.requires_grad)
        self.param_bytes = sum(p.numel() * p.dtype.itemsize for p in params)
        self.leaf = not any(True for _ in self.module.children())

    @property
    def name(self) -> str:
        """``Conv2d: 1-1``: the class, the depth and the index among the rows of that depth."""
        kind = type(self.module).__name__
        if self.depth == 0:
            return kind
        index = "" if self.depth_index is None else f"-{self.depth_index}"
        return f"{kind}: {self.depth}{index}"

    def leftover_params(self) -> int:
        """The parameters that no row below counts: those the module holds directly."""
        return self.num_params - sum(
            child.num_params if child.leaf else child.leftover_params()
            for child in self.children
            if not child.recursive
        )

    def leftover_trainable_params(self) -> int:
        return self.trainable_params - sum(
            child.trainable_params if child.leaf else child.leftover_trainable_params()
            for child in self.children
            if not child.recursive
        )

    def params_text(self, at_max_depth: bool) -> str:
        if self.num_params == 0:
            return "--"
        if self.recursive:
            return "(recursive)"
        if at_max_depth or self.leaf:
            text = f"{self.num_params:,}"
            return text if self.trainable_params else f"({text})"
        leftover = self.leftover_params()
        return f"{leftover:,}" if leftover > 0 else "--"

    def record_output(self, output: Any) -> None:
        tensor = _first_tensor(output)
        self.executed = True
        if tensor is None:
            return
        self.output_shape = list(tensor.shape)
        self.output_bytes = tensor.numel() * tensor.dtype.itemsize
        if self.leaf:
            self.mult_adds = _mult_adds(self.module, self.output_shape)


class ModelSummary:
    """The table (``str()``) and its totals: ``total_params``, ``trainable_params``,
    ``total_mult_adds``, ``total_input``, ``total_output_bytes`` and ``total_param_bytes``
    (bytes), with the rows in ``summary_list``."""

    def __init__(self, rows: list[LayerRow], input_bytes: int | None, depth: int) -> None:
        self.summary_list, self.depth = rows, depth
        self.total_input = input_bytes or 0
        self.with_input = input_bytes is not None
        self.total_params = self.trainable_params = self.total_mult_adds = 0
        self.total_output_bytes = self.total_param_bytes = 0
        for row in rows:
            if row.leaf:
                self.total_mult_adds += row.mult_adds
                if row.num_params > 0:
                    self.total_output_bytes += 2 * row.output_bytes  # values and gradients
                if not row.recursive:
                    self.total_params += row.num_params
                    self.trainable_params += row.trainable_params
                    self.total_param_bytes += row.param_bytes
            elif not row.recursive:
                self.total_params += max(row.leftover_params(), 0)
                self.trainable_params += max(row.leftover_trainable_params(), 0)

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        titles = ["Output Shape", "Param #"] if self.with_input else ["Param #"]
        name_width = _name_width(self.summary_list)
        rule = "=" * (name_width + COLUMN_WIDTH * len(titles))

        def row(name: str, cells: list[str]) -> str:
            text = f"{name:<{name_width}} " + "".join(f"{c:<{COLUMN_WIDTH}} " for c in cells)
            return text.rstrip() + "\n"

        body = ""
        for layer in self.summary_list:
            if layer.depth > self.depth:
                continue
            params = layer.params_text(layer.depth == self.depth)
            shape = str(layer.output_shape) if layer.output_shape else "--"
            cells = [shape, params] if self.with_input else [params]
            body += row(_branch(layer.depth) + layer.name, cells)
        text = (
            f"{rule}\n{row('Layer (type:depth-idx)', titles)}{rule}\n{body}{rule}\n"
            f"Total params: {self.total_params:,}\n"
            f"Trainable params: {self.trainable_params:,}\n"
            f"Non-trainable params: {self.non_trainable_params:,}\n"
        )
        if self.with_input:
            total = self.total_input + self.total_output_bytes + self.total_param_bytes
            text += (
                f"Total mult-adds{_mult_adds_text(self.total_mult_adds)}\n{rule}\n"
                f"Input size (MB): {self.total_input / 1e6:0.2f}\n"
                f"Forward/backward pass size (MB): {self.total_output_bytes / 1e6:0.2f}\n"
                f"Params size (MB): {self.total_param_bytes / 1e6:0.2f}\n"
                f"Estimated Total Size (MB): {total / 1e6:0.2f}\n"
            )
        return text + rule

    __repr__ = __str__


def summary(
    model: Module,
    input_size: Sequence[Any] | None = None,
    input_data: Tensor | Sequence[Tensor] | None = None,
    dtypes: Sequence[Any] | None = None,
    depth: int = 3,
    verbose: int = 1,
    device: Any = None,
    **kwargs: Any,
) -> ModelSummary:
    """Print (unless ``verbose=0``) and return the table of ``model``'s layers, torchinfo's.

    ``input_size`` is one shape with its batch dimension, e.g. ``(16, 1, 28, 28)``, or a list
    of shapes for several inputs, filled with uniform values in [0, 1) of ``dtypes`` (float32
    by default; integer dtypes give zeros, valid indices); ``input_data`` is the input tensor,
    or a list of them. ``kwargs`` go to ``model.forward``. ``depth`` is the deepest level of
    nested modules shown. Without an input no forward pass runs and only parameters show.
    ``device`` ("cpu", "cuda"), as torchinfo's: the model is moved there (in place) and the
    input with it; by default the input goes where the model's parameters are.

    ```pycon
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> table = summary(model, input_size=(8, 3), verbose=0)
    >>> table.total_params  # 3·4 + 4 + 4·2 + 2
    26

    ```
    """
    if input_size is not None and input_data is not None:
        raise ValueError("summary: give input_size or input_data, not both")
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be a Module, got {type(model).__name__}")
    if verbose not in (0, 1):
        raise ValueError(f"summary: verbose must be 0 (quiet) or 1 (print), got {verbose!r}")
    if input_size is None and input_data is None:
        result = ModelSummary(_tree_rows(model), None, depth)
    else:
        inputs = _inputs(input_size, input_data, dtypes)
        if device is not None:
            model.to(device)
        else:
            first = next(model.parameters(), None)
            device = None if first is None else first.device
        if device is not None:
            inputs = [x.to(device) for x in inputs]
        rows = _run(model, inputs, kwargs)
        result = ModelSummary(rows, sum(x.numel() * x.dtype.itemsize for x in inputs), depth)
    if verbose:
        print(result)
    return result


# ---- building the rows --------------------------------------------------------------------------


def _tree_rows(model: Module) -> list[LayerRow]:
    """Every module once, depth first, as the rows of a summary without a forward pass."""
    rows: list[LayerRow] = []
    seen: set[int] = set()

    def visit(module: Module, depth: int) -> None:
        if id(module) in seen:
            return
        seen.add(id(module))
        rows.append(LayerRow(module, depth, executed=False))
        for child in module.children():
            visit(child, depth + 1)

    visit(model, 0)
    return _finish(rows)


def _run(model: Module, inputs: list[Tensor], kwargs: dict) -> list[LayerRow]:
    """One forward pass with hooks on every module: a row per call, in call order."""
    parents = _parents(model)
    rows: list[LayerRow] = []
    open_calls: dict[int, list[LayerRow]] = {}

    def before(module: Module, args: tuple) -> None:
        row = LayerRow(module, parents[id(module)][1])
        rows.append(row)
        open_calls.setdefault(id(module), []).append(row)

    def after(module: Module, args: tuple, output: Any) -> None:
        open_calls[id(module)].pop().record_output(output)

    modes = {id(m): m.training for m in model.modules()}
    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    try:
        model.eval()
        with no_grad():
            model(*inputs, **kwargs)
    except Exception as error:
        ran = ", ".join(type(row.module).__name__ for row in rows if row.executed) or "none"
        raise RuntimeError(
            f"summary: the forward pass of {type(model).__name__} failed ({error}); layers "
            f"that ran: {ran}"
        ) from error
    finally:
        for handle in handles:
            handle.remove()
        for module in model.modules():
            object.__setattr__(module, "training", modes[id(module)])
    return _finish(_with_containers(rows, parents))


def _parents(model: Module) -> dict[int, tuple[Module | None, int]]:
    """Each module's parent in the tree and its depth (where it first appears)."""
    found: dict[int, tuple[Module | None, int]] = {id(model): (None, 0)}
    stack = [model]
    while stack:
        module = stack.pop()
        depth = found[id(module)][1]
        for child in module.children():
            if id(child) not in found:
                found[id(child)] = (module, depth + 1)
                stack.append(child)
    return found


def _with_containers(rows: list[LayerRow], parents: dict) -> list[LayerRow]:
    """The rows, with one for each ancestor that was not called itself (a ModuleList's row
    goes above its first called child), so that the tree reads correctly."""
    result: list[LayerRow] = []
    open_rows: list[LayerRow] = []  # the row open at each depth
    for row in rows:
        ancestors: list[Module] = []
        parent = parents[id(row.module)][0]
        while parent is not None:
            ancestors.append(parent)
            parent = parents[id(parent)][0]
        for depth, ancestor in enumerate(reversed(ancestors)):
            if len(open_rows) <= depth or open_rows[depth].module is not ancestor:
                del open_rows[depth:]
                missing = LayerRow(ancestor, depth)
                result.append(missing)
                open_rows.append(missing)
        del open_rows[row.depth :]
        open_rows.append(row)
        result.append(row)
    return result


def _finish(rows: list[LayerRow]) -> list[LayerRow]:
    """Number the rows of each depth in order, mark the repeated modules "(recursive)" (their
    parameters are counted once) and give each row the rows below it in the tree."""
    counts: dict[int, int] = {}
    seen: set[int] = set()
    for index, row in enumerate(rows):
        row.recursive = id(row.module) in seen
        seen.add(id(row.module))
        if row.depth > 0:
            counts[row.depth] = counts.get(row.depth, 0) + 1
            row.depth_index = counts[row.depth]
        for below in rows[index + 1 :]:
            if below.depth <= row.depth:
                break
            row.children.append(below)
    return rows


# ---- inputs, shapes and formatting -----------------------------------------------------------


def _inputs(input_size: Any, input_data: Any, dtype_list: Any) -> list[Tensor]:
    if input_data is not None:
        data = [input_data] if isinstance(input_data, Tensor) else list(input_data)
        if not data or not all(isinstance(x, Tensor) for x in data):
            raise TypeError("summary: input_data must be a Tensor or a sequence of Tensors")
        return data
    if not isinstance(input_size, (list, tuple)) or not input_size:
        raise TypeError(
            f"summary: input_size must be a shape or a list of shapes, got {input_size!r}"
        )
    shapes = (
        [tuple(input_size)] if isinstance(input_size[0], int) else [tuple(s) for s in input_size]
    )
    if any(not all(isinstance(n, int) and n > 0 for n in shape) for shape in shapes):
        raise ValueError(f"summary: input_size must hold positive ints, got {input_size!r}")
    kinds = list(dtype_list) if dtype_list is not None else [float32] * len(shapes)
    if len(kinds) != len(shapes):
        raise ValueError(f"summary: {len(shapes)} input shapes but {len(kinds)} dtypes")
    return [rand(*shape).to(to_dtype(kind)) for shape, kind in zip(shapes, kinds)]


def _first_tensor(output: Any) -> Tensor | None:
    """The tensor whose shape a row shows: the output, the first of a tuple or list (looking
    inside nested ones), or the last value of a dict, as torchinfo picks it."""
    if isinstance(output, Tensor):
        return output
    if isinstance(output, dict):
        return _first_tensor(list(output.values())[-1]) if output else None
    if isinstance(output, (list, tuple)) and output:
        return _first_tensor(output[0])
    return None


def _mult_adds(module: Module, shape: list[int]) -> int:
    """torchinfo's count: a convolution's weight works at every output position of every
    sample; other weights and biases once per sample (per step, for recurrent ones)."""
    if not shape:
        return 0
    total = 0
    convolution = "Conv" in type(module).__name__
    for name, param in module.named_parameters():
        if name == "weight" and convolution:
            total += param.numel() * math.prod(shape[:1] + shape[2:])
        elif name in ("weight", "bias"):
            total += shape[0] * param.numel()
        elif "weight" in name or "bias" in name:
            total += math.prod(shape[:2]) * param.numel()
    return total


def _mult_adds_text(count: int) -> str:
    """``(M): 7.69``, in G or T from 10⁹ and 10¹² on; a whole number without decimals."""
    unit, scale = ("T", 1e12) if count >= 1e12 else ("G", 1e9) if count >= 1e9 else ("M", 1e6)
    value = count / scale
    return f" ({unit}): {int(value):,}" if value.is_integer() else f" ({unit}): {value:,.2f}"


def _branch(depth: int) -> str:
    """The tree drawing before a row's name: ├─ at depth 1, │ then └─ below."""
    if depth == 0:
        return ""
    if depth == 1:
        return "├─"
    return "│    " * (depth - 1) + "└─"


def _name_width(rows: list[LayerRow]) -> int:
    longest = max((len(row.name) + 5 * row.depth + 1 for row in rows), default=0)
    return NAME_WIDTH if longest < NAME_WIDTH else math.ceil(longest / 5) * 5
