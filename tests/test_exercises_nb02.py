"""Notebook 02's exercise checks: the reference passes, known-wrong answers get the right verdict."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse.course import check
from fwcourse.course.exercises import nb02 as ex


@pytest.mark.parametrize("wrong, status", [
    (lambda T: np.tril(np.ones((T, T), dtype=bool), k=-1), check.WRONG_VALUES),   # off by one: no diagonal
    (lambda T: np.triu(np.ones((T, T), dtype=bool)), check.WRONG_VALUES),         # transposed: sees the future
    (lambda T: np.tril(np.ones((T, T))), check.WRONG_DTYPE),                      # floats, not booleans
])
def test_causal_mask_wrong_answers(wrong, status):
    assert ex.causal_mask.run(wrong, seed=1).status == status


def _softmax(q, k, v):
    s = np.where(np.tril(np.ones((len(q), len(q)), bool)), q @ k.T, -np.inf)
    w = np.exp(s - s.max(axis=1, keepdims=True))
    return (w / w.sum(axis=1, keepdims=True)) @ v


@pytest.mark.parametrize("wrong, status", [
    (lambda q, k, v: (q @ k.T) @ v, check.WRONG_VALUES),                                  # no causal mask
    (lambda q, k, v: np.tril(q @ k.T, k=-1) @ v, check.WRONG_VALUES),                     # excludes the present
    (lambda q, k, v: np.tril(k @ q.T) @ v, check.WRONG_VALUES),                           # scores transposed
    (_softmax, check.WRONG_VALUES),                                                       # softmax attention
    (lambda q, k, v: (np.tril(q @ k.T) @ v).T, check.WRONG_SHAPE),
])
def test_linear_attention_wrong_answers(wrong, status):
    assert ex.linear_attention.run(wrong, seed=2).status == status


@pytest.mark.parametrize("wrong, status", [
    (lambda W, k, v, beta: W + beta * np.outer(v, k), check.WRONG_VALUES),               # the sum rule
    (lambda W, k, v, beta: W + np.outer(v - W @ k, k), check.WRONG_VALUES),              # forgot beta
    (lambda W, k, v, beta: W + beta * np.outer(k, v - W @ k), check.WRONG_SHAPE),        # transposed change
    (lambda W, k, v, beta: beta * np.outer(v - W @ k, k), check.WRONG_VALUES),           # forgot the old W
])
def test_delta_update_wrong_answers(wrong, status):
    assert ex.delta_update.run(wrong, seed=3).status == status


def _delta_memory(q, k, v, beta, *, read_before_write=False, sum_rule=False, read_with_key=False,
                  beta_lag=0, beta_on_value_only=False, transposed=False):
    """Exercise 4 written out, and the mistakes it can make."""
    W = np.zeros((v.shape[1], k.shape[1]))
    y = np.empty(v.shape)
    for i in range(len(k)):
        b = beta[max(i - beta_lag, 0)]
        old = W
        if sum_rule:
            W = W + b * np.outer(v[i], k[i])
        elif beta_on_value_only:
            W = W + np.outer(b * v[i] - W @ k[i], k[i])
        elif transposed:
            W = W + b * np.outer(k[i], v[i] - W @ k[i])
        else:
            W = W + b * np.outer(v[i] - W @ k[i], k[i])
        y[i] = (old if read_before_write else W) @ (k[i] if read_with_key else q[i])
    return y


def test_delta_rule_memory_passes_the_written_out_version():
    assert ex.delta_rule_memory.run(_delta_memory, seed=4).status == check.PASSED


@pytest.mark.parametrize("wrong, status", [
    (lambda *a: _delta_memory(*a, read_before_write=True), check.WRONG_VALUES),   # off by one in time
    (lambda *a: _delta_memory(*a, sum_rule=True), check.WRONG_VALUES),            # adds, never replaces
    (lambda *a: _delta_memory(*a, read_with_key=True), check.WRONG_VALUES),       # reads with k(i), not q(i)
    (lambda *a: _delta_memory(*a, beta_lag=1), check.WRONG_VALUES),               # beta of the previous step
    (lambda *a: _delta_memory(*a, beta_on_value_only=True), check.WRONG_VALUES),  # W + (beta v - W k) k^T
    (lambda *a: _delta_memory(*a, transposed=True), check.ERROR),                 # k (v - W k)^T: shapes clash
    (lambda *a: _delta_memory(*a)[-1], check.WRONG_SHAPE),                        # only the last read
])
def test_delta_rule_memory_wrong_answers(wrong, status):
    assert ex.delta_rule_memory.run(wrong, seed=5).status == status
