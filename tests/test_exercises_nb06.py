"""Notebook 06 exercises: references against definitions (autodiff, loops); checkers catch wrong answers."""
from __future__ import annotations

import tracemalloc

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
