"""The Tensor object: attributes, conversions, printing, in-place updates, PyTorch parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def test_attributes_match_torch() -> None:
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    t, tt = cr.tensor(data), torch.tensor(data)
    assert t.shape == tuple(tt.shape) and t.ndim == tt.ndim == t.dim()
    assert t.size() == tuple(tt.size()) and t.size(1) == tt.size(1) == 3
    assert t.numel() == tt.numel() == 6 and len(t) == len(tt) == 2
    assert t.dtype == cr.float32 and t.dtype == np.float32
    assert t.is_leaf and not t.requires_grad and t.grad is None and t.grad_fn is None
    assert t.tolist() == tt.tolist()
    assert t.device == "cpu"


def test_conversions() -> None:
    t = cr.tensor([[1.5, 2.5]])
    assert isinstance(t.array, np.ndarray)
    np.testing.assert_array_equal(np.asarray(t), [[1.5, 2.5]])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert t[0, 1].item() == 2.5 and float(t[0, 0]) == 1.5 and int(t[0, 1]) == 2
    assert f"{t.sum():.2f}" == "4.00"
    with pytest.raises(ValueError, match=r"one-element.*\(1, 2\)"):
        t.item()


def test_numpy_of_a_tensor_that_requires_grad_needs_detach_as_in_torch() -> None:
    t = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 1.0]


def test_detach_shares_memory_and_leaves_the_graph() -> None:
    x = cr.randn(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.array, y.array)


def test_requires_grad_flag() -> None:
    x = cr.zeros(2)
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


def test_grad_assignment_is_checked() -> None:
    x = cr.zeros(2, requires_grad=True)
    x.grad = cr.ones(2)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        x.grad = cr.ones(3)
    with pytest.raises(TypeError, match="Tensor or None"):
        x.grad = np.ones(2)


def test_repr_shows_values_dtype_and_graph() -> None:
    assert repr(cr.tensor([1.0, 2.5])) == "tensor([1.0, 2.5])"
    assert "dtype=chainrule.float64" in repr(cr.tensor([1.0], dtype=cr.float64))
    assert "requires_grad=True" in repr(cr.ones(1, requires_grad=True))
    assert "grad_fn=<MulBackward>" in repr(cr.ones(1, requires_grad=True) * 2)
    assert repr(cr.tensor([1, 2])) == "tensor([1, 2])"


def test_bool_of_a_multi_element_tensor_is_ambiguous() -> None:
    assert bool(cr.tensor([1.0]))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(cr.tensor([1.0, 0.0]))


def test_iteration_and_len() -> None:
    rows = list(cr.tensor([[1, 2], [3, 4]]))
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4]]
    with pytest.raises(TypeError, match="0-d"):
        len(cr.tensor(1.0))


def test_mixing_with_numpy_arrays_gives_tensors_on_both_sides() -> None:
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([10.0, 20.0], dtype=np.float32)
    left, right = a + t, t * a
    assert isinstance(left, cr.Tensor) and isinstance(right, cr.Tensor)
    (left + right).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [11.0, 21.0])


def test_setitem_under_no_grad_and_on_plain_tensors() -> None:
    t = cr.zeros(3)
    t[1] = 5.0
    t[cr.tensor([0, 2])] = cr.tensor([1.0, 2.0])
    assert t.tolist() == [1.0, 5.0, 2.0]
    p = cr.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        p[0] = 1.0
    with cr.no_grad():
        p[0] = 1.0
    assert p.detach().tolist() == [1.0, 0.0]


def test_in_place_helpers() -> None:
    t = cr.ones(2)
    t.add_(cr.ones(2), alpha=2).mul_(2).sub_(1).div_(5)
    np.testing.assert_allclose(t.numpy(), [1.0, 1.0])
    t.copy_(cr.tensor([3.0, 4.0]))
    assert t.tolist() == [3.0, 4.0]
    assert t.fill_(7).tolist() == [7.0, 7.0] and t.zero_().tolist() == [0.0, 0.0]


def test_dtype_conversions_keep_the_graph() -> None:
    x = cr.tensor([1.5, 2.5], requires_grad=True)
    y = x.double()
    assert y.dtype == cr.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == cr.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0])
    assert x.long().dtype == cr.int64 and not x.long().requires_grad
    assert x.to("cpu") is x and x.to(cr.float64).dtype == cr.float64
    assert x.to(dtype=cr.float16).dtype == cr.float16


def test_transpose_properties() -> None:
    x = cr.arange(6).reshape(2, 3)
    assert x.T.shape == (3, 2) and x.mT.shape == (3, 2)
    assert x.t().tolist() == torch.arange(6).reshape(2, 3).t().tolist()


def test_max_with_dim_returns_values_and_indices() -> None:
    x = cr.tensor([[1.0, 5.0, 3.0], [7.0, 2.0, 9.0]])
    values, indices = x.max(dim=1)
    assert values.tolist() == [5.0, 9.0] and indices.tolist() == [1, 2]
    result = x.min(0, keepdim=True)
    assert result.values.tolist() == [[1.0, 2.0, 3.0]] and result.indices.tolist() == [[0, 1, 0]]
    assert cr.max(x, cr.tensor(4.0)).tolist() == [[4.0, 5.0, 4.0], [7.0, 4.0, 9.0]]


def test_shape_errors_name_the_operation_and_both_shapes() -> None:
    a, b = cr.ones(2, 3), cr.ones(4, 5)
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(4, 5\)"):
        a + b
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4,\)"):
        a.reshape(4)


def test_out_of_range_dim_is_reported() -> None:
    with pytest.raises(ValueError, match=r"sum: dim 2 is out of range.*2 dimensions"):
        cr.ones(2, 3).sum(dim=2)
    with pytest.raises(IndexError, match=r"getitem.*out of bounds.*\(2, 3\)"):
        cr.ones(2, 3)[5]
