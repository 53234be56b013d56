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
