"""Channel-wise dropout (Dropout1d/2d/3d, F.dropout1d/2d/3d) and alpha dropout (AlphaDropout,
FeatureAlphaDropout): PyTorch's shape rules, warnings and errors, the structure of the masks,
their gradients (finite differences with a fixed mask) and their statistics against PyTorch's."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention


def to_numpy(t: Any) -> np.ndarray:
    return t.detach().numpy()


# (function, input shape, index of the channel axis in the input, whether PyTorch warns)
SHAPES = {
    "1d_batched": ("dropout1d", (6, 5, 7), 1, False),
    "1d_unbatched": ("dropout1d", (5, 7), 0, False),
    "2d_batched": ("dropout2d", (4, 5, 3, 3), 1, False),
    "2d_3d_is_read_as_NCL": ("dropout2d", (4, 5, 6), 1, True),
    "3d_batched": ("dropout3d", (2, 5, 2, 3, 2), 1, False),
    "3d_unbatched": ("dropout3d", (5, 2, 3, 2), 0, False),
    "3d_3d_is_read_as_unbatched": ("dropout3d", (5, 4, 3), 0, True),
}


def caught(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, [str(w.message) for w in seen]


@pytest.mark.parametrize("name", list(SHAPES))
def test_whole_channels_are_dropped_as_in_torch(name: str) -> None:
    """Every channel (the slice at one index of the axes up to the channel axis) is either all
    zeros or all x/(1 − p), in both libraries; the gradient is that mask; warnings agree."""
    function, shape, channel_axis, warns = SHAPES[name]
    p = 0.4
    x = np.random.default_rng(1).uniform(1, 2, shape)  # no zeros: a zero output means dropped
    xc = cr.tensor(x, requires_grad=True)
    out, messages = caught(getattr(F, function), xc, p)
    expected, torch_messages = caught(getattr(torch.nn.functional, function), torch.tensor(x), p)
    assert bool(messages) == bool(torch_messages) == warns
    for result in (to_numpy(out), to_numpy(expected)):
        assert result.shape == shape
        ratio = result / x
        assert np.all(np.isclose(ratio, 0) | np.isclose(ratio, 1 / (1 - p)))
        per_channel = ratio.reshape(*shape[: channel_axis + 1], -1)
        np.testing.assert_allclose(per_channel.min(axis=-1), per_channel.max(axis=-1), rtol=1e-12)
    upstream = np.random.default_rng(2).standard_normal(shape)
    out.backward(cr.tensor(upstream))
    np.testing.assert_allclose(to_numpy(xc.grad), upstream * to_numpy(out) / x, rtol=1e-12)


def test_the_share_of_dropped_channels_is_p() -> None:
    x = cr.ones(400, 50, 2, 2)
    dropped = (to_numpy(F.dropout2d(x, 0.3))[:, :, 0, 0] == 0).mean()
    # 20,000 Bernoulli(0.3) draws: the standard deviation of the share is 0.0032.
    assert abs(dropped - 0.3) < 0.015
    reference = torch.nn.functional.dropout2d(torch.ones(400, 50, 2, 2), 0.3)[:, :, 0, 0] == 0
    assert abs(dropped - reference.double().mean().item()) < 0.03


@pytest.mark.parametrize("function", ["dropout1d", "dropout2d", "dropout3d"])
def test_eval_and_p_zero_are_the_identity_and_p_one_drops_everything(function: str) -> None:
    shape = {"dropout1d": (2, 3, 4), "dropout2d": (2, 3, 4, 4), "dropout3d": (2, 3, 2, 2, 2)}
    x = cr.randn(*shape[function], requires_grad=True)
    fn = getattr(F, function)
    assert fn(x, 0.5, training=False) is x
    assert fn(x, 0.0) is x
    out = fn(x, 1.0)
    expected = getattr(torch.nn.functional, function)(torch.tensor(to_numpy(x)), 1.0)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(expected))
    out.sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), np.zeros(x.shape))


@pytest.mark.parametrize("function", ["dropout1d", "dropout2d", "dropout3d"])
def test_gradcheck_with_a_fixed_mask(function: str) -> None:
    shape = {"dropout1d": (3, 4, 2), "dropout2d": (2, 4, 2, 2), "dropout3d": (4, 2, 1, 2)}

    def fn(x: cr.Tensor) -> cr.Tensor:
        cr.manual_seed(5)  # the same mask at every evaluation
        return getattr(F, function)(x, 0.5) * x

    x = cr.tensor(np.random.default_rng(3).standard_normal(shape[function]), requires_grad=True)
    assert cr.gradcheck(fn, [x]) is True


@pytest.mark.parametrize("kind", ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"])
def test_layers_follow_the_mode_and_print_as_torch(kind: str) -> None:
    layer, reference = getattr(cr.nn, kind)(0.25), getattr(torch.nn, kind)(0.25)
    assert repr(layer) == repr(reference)
    assert repr(getattr(cr.nn, kind)()) == repr(getattr(torch.nn, kind)())
    shape = {"Dropout1d": (4, 3, 8), "Dropout2d": (4, 3, 2, 2)}.get(kind, (4, 3, 2, 2, 2))
    x = cr.rand(*shape) + 1
    assert not np.array_equal(to_numpy(layer(x)), to_numpy(x))
    layer.eval()
    assert layer(x) is x
    assert list(layer.state_dict()) == [] and list(layer.parameters()) == []


@pytest.mark.filterwarnings("ignore:dropout2d. a 3-D input is read")  # Dropout2d on (N, C, L)
def test_the_channel_layers_call_their_functions() -> None:
    x = cr.rand(3, 8, 5) + 1
    for kind, unbatched in (("Dropout1d", (8, 5)), ("Dropout2d", (2, 8, 3, 3))):
        cr.manual_seed(4)
        out = getattr(cr.nn, kind)(0.5)(x)
        cr.manual_seed(4)
        expected = getattr(F, kind.lower())(x, 0.5)
        np.testing.assert_array_equal(to_numpy(out), to_numpy(expected))
        assert getattr(cr.nn, kind)(0.5)(cr.rand(*unbatched)).shape == unbatched
    assert cr.nn.Dropout3d(0.5)(cr.rand(8, 2, 3, 3)).shape == (8, 2, 3, 3)


def test_errors_and_warnings_follow_torch() -> None:
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        torch.nn.functional.dropout1d(torch.ones(2, 2, 2, 2))
    with pytest.raises(ValueError, match=r"dropout1d: expected a 2-D \(C, L\) or 3-D"):
        F.dropout1d(cr.ones(2, 2, 2, 2))
    with pytest.warns(UserWarning, match="dropout2d: expected a 3-D or 4-D input, got 2-D"):
        assert F.dropout2d(cr.ones(2, 2), 0.5).shape == (2, 2)
    with pytest.warns(UserWarning, match=r"read as \(N, C, L\)"):
        cr.nn.Dropout2d()(cr.ones(2, 3, 4))
    for bad in (-0.1, 1.5, "half"):
        with pytest.raises(ValueError, match=r"probability p must be a number in \[0, 1\]"):
            cr.nn.Dropout2d(bad)
        with pytest.raises(ValueError, match=r"dropout3d: probability p"):
            F.dropout3d(cr.ones(1, 2, 2, 2, 2), bad)
    with pytest.raises(TypeError, match=r"dropout2d: argument 'input' \(position 1\) must be"):
        F.dropout2d(np.ones((2, 2, 2, 2)))
    with pytest.raises(TypeError, match=r"alpha_dropout: argument 'input'.*numpy\.ndarray"):
        F.alpha_dropout(np.ones(3), training=True)
    # Integers: PyTorch can only drop them out of training, where dropout is the identity.
    ints = cr.ones(2, 2, 2, 2, dtype=cr.int64)
    assert F.dropout2d(ints, training=False) is ints
    with pytest.raises(RuntimeError, match="dropout2d: expected a floating-point input"):
        F.dropout2d(ints)


# ---- alpha dropout ------------------------------------------------------------------------------

ALPHA = 1.7580993408473766


def alpha_constants(p: float) -> tuple[float, float]:
    a = 1 / math.sqrt((ALPHA * ALPHA * p + 1) * (1 - p))
    return a, a * ALPHA * p


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_alpha_dropout_values_and_gradient(p: float) -> None:
    """Kept elements become a·x + b, dropped ones a·(−α') + b; the gradient is a or 0."""
    a, b = alpha_constants(p)
    x = cr.tensor(np.random.default_rng(6).standard_normal((50, 40)), requires_grad=True)
    out = F.alpha_dropout(x, p, training=True)
    out.sum().backward()
    grad = to_numpy(x.grad)
    kept = grad != 0
    np.testing.assert_allclose(grad[kept], a)
    np.testing.assert_allclose(to_numpy(out)[kept], a * to_numpy(x)[kept] + b, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(out)[~kept], -a * ALPHA + b, rtol=1e-12)
    assert abs((~kept).mean() - p) < 0.04


@pytest.mark.parametrize("function", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_keeps_mean_and_variance_like_torch(function: str) -> None:
    x = np.random.default_rng(7).standard_normal((200, 100, 4))
    out = to_numpy(getattr(F, function)(cr.tensor(x), 0.3, training=True))
    expected = getattr(torch.nn.functional, function)(torch.tensor(x), 0.3, training=True)
    for result in (out, expected.numpy()):
        assert abs(result.mean()) < 0.05 and abs(result.var() - 1) < 0.05
    assert abs(out.mean() - expected.numpy().mean()) < 0.05


def test_feature_alpha_dropout_drops_whole_channels_and_gradchecks() -> None:
    x = cr.tensor(np.random.default_rng(8).standard_normal((5, 6, 3)), requires_grad=True)
    out = F.feature_alpha_dropout(x, 0.5, training=True)
    out.sum().backward()
    grad = to_numpy(x.grad)
    np.testing.assert_array_equal(grad.min(axis=2), grad.max(axis=2))

    def fn(x: cr.Tensor) -> cr.Tensor:
        cr.manual_seed(9)
        return F.feature_alpha_dropout(x, 0.4, training=True) ** 2

    assert cr.gradcheck(fn, [x]) is True
    assert cr.gradcheck(lambda x: (cr.manual_seed(2), F.alpha_dropout(x, 0.3, True))[1], [x])


def test_alpha_dropout_identity_and_extremes_match_torch() -> None:
    x = cr.randn(3, 4, requires_grad=True)
    assert F.alpha_dropout(x, 0.5) is x  # training defaults to False, as in PyTorch
    assert cr.nn.AlphaDropout(0.5).eval()(x) is x
    assert F.alpha_dropout(x, 0.0, training=True) is x
    out = F.alpha_dropout(x, 1.0, training=True)
    expected = torch.nn.functional.alpha_dropout(torch.tensor(to_numpy(x)), 1.0, training=True)
    np.testing.assert_array_equal(to_numpy(out), expected.numpy())
    assert repr(cr.nn.FeatureAlphaDropout()) == repr(torch.nn.FeatureAlphaDropout())
