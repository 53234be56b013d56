"""Near-duplicate removal and leak-free splits, against the definition with explicit word tuples."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse.data import corpus, dedup, lm_data

N = dedup.NGRAM


def ngram_positions(text: str, n: int = N) -> list[tuple[str, ...]]:
    words = dedup.words(text)
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def shared_by_definition(train: list[str], heldout: list[str], n: int = N) -> float:
    """Share of the held-out n-gram positions whose n-gram occurs in a training text."""
    seen = {g for t in train for g in ngram_positions(t, n)}
    held = [g for t in heldout for g in ngram_positions(t, n)]
    return sum(g in seen for g in held) / max(len(held), 1)


def random_text(rng, n_words: int, vocab: int = 50) -> str:
    return " ".join(f"w{i}" for i in rng.integers(0, vocab, n_words))


def test_hashes_agree_with_word_tuples():
    rng = np.random.default_rng(0)
    texts = [random_text(rng, 60, vocab=4) for _ in range(5)]  # small vocabulary: many repeats
    hasher = dedup.NgramHasher(3)
    hashes = [hasher(t) for t in texts]
    grams = [ngram_positions(t, 3) for t in texts]
    flat_h = np.concatenate(hashes)
    flat_g = sum(grams, [])
    assert len(flat_h) == len(flat_g)
    for i in range(0, len(flat_g), 7):  # equal hashes exactly where the n-grams are equal
        same_g = np.array([g == flat_g[i] for g in flat_g])
        np.testing.assert_array_equal(flat_h == flat_h[i], same_g)
    assert hasher("too short").size == 0


def test_shared_fraction_matches_definition():
    rng = np.random.default_rng(1)
    train = [random_text(rng, 200, vocab=3) for _ in range(3)]
    held = [random_text(rng, 150, vocab=3) for _ in range(2)]
    want = shared_by_definition(train, held)
    assert 0 < want < 1
    assert dedup.heldout_shared(train, held) == pytest.approx(want)


def test_copies_and_containment_are_removed_and_distinct_documents_kept():
    rng = np.random.default_rng(2)
    a, b, c = (random_text(rng, 300, vocab=1000) for _ in range(3))
    docs = [("a", a), ("copy of a", a), ("b", b), ("b inside", c[:600] + " " + b), ("c", c),
            ("quotes a little of c", random_text(rng, 200, 1000) + " " + " ".join(c.split()[:10]))]
    kept, dropped = dedup.remove_near_duplicates(docs)
    # longest first: "b inside" (b plus half of c) is kept, so b (all inside it) goes
    assert sorted(dropped) == ["b", "copy of a"]
    assert [n for n, _ in kept] == ["a", "b inside", "c", "quotes a little of c"]


def test_leaking_heldout_documents_move_to_training():
    rng = np.random.default_rng(3)
    base = [random_text(rng, 300, vocab=2000) for _ in range(30)]
    # document 29 repeats 30% of document 0: a leak whichever parts they fall in
    docs = [(f"d{i}", t) for i, t in enumerate(base[:29])]
    docs.append(("leaky", random_text(rng, 210, 2000) + " " + " ".join(base[0].split()[:90])))
    split, report = dedup.leak_free_split(docs, lambda d: corpus.split_documents(d, seed=0))
    for part in (split.valid, split.test):
        for name, text in part:
            assert shared_by_definition(split.train_texts, [text]) <= 0.1, name
    names = [n for part in (split.train, split.valid, split.test) for n, _ in part]
    assert sorted(names) == sorted(n for n, _ in docs)  # nothing lost, nothing twice
    assert report["near_duplicates_removed"] == 0


@pytest.mark.parametrize("name", ["stdlib", "docstrings", "synthetic"])
def test_every_builtin_corpus_is_leak_free(name):
    """Validation and test share at most 10% of their 8-gram positions with training, counted
    with word tuples (not the hashes the split uses), and no held-out document is in training."""
    split = lm_data.load_split(name, n_docs=160, words_per_doc=500)
    train_names = {n for n, _ in split.train}
    for part in (split.valid, split.test):
        assert part and not train_names & {n for n, _ in part}
        assert shared_by_definition(split.train_texts, [t for _, t in part]) <= 0.1
    if name != "synthetic":
        assert split.report["near_duplicates_removed"] > 0  # the docstrings do hold copies
