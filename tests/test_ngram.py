"""Kneser-Ney trigram and next-word scores against their definitions (explicit counts and loops)."""
from __future__ import annotations

from collections import Counter, defaultdict
import math

import numpy as np
import pytest

from fwcourse import ngram


def _kn_definition(u_v_w: list[tuple[int, int, int]], V: int, D: float):
    """Interpolated Kneser-Ney trigram written out with dictionaries, one probability at a time."""
    c3 = Counter(u_v_w)
    ctx_total, ctx_types = Counter(), Counter()
    for (u, v, w), c in c3.items():
        ctx_total[u, v] += c
        ctx_types[u, v] += 1
    left_of_vw = defaultdict(set)
    for u, v, w in c3:
        left_of_vw[v, w].add(u)
    n2 = {vw: len(s) for vw, s in left_of_vw.items()}
    n2_total, n2_types = Counter(), Counter()
    for (v, w), n in n2.items():
        n2_total[v] += n
        n2_types[v] += 1
    left_of_w = defaultdict(set)
    for v, w in n2:
        left_of_w[w].add(v)
    n1 = {w: len(s) for w, s in left_of_w.items()}
    total1 = sum(n1.values())

    def p1(w):
        return max(n1.get(w, 0) - D, 0) / total1 + D * len(n1) / total1 / V

    def p2(w, v):
        if n2_total[v] == 0:
            return p1(w)
        return max(n2.get((v, w), 0) - D, 0) / n2_total[v] + D * n2_types[v] / n2_total[v] * p1(w)

    def p3(w, u, v):
        if ctx_total[u, v] == 0:
            return p2(w, v)
        return (max(c3.get((u, v, w), 0) - D, 0) / ctx_total[u, v]
                + D * ctx_types[u, v] / ctx_total[u, v] * p2(w, v))

    return p3


@pytest.mark.parametrize("V,context,N,D", [(7, 2, 40, 0.75), (11, 3, 90, 0.5), (5, 4, 13, 1.0)])
def test_kneser_ney_matches_definition_and_normalises(V, context, N, D):
    rng = np.random.default_rng(V)
    # a skewed distribution so that contexts repeat and some words are never seen
    X = rng.choice(V - 1, size=(N, context), p=np.arange(V - 1, 0, -1) / np.arange(V).sum())
    y = rng.choice(V - 1, size=N)
    model = ngram.KneserNeyTrigram(V, discount=D).fit(X, y)
    p3 = _kn_definition(list(zip(X[:, -2], X[:, -1], y)), V, D)
    # queries: every (u, v) pair, seen or not, including the never-seen word V - 1
    Q = np.array([[0] * (context - 2) + [u, v] for u in range(V) for v in range(V)])
    got = np.exp(model.log_proba(Q, batch_size=7))
    want = np.array([[p3(w, u, v) for w in range(V)] for _, u, v in ((q, q[-2], q[-1]) for q in Q)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(got > 0)


def test_evaluate_is_exp_of_mean_negative_log_prob():
    rng = np.random.default_rng(3)
    X, y = rng.integers(0, 9, (50, 3)), rng.integers(0, 9, 50)
    model = ngram.KneserNeyTrigram(9).fit(X, y)
    Xt, yt = rng.integers(0, 9, (17, 3)), rng.integers(0, 9, 17)
    lp = model.log_proba(Xt)
    s = model.evaluate(Xt, yt)
    assert s["perplexity"] == pytest.approx(math.exp(-sum(lp[i, yt[i]] for i in range(17)) / 17))


def test_scores_definition():
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((23, 13))
    lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    y = rng.integers(0, 13, 23)
    s = ngram.scores(lp, y)
    nll = [-lp[i, y[i]] for i in range(23)]
    assert s["loss"] == pytest.approx(sum(nll) / 23)
    assert s["perplexity"] == pytest.approx(math.exp(sum(nll) / 23))
    for k in (1, 5):
        hits = [y[i] in sorted(range(13), key=lambda j: -lp[i, j])[:k] for i in range(23)]
        assert s[f"top{k}"] == pytest.approx(np.mean(hits))
    assert ngram.target_perplexity(lp, y) == pytest.approx(s["perplexity"])
    np.testing.assert_allclose(ngram.target_losses(lp, y), nll, rtol=1e-12)


def test_perplexity_definition():
    """The course's one perplexity: exp of the weighted mean loss, written as a loop."""
    rng = np.random.default_rng(7)
    losses, weights = rng.random((3, 5)) * 3, (rng.random((3, 5)) > 0.3).astype(float)
    weights[0, 0] = 1.0
    total = sum(l * w for l, w in zip(losses.ravel(), weights.ravel()))
    assert ngram.perplexity(losses, weights) == pytest.approx(math.exp(total / weights.sum()), rel=1e-12)
    assert ngram.perplexity(losses) == pytest.approx(math.exp(losses.mean()), rel=1e-12)
    assert ngram.perplexity(np.zeros(4)) == 1.0
    # a uniform choice among V words has perplexity V
    assert ngram.target_perplexity(np.log(np.full((4, 7), 1 / 7)), np.arange(4)) == pytest.approx(7)
    # a target given probability 0 makes it infinite, unless it is padding
    assert ngram.perplexity(np.array([1.0, np.inf])) == np.inf
    assert ngram.perplexity(np.array([1.0, np.inf]), np.array([1.0, 0.0])) == pytest.approx(math.e)
    for bad, match in (((np.ones(3), np.zeros(3)), "positive sum"), ((np.ones(2), -np.ones(2)), ">= 0"),
                       ((np.array([np.nan, 1.0]),), "NaN"), ((np.ones(2), np.ones(3)), "weights must have shape")):
        with pytest.raises(ValueError, match=match):
            ngram.perplexity(*bad)


def test_top_k_is_sorted_descending():
    rng = np.random.default_rng(1)
    p = rng.random((9, 17))
    got = ngram.top_k(p, 5)
    for i in range(9):
        assert list(got[i]) == sorted(range(17), key=lambda j: -p[i, j])[:5]


def test_bad_inputs_name_the_argument():
    model = ngram.KneserNeyTrigram(5)
    with pytest.raises(RuntimeError, match="fit"):
        model.log_proba(np.zeros((2, 3), int))
    with pytest.raises(ValueError, match=r"X must hold ids in \[0, 5\)"):
        model.fit(np.full((2, 3), 7), np.zeros(2, int))
    with pytest.raises(ValueError, match="y must have shape"):
        model.fit(np.zeros((2, 3), int), np.zeros(3, int))
    with pytest.raises(ValueError, match="at least 2 words"):
        model.fit(np.zeros((2, 1), int), np.zeros(2, int))
    with pytest.raises(ValueError, match="discount"):
        ngram.KneserNeyTrigram(5, discount=0)
    with pytest.raises(ValueError, match="k must be at most"):
        ngram.top_k(np.ones((2, 3)), 4)
    with pytest.raises(ValueError, match=r"targets must hold ids in \[0, 3\)"):
        ngram.scores(np.log(np.full((2, 3), 1 / 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="log-probabilities"):
        ngram.scores(np.ones((2, 3)), np.array([0, 1]))
