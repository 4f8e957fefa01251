"""Sampling from distributions: ``normal``, ``bernoulli``, ``multinomial``, and the in-place
fills ``uniform_``, ``normal_``, ``bernoulli_``, ``random_``, ``exponential_``.

Each takes ``generator=`` (a :class:`chainrule.Generator`; None draws from the default one),
so draws are reproducible from a seed; the numbers are not PyTorch's for the same seed. The
samples are drawn outside any operation, as dropout's mask is: the one operation here,
:class:`Draw`, only places a sample in the graph.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend, devices, dtypes
from chainrule.autograd.function import Function
from chainrule.ops import inplace
from chainrule.random import Generator, numpy_generator
from chainrule.tensor import Tensor


class Draw(Function):
    """∂sample/∂parameter = 0: a sample is not a differentiable function of its distribution's
    parameters here (PyTorch's ``normal`` and ``bernoulli`` give zero gradients too; use
    ``mean + std * randn(...)`` for the reparameterised, differentiable form)"""

    def forward(self, sample: Any, *parameters: Any) -> Any:
        self.shapes = [numpy.shape(value) for value in parameters]
        self.parameter_dtypes = [getattr(value, "dtype", None) for value in parameters]
        return sample

    def backward(self, grad: Any) -> tuple:
        zeros = [
            backend.xp.zeros(shape, dtype=dtype) if need else None
            for shape, dtype, need in zip(
                self.shapes, self.parameter_dtypes, self.needs_input_grad[1:]
            )
        ]
        return (None, *zeros)


def _place(sample: Any, *parameters: Any) -> Tensor:
    """The sample as a tensor, in the graph of the parameters that require grad."""
    if any(isinstance(p, Tensor) and p.requires_grad for p in parameters):
        return Draw.apply(sample, *parameters)
    return Tensor._make(sample, False, None)


def _not_floating(where: str, dtype: numpy.dtype) -> NotImplementedError:
    # PyTorch raises NotImplementedError (a RuntimeError) for a kernel missing for a dtype.
    return NotImplementedError(
        f"{where}: not implemented for dtype {dtype} ('{dtypes.torch_name(dtype)}'); the "
        "input must be floating point, e.g. t.float()"
    )


# ---- normal ------------------------------------------------------------------------------------


def normal(
    mean: Any,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Normal samples with the given means and standard deviations, in PyTorch's forms:

    - ``normal(mean_tensor, std_tensor)``, ``normal(mean_tensor, std=1.0)`` and
      ``normal(mean, std_tensor)``: one sample per element of the broadcast parameters, in the
      dtype of the tensor mean (else of the tensor std);
    - ``normal(mean, std, size)`` with numbers: samples of ``size`` in ``dtype`` (default
      float).

    The gradient with respect to ``mean`` and ``std`` is zero, as in PyTorch.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> tuple(cr.normal(cr.zeros(3), cr.ones(3)).shape)
    (3,)
    >>> tuple(cr.normal(0.0, 1.0, size=(2, 4)).shape)
    (2, 4)

    ```
    """
    devices.check(device, "normal")
    rng = numpy_generator(generator, "normal")
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None:
            raise TypeError(
                "normal: with a number mean and std, give size (normal(0.0, 1.0, size=(2, 3))); "
                "with tensor mean or std, leave size out"
            )
        if not std >= 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        from chainrule.creation import randn  # creation builds on the tensor too

        noise = randn(size, generator=generator, dtype=dtype).array
        out = Tensor._make((noise * std + mean).astype(noise.dtype, copy=False), False, None)
        if requires_grad:
            out.requires_grad = True
        return out
    if size is not None:
        raise TypeError(
            "normal: size is only for number mean and std; with a tensor mean or std the "
            "sample takes their broadcast shape"
        )
    tensor = mean if isinstance(mean, Tensor) else std
    out_dtype = tensor.dtype
    # An integer std beside a float mean is fine; an integer mean is not (as in PyTorch).
    if not dtypes.is_floating(out_dtype):
        raise _not_floating("normal", out_dtype)
    mean_array, std_array = _array(mean), _array(std)
    if isinstance(std, Tensor) and not bool(backend.xp.all(std_array >= 0)):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    if not isinstance(std, Tensor) and not std >= 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    shape = _broadcast_shape("normal", mean_array, std_array)
    noise = rng.standard_normal(shape)
    sample = (noise * std_array + mean_array).astype(out_dtype)
    return _place(backend.as_array(sample), mean, std)


def _array(value: Any) -> Any:
    return value.array if isinstance(value, Tensor) else value


def _broadcast_shape(where: str, *arrays: Any) -> tuple[int, ...]:
    try:
        return numpy.broadcast_shapes(*(numpy.shape(a) for a in arrays))
    except ValueError:
        shapes = " and ".join(str(numpy.shape(a)) for a in arrays)
        raise RuntimeError(f"{where}: the shapes {shapes} cannot be broadcast together") from None


# ---- bernoulli ---------------------------------------------------------------------------------


def _check_probability(p: Any, where: str) -> float:
    if isinstance(p, Tensor):
        p = p.item()
    if not 0 <= p <= 1:
        raise RuntimeError(f"{where} expects p to be in [0, 1], but got p={p}")
    return float(p)


def bernoulli(
    input: Tensor,  # noqa: A002
    p: float | None = None,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """Ones with probability ``input`` (element-wise), zeros otherwise, in ``input``'s dtype.
    With ``p`` given, every element is one with probability ``p`` and ``input`` gives only the
    shape and dtype. The gradient with respect to ``input`` is zero, as in PyTorch.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.bernoulli(cr.tensor([0.0, 1.0, 0.0, 1.0])).tolist()
    [0.0, 1.0, 0.0, 1.0]

    ```
    """
    rng = numpy_generator(generator, "bernoulli")
    if p is not None:
        probability = _check_probability(p, "bernoulli")
        sample = rng.random(input.shape) < probability
        return Tensor._make(backend.as_array(sample.astype(input.dtype)), False, None)
    if not dtypes.is_floating(input.dtype):
        raise _not_floating("bernoulli", input.dtype)
    probabilities = input.array
    if not bool(backend.xp.all((probabilities >= 0) & (probabilities <= 1))):
        raise RuntimeError(
            "bernoulli: expected all probabilities in [0, 1] (PyTorch: Expected p_in >= 0 && "
            "p_in <= 1 to be true, but got false)"
        )
    sample = backend.as_array(rng.random(input.shape)) < probabilities
    return _place(sample.astype(input.dtype), input)


# ---- multinomial -------------------------------------------------------------------------------


def multinomial(
    input: Tensor,  # noqa: A002
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """Indices drawn from the categorical distributions in the rows of ``input``: shape
    (num_samples,) for a 1-d input of k weights, (n, num_samples) for n rows; int64.

    The weights need not sum to 1 but must be finite and non-negative, with a positive sum.
    Without ``replacement`` each index appears at most once per row, so ``num_samples`` may
    not exceed k; categories of weight 0 come last, once the others are drawn.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.multinomial(cr.tensor([0.0, 1.0, 0.0]), 2, replacement=True).tolist()
    [1, 1]
    >>> sorted(cr.multinomial(cr.tensor([1.0, 1.0, 1.0]), 3).tolist())
    [0, 1, 2]

    ```
    """
    if not isinstance(num_samples, (int, numpy.integer)) or isinstance(num_samples, bool):
        raise TypeError(
            f"multinomial(): argument 'num_samples' (position 2) must be int, not "
            f"{type(num_samples).__name__}"
        )
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {input.shape}")
    if not dtypes.is_floating(input.dtype):
        raise RuntimeError(
            f"multinomial only supports floating-point dtypes for input, got: "
            f"{dtypes.torch_name(input.dtype)}"
        )
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples ({num_samples})")
    categories = input.shape[-1]
    if not replacement and num_samples > categories:
        raise RuntimeError(
            f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
            f"replacement ({num_samples} samples, {categories} categories)"
        )
    weights = backend.to_numpy(input.array).astype(numpy.float64).reshape(-1, categories)
    if not numpy.all(numpy.isfinite(weights) & (weights >= 0)):
        raise RuntimeError(
            "multinomial: probability tensor contains either `inf`, `nan` or element < 0"
        )
    totals = weights.sum(axis=1)
    if numpy.any(totals <= 0):
        raise RuntimeError(
            "multinomial: invalid multinomial distribution (sum of probabilities <= 0)"
        )
    rng = numpy_generator(generator, "multinomial")
    if replacement:
        indices = _with_replacement(rng, weights, totals, num_samples)
    else:
        indices = _without_replacement(rng, weights, num_samples)
    indices = indices.reshape((*input.shape[:-1], num_samples))
    return Tensor._make(backend.as_array(indices), False, None)


def _with_replacement(rng: Any, weights: Any, totals: Any, count: int) -> Any:
    # Inverse-CDF: a uniform point in [0, total) falls in category i with probability w_i/total
    # (side="right" skips categories of weight 0, whose interval is empty).
    cumulative = numpy.cumsum(weights, axis=1)
    points = rng.random((weights.shape[0], count)) * totals[:, None]
    rows = [
        numpy.searchsorted(row, row_points, side="right")
        for row, row_points in zip(cumulative, points)
    ]
    indices = numpy.array(rows, dtype=numpy.int64).reshape(weights.shape[0], count)
    return numpy.minimum(indices, weights.shape[1] - 1)  # rounding at the very top


def _without_replacement(rng: Any, weights: Any, count: int) -> Any:
    # Drawing k without replacement in proportion to the weights is taking the k largest of
    # w_i / E_i with E_i ~ Exp(1) (the exponential race: category i finishes at time E_i/w_i).
    with numpy.errstate(divide="ignore"):
        keys = weights / rng.exponential(size=weights.shape)
    order = numpy.argsort(-keys, axis=1, kind="stable")
    return order[:, :count].astype(numpy.int64)


# ---- in-place fills ----------------------------------------------------------------------------


def _fill(target: Tensor, values: Any, what: str) -> Tensor:
    """Overwrite ``target`` with ``values`` by PyTorch's in-place rules (a leaf that requires
    grad refuses; in a graph, the gradient to the old values is zero)."""
    value = Tensor._make(backend.as_array(values).astype(target.dtype, copy=False), False, None)
    return inplace._assign(target, Ellipsis, value, what)


def _bounds(where: str, given: tuple, named: dict, defaults: tuple) -> tuple:
    """PyTorch names the bounds ``from`` and ``to``, which Python reserves: take them by
    position or as ``**{"from": a, "to": b}``."""
    unknown = set(named) - {"from", "to"}
    if unknown or len(given) > 2:
        raise TypeError(f"{where}(): expected (from, to), got {given} and {sorted(named)}")
    values = list(given) + list(defaults[len(given) :])
    low = named.get("from", values[0])
    high = named.get("to", values[1])
    return low, high


def uniform_(
    self: Tensor, *bounds: float, generator: Generator | None = None, **named: float
) -> Tensor:
    """Fill with uniform samples from [from, to) (default [0, 1)), in place."""
    low, high = _bounds("uniform_", bounds, named, (0.0, 1.0))
    if not dtypes.is_floating(self.dtype):
        raise _not_floating("uniform_", self.dtype)
    if low > high:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={low} > to={high}"
        )
    rng = numpy_generator(generator, "uniform_")
    return _fill(self, low + (high - low) * rng.random(self.shape), "uniform_")


def normal_(
    self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Generator | None = None
) -> Tensor:
    """Fill with normal samples of mean ``mean`` and standard deviation ``std``, in place."""
    if not dtypes.is_floating(self.dtype):
        raise _not_floating("normal_", self.dtype)
    if not std >= 0:
        raise RuntimeError(f"normal_ expects std >= 0.0, but found std {std}")
    rng = numpy_generator(generator, "normal_")
    return _fill(self, mean + std * rng.standard_normal(self.shape), "normal_")


def bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill with ones with probability ``p`` (a number, or a tensor of probabilities that
    broadcasts to this shape) and zeros otherwise, in place."""
    rng = numpy_generator(generator, "bernoulli_")
    if isinstance(p, Tensor):
        probabilities = backend.to_numpy(p.array)
        if not numpy.all((probabilities >= 0) & (probabilities <= 1)):
            raise RuntimeError("bernoulli_ expects all probabilities in [0, 1]")
        try:
            probabilities = numpy.broadcast_to(probabilities, self.shape)
        except ValueError:
            raise RuntimeError(
                f"bernoulli_: p of shape {p.shape} cannot be expanded to the tensor's shape "
                f"{self.shape}"
            ) from None
    else:
        probabilities = _check_probability(p, "bernoulli_")
    return _fill(self, rng.random(self.shape) < probabilities, "bernoulli_")


def exponential_(self: Tensor, lambd: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill with exponential samples of rate ``lambd`` (density λ·e^(−λx)), in place."""
    if not dtypes.is_floating(self.dtype):
        raise RuntimeError(
            "Exponential distribution is a continuous probability distribution. dtype must be "
            f"a floating point but you specified {dtypes.torch_name(self.dtype)}"
        )
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    rng = numpy_generator(generator, "exponential_")
    return _fill(self, rng.exponential(1.0 / lambd, self.shape), "exponential_")


def _random_top(dtype: numpy.dtype) -> int:
    """The top of the range [0, top] that ``random_()`` draws from: every integer the dtype
    holds exactly (floats: up to 2**digits, where digits counts the significand's bits)."""
    if dtype.kind == "b":
        return 1
    if dtypes.is_floating(dtype):
        return 2 ** {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}[dtype.name]
    return min(int(numpy.iinfo(dtype).max), 2**63 - 1)


def random_(self: Tensor, *bounds: Any, generator: Generator | None = None, **named: Any) -> Tensor:
    """Fill with random integers, in place: ``random_()`` from [0, top] (every integer the
    dtype holds exactly), ``random_(to)`` from [0, to), ``random_(from, to)`` from
    [from, to); ``to=None`` means up to the top."""
    if len(bounds) == 1 and "to" not in named:
        bounds = (0, bounds[0])
    low, high = _bounds("random_", bounds, named, (0, None))
    top = _random_top(self.dtype)
    if high is None:
        high = top + 1
    if low >= high:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    if self.dtype.kind in "biu" and (low < _lowest(self.dtype) or high - 1 > top):
        raise RuntimeError(
            f"random_: the range [{low}, {high}) does not fit in the tensor's dtype {self.dtype}"
        )
    rng = numpy_generator(generator, "random_")
    # endpoint=True: high - 1 is at most int64's top, where ``high`` itself may not be.
    values = rng.integers(low, high - 1, size=self.shape, dtype=numpy.int64, endpoint=True)
    return _fill(self, values, "random_")


def _lowest(dtype: numpy.dtype) -> int:
    return 0 if dtype.kind == "b" else int(numpy.iinfo(dtype).min)


METHODS: dict[str, Any] = {
    "uniform_": uniform_,
    "normal_": normal_,
    "bernoulli_": bernoulli_,
    "exponential_": exponential_,
    "random_": random_,
    "bernoulli": bernoulli,
    "multinomial": multinomial,
}
