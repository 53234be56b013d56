"""The checkers of notebook 05: the reference passes, known-wrong answers get the right status."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse.course import check
from fwcourse.course.exercises import nb05


def _run(exercise, func):
    return exercise.run(func, seed=0).status


@pytest.mark.parametrize("func,status", [
    (lambda T: np.tril(np.ones((T, T), bool), -1), check.WRONG_VALUES),   # diagonal left out
    (lambda T: np.triu(np.ones((T, T), bool)), check.WRONG_VALUES),       # transposed: the future
    (lambda T: np.tril(np.ones((T, T))), check.WRONG_DTYPE),              # floats, not booleans
    (lambda T: np.tril(np.ones((T + 1, T + 1), bool)), check.WRONG_SHAPE),
])
def test_causal_mask_wrong_answers(func, status):
    assert _run(nb05.causal_mask, func) == status


def _softmax(z, axis=-1):
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _unstable_softmax(z, axis=-1):
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _attention(q, k, v, mask_k=0, scale=True, axis=-1, softmax=_softmax):
    T, d = q.shape
    scores = q @ k.T / (np.sqrt(d) if scale else 1.0)
    mask = np.tril(np.ones((T, T), bool), mask_k)
    return softmax(np.where(mask, scores, -1e30), axis) @ v


@pytest.mark.parametrize("func,status", [
    (lambda q, k, v: _attention(q, k, v, mask_k=q.shape[0]), check.WRONG_VALUES),  # no mask
    (lambda q, k, v: _attention(q, k, v, mask_k=-1), check.WRONG_VALUES),   # cannot see itself
    (lambda q, k, v: _attention(q, k, v, scale=False), check.WRONG_VALUES),  # no 1/sqrt(d)
    (lambda q, k, v: _attention(q, k, v, axis=0), check.WRONG_VALUES),       # softmax over t
    (lambda q, k, v: _attention(q, k, v).T, check.WRONG_SHAPE),
])
def test_causal_attention_wrong_answers(func, status):
    assert _run(nb05.causal_attention, func) == status


def test_causal_attention_checker_passes_the_reference_and_the_worked_solution():
    ex = nb05.causal_attention
    assert ex.notebook == "05"
    namespace = {"np": np}
    exec(ex.solution_code, namespace)
    for func in (ex.reference, namespace["causal_attention"], _attention):
        assert ex.run(func, seed=0).status == check.PASSED


def test_causal_attention_without_the_row_maximum_overflows_and_is_told_why():
    unstable = lambda q, k, v: _attention(q, k, v, softmax=_unstable_softmax)  # noqa: E731
    # right at the ordinary scales of the random trials: only the large scores catch it
    assert check.Exercise.run(nb05.causal_attention, unstable, seed=0).status == check.PASSED
    with np.errstate(over="ignore", invalid="ignore"):
        result = nb05.causal_attention.run(unstable, seed=0)
    assert result.status == check.WRONG_VALUES
    assert "NaN or inf" in result.message and "overflows" in result.message
    assert result.message.splitlines()[-1].startswith("Subtract each row's maximum")


def test_an_exception_on_large_scores_is_reported_with_the_fix():
    def strict(q, k, v):
        with np.errstate(over="raise"):
            return _attention(q, k, v, softmax=_unstable_softmax)

    result = nb05.causal_attention.run(strict, seed=0)
    assert result.status == check.ERROR
    assert "FloatingPointError" in result.message and "Subtract each row's maximum" in result.message


@pytest.mark.parametrize("func,status", [
    (lambda l, w: np.sum(w * np.exp(l)) / np.sum(w), check.WRONG_VALUES),  # mean of exponentials
    (lambda l, w: np.exp(np.mean(l)), check.WRONG_VALUES),                  # padding counted
    (lambda l, w: np.exp(np.sum(w * l)), check.WRONG_VALUES),               # not averaged
    (lambda l, w: np.exp(np.sum(w * l, axis=1) / np.sum(w, axis=1)), check.WRONG_SHAPE),
])
def test_perplexity_wrong_answers(func, status):
    assert _run(nb05.perplexity, func) == status
