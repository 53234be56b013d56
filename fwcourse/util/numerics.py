"""Small NumPy functions that several paper modules share: the logistic and LayerNorm.

Each has one home here, one name and one convention; the paper modules call them (Keras layers
keep their own ``keras.ops`` versions, which the tests compare with these).
"""
from __future__ import annotations

import numpy as np

from fwcourse.util import validate

__all__ = ["LN_EPSILON", "logistic", "layer_norm"]

# The LayerNorm epsilon of the course's NumPy references and of the fast-weight RNN layer.
LN_EPSILON = 1e-5


def logistic(z) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-z))``, elementwise, in (0, 1).

    Computed from ``e = exp(-|z|)`` as ``1 / (1 + e)`` for z >= 0 and ``e / (1 + e)`` below: the
    same function, without overflow for large ``|z|`` and accurate to the last digits in both
    tails. Used for the delta rule's write strength ``beta = logistic(w . x)`` (Schlag et
    al. 2021) and the bounded fast weights of the 1992 controller (Schmidhuber 1992, Eq. 7).
    """
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def layer_norm(z, gain=None, bias=None, eps: float = LN_EPSILON) -> np.ndarray:
    """Layer normalisation over the last axis (Ba, Kiros & Hinton 2016, eq. 4), then gain and bias.

    ``LN(z) = gain * (z - mean(z)) / sqrt(var(z) + eps) + bias``, with the mean and the (biased)
    variance of each row over its features only, so that examples in a batch never influence each
    other. ``gain`` and ``bias`` are (features,) arrays, or None for 1 and 0.
    """
    z = validate.array(z, "z", dtype=float)
    if z.ndim < 1:
        raise ValueError(f"z must have at least one dimension (the features); got shape {z.shape}.")
    validate.in_range(eps, "eps", 0, None, low_open=True)
    centred = z - z.mean(axis=-1, keepdims=True)
    out = centred / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps)
    if gain is not None:
        out = out * validate.array(gain, "gain", shape=(z.shape[-1],))
    if bias is not None:
        out = out + validate.array(bias, "bias", shape=(z.shape[-1],))
    return out
