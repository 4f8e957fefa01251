"""chainrule.native.scatter: rows added at repeated positions (an embedding's gradient) by
numba's loop, against NumPy's ``add.at`` bit for bit and against PyTorch, and when it runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from bit_patterns import bits
from chainrule import backend, native

pytest.importorskip("numba", reason="the loops need numba: pip install 'chainrule[numba]'")


def _counting_loop(monkeypatch) -> list:
    from chainrule.native import scatter

    calls = []
    original = scatter.scatter_add_rows

    def counted(target, index, rows):
        calls.append(rows.shape)
        return original(target, index, rows)

    monkeypatch.setattr(scatter, "scatter_add_rows", counted)
    return calls


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rows_loop_is_add_at_bit_for_bit(dtype: str, native_switch, monkeypatch) -> None:
    calls = _counting_loop(monkeypatch)
    native.enable(True)
    monkeypatch.setattr(native, "loaded", lambda: True)
    rng = np.random.default_rng(11)
    rows = rng.standard_normal((400, 37)).astype(dtype) * 1e3
    rows[:6, :3] = [[np.nan, np.inf, -0.0], [-np.inf, 1e-40, -0.0], [5, 6, 7]] * 2
    index = rng.integers(0, 50, 400)  # every target row receives about eight rows
    index[:6] = 3  # nan, ±inf and −0 meet in one row
    expected = np.zeros((50, 37), dtype)
    np.add.at(expected, index, rows)
    got = np.zeros((50, 37), dtype)
    backend.scatter_add(got, index, rows)
    assert calls == [(400, 37)]
    assert np.array_equal(bits(got), bits(expected))


def test_a_small_scatter_keeps_numba_unloaded(native_switch, monkeypatch) -> None:
    calls = _counting_loop(monkeypatch)
    native.enable(True)
    monkeypatch.setattr(native, "loaded", lambda: False)
    target = np.zeros((10, 8), np.float32)
    backend.scatter_add(target, np.array([1, 1, 4]), np.ones((3, 8), np.float32))
    assert calls == []  # under native.MAP_SIZE values: NumPy's add.at
    assert target[1].tolist() == [2.0] * 8 and target[4].tolist() == [1.0] * 8


def test_what_the_loop_does_not_cover_takes_add_at(native_switch, monkeypatch) -> None:
    calls = _counting_loop(monkeypatch)
    native.enable(True)
    monkeypatch.setattr(native, "loaded", lambda: True)
    index = np.array([0, 2, 0])
    ints = np.zeros((3, 4), np.int64)  # integers: add.at
    backend.scatter_add(ints, index, np.ones((3, 4), np.int64))
    halves = np.zeros((3, 4), np.float16)  # float16: add.at
    backend.scatter_add(halves, index, np.ones((3, 4), np.float16))
    mixed = np.zeros((3, 4), np.float64)  # float32 rows into a float64 target: add.at
    backend.scatter_add(mixed, index, np.ones((3, 4), np.float32))
    assert calls == []
    for target in (ints, halves, mixed):
        assert target[0].tolist() == [2] * 4 and target[2].tolist() == [1] * 4


def test_embedding_gradient_through_the_loop_matches_torch(native_switch, monkeypatch) -> None:
    calls = _counting_loop(monkeypatch)
    native.enable(True)
    rng = np.random.default_rng(12)
    weight = rng.standard_normal((1000, 128)).astype(np.float32)
    indices = rng.integers(0, 1000, (32, 50))
    upstream = rng.standard_normal((32, 50, 128)).astype(np.float32)
    grads = []
    for lib in (cr, torch):
        table = lib.nn.Embedding(1000, 128)
        with lib.no_grad():
            table.weight.copy_(lib.tensor(weight))
        table(lib.tensor(indices)).backward(lib.tensor(upstream))
        grads.append(np.asarray(table.weight.grad.detach().numpy()))
    assert calls == [(1600, 128)]  # 204,800 values: at least native.MAP_SIZE
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, atol=1e-6)
