"""F.pad in every mode against PyTorch (forward and backward) and finite differences."""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def compare(shape: tuple, pad: tuple, mode: str, value: Any, dtype: str = "float64") -> None:
    rng = rng_for(shape, pad, mode, value, dtype)
    x = rng.standard_normal(shape).astype(dtype)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = F.pad(xc, pad, mode=mode, value=value)
    expected = torch.nn.functional.pad(xt, pad, mode=mode, value=value)
    assert out.shape == tuple(expected.shape) and out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(expected))
    upstream = rng.standard_normal(out.shape).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(to_numpy(xc.grad), to_numpy(xt.grad), rtol=1e-6, atol=1e-6)


CONSTANT = {
    "last": ((2, 3), (1, 2), 0.0),
    "two-dims": ((2, 3, 4), (1, 0, 2, 3), -1.5),
    "all-dims": ((2, 3), (1, 1, 2, 0), None),
    "crop": ((3, 5), (-1, 2, 0, -2), 7.0),
    "crop-only": ((2, 4, 4), (-1, -1, -2, -1), None),
    "zero": ((2, 3), (0, 0), None),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(CONSTANT))
def test_constant_padding_matches_torch(case: str, dtype: str) -> None:
    shape, pad, value = CONSTANT[case]
    compare(shape, pad, "constant", value, dtype)


BORDERS = {
    "1d": ((2, 3, 5), (2, 3)),
    "1d-unbatched": ((3, 5), (1, 4)),
    "2d": ((2, 2, 4, 5), (1, 2, 3, 0)),
    "2d-unbatched": ((2, 4, 5), (2, 2, 1, 1)),
    "3d": ((1, 2, 3, 4, 3), (1, 1, 0, 2, 2, 1)),
}


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("case", list(BORDERS))
def test_border_modes_match_torch(case: str, mode: str) -> None:
    shape, pad = BORDERS[case]
    if mode == "reflect":  # reflect needs widths below the size: cap them
        pad = tuple(min(w, 2) for w in pad)
    compare(shape, pad, mode, None)


CROPS = {
    "1d-left": ((2, 3, 5), (-1, 2)),
    "1d-right": ((2, 3, 5), (2, -3)),
    "1d-both": ((3, 5), (-2, -1)),
    "2d": ((2, 2, 4, 5), (1, -2, -1, 2)),
    "3d": ((1, 2, 3, 4, 5), (-1, 1, 0, -2, 2, -1)),
}


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("case", list(CROPS))
def test_border_modes_crop_with_negative_widths_as_torch(case: str, mode: str) -> None:
    # Circular crops before wrapping, the other two after padding: PyTorch's order.
    shape, pad = CROPS[case]
    compare(shape, pad, mode, None)


def test_reflect_replicate_circular_by_example() -> None:
    x = cr.tensor([[[0.0, 1.0, 2.0, 3.0]]])
    expected = {
        "reflect": [2, 1, 0, 1, 2, 3, 2, 1],
        "replicate": [0, 0, 0, 1, 2, 3, 3, 3],
        "circular": [2, 3, 0, 1, 2, 3, 0, 1],
    }
    for mode, values in expected.items():
        out = to_numpy(F.pad(x, (2, 2), mode=mode))
        np.testing.assert_array_equal(out[0, 0], values, err_msg=mode)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_gradcheck(mode: str) -> None:
    x = cr.tensor(rng_for(mode).standard_normal((1, 2, 3, 3)), requires_grad=True)
    pad = (2, 1, -1, 2) if mode != "reflect" else (2, -1, 1, 2)
    value = 0.5 if mode == "constant" else None
    assert cr.gradcheck(lambda t: F.pad(t, pad, mode=mode, value=value), [x])


def test_errors_are_clear() -> None:
    x = cr.randn(2, 3, 4)
    with pytest.raises(ValueError, match="even length"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match="has 4 pairs but the input has only 3 dimensions"):
        F.pad(x, (1,) * 8)
    with pytest.raises(ValueError, match="mode must be one of"):
        F.pad(x, (1, 1), mode="mirror")
    with pytest.raises(ValueError, match=re.escape("reflect needs widths smaller than")):
        F.pad(x, (4, 0), mode="reflect")
    with pytest.raises(ValueError, match="circular needs widths no larger"):
        F.pad(x, (5, 0), mode="circular")
    with pytest.raises(ValueError, match="would have size 0, fewer than 1"):
        F.pad(x, (-4, 0), mode="replicate")
    with pytest.raises(ValueError, match="circular wraps what cropping leaves"):
        F.pad(x, (-3, 2), mode="circular")
    with pytest.raises(ValueError, match="negative size"):
        F.pad(x, (-3, -2))
    with pytest.raises(ValueError, match="1 to 3 trailing dimensions"):
        F.pad(cr.randn(4), (1, 1), mode="replicate")
