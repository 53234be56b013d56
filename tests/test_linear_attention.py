"""Fast-weight programmer = linear attention: three implementations against explicit-loop definitions."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse import linear_attention as la


def _loop_linear_attention(q, k, v, phi):
    """y(i) = sum_{j<=i} v(j) (phi(k(j)) . phi(q(i))), one query at a time."""
    T = len(q)
    return np.array([sum(v[j] * float(phi(k[j]) @ phi(q[i])) for j in range(i + 1)) for i in range(T)])


def _loop_softmax(q, k, v):
    out = []
    for i in range(len(q)):
        s = np.array([q[i] @ k[j] for j in range(i + 1)]) / np.sqrt(q.shape[1])
        w = np.exp(s - s.max())
        out.append((w / w.sum()) @ v[: i + 1])
    return np.array(out)


@pytest.mark.parametrize("phi", [None, "elu_plus_one", lambda x: np.tanh(x) ** 2])
@pytest.mark.parametrize("T, dk, dv", [(1, 3, 2), (7, 5, 3), (13, 2, 7)])
def test_three_forms_agree_with_the_definition(phi, T, dk, dv):
    rng = np.random.default_rng(T * 10 + dk)
    q, k, v = rng.standard_normal((T, dk)), rng.standard_normal((T, dk)), rng.standard_normal((T, dv))
    f = (lambda x: la.apply_feature_map(phi, x, "x"))
    expected = _loop_linear_attention(q, k, v, f)
    np.testing.assert_allclose(la.fast_weight_sequential(q, k, v, phi), expected, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(la.linear_attention_parallel(q, k, v, phi), expected, rtol=1e-11, atol=1e-11)
    for chunk in (1, 3, 4, T, T + 2):
        np.testing.assert_allclose(la.linear_attention_chunked(q, k, v, chunk, phi), expected,
                                   rtol=1e-11, atol=1e-11, err_msg=f"chunk {chunk}")


def test_batched_inputs_match_one_sequence_at_a_time():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3, 9, 5)), rng.standard_normal((2, 3, 9, 5)), rng.standard_normal((2, 3, 9, 4))
    for fn in (la.fast_weight_sequential, la.linear_attention_parallel,
               lambda q, k, v: la.linear_attention_chunked(q, k, v, 4), la.causal_softmax_attention):
        batched = fn(q, k, v)
        for b in range(2):
            for h in range(3):
                np.testing.assert_allclose(batched[b, h], fn(q[b, h], k[b, h], v[b, h]), rtol=1e-12, atol=1e-12)


def test_final_fast_weights_are_the_sum_of_outer_products():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 5))
    W0 = rng.standard_normal((5, 3))
    y, W = la.fast_weight_sequential(q, k, v, W0=W0, return_state=True)
    np.testing.assert_allclose(W, W0 + sum(np.outer(v[i], k[i]) for i in range(6)))
    np.testing.assert_allclose(y[-1], W @ q[-1])


def test_causal_mask_and_softmax():
    np.testing.assert_array_equal(la.causal_mask(4), np.array([[j <= i for j in range(4)] for i in range(4)]))
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((7, 3)), rng.standard_normal((7, 3)), rng.standard_normal((7, 2))
    np.testing.assert_allclose(la.causal_softmax_attention(q, k, v), _loop_softmax(q, k, v), rtol=1e-12)
    big = 1e3 * q     # no overflow: the scores are shifted by their maximum
    assert np.all(np.isfinite(la.causal_softmax_attention(big, k, v)))


def test_elu_plus_one_is_positive_and_continuous():
    x = np.linspace(-30, 30, 601)
    y = la.elu_plus_one(x)
    assert np.all(y > 0)
    np.testing.assert_allclose(la.elu_plus_one(np.array([-1e-9, 1e-9])), [1.0, 1.0], atol=1e-8)


@pytest.mark.parametrize("fn", [la.fast_weight_sequential, la.linear_attention_parallel,
                                lambda q, k, v, phi=None: la.linear_attention_chunked(q, k, v, 2, phi)])
def test_bad_input_names_the_argument(fn):
    q, k, v = np.ones((5, 3)), np.ones((5, 3)), np.ones((5, 2))
    with pytest.raises(ValueError, match="q and k"):
        fn(q, np.ones((5, 4)), v)
    with pytest.raises(ValueError, match="v must have shape"):
        fn(q, k, np.ones((4, 2)))
    with pytest.raises(ValueError, match="k must be finite"):
        fn(q, np.full((5, 3), np.inf), v)
    with pytest.raises(ValueError, match=r"phi must keep the shape"):
        fn(q, k, v, phi=lambda x: x.sum(axis=-1))
    with pytest.raises(ValueError, match="q must have shape"):
        fn(np.ones(3), np.ones(3), v)
    with pytest.raises(TypeError, match="phi must be"):
        fn(q, k, v, phi=3)


def test_bad_chunk_size_and_mask_size():
    with pytest.raises(ValueError, match="chunk_size"):
        la.linear_attention_chunked(np.ones((4, 2)), np.ones((4, 2)), np.ones((4, 2)), 0)
    with pytest.raises(ValueError, match="T must be"):
        la.causal_mask(0)
