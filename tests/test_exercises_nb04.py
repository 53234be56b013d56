"""Checkers of notebook 04: the reference passes, known-wrong answers get the right verdict."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse.course.check import PASSED, WRONG_DTYPE, WRONG_SHAPE, WRONG_VALUES
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


def _kneser_ney(trigrams, context, V, D, *, raw_lower=False, backoff=False, uniform_floor=True,
                swap_context=False, unseen_context_uniform=False, freed_mass_without_T=False):
    """Exercise 2 (core) written out with bincounts, and the mistakes it can make."""
    def interpolate(counts, lower):
        total = counts.sum()
        if total == 0:
            return np.full(V, 1 / V) if unseen_context_uniform else lower
        freed = D * (1 if freed_mass_without_T else np.count_nonzero(counts)) / total
        if backoff:   # the lower order only for words unseen in the context
            return np.where(counts > 0, np.maximum(counts - D, 0) / total, freed * lower)
        return np.maximum(counts - D, 0) / total + freed * lower

    u, v = context[::-1] if swap_context else context
    distinct = trigrams if raw_lower else np.unique(trigrams, axis=0)
    pairs = distinct[:, 1:] if raw_lower else np.unique(distinct[:, 1:], axis=0)
    n1 = np.bincount(pairs[:, 1], minlength=V)
    p1 = interpolate(n1, np.full(V, 1 / V)) if uniform_floor else n1 / n1.sum()
    p2 = interpolate(np.bincount(distinct[distinct[:, 1] == v, 2], minlength=V), p1)
    return interpolate(np.bincount(trigrams[(trigrams[:, 0] == u) & (trigrams[:, 1] == v), 2], minlength=V), p2)


def test_kneser_ney_inputs_reach_every_order():
    """The trials' contexts are seen, seen only by their last word, and unseen, so that an answer
    wrong at one order cannot pass by never getting there."""
    rng = np.random.default_rng(0)
    seen_orders = set()
    for trial in range(nb04.kneser_ney.n_trials):
        inputs = nb04.kneser_ney.make_inputs(rng, trial)
        tri, (u, v) = inputs["trigrams"], inputs["context"]
        seen_orders.add(3 if np.any((tri[:, 0] == u) & (tri[:, 1] == v)) else 2 if np.any(tri[:, 1] == v) else 1)
        assert np.bincount(tri.ravel(), minlength=inputs["vocab_size"]).min() == 0   # some words unseen
    assert seen_orders == {1, 2, 3}


def test_kneser_ney_passes_the_written_out_version():
    assert nb04.kneser_ney.run(_kneser_ney, seed=6).status == PASSED


@pytest.mark.parametrize("label, kwargs", [
    ("raw counts at the lower orders, not continuation counts", dict(raw_lower=True)),
    ("back-off: the lower order only for words unseen in the context", dict(backoff=True)),
    ("no uniform floor: words never seen get probability 0", dict(uniform_floor=False)),
    ("context read as (v, u)", dict(swap_context=True)),
    ("an unseen context falls to the uniform distribution", dict(unseen_context_uniform=True)),
    ("freed mass D / c, without the number of word types T", dict(freed_mass_without_T=True)),
])
def test_kneser_ney_wrong_answers(label, kwargs):
    result = nb04.kneser_ney.run(lambda *a: _kneser_ney(*a, **kwargs), seed=7)
    assert result.status == WRONG_VALUES, f"{label}: {result}"
