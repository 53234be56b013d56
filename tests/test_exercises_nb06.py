"""Notebook 06 exercises: references against definitions (autodiff, loops); checkers catch wrong answers."""
from __future__ import annotations

import re
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from fwcourse.course import check
from fwcourse.course.exercises import nb06


def test_per_token_gradients_sum_to_the_autodiff_gradient():
    rng = np.random.default_rng(1)
    x, W, target = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    Wv = tf.Variable(W)
    with tf.GradientTape(persistent=True) as tape:
        z = tf.constant(x) @ Wv
        loss = tf.reduce_sum(tf.sin(z) * target)
    delta = tape.gradient(loss, z).numpy()
    per_token = nb06.per_token_kernel_gradients.reference(x, delta)
    assert per_token.shape == (5, 3, 4)
    np.testing.assert_allclose(per_token.sum(0), tape.gradient(loss, Wv).numpy(), rtol=1e-12)
    for s in range(5):
        np.testing.assert_allclose(per_token[s], np.outer(x[s], delta[s]))
        assert np.linalg.matrix_rank(per_token[s]) == 1


def test_fast_dense_is_the_layer_after_an_sgd_step_on_earlier_tokens():
    rng = np.random.default_rng(2)
    T, d, m, lr = 6, 3, 4, 0.7
    W, x, delta = rng.standard_normal((d, m)), rng.standard_normal((T, d)), rng.standard_normal((T, m))
    got = nb06.fast_dense.reference(W, x, delta, lr)
    for t in range(T):
        W_t = W - lr * sum((np.outer(x[s], delta[s]) for s in range(t)), np.zeros((d, m)))
        np.testing.assert_allclose(got[t], x[t] @ W_t, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunks", [1, 2, 3, 6])
def test_chunked_attention_matches_the_loop(chunks):
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((6, 2)), rng.standard_normal((6, 2)), rng.standard_normal((6, 3))
    expected = np.array([sum(((q[t] @ k[s]) * v[s] for s in range(t)), np.zeros(3)) for t in range(6)])
    np.testing.assert_allclose(nb06.chunked_attention.reference(q, k, v, chunks), expected, atol=1e-12)


def _solution(ex):
    namespace = {"np": np}
    exec(ex.solution_code, namespace)  # the worked solution of the notebook source
    return namespace[ex.name]


def test_per_token_gradient_checker_catches_wrong_answers():
    ex = nb06.per_token_kernel_gradients
    assert ex.run(lambda x, d: d[:, :, None] * x[:, None, :], seed=3).status == check.WRONG_SHAPE  # transposed
    assert ex.run(lambda x, d: x.T @ d, seed=4).status == check.WRONG_SHAPE  # summed over tokens
    assert ex.run(lambda x, d: np.roll(x, 1, 0)[:, :, None] * d[:, None, :], seed=5).status in (
        check.WRONG_VALUES,)  # off by one in time
    assert ex.run(lambda x, d: (x[:, :, None] * d[:, None, :]).astype(int), seed=6).status == check.WRONG_DTYPE


def test_fast_dense_checker_catches_wrong_answers():
    ex = nb06.fast_dense
    inclusive = lambda W, x, d, lr: x @ W - lr * np.tril(x @ x.T) @ d  # noqa: E731 (s <= t)
    wrong_sign = lambda W, x, d, lr: x @ W + lr * np.tril(x @ x.T, -1) @ d  # noqa: E731
    no_step = lambda W, x, d, lr: x @ W  # noqa: E731
    future = lambda W, x, d, lr: x @ W - lr * np.triu(x @ x.T, 1) @ d  # noqa: E731 (s > t)
    for wrong in (inclusive, wrong_sign, no_step, future):
        assert ex.run(wrong, seed=7).status == check.WRONG_VALUES
    assert ex.run(lambda W, x, d, lr: (x @ W).T, seed=8).status == check.WRONG_SHAPE


def test_chunked_attention_checker_catches_wrong_answers():
    ex = nb06.chunked_attention
    good = _solution(ex)

    def no_inter_chunk(q, k, v, chunks):  # forgets the memory of earlier chunks
        T = q.shape[0]
        qc, kc, vc = (a.reshape(chunks, T // chunks, a.shape[-1]) for a in (q, k, v))
        return (np.tril(qc @ kc.transpose(0, 2, 1), k=-1) @ vc).reshape(T, -1)

    def inclusive_memory(q, k, v, chunks):  # chunk g also reads its own memory (a future leak)
        T = q.shape[0]
        qc, kc, vc = (a.reshape(chunks, T // chunks, a.shape[-1]) for a in (q, k, v))
        intra = np.tril(qc @ kc.transpose(0, 2, 1), k=-1) @ vc
        return (intra + qc @ np.cumsum(kc.transpose(0, 2, 1) @ vc, axis=0)).reshape(T, -1)

    for wrong in (no_inter_chunk, inclusive_memory, lambda q, k, v, c: good(q, k, v, c)[::-1]):
        assert ex.run(wrong, seed=9).status == check.WRONG_VALUES
    assert ex.run(lambda q, k, v, c: good(q, k, v, c)[:, :, None], seed=10).status == check.WRONG_SHAPE


def _quadratic(q, k, v, chunks):  # right values, but the full T × T score matrix
    return np.tril(q @ k.T, k=-1) @ v


def test_chunked_attention_checker_passes_linear_memory_answers():
    ex = nb06.chunked_attention

    def by_position(q, k, v, chunks):  # no chunks at all, but O(T) memory: allowed
        return np.stack([(q[t] @ k[:t].T) @ v[:t] for t in range(len(q))])

    for func in (ex.reference, _solution(ex), by_position):
        assert ex.run(func, seed=11).status == check.PASSED


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chunked_attention_checker_catches_the_full_score_matrix(dtype):
    ex = nb06.chunked_attention
    quadratic = lambda q, k, v, c: _quadratic(*(a.astype(dtype) for a in (q, k, v)), c)  # noqa: E731
    result = ex.run(quadratic, seed=12)
    assert result.status == check.WRONG_VALUES, result
    assert "T × T score matrix alone is 33.6 MB" in result.message
    assert result.message.splitlines()[-1].startswith("Compute scores inside each chunk only")


def test_an_exception_in_the_long_call_is_reported():
    good = _solution(nb06.chunked_attention)

    def short_only(q, k, v, chunks):
        if len(q) > 100:
            raise ValueError("written for short sequences")
        return good(q, k, v, chunks)

    result = nb06.chunked_attention.run(short_only, seed=14)
    assert result.status == check.ERROR
    assert "With T = 2048" in result.message and "ValueError: written for short sequences" in result.message


def test_chunked_attention_memory_probe_tolerates_an_outer_tracemalloc_session():
    tracemalloc.start()
    try:
        assert nb06.chunked_attention.run(_quadratic, seed=13).status == check.WRONG_VALUES
        assert tracemalloc.is_tracing()  # the learner's (or a profiler's) session is left running
    finally:
        tracemalloc.stop()


# -- Exercise 4 (core): a Fast Weight Layer of one fast dense layer below a softmax unembedding -----

def _layer(rng, d=4, m=3, V=6, step_kernel=0.7, step_bias=1.3):
    return SimpleNamespace(kernel=rng.standard_normal((d, m)), bias=rng.standard_normal(m),
                           out_kernel=rng.standard_normal((m, V)), out_bias=rng.standard_normal(V),
                           step_kernel=step_kernel, step_bias=step_bias)


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _fwl(layer, x, labels, c, *, exclusive=True, sign=-1.0, bias_step="step_bias", weighted=True,
         target_sign=1.0, softmax_axis=-1, keys="x", through_unembedding=True, future=False):
    """Exercise 4 in NumPy, and the mistakes it can make."""
    h = x @ layer.kernel + layer.bias
    grad_logits = _softmax(h @ layer.out_kernel + layer.out_bias, softmax_axis)
    grad_logits[np.arange(len(labels)), labels] -= 1
    grad_logits *= target_sign
    delta = (c[:, None] if weighted else 1.0) * grad_logits
    if through_unembedding:
        delta = delta @ layer.out_kernel.T
    q = x if keys == "x" else h  # query and key alike
    scores = np.triu(q @ q.T, 1) if future else np.tril(q @ q.T, -1 if exclusive else 0)
    earlier = np.cumsum(delta, axis=0) - (delta if exclusive else 0)
    eta_b = {"step_bias": layer.step_bias, "step_kernel": layer.step_kernel, "none": 0.0}[bias_step]
    h_fast = h + sign * (layer.step_kernel * scores @ delta + eta_b * earlier)
    return delta, h_fast @ layer.out_kernel + layer.out_bias


def _sequential(layer, x, labels, c):
    """Steps taken at the fast weights, token after token (dynamic evaluation with chunks of one
    token): each δ_s at the weights already moved by the tokens before s."""
    W, b = layer.kernel.copy(), layer.bias.copy()
    deltas, logits = [], []
    for t in range(len(x)):
        z = (x[t] @ W + b) @ layer.out_kernel + layer.out_bias
        grad = _softmax(z)
        grad[labels[t]] -= 1
        delta = c[t] * grad @ layer.out_kernel.T
        deltas.append(delta)
        logits.append(z)
        W, b = W - layer.step_kernel * np.outer(x[t], delta), b - layer.step_bias * delta
    return np.array(deltas), np.array(logits)


def _explicit_weights(layer, x, labels, c, outer=np.outer):
    """The definition in NumPy: W_t and b_t formed for each position, from the per-token δ."""
    delta, _ = _fwl(layer, x, labels, c)
    logits = []
    for t in range(len(x)):
        W_t = layer.kernel - layer.step_kernel * sum((outer(x[s], delta[s]) for s in range(t)), 0 * layer.kernel)
        b_t = layer.bias - layer.step_bias * delta[:t].sum(0)
        logits.append((x[t] @ W_t + b_t) @ layer.out_kernel + layer.out_bias)
    return delta, np.array(logits)


def test_fast_weight_layer_reference_is_one_sgd_step_on_the_earlier_tokens():
    """The reference's δ are the per-token gradients of the weighted inner loss (their outer products
    sum to autodiff's dL/dW), and its logits at t are the layer with W, b stepped on tokens s < t."""
    rng = np.random.default_rng(20)
    layer, T = _layer(rng), 7
    x, labels = rng.standard_normal((T, 4)), rng.integers(0, 6, T)
    c = rng.uniform(0, 1, T) / T
    delta, logits = nb06.fast_weight_layer_reference(layer, x, labels, c)
    W, b = tf.Variable(layer.kernel), tf.Variable(layer.bias)
    with tf.GradientTape() as tape:
        z = (tf.constant(x) @ W + b) @ layer.out_kernel + layer.out_bias
        loss = tf.reduce_sum(c * tf.nn.sparse_softmax_cross_entropy_with_logits(labels, z))
    grad_W, grad_b = tape.gradient(loss, [W, b])
    np.testing.assert_allclose(np.einsum("sd,sm->dm", x, delta), grad_W.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(delta.sum(0), grad_b.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(logits, _explicit_weights(layer, x, labels, c)[1], rtol=1e-10, atol=1e-12)
    slow = (x @ layer.kernel + layer.bias) @ layer.out_kernel + layer.out_bias
    np.testing.assert_allclose(logits[0], slow[0], rtol=1e-12)  # no earlier tokens, no step
    frozen = SimpleNamespace(**{**vars(layer), "step_kernel": 0.0, "step_bias": 0.0})
    np.testing.assert_allclose(nb06.fast_weight_layer_reference(frozen, x, labels, c)[1], slow, rtol=1e-12)


@pytest.mark.parametrize("bad, message", [
    (dict(c=-np.ones(3)), "c must hold loss weights >= 0"),
    (dict(labels=np.array([0, 6, 1])), "labels must hold ids in [0, 6)"),
    (dict(x=np.ones((3, 5))), "x must have shape (any, 4)"),
])
def test_fast_weight_layer_reference_names_a_bad_input(bad, message):
    rng = np.random.default_rng(21)
    args = dict(layer=_layer(rng), x=rng.standard_normal((3, 4)), labels=np.array([0, 1, 2]), c=np.ones(3) / 3)
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        nb06.fast_weight_layer_reference(**{**args, **bad})


def test_fast_weight_layer_checker_passes_right_answers():
    ex = nb06.fast_weight_layer
    for func in (_fwl, _explicit_weights, _solution(ex)):
        assert ex.run(func, seed=22).status == check.PASSED


@pytest.mark.parametrize("label, func", [
    ("inclusive sum, s <= t", lambda *a: _fwl(*a, exclusive=False)),
    ("the future, s > t", lambda *a: _fwl(*a, future=True)),
    ("a step up the gradient (wrong sign)", lambda *a: _fwl(*a, sign=+1.0)),
    ("onehot(y) - p (wrong sign of the CE gradient)", lambda *a: _fwl(*a, target_sign=-1.0)),
    ("the bias update forgotten", lambda *a: _fwl(*a, bias_step="none")),
    ("the bias stepped with the kernel's step size", lambda *a: _fwl(*a, bias_step="step_kernel")),
    ("δ without the loss weights c", lambda *a: _fwl(*a, weighted=False)),
    ("softmax over the positions", lambda *a: _fwl(*a, softmax_axis=0)),
    ("scores of the layer's outputs h_t·h_s, not its inputs", lambda *a: _fwl(*a, keys="h")),
    ("no step: the slow logits", lambda layer, x, labels, c: (
        _fwl(layer, x, labels, c)[0], (x @ layer.kernel + layer.bias) @ layer.out_kernel + layer.out_bias)),
    ("steps taken at the fast weights, token after token", _sequential),
])
def test_fast_weight_layer_checker_catches_wrong_answers(label, func):
    with np.errstate(over="ignore", invalid="ignore"):
        result = nb06.fast_weight_layer.run(func, seed=23)
    assert result.status == check.WRONG_VALUES, f"{label}: {result}"


def test_fast_weight_layer_checker_catches_a_transposed_outer_product():
    transposed = lambda *a: _explicit_weights(*a, outer=lambda xs, ds: np.outer(ds, xs))  # noqa: E731
    result = nb06.fast_weight_layer.run(transposed, seed=24)
    assert result.status == check.ERROR and "broadcast" in result.message, result


def test_fast_weight_layer_checker_catches_delta_at_the_logits():
    """δ not passed back through the unembedding has one entry per token of the vocabulary."""
    result = nb06.fast_weight_layer.run(lambda *a: _fwl(*a, through_unembedding=False), seed=25)
    assert result.status == check.ERROR and "shapes" in result.message, result
