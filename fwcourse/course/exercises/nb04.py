"""Exercises of notebook 04 (next-word prediction): making windows, perplexity, top-k decoding
(warm-up), and the Kneser-Ney trigram's probability (core)."""
from __future__ import annotations

import copy

import numpy as np

from fwcourse.data import corpus
from fwcourse import ngram
from fwcourse.course.check import Exercise, odd_sizes
from fwcourse.course.stretch import InvalidAnswer, Stretch


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


def kneser_ney_reference(trigrams, context, vocab_size, discount):
    """P(w | u v) for every word w under the interpolated Kneser-Ney trigram model of ``trigrams``
    (Chen & Goodman 1999, eq. 17; :class:`fwcourse.ngram.KneserNeyTrigram`), shape (vocab_size,).

    ``trigrams`` (N, 3) the training trigrams (u, v, w), ``context`` the pair (u, v), ``discount`` D.
    """
    trigrams = np.asarray(trigrams)
    model = ngram.KneserNeyTrigram(vocab_size, discount).fit(trigrams[:, :2], trigrams[:, 2])
    return np.exp(model.log_proba(np.asarray(context)[None, :]))[0]


def _kneser_ney_inputs(rng: np.random.Generator, trial: int) -> dict:
    V = 6 + trial
    # Zipf-like word frequencies over part of the vocabulary: trigrams repeat (raw and continuation
    # counts differ) and the last words never occur (they live on the uniform floor alone).
    freq = 1.0 / np.arange(1, V - 1) ** 1.2
    trigrams = rng.choice(V - 2, size=(12 + 10 * trial, 3), p=freq / freq.sum())
    middles = np.unique(trigrams[:, 1])
    # the context falls through a different number of orders in each trial
    if trial % 3 == 0:    # a context seen in training: all three orders
        context = trigrams[rng.integers(len(trigrams)), :2]
    elif trial % 3 == 1:  # an unseen pair whose last word was seen before others: the bigram order
        unseen = [(u, v) for u in range(V) for v in middles if not np.any(np.all(trigrams[:, :2] == (u, v), axis=1))]
        context = np.array(unseen[rng.integers(len(unseen))])
    else:                 # a last word never seen in the middle: the unigram order alone
        context = np.array([rng.integers(V), V - 1])
    return dict(trigrams=trigrams, context=context, vocab_size=V, discount=float(rng.uniform(0.3, 0.9)))


kneser_ney = Exercise(
    name="kneser_ney",
    reference=kneser_ney_reference,
    make_inputs=_kneser_ney_inputs,
    hint=[
        "All three orders have one shape: P(w) = max(c(w) - D, 0) / c(.) + D * T / c(.) * P_lower(w), "
        "where c(w) are the counts in the context, c(.) their sum and T how many words have c(w) > 0; "
        "a context with no counts at all is just P_lower. Write it once, as a function of the counts "
        "(np.bincount(words, minlength=vocab_size)) and the lower-order array.",
        "Order 3 counts the trigrams (u, v, w) of the context itself. Orders 2 and 1 count distinct "
        "contexts, not occurrences: for order 2, the number of different u before (v, w); for order 1, "
        "the number of different v before w. np.unique(trigrams, axis=0) keeps each trigram once, and "
        "np.unique of its last two columns each pair (v, w) once.",
        "Order 1 interpolates with the uniform distribution, np.full(vocab_size, 1 / vocab_size): "
        "P1 = interpolate(N1, uniform), P2 = interpolate(N2 of v, P1), P3 = interpolate(c3 of (u, v), P2).",
    ],
)

EXERCISES = [make_windows, kneser_ney, perplexity, top_k]


# -- stretch ---------------------------------------------------------------------------------------
def test_perplexity(model_class, train: tuple, test: tuple, vocab_size: int, batch_size: int = 1024) -> float:
    """Test perplexity of ``model_class(vocab_size).fit(*train)``, a model with the interface of
    :class:`fwcourse.ngram.KneserNeyTrigram`: ``log_proba(X)`` gives (N, vocab_size) log-probabilities
    that must sum (as probabilities) to one in every row. The model sees only the training windows.

    The test windows overlap (the target of one is a word of the next ones), so a model must not
    see them together: each batch holds windows at least ``context + 1`` apart, and each batch is
    scored by a fresh copy of the fitted model, which cannot remember the batches before it.
    """
    if not callable(model_class):
        raise InvalidAnswer("The answer must be a class (or function) called as model_class(vocab_size), "
                            f"with .fit(X, y) and .log_proba(X); got {type(model_class).__name__}.")
    fitted = model_class(vocab_size)
    fitted.fit(np.array(train[0]), np.array(train[1]))
    X, y = np.asarray(test[0]), np.asarray(test[1])
    stride = X.shape[1] + 1
    order = np.concatenate([np.arange(r, len(X), stride) for r in range(stride)])
    losses = []
    for lo in range(0, len(order), batch_size):
        idx = order[lo:lo + batch_size]
        logp = np.asarray(copy.deepcopy(fitted).log_proba(X[idx].copy()), dtype=float)
        if logp.shape != (len(idx), vocab_size):
            raise InvalidAnswer(f"log_proba must return shape (N, {vocab_size}); got {logp.shape}.")
        total = np.logaddexp.reduce(logp, axis=1)
        if not np.all(np.abs(total) < 1e-4):
            worst = int(np.argmax(np.abs(total)))
            raise InvalidAnswer(f"Every row of exp(log_proba) must sum to one; test window {idx[worst]} sums "
                                f"to {np.exp(total[worst]):.6g}. Without it a lower perplexity means nothing.")
        losses.append(-logp[np.arange(len(idx)), y[idx]])
    return float(np.exp(np.mean(np.concatenate(losses))))


beat_the_trigram = Stretch(
    name="beat_the_trigram",
    goal="a count-based model (a class with .fit(X, y) and .log_proba(X), trained on the training "
         "windows only) with a lower test perplexity than the interpolated Kneser-Ney trigram.",
    measure=test_perplexity,
    reference=lambda: ngram.KneserNeyTrigram,
    unit="test perplexity",
    hint=[
        "Tune the discount D on the validation windows (a subclass with another default is enough).",
        "Chen & Goodman (1999) use three discounts, for counts of 1, 2 and 3 or more: modified Kneser-Ney.",
        "The windows hold 3 words: a 4-gram level on top of the trigram uses the third.",
        "Tune on the validation windows, never on the test ones: the checker measures the test split.",
    ],
)

STRETCH = [beat_the_trigram]
