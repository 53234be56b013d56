"""Seeded Keras initialisers, so that a model builder gives the same weights for the same ``seed``
without resetting the global random state (only entry points, CLIs and notebooks, seed globally).

    init = Initialisers(seed)
    keras.layers.Dense(8, kernel_initializer=init("GlorotUniform"))
    keras.layers.LSTM(8, kernel_initializer=init("GlorotUniform"), recurrent_initializer=init("Orthogonal"))

Each initialiser gets its own seed, drawn in order from ``numpy.random.default_rng(seed)``: two
layers of one model differ, and the models of two seeds share no stream.
"""
from __future__ import annotations

import numpy as np

from fwcourse.util import validate

__all__ = ["Initialisers"]


class Initialisers:
    """A source of seeded Keras initialisers for one model (see the module docstring)."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(validate.positive_int(seed, "seed", minimum=0))

    def seed(self) -> int:
        """The next seed of the stream."""
        return int(self._rng.integers(2**31 - 1))

    def __call__(self, name: str, **config):
        """A new ``keras.initializers.<name>`` (e.g. ``"GlorotUniform"``, ``"RandomNormal"``) with
        ``config`` and the next seed."""
        import keras

        return getattr(keras.initializers, name)(**config, seed=self.seed())

    def redraw_kernels(self, layer) -> None:
        """Draw every kernel of a built ``layer`` again from a seeded Glorot uniform.

        For layers that copy one initialiser into their sublayers, such as
        ``MultiHeadAttention`` (query, key, value and output): a seeded initialiser would give every
        copy the same values.
        """
        if not layer.built:
            raise ValueError(f"layer {layer.name!r} must be built before its kernels are drawn again.")
        for weight in layer.weights:
            if weight.name == "kernel":
                weight.assign(self("GlorotUniform")(tuple(weight.shape), dtype=weight.dtype))
