"""Dropout layers: active in training mode, the identity in eval mode.

Element-wise (Dropout), channel-wise (Dropout1d/2d/3d: whole feature maps, for convolutional
layers whose neighbouring outputs are correlated) and alpha dropout for SELU networks.
"""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.functional.dropout import check_probability
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class _DropoutNd(Module):
    """The probability ``p`` and the ``inplace`` flag (overwrite the input and return it, as a
    recorded in-place operation) that every dropout layer holds."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        check_probability(p, type(self).__name__)
        self.p, self.inplace = p, inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` and scale the rest by 1/(1 − p) while
    training; pass the input through unchanged in eval mode.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> drop = cr.nn.Dropout(p=0.5)
    >>> set(drop(cr.ones(8)).tolist()) <= {0.0, 2.0}
    True
    >>> drop.eval()(cr.ones(3)).tolist()
    [1.0, 1.0, 1.0]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels input[n, c] of (N, C, L) or (C, L) with probability ``p`` while
    training, scaling the rest by 1/(1 − p).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> y = cr.nn.Dropout1d(p=0.5)(cr.ones(2, 3, 4))
    >>> ((y == 0).all(-1) | (y == 2).all(-1)).all().item()  # whole channels
    True

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels input[n, c] of (N, C, H, W) with probability ``p`` while training,
    scaling the rest by 1/(1 − p). A 3-D input is read as (N, C, L), as in PyTorch (with a
    warning).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> y = cr.nn.Dropout2d(p=0.5)(cr.ones(2, 3, 4, 4))
    >>> ((y == 0).all((2, 3)) | (y == 2).all((2, 3))).all().item()  # whole channels
    True

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability ``p`` while
    training, scaling the rest by 1/(1 − p).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> y = cr.nn.Dropout3d(p=0.5)(cr.ones(2, 3, 2, 2, 2))
    >>> y.shape, set(y.flatten().tolist()) <= {0.0, 2.0}
    (chainrule.Size([2, 3, 2, 2, 2]), True)

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Alpha dropout (for SELU networks) while training: dropped elements take SELU's
    saturation value and an affine map keeps zero mean and unit variance. As in PyTorch, the
    layer keeps ``inplace`` but does not act on it (the functional form does).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> drop = cr.nn.AlphaDropout(p=0.2)
    >>> drop(cr.randn(4, 5)).shape
    chainrule.Size([4, 5])
    >>> drop.eval()(cr.tensor([1.0, -1.0])).tolist()
    [1.0, -1.0]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels input[n, c] of (N, C, *) while training (``inplace``
    kept but not acted on, as in PyTorch).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> drop = cr.nn.FeatureAlphaDropout(p=0.2)
    >>> drop(cr.randn(2, 3, 4)).shape
    chainrule.Size([2, 3, 4])
    >>> drop.eval()(cr.tensor([[1.0, -1.0]])).tolist()
    [[1.0, -1.0]]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.feature_alpha_dropout(input, self.p, self.training)
