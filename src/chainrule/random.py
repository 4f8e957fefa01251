"""Random number generators: PyTorch's ``Generator`` and the library-wide default one.

A :class:`Generator` draws from NumPy's PCG64 bit generator. The default generator, seeded by
:func:`manual_seed`, serves ``rand``, ``randn``, the initialisers, dropout and every function
given no ``generator=``. The streams are reproducible from a seed, but they are not PyTorch's:
the same seed gives other numbers than in PyTorch.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Iterator
from typing import Any

import numpy

from chainrule import devices

# PyTorch's seed of a new Generator (and of the default one before any manual_seed).
DEFAULT_SEED = 67280421310721
_SEED_MODULUS = 2**64
# A state is this marker followed by PCG64's state: 128-bit state and increment, the cached
# half of a 64-bit draw (a flag and 32 bits), as little-endian bytes.
_STATE_MARKER = b"CRPCG64\x01"
_STATE_SIZE = len(_STATE_MARKER) + 16 + 16 + 1 + 4


def _as_seed(seed: Any, where: str) -> int:
    """An int seed as PyTorch takes it: negative seeds count from 2**64 (-1 is 2**64 - 1)."""
    if isinstance(seed, (float, numpy.floating)) or not hasattr(seed, "__index__"):
        raise TypeError(f"{where}: seed must be an int, got {type(seed).__name__}")
    value = operator.index(seed)
    if not -(2**63) <= value < _SEED_MODULUS:
        raise ValueError(f"{where}: seed {value} is out of range [-2**63, 2**64)")
    return value % _SEED_MODULUS


class Generator:
    """A random number generator (PyTorch's ``torch.Generator``), for reproducible draws that
    leave the default generator alone: pass it as ``generator=`` to ``rand``, ``randn``,
    ``randint``, ``randperm``, ``normal``, ``bernoulli``, ``multinomial`` and the in-place
    fills (``uniform_``...).

    ```pycon
    >>> import chainrule
    >>> g = Generator().manual_seed(0)
    >>> first = chainrule.rand(2, generator=g)
    >>> _ = g.manual_seed(0)  # the same numbers again
    >>> chainrule.equal(chainrule.rand(2, generator=g), first)
    True

    ```
    """

    def __init__(self, device: Any = "cpu") -> None:
        self._device = devices.check(device, "Generator")
        self._set_seed(DEFAULT_SEED)

    def _set_seed(self, seed: int) -> None:
        self._initial_seed = seed
        # The NumPy Generator the draws come from: a new one for each seeding.
        self.numpy = numpy.random.default_rng(seed)

    @property
    def device(self) -> devices.device:
        return self._device

    def manual_seed(self, seed: int) -> Generator:
        """Start the stream again from ``seed``; returns the generator."""
        self._set_seed(_as_seed(seed, "manual_seed"))
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy; returns the seed chosen."""
        seed = int(numpy.random.SeedSequence().generate_state(1, numpy.uint64)[0])
        self._set_seed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed the generator was last seeded with."""
        return self._initial_seed

    def get_state(self) -> Any:
        """The generator's state as a uint8 tensor, for :meth:`set_state` (PyTorch's is a
        uint8 tensor too, but of another size and meaning: states do not cross over)."""
        from chainrule.tensor import Tensor  # the tensor module imports this one

        state = self.numpy.bit_generator.state
        raw = (
            _STATE_MARKER
            + state["state"]["state"].to_bytes(16, "little")
            + state["state"]["inc"].to_bytes(16, "little")
            + bytes([state["has_uint32"]])
            + state["uinteger"].to_bytes(4, "little")
        )
        return Tensor._make(numpy.frombuffer(raw, dtype=numpy.uint8).copy(), False, None)

    def set_state(self, new_state: Any) -> Generator:
        """Go back to a state :meth:`get_state` returned: the numbers drawn afterwards are
        those drawn after it was taken. Returns the generator."""
        raw = _state_bytes(new_state, "set_state")
        state = {
            "bit_generator": "PCG64",
            "state": {
                "state": int.from_bytes(raw[8:24], "little"),
                "inc": int.from_bytes(raw[24:40], "little"),
            },
            "has_uint32": raw[40],
            "uinteger": int.from_bytes(raw[41:45], "little"),
        }
        self.numpy.bit_generator.state = state
        return self

    def __repr__(self) -> str:
        return f"<chainrule.Generator (device={self._device}, initial_seed={self._initial_seed})>"


def _state_bytes(state: Any, where: str) -> bytes:
    array = getattr(state, "array", None)
    if array is None or array.dtype != numpy.uint8 or array.ndim != 1:
        raise TypeError(
            f"{where}: expected a state from chainrule.get_rng_state() or Generator.get_state() "
            f"(a uint8 tensor), got {type(state).__name__}"
        )
    raw = numpy.asarray(array).tobytes()
    if len(raw) != _STATE_SIZE or not raw.startswith(_STATE_MARKER):
        raise RuntimeError(
            f"{where}: expected a generator state of {_STATE_SIZE} bytes made by chainrule, got "
            f"{len(raw)} bytes (states of PyTorch's generator cannot be used here)"
        )
    return raw


DEFAULT = Generator()
"""The library-wide generator: the one :func:`manual_seed` seeds."""


def manual_seed(seed: int) -> Generator:
    """Seed the default generator, behind rand, randn, randint, the initialisers and dropout;
    returns it. As in PyTorch, any int in [-2**63, 2**64) is a seed.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> a = cr.rand(3)
    >>> _ = cr.manual_seed(0)
    >>> cr.equal(a, cr.rand(3))
    True

    ```
    """
    return DEFAULT.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy; returns the seed.

    ```pycon
    >>> import chainrule as cr
    >>> s = cr.seed()
    >>> s == cr.initial_seed()
    True

    ```
    """
    return DEFAULT.seed()


def initial_seed() -> int:
    """The seed the default generator was last seeded with.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(7)
    >>> cr.initial_seed()
    7

    ```
    """
    return DEFAULT.initial_seed()


def default_generator() -> numpy.random.Generator:
    """The NumPy ``Generator`` behind the default generator (replaced by each seeding).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> type(cr.nn.init.default_generator()).__name__
    'Generator'

    ```
    """
    return DEFAULT.numpy


def numpy_generator(generator: Generator | None, where: str) -> numpy.random.Generator:
    """The NumPy generator to draw from for a ``generator=`` argument (None: the default)."""
    if generator is None:
        return DEFAULT.numpy
    if not isinstance(generator, Generator):
        raise TypeError(
            f"{where}: generator must be a chainrule.Generator, got {type(generator).__name__}"
        )
    return generator.numpy


def get_rng_state() -> Any:
    """The default generator's state, a uint8 tensor for :func:`set_rng_state`.

    ```pycon
    >>> import chainrule as cr
    >>> state = cr.get_rng_state()
    >>> a = cr.rand(2)
    >>> cr.set_rng_state(state)
    >>> cr.equal(a, cr.rand(2)), state.dtype == cr.uint8
    (True, True)

    ```
    """
    return DEFAULT.get_state()


def set_rng_state(new_state: Any) -> None:
    """Put the default generator back in a state :func:`get_rng_state` returned.

    ```pycon
    >>> import chainrule as cr
    >>> state = cr.get_rng_state()
    >>> a = cr.randn(3)
    >>> cr.set_rng_state(state)
    >>> cr.equal(a, cr.randn(3))
    True

    ```
    """
    DEFAULT.set_state(new_state)


@contextlib.contextmanager
def fork_rng(enabled: bool = True) -> Iterator[None]:
    """Run the block, then restore the default generator (as ``torch.random.fork_rng``): what
    the block draws, or a ``manual_seed`` inside it, leaves no trace outside.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> with cr.fork_rng():
    ...     a = cr.rand(2)
    >>> cr.equal(a, cr.rand(2))
    True

    ```
    """
    if not enabled:
        yield
        return
    generator, initial, state = DEFAULT.numpy, DEFAULT.initial_seed(), get_rng_state()
    try:
        yield
    finally:
        DEFAULT.numpy, DEFAULT._initial_seed = generator, initial
        set_rng_state(state)
