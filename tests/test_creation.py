"""Making tensors: dtypes, shapes and values against PyTorch, seeding, and bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


@pytest.mark.parametrize(
    "data",
    [
        [1.0, 2.0],
        [[1, 2], [3, 4]],
        [True, False],
        3.5,
        7,
        [[1, 2.5]],
        np.array([1.0, 2.0]),  # float64 arrays keep their dtype
        np.array([1, 2], dtype=np.int32),
        np.array([1.0], dtype=np.float32),
    ],
)
def test_tensor_infers_dtype_as_torch(data: object) -> None:
    ours, theirs = cr.tensor(data), torch.tensor(data)
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert ours.tolist() == theirs.tolist()


def test_tensor_copies_but_from_numpy_shares() -> None:
    array = np.zeros(3, dtype=np.float32)
    copied, shared = cr.tensor(array), cr.from_numpy(array)
    array[0] = 1.0
    assert copied.tolist()[0] == 0.0 and shared.tolist()[0] == 1.0
    assert cr.as_tensor(array).array is array


def test_tensor_rejects_bad_data() -> None:
    with pytest.raises(ValueError, match="rectangular"):
        cr.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="unsupported dtype"):
        cr.tensor(["a", "b"])
    with pytest.raises(TypeError, match="unsupported dtype complex128"):
        cr.tensor(np.array([1j]))
    with pytest.raises(TypeError, match="from_numpy"):
        cr.from_numpy([1, 2])


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [
        ("zeros", (2, 3), {}),
        ("ones", ((2, 3),), {}),
        ("ones", ([4],), {"dtype": "float64"}),
        ("zeros", (3,), {"dtype": "int64"}),
        ("full", ((2, 2), 1.5), {}),
        ("full", ((2,), 3), {}),
        ("full", ((2,), True), {}),
        ("arange", (5,), {}),
        ("arange", (1, 4), {}),
        ("arange", (0.0, 1.0, 0.25), {}),
        ("arange", (5, 0, -2), {}),
        ("arange", (0, 1, 0.1), {}),
        ("linspace", (0.0, 1.0, 5), {}),
        ("eye", (3,), {}),
        ("eye", (2, 4), {}),
    ],
)
def test_creation_functions_match_torch(name: str, args: tuple, kwargs: dict) -> None:
    torch_kwargs = {k: getattr(torch, v) for k, v in kwargs.items()}
    ours = getattr(cr, name)(*args, **kwargs)
    theirs = getattr(torch, name)(*args, **torch_kwargs)
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_like_functions_follow_the_input() -> None:
    x = cr.ones(2, 3, dtype=cr.float64)
    assert cr.zeros_like(x).dtype == cr.float64 and cr.zeros_like(x).shape == (2, 3)
    assert cr.ones_like(x, dtype=cr.int64).tolist() == [[1, 1, 1], [1, 1, 1]]
    assert cr.full_like(x, 7).tolist()[0] == [7.0, 7.0, 7.0]
    assert cr.randn_like(x).dtype == cr.float64 and cr.rand_like(x).shape == (2, 3)


def test_random_tensors_are_float32_and_reproducible_from_a_seed() -> None:
    cr.manual_seed(42)
    first = (cr.rand(3, 4), cr.randn(5), cr.randint(0, 10, (6,)), cr.randperm(5))
    cr.manual_seed(42)
    second = (cr.rand(3, 4), cr.randn(5), cr.randint(0, 10, (6,)), cr.randperm(5))
    for a, b in zip(first, second):
        assert a.tolist() == b.tolist()
    assert first[0].dtype == cr.float32 and first[1].dtype == cr.float32
    assert first[2].dtype == cr.int64 and sorted(first[3].tolist()) == [0, 1, 2, 3, 4]
    assert first[0].numpy().min() >= 0.0 and first[0].numpy().max() < 1.0
    cr.manual_seed(43)
    assert cr.rand(3, 4).tolist() != first[0].tolist()


def test_random_distributions_have_the_right_moments() -> None:
    normal = cr.randn(100_000).numpy()
    uniform = cr.rand(100_000).numpy()
    ints = cr.randint(3, 7, (100_000,)).numpy()
    assert abs(normal.mean()) < 0.02 and abs(normal.std() - 1) < 0.02
    assert abs(uniform.mean() - 0.5) < 0.01
    assert ints.min() == 3 and ints.max() == 6


def test_default_dtype_can_be_switched_to_float64() -> None:
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.tensor([1.5]).dtype == cr.float64 and cr.randn(2).dtype == cr.float64
        assert (cr.tensor([1, 2]) / 2).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)
    assert cr.get_default_dtype() == cr.float32
    with pytest.raises(TypeError, match="floating"):
        cr.set_default_dtype(cr.int64)


def test_bad_creation_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="arange: end must be finite"):
        cr.arange(0, float("inf"))
    with pytest.raises(ValueError, match="arange: step must be non-zero"):
        cr.arange(0, 5, 0)
    with pytest.raises(ValueError, match="cannot be walked"):
        cr.arange(0, 5, -1)
    with pytest.raises(ValueError, match="linspace: start must be finite"):
        cr.linspace(float("nan"), 1, 3)
    with pytest.raises(ValueError, match=r"zeros: sizes must be non-negative, got \(2, -1\)"):
        cr.zeros(2, -1)
    with pytest.raises(TypeError, match="ones: sizes must be integers"):
        cr.ones(2.5)
    with pytest.raises(ValueError, match="randint: high"):
        cr.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="rand: dtype must be floating"):
        cr.rand(2, dtype=cr.int64)
    with pytest.raises(TypeError, match="manual_seed"):
        cr.manual_seed(1.5)
