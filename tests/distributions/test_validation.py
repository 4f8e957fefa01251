"""Bad parameters and values: ValueError where PyTorch raises it (validation on by default),
with messages naming the distribution and what is wrong; validate_args=False and
set_default_validate_args turning the checks off."""

from __future__ import annotations

import pytest
import torch
import torch.distributions as td

import chainrule as cr
import chainrule.distributions as crd

BAD_PARAMETERS = [
    ("Normal", lambda lib, t: lib.Normal(t([0.0, 1.0]), t([1.0, 0.0])), "scale"),
    ("Normal", lambda lib, t: lib.Normal(t([float("nan")]), 1.0), "loc"),
    ("Categorical", lambda lib, t: lib.Categorical(probs=t([0.5, -0.1, 0.6])), "probs"),
    ("Categorical", lambda lib, t: lib.Categorical(logits=t([0.0, float("nan")])), "logits"),
    ("Bernoulli", lambda lib, t: lib.Bernoulli(probs=t([0.2, 1.5])), "probs"),
    ("Bernoulli", lambda lib, t: lib.Bernoulli(1.5), "probs"),
    ("Uniform", lambda lib, t: lib.Uniform(t([0.0, 2.0]), t([1.0, 2.0])), "low"),
    ("OneHotCategorical", lambda lib, t: lib.OneHotCategorical(probs=t([-1.0, 2.0])), "probs"),
]


@pytest.mark.parametrize(("family", "make", "parameter"), BAD_PARAMETERS)
def test_bad_parameters_raise_value_error_as_in_pytorch(family, make, parameter) -> None:
    with pytest.raises(ValueError, match="to satisfy the constraint"):
        make(td, torch.tensor)
    with pytest.raises(ValueError, match=f"Expected parameter {parameter} .*{family}"):
        make(crd, cr.tensor)


@pytest.mark.parametrize(("family", "make", "parameter"), BAD_PARAMETERS)
def test_validate_args_false_skips_the_parameter_checks(family, make, parameter) -> None:
    crd.Distribution.set_default_validate_args(False)
    try:
        make(crd, cr.tensor)
    finally:
        crd.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match=parameter):
        make(crd, cr.tensor)


def test_set_default_validate_args_takes_only_booleans() -> None:
    with pytest.raises(ValueError, match="True or False"):
        crd.Distribution.set_default_validate_args("yes")  # type: ignore[arg-type]


BAD_VALUES = [
    (lambda lib, t: lib.Categorical(logits=t([[0.0, 1.0, 2.0]])), lambda t: t([3]), "support"),
    (lambda lib, t: lib.Categorical(probs=t([0.5, 0.5])), lambda t: t([0.5]), "support"),
    (lambda lib, t: lib.Bernoulli(probs=t([0.3])), lambda t: t([0.5]), "support"),
    (lambda lib, t: lib.Uniform(t([0.0]), t([1.0])), lambda t: t([1.5]), "support"),
    (lambda lib, t: lib.Normal(t([0.0]), t([1.0])), lambda t: t([float("nan")]), "support"),
    (lambda lib, t: lib.Normal(t([0.0, 0.0]), 1.0), lambda t: t([0.0, 1.0, 2.0]), "broadcastable"),
    (
        lambda lib, t: lib.OneHotCategorical(logits=t([0.0, 1.0])),
        lambda t: t([0.0, 1.0, 0.0]),
        "right-most",
    ),
    (
        lambda lib, t: lib.OneHotCategorical(logits=t([0.0, 1.0])),
        lambda t: t([1.0, 1.0]),
        "support",
    ),
    (
        lambda lib, t: lib.Independent(lib.Normal(t([0.0, 0.0]), 1.0), 1),
        lambda t: t([float("nan"), 0.0]),
        "support",
    ),
]


@pytest.mark.parametrize(("make", "value", "problem"), BAD_VALUES)
def test_values_outside_the_support_raise_value_error_as_in_pytorch(make, value, problem) -> None:
    with pytest.raises(ValueError):
        make(td, torch.tensor).log_prob(value(torch.tensor))
    with pytest.raises(ValueError, match=problem):
        make(crd, cr.tensor).log_prob(value(cr.tensor))


def test_without_validation_a_value_outside_the_support_gives_minus_infinity() -> None:
    d = crd.Uniform(0.0, 1.0, validate_args=False)
    assert d.log_prob(cr.tensor(1.5)).item() == float("-inf")


def test_log_prob_takes_only_tensors_when_validating() -> None:
    with pytest.raises(ValueError, match="Normal: the value argument to log_prob must be a Tensor"):
        crd.Normal(0.0, 1.0).log_prob(0.5)  # type: ignore[arg-type]


def test_probs_and_logits_exactly_one() -> None:
    for family in (crd.Categorical, crd.Bernoulli):
        with pytest.raises(ValueError, match=f"{family.__name__}: either `probs` or `logits`"):
            family()
        with pytest.raises(ValueError, match="not both"):
            family(probs=cr.tensor([0.5, 0.5]), logits=cr.tensor([0.0, 0.0]))


def test_categorical_refuses_scalars_and_lists() -> None:
    with pytest.raises(ValueError, match="at least one-dimensional"):
        crd.Categorical(probs=cr.tensor(1.0))
    with pytest.raises(ValueError, match="Categorical: `logits` must be a chainrule tensor"):
        crd.Categorical(logits=[0.0, 1.0])  # type: ignore[arg-type]


def test_parameters_must_be_numbers_or_tensors_that_broadcast() -> None:
    with pytest.raises(ValueError, match="Normal: loc must be a number or a chainrule tensor"):
        crd.Normal([0.0, 1.0], 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Uniform: the shapes of low \(2,\), high \(3,\)"):
        crd.Uniform(cr.zeros(2), cr.ones(3))


def test_independent_cannot_reinterpret_more_dimensions_than_the_batch_has() -> None:
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims <= len"):
        td.Independent(td.Normal(torch.zeros(2), 1.0), 2)
    with pytest.raises(ValueError, match="Independent: expected reinterpreted_batch_ndims <= len"):
        crd.Independent(crd.Normal(cr.zeros(2), 1.0), 2)
    with pytest.raises(TypeError, match="Independent: base_distribution"):
        crd.Independent(cr.zeros(2), 0)  # type: ignore[arg-type]


def test_sample_shape_must_be_a_sequence() -> None:
    with pytest.raises(TypeError, match="Normal: sample_shape"):
        crd.Normal(0.0, 1.0).sample(5)


def test_validation_messages_name_the_constraint_and_show_the_values() -> None:
    with pytest.raises(ValueError) as caught:
        crd.Normal(cr.tensor([0.0, 1.0]), cr.tensor([1.0, -2.0]))
    message = str(caught.value)
    assert "GreaterThan(lower_bound=0.0)" in message
    assert "Normal(loc: chainrule.Size([2]), scale: chainrule.Size([2]))" in message
    assert "-2." in message
