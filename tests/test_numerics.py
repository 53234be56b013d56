"""fwcourse.util.numerics: the logistic and LayerNorm against their definitions (loops, float64)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fwcourse.util.numerics import LN_EPSILON, layer_norm, logistic


def test_logistic_definition_and_no_overflow():
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(logistic(z), [1 / (1 + math.exp(-v)) for v in z], rtol=1e-13, atol=0)
    with np.errstate(over="raise"):
        big = logistic(np.array([-1e4, 1e4]))
    np.testing.assert_array_equal(big, [0.0, 1.0])
    assert logistic(0) == 0.5


def _layer_norm_loops(z, gain, bias, eps):
    """LN(z) = gain * (z - mean) / sqrt(var + eps) + bias, one row at a time (Ba et al. 2016, eq. 4)."""
    rows = z.reshape(-1, z.shape[-1])
    out = np.empty_like(rows)
    for r, row in enumerate(rows):
        H = len(row)
        mu = sum(row) / H
        var = sum((a - mu) ** 2 for a in row) / H
        for i in range(H):
            out[r, i] = gain[i] * (row[i] - mu) / math.sqrt(var + eps) + bias[i]
    return out.reshape(z.shape)


@pytest.mark.parametrize("shape", [(7,), (4, 7), (2, 3, 5)])
def test_layer_norm_matches_the_definition(shape):
    rng = np.random.default_rng(sum(shape))
    z = rng.standard_normal(shape) * 3 + 5
    gain, bias = 1 + 0.3 * rng.standard_normal(shape[-1]), 0.2 * rng.standard_normal(shape[-1])
    np.testing.assert_allclose(layer_norm(z, gain, bias), _layer_norm_loops(z, gain, bias, LN_EPSILON),
                               rtol=1e-12, atol=1e-12)
    ones, zeros = np.ones(shape[-1]), np.zeros(shape[-1])
    np.testing.assert_allclose(layer_norm(z, eps=0.1), _layer_norm_loops(z, ones, zeros, 0.1),
                               rtol=1e-12, atol=1e-12)


def test_layer_norm_is_per_example_over_features():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((4, 7)) * np.array([[1], [10], [0.5], [3]]) + 5
    out = layer_norm(z)
    np.testing.assert_allclose(out[1], layer_norm(z[1:2])[0])  # the rest of the batch does not matter


@pytest.mark.parametrize("call,match", [
    (lambda: layer_norm(np.ones((2, 3)), gain=np.ones(4)), r"gain must have shape \(3\)"),
    (lambda: layer_norm(np.ones((2, 3)), bias=np.ones((1, 3))), r"bias must have shape \(3\)"),
    (lambda: layer_norm(np.float64(2.0)), "at least one dimension"),
    (lambda: layer_norm(np.ones(3), eps=0), r"eps must be in \(0, inf\)"),
    (lambda: layer_norm(np.array([1.0, np.nan])), "z must be finite"),
])
def test_layer_norm_bad_inputs_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
