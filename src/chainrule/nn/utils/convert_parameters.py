"""Parameters as one flat vector and back: ``parameters_to_vector`` (differentiable) and
``vector_to_parameters``."""

from __future__ import annotations

from collections.abc import Iterable

from chainrule.ops.movement import cat
from chainrule.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable).

    ```pycon
    >>> import chainrule as cr
    >>> layer = cr.nn.Linear(3, 2)
    >>> cr.nn.utils.parameters_to_vector(layer.parameters()).shape  # 2·3 weights, 2 biases
    chainrule.Size([8])

    ```
    """
    flat = [p.reshape(-1) for p in parameters]
    if not flat:
        raise ValueError("parameters_to_vector: no parameters given")
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Set the parameters' data to consecutive slices of the 1-D ``vec``, in order.

    As in PyTorch, each parameter then views ``vec``'s memory rather than holding a copy.

    ```pycon
    >>> import chainrule as cr
    >>> layer = cr.nn.Linear(2, 1)
    >>> cr.nn.utils.vector_to_parameters(cr.tensor([1.0, 2.0, 3.0]), layer.parameters())
    >>> layer.weight.tolist(), layer.bias.tolist()
    ([[1.0, 2.0]], [3.0])

    ```
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    parameters = list(parameters)
    needed = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.numel() != needed:
        raise ValueError(
            f"vector_to_parameters: vec must be 1-D with {needed} elements (one per parameter "
            f"element), got shape {vec.shape}"
        )
    start = 0
    for p in parameters:
        count = p.numel()
        p.array = vec.array[start : start + count].reshape(p.shape)
        start += count
