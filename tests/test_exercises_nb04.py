"""Checkers of notebook 04: the reference passes, known-wrong answers get the right verdict."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse.course.check import WRONG_DTYPE, WRONG_SHAPE, WRONG_VALUES
from fwcourse.course.exercises import nb04


def _loop_windows(tokens, n, shift=0):
    X = np.array([tokens[i:i + n] for i in range(len(tokens) - n)])
    y = np.array([tokens[i + n - shift] for i in range(len(tokens) - n)])
    return X, y


@pytest.mark.parametrize("wrong,status", [
    (lambda t, n: _loop_windows(t, n, shift=1), WRONG_VALUES),            # label off by one: the last context word
    (lambda t, n: (np.array([t[i:i + n + 1] for i in range(len(t) - n)]), t[n:]), WRONG_SHAPE),  # target inside
    (lambda t, n: (np.array([t[i:i + n] for i in range(len(t) - n + 1)]), t[n - 1:]), WRONG_SHAPE),  # one window too many
    (lambda t, n: (_loop_windows(t, n)[0].T, t[n:]), WRONG_SHAPE),          # transposed
    (lambda t, n: (_loop_windows(t, n)[0][::-1], t[n:]), WRONG_VALUES),     # windows in reverse order
])
def test_make_windows_catches(wrong, status):
    assert nb04.make_windows.run(wrong, seed=3).status == status


@pytest.mark.parametrize("wrong,status", [
    (lambda p, k: np.argsort(p, axis=1)[:, :k], WRONG_VALUES),              # smallest, not largest
    (lambda p, k: np.argsort(p, axis=1)[:, ::-1][:, :k + 1], WRONG_SHAPE),  # k + 1 words
    (lambda p, k: np.argsort(-p, axis=0)[:k].T, WRONG_SHAPE),               # sorted along the batch axis
    (lambda p, k: np.sort(np.argpartition(-p, k - 1, axis=1)[:, :k], axis=1), WRONG_VALUES),  # not by probability
    (lambda p, k: -np.sort(-p, axis=1)[:, :k], WRONG_DTYPE),                 # probabilities, not indices
])
def test_top_k_catches(wrong, status):
    assert nb04.top_k.run(wrong, seed=4).status == status


def _picked(lp, y):
    return lp[np.arange(len(y)), y]


@pytest.mark.parametrize("wrong", [
    lambda lp, y: float(np.exp(-_picked(lp, y).sum())),       # sum, not mean
    lambda lp, y: float(np.exp(_picked(lp, y).mean())),       # sign forgotten
    lambda lp, y: float(2 ** (-_picked(lp, y).mean())),       # base 2 with natural logs
    lambda lp, y: float(np.exp(-lp.mean())),                  # mean over the whole vocabulary
    lambda lp, y: float(-_picked(lp, y).mean()),              # the loss, not the perplexity
])
def test_perplexity_catches(wrong):
    assert nb04.perplexity.run(wrong, seed=5).status == WRONG_VALUES
