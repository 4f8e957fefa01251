"""Computational-graph pictures: the DOT text's structure, names, determinism, depth, files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.inspect import computational_graph as graph_module
from chainrule.inspect.computational_graph import Graph, graph

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed"
)

NODE = re.compile(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$', re.MULTILINE)
EDGE = re.compile(r"^  (\w+) -> (\w+);$", re.MULTILINE)


def parse(dot: str) -> tuple[dict[str, str], dict[str, str], list[tuple[str, str]]]:
    """Node labels (lines joined by '|') and styles by id, and edges as (label, label)."""
    labels = {node: label.replace("\\n", "|") for node, label, _ in NODE.findall(dot)}
    styles = {node: style for node, _, style in NODE.findall(dot)}
    edges = [(labels[a], labels[b]) for a, b in EDGE.findall(dot)]
    return labels, styles, edges


def torch_operation_count(tensor: torch.Tensor) -> int:
    """Operations in torch's graph of the same expression (its leaves' AccumulateGrad left out)."""
    seen, stack = set(), [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen or type(node).__name__ == "AccumulateGrad":
            continue
        seen.add(node)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return len(seen)


def one_layer_loss(m, W, b):  # noqa: N803
    x = m.tensor(np.arange(6, dtype=np.float32).reshape(3, 2) / 6)
    y = m.tensor([[0.0], [1.0], [1.0]])
    return ((x @ W + b).sigmoid() - y).pow(2).mean()


def test_a_known_graph_has_one_box_per_operation_with_shapes_names_and_edges() -> None:
    W = cr.tensor([[0.5], [-0.25]], requires_grad=True)
    b = cr.tensor([0.1], requires_grad=True)
    loss = one_layer_loss(cr, W, b)
    labels, styles, edges = parse(graph(loss, params={"W": W, "b": b}).dot)

    operations = {n: label for n, label in labels.items() if n.startswith("op")}
    assert sorted(operations.values()) == sorted(
        ["mean|scalar", "pow(·, 2)|(3, 1)", "sub|(3, 1)"]
        + ["sigmoid|(3, 1)", "add|(3, 1)", "matmul|(3, 1)"]
    )
    W_t = torch.tensor([[0.5], [-0.25]], requires_grad=True)
    b_t = torch.tensor([0.1], requires_grad=True)
    assert len(operations) == torch_operation_count(one_layer_loss(torch, W_t, b_t))

    leaves = sorted(label for n, label in labels.items() if n.startswith("leaf"))
    assert leaves == ["W|(2, 1)", "b|(1,)", "tensor|(3, 1)", "tensor|(3, 2)"]
    assert sorted(edges) == sorted(
        [
            ("tensor|(3, 2)", "matmul|(3, 1)"),
            ("W|(2, 1)", "matmul|(3, 1)"),
            ("matmul|(3, 1)", "add|(3, 1)"),
            ("b|(1,)", "add|(3, 1)"),
            ("add|(3, 1)", "sigmoid|(3, 1)"),
            ("sigmoid|(3, 1)", "sub|(3, 1)"),
            ("tensor|(3, 1)", "sub|(3, 1)"),
            ("sub|(3, 1)", "pow(·, 2)|(3, 1)"),
            ("pow(·, 2)|(3, 1)", "mean|scalar"),
        ]
    )
    # Inputs are listed in argument order (a - y: the prediction first) and only the output
    # is highlighted.
    assert edges.index(("sigmoid|(3, 1)", "sub|(3, 1)")) < edges.index(
        ("tensor|(3, 1)", "sub|(3, 1)")
    )
    highlighted = [labels[n] for n, style in styles.items() if "penwidth=2" in style]
    assert highlighted == ["mean|scalar"]


def test_module_parameters_are_named_by_their_paths() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    loss = model(cr.randn(4, 2)).sum()
    for params in (model, dict(model.named_parameters())):
        labels, _, _ = parse(graph(loss, params=params).dot)
        named = sorted(label for label in labels.values() if "." in label.split("|")[0])
        assert named == ["0.bias|(3,)", "0.weight|(3, 2)", "2.bias|(1,)", "2.weight|(1, 3)"]
    labels, _, _ = parse(graph(loss).dot)
    assert sorted(labels.values()).count("leaf|(3,)") == 1  # unnamed without params


def test_a_tensor_used_twice_has_one_node_and_two_edges() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    labels, _, edges = parse(graph(x * x, params={"x": x}).dot)
    assert len(labels) == 2
    assert edges == [("x|(2,)", "mul|(2,)"), ("x|(2,)", "mul|(2,)")]


def test_the_same_graph_gives_the_same_text() -> None:
    def build() -> str:
        cr.manual_seed(3)
        model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))
        return graph(nn.functional.mse_loss(model(cr.randn(5, 2)), cr.zeros(5, 1)), model).dot

    first = build()
    assert build() == first
    assert "digraph" in first and first.count(" -> ") == 9


def test_a_deep_graph_needs_no_recursion() -> None:
    x = cr.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    labels, _, edges = parse(graph(y).dot)
    assert len(labels) == 5001 and len(edges) == 5000


def test_a_leaf_alone_is_its_own_highlighted_graph() -> None:
    w = cr.zeros(3, requires_grad=True)
    labels, styles, edges = parse(graph(w, params={"w": w}).dot)
    assert list(labels.values()) == ["w|(3,)"] and edges == []
    assert "penwidth=2" in next(iter(styles.values()))


def test_non_default_dtypes_are_shown() -> None:
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    labels, _, _ = parse(graph(x.exp()).dot)
    assert sorted(labels.values()) == ["exp|(2,) float64", "leaf|(2,) float64"]


def test_a_graph_freed_by_backward_is_a_clear_error() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    kept = (x * 2).sum()
    kept.backward(retain_graph=True)
    assert len(parse(graph(kept).dot)[0]) == 3
    freed = (x * 2).sum()
    freed.backward()
    with pytest.raises(RuntimeError, match="before calling backward"):
        graph(freed)


def test_bad_arguments_are_clear_errors() -> None:
    x = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="expected the Tensor"):
        graph(np.ones(2))
    with pytest.raises(TypeError, match="mapping name -> tensor"):
        graph(x * 2, params=[x])
    with pytest.raises(TypeError, match=r"params\['x'\] is ndarray"):
        graph(x * 2, params={"x": np.ones(1)})
    with pytest.raises(ValueError, match=r"suffixes \.dot"):
        graph(x * 2).save("picture.jpeg")


def test_dot_text_is_written_without_graphviz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    x = cr.tensor([1.0], requires_grad=True)
    picture = graph(x.exp(), params={"x": x})
    written = picture.save(tmp_path / "g.dot")
    assert written.read_text() == picture.dot
    with pytest.raises(RuntimeError, match=r"needs the `dot` program of Graphviz.*apt install"):
        picture.save(tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()
    assert picture._repr_svg_() is None


@needs_dot
def test_svg_and_png_are_drawn_by_graphviz(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    loss = nn.functional.mse_loss(model(cr.randn(4, 2)), cr.zeros(4, 1))
    picture = graph(loss, params=model)
    svg = picture.save(tmp_path / "loss.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "0.weight" in svg and "sigmoid" in svg
    png = picture.save(tmp_path / "loss.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert "<svg" in picture._repr_svg_()


@needs_dot
def test_graphviz_errors_are_reported() -> None:
    with pytest.raises(RuntimeError, match="Graphviz's dot failed"):
        Graph("digraph { this is not dot").render("svg")


def test_the_marks_of_module_backward_hooks_are_left_out() -> None:
    def loss_text(hooked: bool) -> str:
        cr.manual_seed(5)
        model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))
        if hooked:
            for module in model.modules():
                module.register_full_backward_hook(lambda mod, gi, go: None)
        x = cr.randn(3, 2, requires_grad=True)
        return graph(model(x).sum(), params=model).dot

    hooked = loss_text(hooked=True)
    assert "backwardhook" not in hooked
    assert hooked == loss_text(hooked=False)
