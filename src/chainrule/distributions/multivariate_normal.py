"""``MultivariateNormal(loc, covariance_matrix=None, precision_matrix=None, scale_tril=None)``:
the Gaussian over vectors, held as the lower Cholesky factor L of its covariance Σ = L·Lᵀ,
with reparameterised samples loc + L·ε.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.creation import eye, randn
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import lazy_property
from chainrule.ops.axes import broadcast_shapes
from chainrule.ops.cholesky import cholesky
from chainrule.ops.linalg import matmul
from chainrule.ops.rearrange import flip
from chainrule.ops.solve import inv
from chainrule.ops.triangular import solve_triangular
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["MultivariateNormal", "batch_mahalanobis", "precision_to_scale_tril"]

_LOG_2PI = math.log(2 * math.pi)


def batch_mahalanobis(scale_tril: Tensor, x: Tensor) -> Tensor:
    """xᵀ (L·Lᵀ)⁻¹ x for each vector of ``x`` (shape ``... + (n,)``), with ``scale_tril``
    (shape ``B + (n, n)``) broadcast against the rightmost batch dimensions of ``x``: shape
    ``x.shape[:-1]`` broadcast with ``B``.

    The leading dimensions of ``x`` that L does not have become right-hand sides of one
    triangular solve, so L is not copied once per sample.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions.multivariate_normal import batch_mahalanobis
    >>> L = cr.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> batch_mahalanobis(L, cr.tensor([[2.0, 0.0], [0.0, 3.0], [2.0, 3.0]]))
    tensor([ 1.,  9., 10.])

    ```
    """
    n = x.shape[-1]
    matrix_batch = tuple(scale_tril.shape[:-2])
    k = len(matrix_batch)
    if x.dim() - 1 < k:
        x = x.reshape((1,) * (k - x.dim() + 1) + tuple(x.shape))
    outer = tuple(x.shape[: x.dim() - 1 - k])
    inner = tuple(a if b == 1 else b for a, b in zip(matrix_batch, x.shape[x.dim() - 1 - k : -1]))
    x = x.expand(outer + inner + (n,))
    factor = scale_tril.expand(inner + (n, n))
    m = len(outer)
    # outer + inner + (n,) → inner + (n,) + outer → inner + (n, columns)
    order = tuple(range(m, m + k + 1)) + tuple(range(m))
    columns = x.permute(order).reshape(inner + (n, -1))
    squared = solve_triangular(factor, columns, upper=False).pow(2).sum(-2)
    squared = squared.reshape(inner + outer)
    back = tuple(range(k, k + m)) + tuple(range(k))
    return squared.permute(back)


def precision_to_scale_tril(precision: Tensor) -> Tensor:
    """The lower Cholesky factor L of P⁻¹ from a precision matrix P (shape ``B + (n, n)``),
    without inverting P: the Cholesky factor of P with rows and columns reversed, flipped
    back and transposed, is L⁻¹, and a triangular solve against the identity gives L.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions.multivariate_normal import precision_to_scale_tril
    >>> precision_to_scale_tril(cr.tensor([[4.0, 0.0], [0.0, 0.25]]))
    tensor([[0.5, 0.0],
            [0.0, 2.0]])

    ```
    """
    flipped_factor = cholesky(flip(precision, (-2, -1)))
    inverse_factor = flip(flipped_factor, (-2, -1)).transpose(-2, -1)
    identity = eye(precision.shape[-1], dtype=precision.dtype)
    return solve_triangular(inverse_factor, identity, upper=False)


def _matrix_argument(name: str, value: Any) -> Tensor:
    if not isinstance(value, Tensor):
        raise ValueError(
            f"MultivariateNormal: {name} must be a chainrule tensor, got {type(value).__name__}"
        )
    if value.dim() < 2:
        raise ValueError(
            f"{name} must be at least two-dimensional, with optional leading batch dimensions"
        )
    return value


def _broadcast_batch(*shapes: tuple[int, ...]) -> Size:
    try:
        return Size(broadcast_shapes(*shapes))
    except ValueError:
        described = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(
            f"MultivariateNormal: the batch shapes {described} of the matrix and of loc do not "
            "broadcast together"
        ) from None


class MultivariateNormal(Distribution):
    """The normal distribution N(loc, Σ) over vectors of size n = ``loc.shape[-1]``.

    Give exactly one of ``covariance_matrix`` Σ or ``precision_matrix`` Σ⁻¹ (positive
    definite) or ``scale_tril`` L (lower triangular, positive diagonal, Σ = L·Lᵀ), of shape
    ``B + (n, n)``. The batch shape is ``loc.shape[:-1]`` broadcast with B, the event shape
    is (n,). Everything is computed from L (the Cholesky factor of Σ; from Σ⁻¹ without
    inverting it), so gradients reach whichever matrix was given. ``rsample`` is loc + L·ε,
    ε ~ N(0, I) from chainrule's generator.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import MultivariateNormal
    >>> d = MultivariateNormal(cr.zeros(2), covariance_matrix=cr.tensor([[4.0, 0.0], [0.0, 1.0]]))
    >>> d.scale_tril
    tensor([[2., 0.],
            [0., 1.]])
    >>> d.log_prob(cr.tensor([2.0, 1.0]))  # −1 − log 2 − log 2π
    tensor(-3.531)
    >>> d.batch_shape, d.event_shape, d.variance
    (chainrule.Size([]), chainrule.Size([2]), tensor([4., 1.]))

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self,
        loc: Tensor,
        covariance_matrix: Tensor | None = None,
        precision_matrix: Tensor | None = None,
        scale_tril: Tensor | None = None,
        validate_args: Any = None,
    ) -> None:
        if not isinstance(loc, Tensor):
            raise ValueError(
                f"MultivariateNormal: loc must be a chainrule tensor, got {type(loc).__name__}"
            )
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = {
            name: value
            for name, value in (
                ("covariance_matrix", covariance_matrix),
                ("precision_matrix", precision_matrix),
                ("scale_tril", scale_tril),
            )
            if value is not None
        }
        if len(given) != 1:
            raise ValueError(
                "Exactly one of covariance_matrix or precision_matrix or scale_tril may be "
                "specified."
            )
        ((name, matrix),) = given.items()
        matrix = _matrix_argument(name + " matrix" if name == "scale_tril" else name, matrix)
        n = loc.shape[-1]
        if tuple(matrix.shape[-2:]) != (n, n):
            # PyTorch accepts this and fails later, in log_prob or rsample.
            raise ValueError(
                f"MultivariateNormal: {name} of shape {tuple(matrix.shape)} does not fit loc "
                f"of shape {tuple(loc.shape)}: expected matrices of shape ({n}, {n})"
            )
        batch_shape = _broadcast_batch(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        setattr(self, name, matrix.expand((*batch_shape, -1, -1)))
        self.loc = loc.expand((*batch_shape, -1))
        super().__init__(batch_shape, self.loc.shape[-1:], validate_args=validate_args)
        # Factorised after validation, so a matrix that is not positive definite is
        # reported as such rather than as a failed factorisation.
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = matrix
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = cholesky(matrix)
        else:
            self._unbroadcasted_scale_tril = precision_to_scale_tril(matrix)

    def expand(self, batch_shape: Any, _instance: Any = None) -> MultivariateNormal:
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch_shape = Size(batch_shape)
        n = self._event_shape[0]
        new.loc = self.loc.expand((*batch_shape, n))
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand((*batch_shape, n, n)))
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self) -> tuple[int, ...]:
        n = self._event_shape[0]
        return (*self._batch_shape, n, n)

    @lazy_property
    def scale_tril(self) -> Tensor:
        """L, lower triangular with Σ = L·Lᵀ: shape ``batch_shape + (n, n)``."""
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        """Σ = L·Lᵀ: shape ``batch_shape + (n, n)``."""
        factor = self._unbroadcasted_scale_tril
        return matmul(factor, factor.mT).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self) -> Tensor:
        """Σ⁻¹ = L⁻ᵀ·L⁻¹: shape ``batch_shape + (n, n)``."""
        # A general inverse rather than a triangular solve: PyTorch's gradient (that of
        # cholesky_inverse) reaches the upper triangle of a scale_tril too, as if L were full.
        inverse = inv(self._unbroadcasted_scale_tril)
        return matmul(inverse.mT, inverse).expand(self._matrix_shape())

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        """The diagonal of Σ: the squares of L's rows summed, shape ``batch_shape + (n,)``."""
        shape = (*self._batch_shape, *self._event_shape)
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """loc + L·ε, ε ~ N(0, I) of shape ``sample_shape + batch_shape + (n,)``."""
        shape = self._extended_shape(sample_shape)
        eps = randn(shape, dtype=self.loc.dtype)
        return self.loc + matmul(self._unbroadcasted_scale_tril, eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self) -> Tensor:
        # log √det Σ = Σ_i log L_ii: L is triangular.
        return self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        """−½ (n log 2π + (x − loc)ᵀ Σ⁻¹ (x − loc)) − ½ log det Σ: shape ``value.shape[:-1]``
        broadcast with ``batch_shape``."""
        if self._validate_args:
            self._validate_sample(value)
        distance = batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        n = self._event_shape[0]
        return -0.5 * (n * _LOG_2PI + distance) - self._half_log_det()

    def entropy(self) -> Tensor:
        """½ n (1 + log 2π) + ½ log det Σ, of shape ``batch_shape``."""
        n = self._event_shape[0]
        entropy = 0.5 * n * (1.0 + _LOG_2PI) + self._half_log_det()
        if len(self._batch_shape) == 0:
            return entropy
        return entropy.expand(self._batch_shape)
