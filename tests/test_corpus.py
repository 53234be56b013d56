"""Corpus loading, the document split, tokenization and windows, against explicit definitions."""
from __future__ import annotations

import collections
import hashlib

import numpy as np
import pytest

from fwcourse.data import corpus


def test_stdlib_corpus_is_offline_real_english():
    docs = corpus.load_documents("stdlib")
    assert len(docs) > 200 and len({n for n, _ in docs}) == len(docs)
    assert all(n.startswith("stdlib:") and n.endswith(".py") for n, _ in docs)
    words = [w.lower() for _, t in docs for w in t.split()]
    assert len(words) > 200_000
    top = {w for w, _ in collections.Counter(words).most_common(20)}
    assert {"the", "of", "a", "to", "is", "and"} <= top  # prose, not code: English leads


def test_folder_and_file_sources(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("alpha beta gamma")
    (tmp_path / "sub" / "b.txt").write_text("delta epsilon")
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "c.md").write_text("not a txt file")
    (tmp_path / "sub" / "empty_dir").mkdir()
    docs = corpus.load_documents(tmp_path)
    assert docs == [("a.txt", "alpha beta gamma"), ("sub/b.txt", "delta epsilon")]
    paras = ["w%d " % i * 3 for i in range(7)]  # seven paragraphs of 3 words
    f = tmp_path / "one.txt"
    f.write_text("\n\n".join(paras))
    docs = corpus.load_documents(f, min_words=5)
    assert [len(t.split()) for _, t in docs] == [6, 6, 6, 3]
    assert " ".join(t for _, t in docs).split() == " ".join(paras).split()
    with pytest.raises(TypeError, match="source must be one of 'docstrings', 'stdlib' or a path"):
        corpus.load_documents(42)
    with pytest.raises(ValueError, match="does not exist"):
        corpus.load_documents(tmp_path / "missing")
    with pytest.raises(ValueError, match="no non-empty"):
        corpus.load_documents(tmp_path / "sub" / "empty_dir")


@pytest.mark.parametrize("n_docs,seed", [(3, 0), (11, 1), (79, 2)])
def test_split_is_by_document_and_covers_everything(n_docs, seed):
    rng = np.random.default_rng(seed)
    docs = [(f"d{i}", "x " * int(rng.integers(1, 500))) for i in range(n_docs)]
    split = corpus.split_documents(docs, seed=seed)
    names = [[n for n, _ in part] for part in (split.train, split.valid, split.test)]
    assert all(names), "every part holds at least one document"
    flat = sum(names, [])
    assert sorted(flat) == sorted(n for n, _ in docs) and len(set(flat)) == len(flat)
    assert corpus.split_documents(docs, seed=seed) == split  # deterministic


def test_split_fractions_follow_words():
    docs = [(f"d{i}", "x " * 10) for i in range(100)]
    split = corpus.split_documents(docs, fractions=(0.6, 0.3, 0.1))
    assert (len(split.train), len(split.valid), len(split.test)) == (60, 30, 10)
    with pytest.raises(ValueError, match="fractions"):
        corpus.split_documents(docs, fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="at least 3 documents"):
        corpus.split_documents(docs[:2])


@pytest.mark.parametrize("n,context", [(1, 1), (2, 3), (9, 3), (13, 5)])
@pytest.mark.parametrize("pad_start", [False, True])
def test_windows_match_loop(n, context, pad_start):
    tokens = np.random.default_rng(n).integers(2, 50, n)
    X, y = corpus.windows(tokens, context, pad_start=pad_start)
    seq = [corpus.PAD_ID] * (context - 1) + list(tokens) if pad_start else list(tokens)
    want_X = [seq[i:i + context] for i in range(len(seq) - context)]
    want_y = [seq[i + context] for i in range(len(seq) - context)]
    assert X.shape == (len(want_y), context) and X.dtype == np.int32
    assert X.tolist() == want_X and y.tolist() == want_y


def test_windows_never_cross_documents():
    docs = [np.array([2, 3, 4]), np.array([5, 6, 7, 8])]
    X, y = corpus.windows_of_documents(docs, context=2, pad_start=False)
    assert X.tolist() == [[2, 3], [5, 6], [6, 7]] and y.tolist() == [4, 7, 8]


def test_tokenizer_cleans_caps_and_marks_unknown_words():
    tok = corpus.Tokenizer.fit(["The cat, the CAT! the dog.", "a dog"], max_tokens=5)
    assert tok.vocabulary[:2] == ["", "[UNK]"] and tok.size == 5
    assert tok.vocabulary[2] == "the"
    ids = tok.encode("The  cat... zebra!")
    assert ids.tolist() == [2, tok.vocabulary.index("cat"), corpus.OOV_ID]
    assert tok.words("Hi, you're THERE.") == ["hi", "youre", "there"]
    assert tok.encode("  ").shape == (0,)
    assert tok.decode(ids) == ["the", "cat", "[UNK]"]
    same = corpus.Tokenizer.from_vocabulary(tok.vocabulary)
    assert same.fingerprint == tok.fingerprint and same.encode("dog the").tolist() == tok.encode("dog the").tolist()
    other = corpus.Tokenizer.from_vocabulary(tok.vocabulary[:-1])
    assert other.fingerprint != tok.fingerprint
    with pytest.raises(ValueError, match="must start with"):
        corpus.Tokenizer(["the", "cat"])
    with pytest.raises(TypeError, match="texts must be a list"):
        corpus.Tokenizer.fit("one string")


def test_load_token_documents_fits_vocabulary_on_train_only(tmp_path):
    for i in range(6):
        (tmp_path / f"{i}.txt").write_text(f"common words here unique{i} " * 5)
    tc = corpus.load_token_documents(tmp_path, max_tokens=100, seed=0)
    train_words = {w for t in tc.split.train_texts for w in t.split()}
    assert set(tc.tokenizer.vocabulary[2:]) == train_words
    held_out = [d for d in tc.valid + tc.test]
    assert all(corpus.OOV_ID in d for d in held_out)  # their unique word was never seen
    arrays = corpus.nextword_arrays(tc, context=3)
    X, y = arrays["train"]
    assert X.shape[1] == 3 and len(X) == sum(len(d) - 1 for d in tc.train)
    assert tc.n_tokens()["train"] == sum(len(d) for d in tc.train)


def test_download_checks_sha256_with_a_file_url(tmp_path):
    src = tmp_path / "shakes.txt"
    src.write_bytes(b"To be, or not to be.\n\nThat is the question.\n")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = tmp_path / "cache" / "corpus.txt"
    got = corpus.download_corpus(src.as_uri(), digest, dest=dest)
    assert got == dest and dest.read_bytes() == src.read_bytes()
    src.write_bytes(b"changed")  # a cached copy with the right checksum is reused
    assert corpus.download_corpus(src.as_uri(), digest, dest=dest) == dest
    dest.unlink()
    with pytest.raises(ValueError, match="checksum mismatch"):
        corpus.download_corpus(src.as_uri(), digest, dest=dest)
    assert not dest.exists() and not list(dest.parent.glob(".download-*"))
    with pytest.raises(ValueError, match="sha256 must be"):
        corpus.download_corpus(src.as_uri(), "abc", dest=dest)
    with pytest.raises(ValueError, match="url must be"):
        corpus.download_corpus("shakes.txt", digest, dest=dest)
    assert len(corpus.TINY_SHAKESPEARE_SHA256) == 64 and corpus.TINY_SHAKESPEARE_URL.startswith("https://")


def test_bad_corpus_files_get_one_clear_error(tmp_path):
    cases = {
        "empty.txt": (b"  \n\n", "is empty"),
        "binary.txt": (b"abc\0def" * 10, "is binary"),
        "latin1.txt": ("caf\u00e9 cr\u00e8me ".encode("latin-1") * 10, "is not UTF-8"),
        "oneline.txt": (b"word " * 250_000, "has a line of 1,250,000 characters"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(corpus.CorpusError, match=message) as info:
            corpus.load_documents(tmp_path / name)
        assert "\n" not in str(info.value) and name in str(info.value)
    (tmp_path / "small.txt").write_text("just a few words")
    with pytest.raises(corpus.CorpusError, match="at least 3 documents"):
        corpus.load_split(tmp_path / "small.txt")


def test_wikitext_download_unpacks_articles_from_a_file_url(tmp_path):
    import zipfile

    raw = {"wikitext-2-raw/wiki.train.raw": " = Alpha = \n\n Alpha is a letter .\n\n = = History = = \n\n Old .\n"
                                             " = Beta = \n\n Beta follows alpha .\n",
           "wikitext-2-raw/wiki.test.raw": " = Gamma = \n\n Gamma is third .\n"}
    archive = tmp_path / "wikitext-2-raw-v1.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, text in raw.items():
            zf.writestr(name, text)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    folder = corpus.download_wikitext2(archive.as_uri(), digest, dest=tmp_path / "cache" / "wikitext-2")
    docs = corpus.load_documents(folder)
    assert [t.split("\n")[0].strip() for _, t in docs] == ["= Gamma =", "= Alpha =", "= Beta ="]
    assert "= = History = =" in docs[1][1]  # a section stays in its article
    with pytest.raises(ValueError, match="checksum mismatch"):
        corpus.download_wikitext2(archive.as_uri(), "0" * 64, dest=tmp_path / "other")
    assert len(corpus.WIKITEXT2_SHA256) == 64 and corpus.WIKITEXT2_URL.startswith("https://")
