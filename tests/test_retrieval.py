"""Associative-retrieval data: the task's definition checked on the generated sequences."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse.data import retrieval


def test_sequences_follow_the_task_definition():
    data = retrieval.sample(500, num_pairs=5, rng=0)
    assert data.x.shape == (500, 13) and data.y.shape == (500,)
    for row, target in zip(retrieval.decode(data.x), data.y):
        keys, values = row[0:10:2], row[1:10:2]
        assert len(set(keys)) == 5 and set(keys) <= set(retrieval.KEYS)
        assert set(values) <= set(retrieval.VALUES)
        assert row[10:12] == "??" and row[12] in keys
        assert retrieval.answer(row) == target


def test_answer_of_the_papers_example():
    assert retrieval.answer("c9k8j3f1??c") == 9
    assert retrieval.answer("c9k8j3f1??f") == 1


def test_splits_are_disjoint_seeded_and_sized():
    s = retrieval.make_splits(1500, 300, 400, num_pairs=2, rng=3)
    assert (len(s.train), len(s.valid), len(s.test)) == (1500, 300, 400)
    rows = [set(map(bytes, part.x)) for part in (s.train, s.valid, s.test)]
    assert sum(len(r) for r in rows) == 2200  # no repeats within a split either
    assert not (rows[0] & rows[1] or rows[0] & rows[2] or rows[1] & rows[2])
    again = retrieval.make_splits(1500, 300, 400, num_pairs=2, rng=3)
    np.testing.assert_array_equal(again.test.x, s.test.x)
    other = retrieval.make_splits(1500, 300, 400, num_pairs=2, rng=4)
    assert not np.array_equal(other.train.x, s.train.x)


def test_default_sizes_match_the_paper():
    s = retrieval.make_splits()
    assert (len(s.train), len(s.valid), len(s.test), s.num_pairs) == (100_000, 10_000, 20_000, 4)
    assert s.train.x.shape[1] == retrieval.sequence_length(4) == 11


def test_splits_near_the_number_of_distinct_sequences():
    # K = 1: 26 keys × 10 values × 1 query = 260 sequences; asking for all of them must work
    assert retrieval.distinct_sequences(1) == 260
    s = retrieval.make_splits(200, 30, 30, num_pairs=1, rng=0)
    assert len({bytes(r) for part in (s.train, s.valid, s.test) for r in part.x}) == 260


def test_encode_decode_round_trip():
    text = ["c9k8j3f1??c", "a0b1c2d3??d"]
    tokens = retrieval.encode(text)
    assert tokens.shape == (2, 11) and tokens.min() >= 1 and tokens.max() < retrieval.VOCAB_SIZE
    assert retrieval.decode(tokens) == text
    assert retrieval.decode(retrieval.encode(text[0])) == text[0]
    assert retrieval.decode(np.array([0, 0] + list(tokens[0]))) == text[0]  # padding is dropped


@pytest.mark.parametrize("call,err,match", [
    (lambda: retrieval.make_splits(10, 10, 10, num_pairs=27), ValueError, r"num_pairs \(K\) must be at most 26"),
    (lambda: retrieval.sample(5, num_pairs=0), ValueError, r"num_pairs \(K\) must be an integer >= 1"),
    (lambda: retrieval.make_splits(300, 10, 10, num_pairs=1), ValueError, "exceeds the 260 distinct"),
    (lambda: retrieval.make_splits(0, 10, 10), ValueError, "n_train"),
    (lambda: retrieval.encode("c9k8!?c"), ValueError, "may only use"),
    (lambda: retrieval.encode(["ab", "abc"]), ValueError, "same length"),
    (lambda: retrieval.decode(np.array([1, 99])), ValueError, r"tokens must hold ids in \[0, 38\)"),
    (lambda: retrieval.decode(np.array([1.5])), TypeError, "integer token ids"),
    (lambda: retrieval.answer("c9k8j3"), ValueError, "must look like"),
    (lambda: retrieval.answer("c9k8??z"), ValueError, "does not occur"),
])
def test_bad_input_is_explained(call, err, match):
    with pytest.raises(err, match=match):
        call()
