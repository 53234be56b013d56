"""Mixed-chunk and quadratic causal linear attention against the explicit double loop (float64)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from fwcourse.chunked_attention import mixed_chunk_attention, quadratic_attention

SHAPES = [(1, 1, 2, 3), (2, 6, 3, 4), (3, 12, 5, 2), (2, 7, 4, 5)]  # (B, T, d_k, d_v)


def _loop_attention(q, k, v, exclusive):
    """The definition: y[b, t] = Σ_{s ≤ t (or < t)} (q[b, t]·k[b, s]) v[b, s]."""
    B, T, _ = q.shape
    out = np.zeros((B, T, v.shape[-1]))
    for b in range(B):
        for t in range(T):
            for s in range(t if exclusive else t + 1):
                out[b, t] += (q[b, t] @ k[b, s]) * v[b, s]
    return out


def _qkv(shape, seed=0):
    B, T, dk, dv = shape
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, T, dk)), rng.standard_normal((B, T, dk)), rng.standard_normal((B, T, dv))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("exclusive", [False, True])
def test_quadratic_matches_loop(shape, exclusive):
    q, k, v = _qkv(shape)
    got = ops.convert_to_numpy(quadratic_attention(q, k, v, exclusive=exclusive))
    np.testing.assert_allclose(got, _loop_attention(q, k, v, exclusive), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("exclusive", [False, True])
def test_mixed_chunk_equals_quadratic_for_every_chunk_count(shape, exclusive):
    """(b) Every G dividing T, and every G that does not (padded internally), up to G > T."""
    q, k, v = _qkv(shape, seed=1)
    T = shape[1]
    expected = ops.convert_to_numpy(quadratic_attention(q, k, v, exclusive=exclusive))
    for chunks in range(1, T + 3):
        got = ops.convert_to_numpy(mixed_chunk_attention(q, k, v, chunks, exclusive=exclusive))
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-11, err_msg=f"chunks={chunks}")


def test_first_position_is_exactly_zero_when_exclusive():
    q, k, v = _qkv((2, 9, 3, 4), seed=2)
    got = ops.convert_to_numpy(mixed_chunk_attention(q, k, v, 3, exclusive=True))
    assert np.all(got[:, 0] == 0)


def test_causal_future_does_not_leak():
    q, k, v = _qkv((2, 10, 3, 4), seed=3)
    base = ops.convert_to_numpy(mixed_chunk_attention(q, k, v, 4))
    k2, v2 = k.copy(), v.copy()
    k2[:, 6:] += 5.0
    v2[:, 6:] -= 3.0
    changed = ops.convert_to_numpy(mixed_chunk_attention(q, k2, v2, 4))
    np.testing.assert_array_equal(changed[:, :6], base[:, :6])
    assert not np.allclose(changed[:, 6:], base[:, 6:])


def test_symbolic_batch_and_time_sizes_under_tf_function():
    q, k, v = _qkv((2, 11, 3, 2), seed=4)
    spec_k = tf.TensorSpec([None, None, 3], tf.float64)
    fn = tf.function(
        lambda a, b, c: mixed_chunk_attention(a, b, c, 4, exclusive=True),
        input_signature=[spec_k, spec_k, tf.TensorSpec([None, None, 2], tf.float64)],
    )
    np.testing.assert_allclose(fn(q, k, v).numpy(), _loop_attention(q, k, v, True), atol=1e-11)


def test_bad_input():
    q, k, v = _qkv((2, 6, 3, 4))
    with pytest.raises(ValueError, match="attn_chunks"):
        mixed_chunk_attention(q, k, v, 0)
    with pytest.raises(TypeError, match="attn_chunks"):
        mixed_chunk_attention(q, k, v, 2.5)
    with pytest.raises(ValueError, match="q and k .* feature"):
        quadratic_attention(q, k[..., :2], v)
    with pytest.raises(ValueError, match="q and v .* time"):
        mixed_chunk_attention(q, k, v[:, :5], 2)
    with pytest.raises(ValueError, match="q must have shape"):
        mixed_chunk_attention(q[0], k, v, 2)


def test_runs_under_jax(run_under_jax):
    out = run_under_jax(
        """
        import jax, numpy as np
        from fwcourse.chunked_attention import mixed_chunk_attention, quadratic_attention
        rng = np.random.default_rng(0)
        q, k, v = (rng.standard_normal((2, 10, 3)).astype("float32") for _ in range(3))
        f = jax.jit(lambda a, b, c: mixed_chunk_attention(a, b, c, 3, exclusive=True))
        print(float(np.abs(np.asarray(f(q, k, v)) - np.asarray(quadratic_attention(q, k, v, True))).max()))
        """
    )
    assert float(out.strip().splitlines()[-1]) < 1e-4
