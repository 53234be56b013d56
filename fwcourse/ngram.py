"""The baseline to beat: an interpolated Kneser-Ney trigram model, and the scores of any next-word model.

Interpolated Kneser-Ney (Kneser & Ney 1995; the interpolated form of Chen & Goodman 1999, eq. 17
there), with one absolute discount ``D`` at every order. For a context ``(u, v)`` and a word ``w``::

    P3(w | u v) = max(c(u v w) - D, 0) / c(u v .)  +  D * T3(u v) / c(u v .) * P2(w | v)
    P2(w | v)   = max(N(. v w) - D, 0) / N(. v .)  +  D * T2(v)   / N(. v .) * P1(w)
    P1(w)       = max(N(. w) - D, 0)   / N(. .)    +  D * T1      / N(. .)   * 1 / V

``c`` counts trigrams; ``N(. v w)`` is the number of distinct words seen before the bigram ``v w``
(a *continuation* count: how many contexts a word completes, not how often it occurs);
``T`` is the number of distinct words that follow a context (what the discount frees up). An
unseen context falls through to the next order with weight one. Every distribution sums to one
over the whole vocabulary, unseen words included, so perplexity is always finite.

The model is fitted on the same windows as the neural models (``X`` (N, context), ``y`` (N,)),
using the last two words of each window; the padding id that starts a document acts as a
beginning-of-document symbol.
"""
from __future__ import annotations

import numpy as np

from fwcourse.util import validate


# -- scores shared by every next-word model ------------------------------------------------------
def top_k(probs, k: int = 5) -> np.ndarray:
    """Indices of the ``k`` largest entries of each row of ``probs`` (N, V), largest first: (N, k)."""
    p = validate.array(probs, "probs", ndim=2, finite=False)  # -inf marks a word never to suggest
    if np.any(np.isnan(p)):
        raise ValueError("probs must not contain NaN.")
    k = validate.positive_int(k, "k")
    if k > p.shape[1]:
        raise ValueError(f"k must be at most the vocabulary size {p.shape[1]}; got {k}.")
    part = np.argpartition(-p, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(p, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def perplexity(losses, weights=None) -> float:
    """``exp(sum_i w_i loss_i / sum_i w_i)``: the exponential of the mean per-token loss.

    The course's one perplexity. ``losses`` are per-token cross-entropies in nats,
    ``-log p(target)``, of any shape; ``weights`` (same shape, >= 0, default all 1) leave out
    padding with 0. A perplexity of P means the model is as unsure as a uniform choice among P
    words; it is the exponential of the (weighted) mean loss Keras reports, not the mean of
    exponentials. A loss of +inf (a target given probability 0) makes the perplexity inf.
    """
    losses = validate.array(losses, "losses", dtype=float, finite=False)
    if np.any(np.isnan(losses) | (losses == -np.inf)):
        raise ValueError("losses must not contain NaN or -inf.")
    weights = np.ones_like(losses) if weights is None else validate.array(
        weights, "weights", shape=losses.shape, dtype=float)
    if np.any(weights < 0):
        raise ValueError("weights must be >= 0.")
    total = float(np.sum(weights))
    if total <= 0:
        raise ValueError("weights must have a positive sum (at least one token to score).")
    scored = weights > 0  # a padded inf loss counts for nothing
    return float(np.exp(np.sum(weights[scored] * losses[scored]) / total))


def target_losses(log_probs, targets) -> np.ndarray:
    """Per-window cross-entropy ``-log p_i(y_i)`` in nats, (N,), of ``log_probs`` (N, V) (natural-log
    probabilities, e.g. log-softmax outputs) at the target ids ``targets`` (N,) in [0, V)."""
    lp, y = _log_probs_and_targets(log_probs, targets)
    return -lp[np.arange(len(y)), y]


def target_perplexity(log_probs, targets) -> float:
    """:func:`perplexity` of the targets under ``log_probs``: ``exp(-(1/N) sum_i log p_i(y_i))``
    (notebook 04's exercise, on a next-word model's (N, V) log-probabilities)."""
    return perplexity(target_losses(log_probs, targets))


def scores(log_probs, targets, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Perplexity, mean loss (nats) and top-k accuracy of a batch of predictions.

    A target counts as top-k when fewer than ``k`` words have a strictly higher probability (ties
    are resolved in the model's favour, deterministically).
    """
    lp, y = _log_probs_and_targets(log_probs, targets)
    target_lp = lp[np.arange(len(y)), y]
    rank = np.sum(lp > target_lp[:, None], axis=1)
    out = {"loss": float(-target_lp.mean()), "perplexity": perplexity(-target_lp)}
    out.update({f"top{k}": float(np.mean(rank < k)) for k in ks})
    return out


def _log_probs_and_targets(log_probs, targets) -> tuple[np.ndarray, np.ndarray]:
    lp = validate.array(log_probs, "log_probs", ndim=2, finite=False)
    y = validate.token_ids(validate.array(targets, "targets", shape=(lp.shape[0],)), "targets", lp.shape[1])
    if y.size == 0:
        raise ValueError("targets must hold at least one target.")
    if np.any(np.isnan(lp)) or np.any(lp > 1e-6):
        raise ValueError("log_probs must be log-probabilities (<= 0, no NaN).")
    return lp, y.astype(np.int64)


# -- the trigram model ---------------------------------------------------------------------------
class KneserNeyTrigram:
    """Interpolated Kneser-Ney trigram model over ids ``0 .. vocab_size - 1`` (see the module doc).

    ``fit(X, y)`` counts; ``log_proba(X)`` gives (N, V) log-probabilities for the last two words of
    each window; ``evaluate(X, y)`` the same scores as the neural models.
    """

    def __init__(self, vocab_size: int, discount: float = 0.75) -> None:
        self.vocab_size = validate.positive_int(vocab_size, "vocab_size", minimum=2)
        self.discount = float(validate.in_range(discount, "discount", 0, 1, low_open=True))
        self._fitted = False

    def fit(self, X, y) -> "KneserNeyTrigram":
        """Count the trigrams (X[:, -2], X[:, -1], y) of windows ``X`` (N, context >= 2), ``y`` (N,)."""
        u, v, w = self._trigrams(X, y)
        V, D = self.vocab_size, self.discount
        tri, c3 = np.unique((u * V + v) * V + w, return_counts=True)  # sorted: grouped by (u, v)
        # order 3: counts per context (u, v)
        ctx3, start3, T3 = np.unique(tri // V, return_index=True, return_counts=True)
        self._ctx3 = ctx3
        self._ptr3 = np.append(start3, len(tri))
        self._w3 = tri % V
        total3 = np.add.reduceat(c3, start3)
        self._p3 = np.maximum(c3 - D, 0) / np.repeat(total3, T3)
        self._gamma3 = D * T3 / total3
        # order 2: continuation counts N(. v w) = number of distinct u before (v, w)
        bi, n2 = np.unique(tri % (V * V), return_counts=True)  # sorted: grouped by v
        v2, start2, T2 = np.unique(bi // V, return_index=True, return_counts=True)
        total2 = np.add.reduceat(n2, start2)
        self._ptr2 = np.zeros(V + 1, np.int64)
        self._ptr2[v2 + 1] = T2
        self._ptr2 = np.cumsum(self._ptr2)
        self._w2 = bi % V
        self._p2 = np.maximum(n2 - D, 0) / np.repeat(total2, T2)
        self._gamma2 = np.ones(V)
        self._gamma2[v2] = D * T2 / total2
        # order 1: N(. w) = number of distinct v before w; interpolated with the uniform distribution
        n1 = np.bincount(bi % V, minlength=V).astype(float)
        total1 = n1.sum()
        self._p1 = np.maximum(n1 - D, 0) / total1 + D * np.count_nonzero(n1) / total1 / V
        self._fitted = True
        return self

    def log_proba(self, X, batch_size: int = 1024) -> np.ndarray:
        """log P(w | last two words of each window) for every w: shape (N, vocab_size), float64."""
        X = self._windows(X, "X")
        out = np.empty((len(X), self.vocab_size))
        for lo in range(0, len(X), batch_size):
            out[lo:lo + batch_size] = np.log(self._proba(X[lo:lo + batch_size]))
        return out

    def target_log_proba(self, X, y, batch_size: int = 1024) -> np.ndarray:
        """log P(y_i | last two words of X_i) for each window: shape (N,), without the (N, V) matrix."""
        X = self._windows(X, "X")
        y = validate.array(y, "y", shape=(len(X),))
        validate.token_ids(y, "y", self.vocab_size)
        out = np.empty(len(X))
        for lo in range(0, len(X), batch_size):
            P = self._proba(X[lo:lo + batch_size])
            out[lo:lo + batch_size] = np.log(P[np.arange(len(P)), y[lo:lo + batch_size]])
        return out

    def evaluate(self, X, y) -> dict[str, float]:
        """Perplexity, loss and top-1/top-5 accuracy on windows ``X`` and targets ``y``."""
        self._windows(X, "X")
        return scores(self.log_proba(X), y)

    def _proba(self, X: np.ndarray) -> np.ndarray:
        V = self.vocab_size
        u, v = X[:, -2].astype(np.int64), X[:, -1].astype(np.int64)
        rows = np.arange(len(X))
        # order 2 on top of the unigram distribution
        P = self._gamma2[v][:, None] * self._p1[None, :]
        r, pos = _ragged(self._ptr2, v)
        P[r, self._w2[pos]] += self._p2[pos]
        # order 3 where the context (u, v) was seen
        key = u * V + v
        idx = np.clip(np.searchsorted(self._ctx3, key), 0, max(len(self._ctx3) - 1, 0))
        seen = self._ctx3[idx] == key if len(self._ctx3) else np.zeros(len(X), bool)
        P[rows[seen]] *= self._gamma3[idx[seen]][:, None]
        r, pos = _ragged(self._ptr3, idx[seen])
        P[rows[seen][r], self._w3[pos]] += self._p3[pos]
        return P

    def _windows(self, X, name: str) -> np.ndarray:
        if not self._fitted:
            raise RuntimeError("KneserNeyTrigram is not fitted: call fit(X, y) first.")
        X = validate.array(X, name, ndim=2)
        if X.shape[1] < 2:
            raise ValueError(f"{name} must have at least 2 words per window; got shape {X.shape}.")
        validate.token_ids(X, name, self.vocab_size)
        return X

    def _trigrams(self, X, y):
        X = validate.array(X, "X", ndim=2)
        if X.shape[1] < 2:
            raise ValueError(f"X must have at least 2 words per window; got shape {X.shape}.")
        y = validate.array(y, "y", shape=(X.shape[0],))
        if len(y) == 0:
            raise ValueError("X and y must hold at least one window.")
        validate.token_ids(X, "X", self.vocab_size)
        validate.token_ids(y, "y", self.vocab_size)
        return X[:, -2].astype(np.int64), X[:, -1].astype(np.int64), y.astype(np.int64)


def _ragged(ptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For CSR row pointers ``ptr``: (batch row, flat position) of every entry of ``ptr``-rows ``rows``."""
    lengths = ptr[rows + 1] - ptr[rows]
    batch_row = np.repeat(np.arange(len(rows)), lengths)
    first = np.repeat(ptr[rows] - (np.cumsum(lengths) - lengths), lengths)
    return batch_row, first + np.arange(lengths.sum())
