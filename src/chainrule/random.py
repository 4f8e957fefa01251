"""The library-wide random number generator, seeded by :func:`manual_seed`."""

from __future__ import annotations

import numpy


class _Generator:
    # One generator for the whole library, as torch.manual_seed seeds one default generator.
    rng = numpy.random.default_rng()


def manual_seed(seed: int) -> numpy.random.Generator:
    """Seed the generator behind rand, randn, randint and the initialisers; returns it."""
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be non-negative, got {seed}")
    _Generator.rng = numpy.random.default_rng(int(seed))
    return _Generator.rng


seed = manual_seed


def default_generator() -> numpy.random.Generator:
    """The generator in use (a NumPy ``Generator``)."""
    return _Generator.rng
