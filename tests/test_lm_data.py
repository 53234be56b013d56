"""Long-document windows, the synthetic corpus and the repeat mask, against their definitions."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse import ngram
from fwcourse.data import corpus, lm_data


@pytest.mark.parametrize("seq_len", [1, 3, 7, 40])
def test_windows_cover_every_target_once(seq_len):
    rng = np.random.default_rng(seq_len)
    docs = [rng.integers(2, 50, n) for n in (1, 2, 9, 23, 7)]
    win = lm_data.lm_windows(docs, seq_len)
    assert win.tokens.shape == win.targets.shape == win.weights.shape == win.positions.shape
    assert win.tokens.shape[1] == seq_len
    for i, doc in enumerate(docs):
        rows = win.doc == i
        real = win.weights[rows] > 0
        # definition: the targets of document i are doc[1:], each once, in order, at its position
        np.testing.assert_array_equal(win.targets[rows][real], doc[1:])
        np.testing.assert_array_equal(win.positions[rows][real], np.arange(1, len(doc)))
        # each input is the token just before its target
        np.testing.assert_array_equal(win.tokens[rows][real], doc[:-1])
        assert np.all(win.targets[rows][~real] == corpus.PAD_ID)
    assert 0 not in set(win.doc)  # a one-token document gives no window


def test_first_window_only():
    docs = [np.arange(2, 40), np.arange(5, 9)]
    win = lm_data.lm_windows(docs, 6, max_windows_per_doc=1)
    assert len(win) == 2
    np.testing.assert_array_equal(win.tokens[0], np.arange(2, 8))
    np.testing.assert_array_equal(win.weights[1], [1, 1, 1, 0, 0, 0])


def test_repeat_mask_matches_loop():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 6, (4, 11))
    targets = rng.integers(0, 8, (4, 11))
    want = np.array([[targets[n, t] in tokens[n, :t + 1] for t in range(11)] for n in range(4)])
    np.testing.assert_array_equal(lm_data.repeat_mask(tokens, targets), want)


def test_synthetic_documents_recur_rare_names():
    docs = lm_data.synthetic_documents(n_docs=30, words_per_doc=200, seed=1)
    assert len(docs) == 30 and all(len(text.split()) >= 200 for _, text in docs)
    assert docs == lm_data.synthetic_documents(n_docs=30, words_per_doc=200, seed=1)
    names = set(lm_data.name_pool(lm_data.default_n_names(30), seed=1))
    per_doc = [{w.strip(".") for w in text.split()} & names for _, text in docs]
    assert all(len(s) == 6 for s in per_doc)  # 4 people + 2 places each
    # each name is rare in the corpus (few documents) but recurs within a document
    doc_freq = {n: sum(n in s for s in per_doc) for n in names}
    assert max(doc_freq.values()) <= 15
    first = docs[0][1].split()
    top = max(per_doc[0], key=lambda n: sum(w.strip(".") == n for w in first))
    assert sum(w.strip(".") == top for w in first) >= 5


def test_synthetic_corpus_has_no_unknown_words():
    data = lm_data.load_lm_corpus("synthetic", n_docs=12, words_per_doc=80, seed=2)
    assert data.tokenizer.size == len(lm_data.synthetic_vocabulary(lm_data.default_n_names(12), 2))
    for part in (data.train, data.valid, data.test):
        for doc in part:
            assert len(doc) > 0 and corpus.OOV_ID not in doc and corpus.PAD_ID not in doc


def test_dataset_batches():
    pytest.importorskip("tensorflow")
    win = lm_data.lm_windows([np.arange(2, 30)], 5)
    batches = list(lm_data.lm_dataset(win, batch_size=2).as_numpy_iterator())
    assert len(batches) == 3 and batches[0][0].shape == (2, 5)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), win.targets)


@pytest.mark.parametrize("call,match", [
    (lambda: lm_data.lm_windows([np.arange(5)], 0), "seq_len"),
    (lambda: lm_data.lm_windows([np.ones(5)], 3), r"docs\[0\] must hold integer"),
    (lambda: lm_data.lm_windows([np.array([1, -2, 3])], 3), r"docs\[0\] must hold token ids >= 0"),
    (lambda: lm_data.lm_windows([np.array([1])], 3), "at least one document"),
    (lambda: lm_data.lm_windows(np.arange(9), 3), "list of token arrays"),
    (lambda: lm_data.load_lm_corpus("wiki"), "corpus must be one of"),
    (lambda: lm_data.synthetic_documents(n_docs=0), "n_docs"),
    (lambda: lm_data.synthetic_documents(n_docs=3, n_names=4), "n_names must be >="),
    (lambda: lm_data.repeat_mask(np.zeros((2, 3)), np.zeros((2, 4))), "targets must have shape"),
    (lambda: lm_data.lm_dataset("x", 2), "windows must be an LMWindows"),
])
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_trigram_losses_score_each_target_from_its_two_previous_document_tokens():
    data = lm_data.load_lm_corpus("synthetic", n_docs=12, words_per_doc=80, seed=2)
    win = lm_data.lm_windows(data.test, 7)
    got = lm_data.trigram_losses(data, win)
    X, y = corpus.windows_of_documents(data.train, context=2, pad_start=True)
    model = ngram.KneserNeyTrigram(data.tokenizer.size).fit(X, y)
    for n in range(len(win)):
        doc = np.concatenate([[corpus.PAD_ID, corpus.PAD_ID], data.test[win.doc[n]]])
        for t in range(win.tokens.shape[1]):
            if win.weights[n, t] == 0:
                assert got[n, t] == 0
                continue
            p = win.positions[n, t] + 2  # the target's index in the padded document
            want = -np.log(model._proba(doc[None, p - 2:p])[0, doc[p]])
            assert got[n, t] == pytest.approx(want, rel=1e-9)
