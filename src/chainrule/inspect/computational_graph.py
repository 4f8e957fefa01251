"""Pictures of the computational graph: the operations that ``backward`` will walk.

:func:`graph` reads the graph below a tensor (usually the loss) and describes it in Graphviz's
DOT language: one box per operation, labelled with the operation and the shape of its output;
one node per leaf tensor, labelled with its shape and, when ``params`` names it, its module
path such as ``0.weight``; arrows in the direction the forward pass computed; the output
highlighted. The text needs no dependency; writing SVG or PNG runs Graphviz's ``dot``.

```pycon
>>> import chainrule
>>> from chainrule import nn
>>> model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid())
>>> loss = nn.MSELoss()(model(chainrule.randn(4, 2)), chainrule.zeros(4, 3))
>>> picture = graph(loss, params=model)
>>> print(picture.dot.splitlines()[0])  # picture.save("loss.png") draws it (or .svg, .dot)
digraph computational_graph {
>>> "0.weight" in picture.dot  # leaves are named by their module path
True

```

Call it before ``loss.backward()``, which frees the graph (or backward with
``retain_graph=True``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chainrule import dtypes
from chainrule.autograd.function import FREED
from chainrule.autograd.module_hooks import BackwardHookFunction
from chainrule.files import write_bytes_atomic, write_text_atomic
from chainrule.tensor import Tensor

_HEADER = """digraph computational_graph {
  graph [rankdir=TB, ordering=in, nodesep=0.25, ranksep=0.3, fontname="Helvetica"];
  node [fontname="Helvetica", fontsize=11, margin="0.12,0.04", height=0.3];
  edge [color="#666666", arrowsize=0.6];"""

# Operations are grey rounded boxes; trainable leaves blue; other tensors (data, targets,
# constants) pale and dashed; the output gold. ``ordering=in`` keeps each operation's inputs
# left to right in argument order, so that ``sub`` and ``matmul`` read the right way round.
_OPERATION = 'shape=box, style="rounded,filled", fillcolor="#e8e8e8"'
_OUTPUT_OPERATION = 'shape=box, style="rounded,filled", fillcolor="#ffd966", penwidth=2'
_PARAMETER = 'shape=box, style="filled", fillcolor="#cfe2f3"'
_OUTPUT_LEAF = 'shape=box, style="filled", fillcolor="#ffd966", penwidth=2'
_CONSTANT = 'shape=box, style="dashed", color="#999999", fontcolor="#555555"'

_FORMATS = (".dot", ".gv", ".svg", ".png", ".pdf")


class Graph:
    """A computational graph in DOT text (``.dot``); ``save`` writes it or renders it.

    ```pycon
    >>> import chainrule as cr
    >>> picture = graph(cr.tensor([1.0], requires_grad=True).exp())
    >>> isinstance(picture, Graph), picture.dot.startswith("digraph")
    (True, True)

    ```
    """

    def __init__(self, dot: str) -> None:
        self.dot = dot

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``.dot`` (or ``.gv``) text, or ``.svg``, ``.png`` or ``.pdf`` drawn by Graphviz's
        ``dot``; the suffix picks the format. Returns the path written."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in _FORMATS:
            raise ValueError(
                f"Graph.save: cannot tell the format from {str(path)!r}; use one of the "
                f"suffixes {', '.join(_FORMATS)}"
            )
        if suffix in (".dot", ".gv"):
            write_text_atomic(path, self.dot)
        else:
            write_bytes_atomic(path, self.render(suffix[1:]))
        return path

    def render(self, format: str) -> bytes:  # noqa: A002 - Graphviz's word
        """The graph drawn by Graphviz's ``dot`` in ``format`` (``"svg"``, ``"png"``, ...)."""
        program = shutil.which("dot")
        if program is None:
            raise RuntimeError(
                f"Graph: drawing {format.upper()} needs the `dot` program of Graphviz, which is "
                "not on PATH. Install Graphviz (apt install graphviz, brew install graphviz, "
                "or conda install graphviz), or save the text with a .dot suffix."
            )
        done = subprocess.run(
            [program, f"-T{format}"], input=self.dot.encode(), capture_output=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"Graph: Graphviz's dot failed: {done.stderr.decode().strip()}")
        return done.stdout

    def _repr_svg_(self) -> str | None:
        """The picture in a notebook (None, so the text shows, when Graphviz is missing)."""
        if shutil.which("dot") is None:
            return None
        return self.render("svg").decode()

    def __repr__(self) -> str:
        return self.dot


def graph(tensor: Tensor, params: Any = None) -> Graph:
    """The graph of operations that computed ``tensor``, as a :class:`Graph`.

    ``params`` names leaves: a mapping ``name -> tensor`` (e.g.
    ``dict(model.named_parameters())``) or a Module, whose parameters and buffers are used.
    The same graph always gives the same text. Graphs of any depth work (no recursion).

    ```pycon
    >>> import chainrule as cr
    >>> a = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> picture = graph((a * a).sum())
    >>> picture.dot.count("->")  # a → mul (twice), mul → sum
    3

    ```
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"graph: expected the Tensor to draw, got {type(tensor).__name__}")
    names = _names(params)
    tensor = _unmarked(tensor)
    operations, leaves = _collect(tensor)
    lines = [_HEADER]
    ids: dict[int, str] = {}
    for i, (key, value) in enumerate(leaves.items()):
        ids[key] = f"leaf{i}"
        lines.append(_leaf_line(ids[key], value, names.get(key), value is tensor))
    for i, (key, value) in enumerate(operations.items()):
        ids[key] = f"op{i}"
        lines.append(_operation_line(ids[key], value, value is tensor))
    for key, value in operations.items():
        for argument in _tensor_inputs(value):
            lines.append(f"  {ids[_key(argument)]} -> {ids[key]};")
    lines.append("}")
    return Graph("\n".join(lines) + "\n")


def _key(tensor: Tensor) -> int:
    """One key per graph vertex: an operation's node (it has one output), or a leaf tensor."""
    return id(tensor._ctx) if tensor._ctx is not None else id(tensor)


def _collect(root: Tensor) -> tuple[dict[int, Tensor], dict[int, Tensor]]:
    """The operations' outputs, newest first, and the leaves in the order first reached."""
    if root._ctx is not None and root._ctx.saved is FREED:
        raise RuntimeError(
            "graph: backward() has already freed the graph below this tensor; draw it before "
            "calling backward, or call backward(retain_graph=True)"
        )
    found: dict[int, Tensor] = {_key(root): root}
    stack = [root]
    while stack:
        for argument in _tensor_inputs(stack.pop()):
            if _key(argument) not in found:
                found[_key(argument)] = argument
                stack.append(argument)
    operations = [t for t in found.values() if t._ctx is not None]
    operations.sort(key=lambda t: t._ctx.sequence_number, reverse=True)
    # Leaves in the order the (sorted) operations use them, so the text does not depend on
    # the search order.
    leaves: dict[int, Tensor] = {}
    if root._ctx is None:
        leaves[_key(root)] = root
    for output in operations:
        for argument in _tensor_inputs(output):
            if argument._ctx is None:
                leaves.setdefault(_key(argument), argument)
    return {_key(t): t for t in operations}, leaves


def _tensor_inputs(output: Tensor) -> list[Tensor]:
    """The tensors an operation's output was computed from, in argument order."""
    if output._ctx is None:
        return []
    return [_unmarked(v) for v in output._ctx.inputs if isinstance(v, Tensor)]


def _unmarked(tensor: Tensor) -> Tensor:
    """The tensor behind the identities that module backward hooks put on inputs and outputs
    (they are bookkeeping, not computation, so the picture leaves them out)."""
    while type(tensor._ctx) is BackwardHookFunction:
        tensor = tensor._ctx.inputs[0]
    return tensor


def _names(params: Any) -> dict[int, str]:
    if params is None:
        return {}
    if hasattr(params, "named_parameters") and hasattr(params, "named_buffers"):
        pairs = [*params.named_parameters(), *params.named_buffers()]
    elif isinstance(params, Mapping):
        pairs = list(params.items())
    else:
        raise TypeError(
            "graph: params must be a mapping name -> tensor (e.g. "
            f"dict(model.named_parameters())) or a Module, got {type(params).__name__}"
        )
    names: dict[int, str] = {}
    for name, value in pairs:
        if not isinstance(value, Tensor):
            raise TypeError(f"graph: params[{name!r}] is {type(value).__name__}, not a Tensor")
        names.setdefault(id(value), str(name))
    return names


def _operation_line(node_id: str, output: Tensor, is_output: bool) -> str:
    node = output._ctx
    name = type(node).op_name()
    if any(_is_number(v) for v in node.inputs):
        # e.g. pow(·, 2): the numbers an operation was given are part of what it does.
        shown = [_argument(v) for v in node.inputs if isinstance(v, Tensor) or _is_number(v)]
        name = f"{name}({', '.join(shown)})"
    style = _OUTPUT_OPERATION if is_output else _OPERATION
    return f"  {node_id} [label={_label(name, _shape(output))}, {style}];"


def _leaf_line(node_id: str, leaf: Tensor, name: str | None, is_output: bool) -> str:
    trainable = leaf.requires_grad
    title = name if name is not None else ("leaf" if trainable else "tensor")
    style = _OUTPUT_LEAF if is_output else _PARAMETER if trainable else _CONSTANT
    return f"  {node_id} [label={_label(title, _shape(leaf))}, {style}];"


def _shape(tensor: Tensor) -> str:
    text = str(tuple(tensor.shape)) if tensor.ndim else "scalar"
    if tensor.dtype != dtypes.get_default_dtype():
        text += f" {tensor.dtype}"
    return text


def _argument(value: Any) -> str:
    return "·" if isinstance(value, Tensor) else format(value, "g")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _label(*lines: str) -> str:
    """A quoted DOT label of several lines."""
    escaped = (line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)
    return '"' + "\\n".join(escaped) + '"'
