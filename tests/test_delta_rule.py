"""The delta rule and the capacity helpers against explicit-loop definitions."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse import delta_rule as dr
from fwcourse.linear_attention import elu_plus_one


def _loop_delta(q, k, v, beta, phi, normalise):
    W = np.zeros((v.shape[1], k.shape[1]))
    ys = []
    for i in range(len(q)):
        fk, fq = phi(k[i]), phi(q[i])
        if normalise:
            fk, fq = fk / fk.sum(), fq / fq.sum()
        W = W + beta[i] * np.outer(v[i] - W @ fk, fk)
        ys.append(W @ fq)
    return np.array(ys), W


@pytest.mark.parametrize("T, dk, dv", [(1, 2, 3), (9, 5, 3), (11, 3, 7)])
@pytest.mark.parametrize("normalise", [True, False])
def test_delta_rule_matches_loop(T, dk, dv, normalise):
    rng = np.random.default_rng(T + dk)
    q, k, v = rng.standard_normal((T, dk)), rng.standard_normal((T, dk)), rng.standard_normal((T, dv))
    beta = rng.uniform(0, 1, T)
    y, W = dr.delta_rule(q, k, v, beta, phi="elu_plus_one", normalise=normalise, return_state=True)
    y_ref, W_ref = _loop_delta(q, k, v, beta, elu_plus_one, normalise)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(W, W_ref, rtol=1e-12, atol=1e-12)


def test_delta_rule_batched_and_beta_gate():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 4))
    w = rng.standard_normal(4)
    beta = dr.beta_gate(x, w, 0.3)
    np.testing.assert_allclose(beta, 1 / (1 + np.exp(-(x @ w + 0.3))))
    q, k, v = rng.standard_normal((2, 7, 3)), rng.standard_normal((2, 7, 3)), rng.standard_normal((2, 7, 5))
    y = dr.delta_rule(q, k, v, beta)
    for b in range(2):
        np.testing.assert_allclose(y[b], dr.delta_rule(q[b], k[b], v[b], beta[b]), rtol=1e-12)


def test_delta_update_replaces_the_value_under_a_unit_key():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((4, 3))
    k = rng.standard_normal(3)
    k /= np.linalg.norm(k)
    v = rng.standard_normal(4)
    np.testing.assert_allclose(dr.delta_update(W, k, v, 1.0) @ k, v, rtol=1e-12)
    np.testing.assert_allclose(dr.delta_update(W, k, v, 0.0), W)
    # beta = 1 with the sum rule instead would give W k + v: the old value is not removed.
    np.testing.assert_allclose(dr.delta_update(W, k, v, 0.4), W + 0.4 * np.outer(v - W @ k, k))


def test_sum_normalise():
    x = np.array([[1.0, 3.0], [2.0, 2.0]])
    np.testing.assert_allclose(dr.sum_normalise(x), [[0.25, 0.75], [0.5, 0.5]])
    with pytest.raises(ValueError, match="non-negative"):
        dr.sum_normalise(np.array([1.0, -2.0]))


@pytest.mark.parametrize("kind", dr.KEY_KINDS)
def test_make_keys(kind):
    keys = dr.make_keys(11, 4, kind, rng=0)
    assert keys.shape == (11, 4)
    np.testing.assert_allclose(np.linalg.norm(keys, axis=1), 1.0)
    if kind == "orthogonal":
        np.testing.assert_allclose(keys[:4] @ keys[:4].T, np.eye(4), atol=1e-12)
        np.testing.assert_allclose(keys[4:8] @ keys[4:8].T, np.eye(4), atol=1e-12)


def test_retrieval_errors_definition_and_capacity_facts():
    rng = np.random.default_rng(2)
    d = 5
    keys = dr.make_keys(d, d, "orthogonal", rng)
    values = rng.standard_normal((d, 3))
    for rule in dr.RULES:    # d orthogonal pairs fit without interference, with either rule
        err, _ = dr.retrieval_errors(keys, values, rule)
        np.testing.assert_allclose(err, 0.0, atol=1e-20)
    keys = dr.make_keys(9, d, "random", rng)
    values = rng.standard_normal((9, 3))
    err, W = dr.retrieval_errors(keys, values, "sum")
    np.testing.assert_allclose(W, sum(np.outer(values[i], keys[i]) for i in range(9)))
    expected = [np.sum((W @ keys[i] - values[i]) ** 2) / np.sum(values[i] ** 2) for i in range(9)]
    np.testing.assert_allclose(err, expected)
    err_delta, _ = dr.retrieval_errors(keys, values, "delta")
    assert err_delta[-1] < 1e-20          # the delta rule returns the last written value exactly


def test_capacity_curve_shape_and_growth():
    curve = dr.capacity_curve([2, 8, 32], d_key=8, rule="sum", kind="random", n_repeats=3, rng=0)
    assert curve.shape == (3, 3)
    means = curve.mean(axis=1)
    assert means[0] < means[1] < means[2]


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="beta must lie"):
        dr.delta_rule(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2)), 1.5)
    with pytest.raises(ValueError, match="beta must be a number or have shape"):
        dr.delta_rule(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2)), np.ones(4) * 0.5)
    with pytest.raises(ValueError, match="k must have shape"):
        dr.delta_update(np.ones((3, 2)), np.ones(3), np.ones(3), 0.5)
    with pytest.raises(ValueError, match="v must have shape"):
        dr.delta_update(np.ones((3, 2)), np.ones(2), np.ones(2), 0.5)
    with pytest.raises(ValueError, match="phi\\(k\\) must be non-negative"):
        dr.delta_rule(np.ones((3, 2)), -np.ones((3, 2)), np.ones((3, 2)), 0.5, phi=None)
    with pytest.raises(ValueError, match="kind"):
        dr.make_keys(3, 2, "sparse")
    with pytest.raises(ValueError, match="rule"):
        dr.retrieval_errors(np.eye(2), np.eye(2), "hebb")
    with pytest.raises(ValueError, match="x must have shape"):
        dr.beta_gate(np.ones((3, 4)), np.ones(2))
