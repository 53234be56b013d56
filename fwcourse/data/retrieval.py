"""The associative-retrieval task of Ba et al. (2016, section 4.1): data and encode/decode helpers.

A sequence lists K key-value pairs, then ``??``, then a query key; the target is the query's value,
e.g. ``c9k8j3f1??c`` → ``9``. Keys are distinct lower-case letters, values are digits (repeats
allowed). The paper's example has K = 4 pairs, our default; its data sizes are 100,000 training,
10,000 validation and 20,000 test sequences, also our defaults. No sequence occurs in two splits.

Tokens: 0 is padding (so a Keras ``Embedding(mask_zero=True)`` can mask it), then ``?``, the 26
letters and the 10 digits. Targets are the digit's value 0..9 (a class index).
"""
from __future__ import annotations

import math
import string
from dataclasses import dataclass

import numpy as np

from fwcourse.util import validate

KEYS = string.ascii_lowercase
VALUES = string.digits
QUERY_MARK = "?"
PAD = 0
ALPHABET = QUERY_MARK + KEYS + VALUES  # token i + 1 is ALPHABET[i]
VOCAB_SIZE = len(ALPHABET) + 1  # + padding
NUM_CLASSES = len(VALUES)
DEFAULT_PAIRS = 4
_TOKEN = {ch: i + 1 for i, ch in enumerate(ALPHABET)}
_KEY_TOKENS = np.array([_TOKEN[c] for c in KEYS])
_VALUE_TOKENS = np.array([_TOKEN[c] for c in VALUES])


@dataclass
class Split:
    """One split: ``x`` int tokens (n, 2K + 3), ``y`` the query's value 0..9 (n,)."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Splits:
    """Train, validation and test splits of one data set, and the number of pairs K."""

    train: Split
    valid: Split
    test: Split
    num_pairs: int


def sequence_length(num_pairs: int) -> int:
    """Tokens in a sequence of ``num_pairs`` pairs: 2K, the two ``?`` and the query key."""
    return 2 * validate.positive_int(num_pairs, "num_pairs (K)") + 3


def _check_pairs(num_pairs: int) -> int:
    k = validate.positive_int(num_pairs, "num_pairs (K)")
    if k > len(KEYS):
        raise ValueError(
            f"num_pairs (K) must be at most {len(KEYS)}, the number of distinct letter keys; got {k}."
        )
    return k


def distinct_sequences(num_pairs: int) -> int:
    """How many different sequences exist with K pairs: ordered distinct keys × values × queries."""
    k = _check_pairs(num_pairs)
    return math.perm(len(KEYS), k) * len(VALUES) ** k * k


def sample(n: int, num_pairs: int = DEFAULT_PAIRS, rng: np.random.Generator | int | None = None) -> Split:
    """Draw ``n`` sequences (duplicates possible; see :func:`make_splits` for disjoint splits)."""
    n = validate.positive_int(n, "n")
    k = _check_pairs(num_pairs)
    rng = np.random.default_rng(rng)
    keys = np.argsort(rng.random((n, len(KEYS))), axis=1)[:, :k]  # k distinct letters per row
    values = rng.integers(0, len(VALUES), size=(n, k))
    which = rng.integers(0, k, size=n)
    x = np.empty((n, sequence_length(k)), dtype=np.int32)
    x[:, 0:2 * k:2] = _KEY_TOKENS[keys]
    x[:, 1:2 * k:2] = _VALUE_TOKENS[values]
    x[:, 2 * k:2 * k + 2] = _TOKEN[QUERY_MARK]
    x[:, -1] = _KEY_TOKENS[keys[np.arange(n), which]]
    return Split(x=x, y=values[np.arange(n), which].astype(np.int32))


def make_splits(
    n_train: int = 100_000,
    n_valid: int = 10_000,
    n_test: int = 20_000,
    num_pairs: int = DEFAULT_PAIRS,
    rng: np.random.Generator | int | None = 0,
) -> Splits:
    """Train/validation/test splits with no sequence shared between (or repeated within) them.

    ``rng`` draws them: a Generator, or an int seed (0 by default, so that the default splits
    are always the same data).
    """
    sizes = [validate.positive_int(v, name) for v, name in
             ((n_train, "n_train"), (n_valid, "n_valid"), (n_test, "n_test"))]
    k = _check_pairs(num_pairs)
    total = sum(sizes)
    if total > distinct_sequences(k):
        raise ValueError(
            f"n_train + n_valid + n_test = {total} exceeds the {distinct_sequences(k)} distinct "
            f"sequences with num_pairs (K) = {k}; use fewer sequences or more pairs."
        )
    rng = np.random.default_rng(rng)
    xs, ys, have = [], [], 0
    while have < total:
        draw = sample(max(total - have, 64) + total // 16, k, rng)
        xs.append(draw.x)
        ys.append(draw.y)
        x = np.concatenate(xs)
        _, first = np.unique(x, axis=0, return_index=True)
        keep = np.sort(first)  # first occurrences, in the (random) order drawn
        xs, ys = [x[keep]], [np.concatenate(ys)[keep]]
        have = len(keep)
    x, y = xs[0][:total], ys[0][:total]
    bounds = np.cumsum([0] + sizes)
    parts = [Split(x[a:b], y[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return Splits(*parts, num_pairs=k)


def encode(sequences: str | list[str]) -> np.ndarray:
    """Token ids of one sequence (T,) or of equally long sequences (n, T)."""
    single = isinstance(sequences, str)
    rows = [sequences] if single else list(sequences)
    if not rows or any(not isinstance(r, str) for r in rows):
        raise TypeError("sequences must be a string or a non-empty list of strings.")
    if len({len(r) for r in rows}) != 1:
        raise ValueError("sequences must all have the same length.")
    bad = sorted({c for r in rows for c in r if c not in _TOKEN})
    if bad:
        raise ValueError(f"sequences may only use {ALPHABET!r}; got {''.join(bad)!r}.")
    x = np.array([[_TOKEN[c] for c in r] for r in rows], dtype=np.int32)
    return x[0] if single else x


def decode(tokens) -> str | list[str]:
    """Text of a token row (T,) or rows (n, T); padding (0) is dropped."""
    x = validate.token_ids(validate.array(tokens, "tokens", ndim=(1, 2)), "tokens", VOCAB_SIZE)
    rows = ["".join(ALPHABET[t - 1] for t in row if t != PAD) for row in np.atleast_2d(x)]
    return rows[0] if x.ndim == 1 else rows


def answer(sequence: str) -> int:
    """The correct answer to one sequence, computed from its text (the task's definition)."""
    if not isinstance(sequence, str) or len(sequence) < 5 or sequence[-3:-1] != QUERY_MARK * 2:
        raise ValueError(f"sequence must look like 'c9k8??c'; got {sequence!r}.")
    pairs = dict(zip(sequence[0:-3:2], sequence[1:-3:2]))
    if sequence[-1] not in pairs:
        raise ValueError(f"the query key {sequence[-1]!r} does not occur in {sequence!r}.")
    return int(pairs[sequence[-1]])
