"""``Distribution``: what every probability distribution offers, as in PyTorch's
``torch.distributions.Distribution``.

Shapes: a distribution holds a batch of independent distributions (``batch_shape``), each over
events of ``event_shape``. ``sample(sample_shape)`` and ``rsample`` give tensors of shape
``sample_shape + batch_shape + event_shape``; ``log_prob(value)`` takes such a value (or one
that broadcasts to it) and gives one number per event (``sample_shape + batch_shape``).

Validation, on by default as in PyTorch: the parameters are checked against
``arg_constraints`` when the distribution is made, and a value given to ``log_prob`` against
the ``support``; either failing raises ValueError. ``validate_args=False`` (per distribution)
or ``Distribution.set_default_validate_args(False)`` turn it off.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

from chainrule.autograd.grad_mode import no_grad
from chainrule.distributions import constraints
from chainrule.distributions.parameters import lazy_property
from chainrule.ops.elementwise import exp
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["Distribution"]


class Distribution:
    """The base class of distributions: shapes, validation, and the methods each family
    defines (``rsample``, ``log_prob``, ``entropy``, ``mean``, ``variance``, ...).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Normal
    >>> d = Normal(cr.zeros(3), 1.0)
    >>> d.batch_shape, d.event_shape
    (chainrule.Size([3]), chainrule.Size([]))
    >>> tuple(d.sample((5,)).shape)
    (5, 3)

    ```
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn validation on or off for every distribution made afterwards without a
        ``validate_args`` of its own (PyTorch's default: on).

        ```pycon
        >>> from chainrule.distributions import Distribution, Normal
        >>> Distribution.set_default_validate_args(False)
        >>> Normal(0.0, -1.0).scale  # no error: not checked
        tensor(-1.)
        >>> Distribution.set_default_validate_args(True)

        ```
        """
        if value not in (True, False):
            raise ValueError(
                f"Distribution.set_default_validate_args: expected True or False, got {value!r}"
            )
        Distribution._validate_args = bool(value)

    def __init__(
        self,
        batch_shape: Any = (),
        event_shape: Any = (),
        validate_args: bool | None = None,
    ) -> None:
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()

    def _check_parameters(self) -> None:
        try:
            arg_constraints = self.arg_constraints
        except NotImplementedError:
            warnings.warn(
                f"{type(self).__name__} does not define arg_constraints: set "
                "arg_constraints = {} or pass validate_args=False to turn off validation",
                stacklevel=3,
            )
            return
        for name, constraint in arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            # A parameter derived from the one given (logits from probs) is not checked.
            if name not in self.__dict__ and isinstance(
                getattr(type(self), name, None), lazy_property
            ):
                continue
            value = getattr(self, name)
            if not bool(constraint.check(value).all()):
                raise ValueError(
                    f"Expected parameter {name} ({type(value).__name__} of shape "
                    f"{tuple(value.shape)}) of distribution {self!r} to satisfy the constraint "
                    f"{constraint!r}, but found invalid values:\n{value}"
                )

    # ---- shapes ----------------------------------------------------------------------------------

    @property
    def batch_shape(self) -> Size:
        """The shape over which the parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        """The shape of one sample of one distribution of the batch."""
        return self._event_shape

    def _extended_shape(self, sample_shape: Any = ()) -> Size:
        if isinstance(sample_shape, numbers.Integral) or not isinstance(
            sample_shape, (tuple, list)
        ):
            raise TypeError(
                f"{type(self).__name__}: sample_shape must be a tuple, list or Size of ints, got "
                f"{sample_shape!r}"
            )
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def expand(self, batch_shape: Any, _instance: Any = None) -> Distribution:
        """A distribution of the same family with its parameters expanded to ``batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement expand()")

    def _expanded(
        self, cls: type, batch_shape: Any, _instance: Any, names: tuple, suffix: tuple = ()
    ) -> Any:
        """What every family's ``expand`` does: a new ``cls`` whose attributes ``names`` that
        this one holds (tensors, or distributions it is built on) are expanded to batch_shape
        followed by ``suffix`` (a parameter's event axes), the event shape and validation kept,
        and the arguments not checked again."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = Size(batch_shape)
        for name in names:
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand((*batch_shape, *suffix)))
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _get_checked_instance(self, cls: type, _instance: Any = None) -> Any:
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(
                f"Subclass {type(self).__name__} of {cls.__name__} that defines a custom "
                "__init__ method must also define a custom .expand() method."
            )
        return type(self).__new__(type(self)) if _instance is None else _instance

    # ---- what each family defines ----------------------------------------------------------------

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        """Parameter name → the constraint it must satisfy (each family defines it)."""
        raise NotImplementedError(f"{type(self).__name__} does not define arg_constraints")

    @property
    def support(self) -> Any:
        """The constraint that values of the distribution satisfy (each family defines it)."""
        raise NotImplementedError(f"{type(self).__name__} does not define support")

    @property
    def mean(self) -> Tensor:
        """The mean, of shape ``batch_shape + event_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self) -> Tensor:
        """The most likely value, of shape ``batch_shape + event_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        """The variance, of shape ``batch_shape + event_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self) -> Tensor:
        """The standard deviation: the square root of the variance."""
        return self.variance.sqrt()

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """A sample of shape ``sample_shape + batch_shape + event_shape``, outside the graph:
        no gradient flows back to the parameters (use ``rsample`` for one that does)."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """A reparameterised sample (a differentiable function of the parameters and of
        parameter-free noise), of shape ``sample_shape + batch_shape + event_shape``."""
        raise NotImplementedError(
            f"{type(self).__name__} has no reparameterised sample (has_rsample is False): use "
            "sample(), which gives no gradient"
        )

    def sample_n(self, n: int) -> Tensor:
        """``n`` samples: ``sample((n,))`` (PyTorch's deprecated spelling)."""
        warnings.warn("sample_n will be deprecated. Use .sample((n,)) instead", stacklevel=2)
        return self.sample((n,))

    def log_prob(self, value: Tensor) -> Tensor:
        """The log of the probability density (or mass) at ``value``: shape
        ``sample_shape + batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative distribution function at ``value``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value: Tensor) -> Tensor:
        """The inverse of the cumulative distribution function at ``value``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """Every value of a discrete distribution, along a new first dimension."""
        raise NotImplementedError(f"{type(self).__name__} does not implement enumerate_support")

    def entropy(self) -> Tensor:
        """The entropy, of shape ``batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def perplexity(self) -> Tensor:
        """exp(entropy), of shape ``batch_shape``."""
        return exp(self.entropy())

    # ---- validation of values --------------------------------------------------------------------

    def _validate_sample(self, value: Any) -> None:
        """Refuse (ValueError) a value that is not a tensor, whose shape does not fit the
        distribution's, or that lies outside the support."""
        name = type(self).__name__
        if not isinstance(value, Tensor):
            raise ValueError(
                f"{name}: the value argument to log_prob must be a Tensor, got "
                f"{type(value).__name__}"
            )
        shape, event = tuple(value.shape), tuple(self._event_shape)
        if len(shape) < len(event) or shape[len(shape) - len(event) :] != event:
            raise ValueError(
                f"{name}: the right-most size of value must match event_shape: "
                f"{Size(shape)} vs {self._event_shape}."
            )
        expected = tuple(self._batch_shape) + event
        for i, j in zip(reversed(shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(
                    f"{name}: value is not broadcastable with batch_shape+event_shape: "
                    f"{Size(shape)} vs {Size(expected)}."
                )
        support = self.support
        if not bool(support.check(value).all()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {shape}) to be "
                f"within the support ({support!r}) of the distribution {self!r}, but found "
                f"invalid values:\n{value}"
            )

    def __repr__(self) -> str:
        try:
            names = [name for name in self.arg_constraints if name in self.__dict__]
        except NotImplementedError:
            names = []
        parts = []
        for name in names:
            value = self.__dict__[name]
            if value.numel() != 1:
                parts.append(f"{name}: {value.size()!r}")
            elif value.dim() == 0:
                parts.append(f"{name}: {value.item()}")
            else:
                parts.append(f"{name}: {value}")
        return f"{type(self).__name__}({', '.join(parts)})"
