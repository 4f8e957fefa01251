"""Anomaly detection: the first NaN or infinity, forward or backward, named with its source line."""

from __future__ import annotations

import gc
import sys
import warnings
import weakref

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.inspect.anomaly import (
    AnomalyError,
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)


@pytest.fixture(autouse=True)
def _quiet_numpy() -> None:
    # log(0) and x/0 warn in NumPy; the tests are about what chainrule says instead.
    with np.errstate(divide="ignore", invalid="ignore"):
        yield
    assert not is_anomaly_enabled(), "a test left anomaly detection on"


def here() -> int:
    """The line number of the caller's next line."""
    return sys._getframe(1).f_lineno + 1


def test_forward_names_the_log_of_zero_with_this_files_line() -> None:
    x = cr.tensor([[1.0, 0.0], [2.0, 3.0]], requires_grad=True)
    with detect_anomaly(), pytest.raises(AnomalyError) as error:
        line = here()
        x.log()
    message = str(error.value)
    assert message.startswith("log produced -inf")
    assert "shape (2, 2) float32" in message
    assert "its inputs were finite" in message
    assert f"test_anomaly.py:{line}: `x.log()`" in message
    assert isinstance(error.value, RuntimeError)


def test_forward_inside_a_module_names_the_line_in_its_forward() -> None:
    class LogLayer(nn.Module):
        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return (x - 1).log()  # the anomaly: log of 0 and of negatives

    model = nn.Sequential(nn.Identity(), LogLayer())
    with detect_anomaly(), pytest.raises(AnomalyError) as error:
        model(cr.tensor([1.0, 0.5]))
    message = str(error.value)
    assert "log produced NaN and -inf" in message
    assert "`return (x - 1).log()  # the anomaly" in message
    assert "in test_forward_inside_a_module_names_the_line_in_its_forward" in message


def test_forward_says_when_the_anomaly_came_in_with_an_input() -> None:
    data = cr.tensor([1.0, float("nan")])
    with detect_anomaly(), pytest.raises(AnomalyError, match="mul produced NaN") as error:
        data * 2
    assert "an input already held NaN or inf" in str(error.value)


def test_backward_only_nan_is_named_where_torch_names_it() -> None:
    # sqrt(0) = 0 is finite, but its backward is 0 / (2 sqrt(0)) = NaN where the upstream
    # gradient is 0: the forward is clean and the backward is not.
    def run(m, detect):
        x = m.tensor([0.0, 4.0], requires_grad=True)
        with detect():
            y = (x.sqrt() * m.tensor([0.0, 2.0])).sum()
            line = here()
            y.backward()
        return line

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match=r"SqrtBackward0.*nan"):
            run(torch, torch.autograd.detect_anomaly)
    with pytest.raises(AnomalyError) as error:
        run(cr, detect_anomaly)
    message = str(error.value)
    assert message.startswith("backward of sqrt returned NaN in the gradient for its input 0")
    assert "shape (2,) float32" in message
    assert "the incoming gradient ∂C/∂out of shape (2,) was finite" in message
    assert "`y = (x.sqrt() * m.tensor([0.0, 2.0])).sum()`" in message


def test_backward_infinite_gradient_is_caught_too() -> None:
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with detect_anomaly():
        loss = x.sqrt().sum()
        with pytest.raises(AnomalyError, match="backward of sqrt returned inf"):
            loss.backward()
    assert x.grad is None  # nothing was accumulated past the anomaly


def test_nodes_created_under_detection_are_checked_after_it_ends() -> None:
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with detect_anomaly():
        loss = x.sqrt().sum()
    with pytest.raises(AnomalyError, match="sqrt"):
        loss.backward()


def test_finite_graphs_train_unchanged_under_detection() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    x, y = cr.randn(8, 2), cr.randn(8, 1)
    reference = [p.detach().numpy().copy() for p in model.parameters()]
    nn.functional.mse_loss(model(x), y).backward()
    expected = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    with detect_anomaly():
        nn.functional.mse_loss(model(x), y).backward()
    for param, before, grad in zip(model.parameters(), reference, expected):
        np.testing.assert_array_equal(param.detach().numpy(), before)
        np.testing.assert_allclose(param.grad.numpy(), grad, rtol=1e-6)


def test_disabled_detection_lets_nan_through_and_records_nothing() -> None:
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    y = x.log()
    assert np.isneginf(y.detach().numpy()[0])
    assert not hasattr(y.grad_fn, "created_at")
    assert "backward" not in vars(y.grad_fn)  # the class's own backward, unwrapped


def test_check_nan_false_records_the_site_without_checking() -> None:
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with detect_anomaly(check_nan=False):
        assert is_anomaly_enabled() and not is_anomaly_check_nan_enabled()
        y = x.log()
    assert y.grad_fn.created_at[0][1] > 0
    y.sum().backward()  # -inf forward and inf backward pass unchecked
    assert np.isinf(x.grad.numpy()[0])


def test_nested_and_disabled_contexts_restore_the_previous_state() -> None:
    assert not is_anomaly_enabled()
    with detect_anomaly():
        assert is_anomaly_check_nan_enabled()
        with set_detect_anomaly(False):
            assert not is_anomaly_enabled()
            cr.tensor([0.0]).log()  # no error while off
        assert is_anomaly_enabled()
        with detect_anomaly(check_nan=False):
            assert not is_anomaly_check_nan_enabled()
        assert is_anomaly_check_nan_enabled()
    assert not is_anomaly_enabled()
    with pytest.raises(AnomalyError), detect_anomaly():
        cr.tensor([0.0]).log()
    assert not is_anomaly_enabled()  # restored after the error too
    set_detect_anomaly(True)
    try:
        assert is_anomaly_enabled()
    finally:
        set_detect_anomaly(False)
    assert not is_anomaly_enabled()


def test_detect_anomaly_as_a_decorator() -> None:
    @detect_anomaly()
    def compute(x: cr.Tensor) -> cr.Tensor:
        return x / 0

    with pytest.raises(AnomalyError, match="div produced inf"):
        compute(cr.tensor([1.0]))
    assert not is_anomaly_enabled()


def test_other_backward_errors_get_the_creation_site_as_a_note() -> None:
    class Broken(cr.Function):
        def forward(self, x):
            return x * 1

        def backward(self, grad):
            raise ValueError("broken backward")

    x = cr.tensor([1.0], requires_grad=True)
    with detect_anomaly():
        line = here()
        y = Broken.apply(x)
    with pytest.raises(ValueError, match="broken backward") as error:
        y.sum().backward()
    notes = "\n".join(getattr(error.value, "__notes__", []))
    if sys.version_info >= (3, 11):
        assert f"line {line}" in notes and "Broken.apply(x)" in notes


def test_pytorch_spelling_under_chainrule_autograd() -> None:
    assert cr.autograd.detect_anomaly is detect_anomaly
    assert cr.autograd.set_detect_anomaly is set_detect_anomaly
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        cr.autograd.not_there  # noqa: B018


def test_watched_nodes_are_freed_without_the_garbage_collector() -> None:
    gc.disable()
    try:
        with detect_anomaly():
            y = cr.tensor([1.0, 2.0], requires_grad=True).exp()
        node = weakref.ref(y.grad_fn)
        del y
        assert node() is None
    finally:
        gc.enable()
