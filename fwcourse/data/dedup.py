"""Held-out text that is truly held out: near-duplicate removal and a leak-free document split.

Two documents are near-copies when most of one's word 8-grams occur in the other (a module that
re-exports another's docstrings, a topic that quotes another whole). Splitting such a corpus at
random puts one copy in training and the other in validation or test, and every held-out number
is flattered. Here, before any split:

1. :func:`remove_near_duplicates`: documents are taken longest first, and one whose 8-grams are
   ``max_shared`` (default 50%) or more already in the kept documents is dropped. That removes
   exact copies and containment (share 1) and heavy paraphrase, but keeps documents that share
   only the common phrases of their genre (``"returns a new array of the given shape"``).
2. :func:`leak_free_split`: after the split by document, a validation or test document that still
   shares more than ``max_heldout_shared`` (default 10%) of its 8-gram positions with the
   training documents moves to training, until none does. So the held-out parts share at most
   that fraction of their 8-grams with training, a bound the tests assert on every built-in corpus.

Why 8-grams: shorter n-grams are shared by any two texts of the same language and genre (50% of
4-grams of unrelated docstrings), while a shared run of 8 words is almost always copied text.
Words are compared after the tokenizer's standardisation (lower case, punctuation stripped).
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from fwcourse.util import validate

Document = tuple[str, str]
NGRAM = 8
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')  # the tokenizer's
_MULT = np.uint64(1099511628211)  # FNV prime: a polynomial hash of the word ids of an n-gram


def words(text: str) -> list[str]:
    """The words of ``text`` as the tokenizer sees them: lower case, punctuation stripped."""
    return _PUNCTUATION.sub("", text.lower()).split()


class NgramHasher:
    """Stable 64-bit hashes of word n-grams (word ids are shared, so hashes agree across texts)."""

    def __init__(self, n: int = NGRAM) -> None:
        self.n = validate.positive_int(n, "n")
        self._ids: dict[str, int] = {}

    def __call__(self, text: str) -> np.ndarray:
        """uint64 [max(0, n_words - n + 1)]: the hash of each n-gram position of ``text``."""
        ids = np.fromiter((self._ids.setdefault(w, len(self._ids) + 1) for w in words(text)),
                          dtype=np.uint64)
        if ids.size < self.n:
            return np.zeros(0, np.uint64)
        out = np.zeros(ids.size - self.n + 1, np.uint64)
        with np.errstate(over="ignore"):  # wrap-around is the hash
            for k in range(self.n):
                out = out * _MULT + ids[k:ids.size - self.n + 1 + k]
        return out


def shared_fraction(grams: np.ndarray, seen: np.ndarray) -> float:
    """Share of the n-gram positions ``grams`` whose n-gram is in the sorted array ``seen``."""
    if grams.size == 0 or seen.size == 0:
        return 0.0
    where = np.minimum(np.searchsorted(seen, grams), seen.size - 1)
    return float((seen[where] == grams).mean())


def remove_near_duplicates(docs: Sequence[Document], max_shared: float = 0.5, n: int = NGRAM
                           ) -> tuple[list[Document], list[str]]:
    """``(kept, dropped names)``: documents longest first, dropping one whose n-gram positions
    are ``max_shared`` or more in the documents kept so far. ``kept`` keeps the input order."""
    max_shared = float(validate.in_range(max_shared, "max_shared", 0, 1, low_open=True))
    hasher = NgramHasher(n)
    grams = [hasher(text) for _, text in docs]
    order = sorted(range(len(docs)), key=lambda i: (-grams[i].size, docs[i][0]))
    seen: set[int] = set()
    keep = np.zeros(len(docs), bool)
    for i in order:
        g = grams[i]
        if g.size and sum(1 for h in g.tolist() if h in seen) >= max_shared * g.size:
            continue
        keep[i] = True
        seen.update(g.tolist())
    return ([d for d, k in zip(docs, keep) if k], [d[0] for d, k in zip(docs, keep) if not k])


def heldout_shared(train: Sequence[str], heldout: Sequence[str], n: int = NGRAM) -> float:
    """Share of the n-gram positions of the ``heldout`` texts whose n-gram occurs in ``train``."""
    hasher = NgramHasher(n)
    seen = np.unique(np.concatenate([hasher(t) for t in train] + [np.zeros(0, np.uint64)]))
    held = np.concatenate([hasher(t) for t in heldout] + [np.zeros(0, np.uint64)])
    return shared_fraction(held, seen)


def leak_free_split(docs: Sequence[Document], split_fn, max_heldout_shared: float = 0.1,
                    max_shared: float = 0.5, n: int = NGRAM):
    """Near-duplicates removed, ``split_fn(docs)`` (a :class:`fwcourse.data.corpus.Split`), then held-out
    documents sharing more than ``max_heldout_shared`` of their n-grams with training moved to
    training until none does. Returns the split and a report dict (what was removed and moved)."""
    max_heldout_shared = float(validate.in_range(max_heldout_shared, "max_heldout_shared", 0, 1))
    kept, dropped = remove_near_duplicates(docs, max_shared, n)
    split = split_fn(kept)
    hasher = NgramHasher(n)
    grams = {name: hasher(text) for name, text in kept}
    moved: list[str] = []
    while True:
        seen = np.unique(np.concatenate([grams[name] for name, _ in split.train]))
        leaking = [d for part in (split.valid, split.test) for d in part
                   if shared_fraction(grams[d[0]], seen) > max_heldout_shared]
        if not leaking:
            break
        names = {d[0] for d in leaking}
        moved += sorted(names)
        split.train = split.train + leaking
        split.valid = [d for d in split.valid if d[0] not in names]
        split.test = [d for d in split.test if d[0] not in names]
    if not split.valid or not split.test:
        raise ValueError("docs leave no validation or test document once the documents that "
                         f"share more than {max_heldout_shared:.0%} of their {n}-grams with "
                         "training are moved to training; give more (or more varied) documents.")
    def part_shared(part):  # ``seen`` is the final training set's n-grams
        return shared_fraction(np.concatenate([grams[name] for name, _ in part]), seen)

    report = {"documents_in": len(docs), "near_duplicates_removed": len(dropped),
              "moved_to_train": len(moved), "max_shared": max_shared,
              "max_heldout_shared": max_heldout_shared, "ngram": n,
              "valid_shared": part_shared(split.valid), "test_shared": part_shared(split.test)}
    return split, report
