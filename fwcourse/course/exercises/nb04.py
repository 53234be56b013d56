"""Exercises of notebook 04 (next-word prediction): making windows, top-k decoding, perplexity."""
from __future__ import annotations

import numpy as np

from fwcourse.data import corpus
from fwcourse import ngram
from fwcourse.course.check import Exercise, odd_sizes


def _windows_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    n = 1 + trial % 4
    return dict(tokens=rng.integers(2, 50, n + s.t), n=n)


make_windows = Exercise(
    name="make_windows",
    reference=corpus.windows,
    make_inputs=_windows_inputs,
    hint=[
        "A stream of L tokens gives L - n windows: window i is tokens[i:i+n], its label tokens[i+n].",
        "np.lib.stride_tricks.sliding_window_view(tokens[:-1], n) builds every window at once.",
    ],
)


def _top_k_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    k = 1 + trial % 5
    logits = rng.standard_normal((s.b, s.m + k + 2))
    return dict(probs=np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), k=k)


top_k = Exercise(
    name="top_k",
    reference=ngram.top_k,
    make_inputs=_top_k_inputs,
    hint=[
        "Sort each row (axis=1) by decreasing probability and keep the first k column indices.",
        "np.argsort(-probs, axis=1)[:, :k]",
    ],
)


def _perplexity_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    logits = 2 * rng.standard_normal((s.t, s.m + 2))
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return dict(log_probs=log_probs, targets=rng.integers(0, s.m + 2, s.t))


perplexity = Exercise(
    name="perplexity",
    reference=ngram.target_perplexity,
    make_inputs=_perplexity_inputs,
    hint=[
        "The cross-entropy loss of one window is -log p(target); Keras reports its mean over windows.",
        "Perplexity is exp(mean loss): pick log_probs[i, targets[i]] for every i, average, negate, exp.",
    ],
)

EXERCISES = [make_windows, top_k, perplexity]
