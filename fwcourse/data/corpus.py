"""Text corpora for the language-model notebooks: documents, a leak-free split, tokens, windows.

The pipeline every next-word and language model of the course uses::

    split = load_split("docstrings", seed=0)    # train / valid / test *by document*, leak-free
    tok = Tokenizer.fit(split.train_texts, max_tokens=5000)   # vocabulary from train only
    X, y = tok.windows(split.train_texts, context=3)          # n words -> the next word

or in one call ``load_token_documents()`` (whole token streams per document, for the transformer
language models) and ``nextword_arrays()`` (windows, for notebook 04).

Sources (``source`` argument of :func:`load_documents` and :func:`load_split`):

* ``"docstrings"`` (the default): the docstrings of the standard library and of the pinned
  numpy, keras, matplotlib and tensorflow, one document per module (:mod:`fwcourse.data.docstrings`):
  about 2 million words (1.8 million after near-duplicates are removed) of real English prose, no download, nothing copied into this repository;
* ``"stdlib"``: the standard library's part of it alone (about 260,000 words; the quick scale);
* a path to a ``.txt`` file: split into documents of at least ``min_words`` words at blank lines;
* a path to a folder: one document per ``.txt`` file below it (sorted, recursive).

:func:`download_corpus` fetches a public corpus (WikiText-2 or tiny Shakespeare) and verifies its
sha256 before anything uses it.

Why split by document: windows of one document overlap and share phrases, so a split by window
puts near-copies of training windows into the test set and flatters every model. Why leak-free:
documents can be near-copies of each other (a module quoting another), so :func:`load_split` also
removes near-duplicates and keeps held-out documents that share little text with training
(:mod:`fwcourse.data.dedup`).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from fwcourse.util import validate
from fwcourse.data import dedup, docstrings

TINY_SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
# sha256 of the file at TINY_SHAKESPEARE_URL (about 1.1 MB); a different file is refused.
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
# WikiText-2 (raw; Merity et al. 2016; CC BY-SA 3.0), the copy llama.cpp's scripts fetch, pinned
# to a commit of its repository: 4,721,645 bytes. The checksum is the one published with that
# pin; a file that differs is refused.
WIKITEXT2_URL = ("https://huggingface.co/datasets/ggml-org/ci/resolve/"
                 "927b3642933080f1b0e811e2f916e14c292992f9/wikitext-2-raw-v1.zip")
WIKITEXT2_SHA256 = "ef7edb566e3e2b2d31b29c1fdb0c89a4cc683597484c3dc2517919c615435a11"

# The built-in text corpora: name -> the docstring sources it reads.
BUILTIN = {"docstrings": tuple(docstrings.SOURCES), "stdlib": ("stdlib",)}
DEFAULT_CORPUS = "docstrings"
_CACHE_FORMAT = 1  # bump when what the cache holds changes

PAD_ID = 0  # TextVectorization's padding index; also "before the start of the document"
OOV_ID = 1  # TextVectorization's out-of-vocabulary index, shown as "[UNK]"
_STANDARDIZE = "lower_and_strip_punctuation"
_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'  # the regex of that standardize
_LONGEST_LINE = 1_000_000  # characters: a longer line is not prose the course can split

Document = tuple[str, str]


class CorpusError(ValueError):
    """A corpus that cannot be used as asked (empty, binary, too small): the message says why."""


# -- sources -------------------------------------------------------------------------------------
def load_documents(source: str | os.PathLike | None = DEFAULT_CORPUS, min_words: int = 200) -> list[Document]:
    """Documents ``[(name, text), ...]`` from a built-in corpus, a ``.txt`` file or a folder.

    Args:
        source: ``"docstrings"`` (default; ``None`` means the same), ``"stdlib"``, a ``.txt``
            file, or a folder of them.
        min_words: for a single file, consecutive paragraphs are joined until a document has at
            least this many words (so that a file still splits into train, valid and test).

    Raises :class:`CorpusError` (a ``ValueError``) naming the file for an empty, binary or
    non-UTF-8 file, a single line too long to split, or a folder without ``.txt`` files.
    """
    min_words = validate.positive_int(min_words, "min_words")
    if source is None:
        source = DEFAULT_CORPUS
    if isinstance(source, str) and source in BUILTIN:
        return list(_builtin_documents(source))
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be one of {', '.join(map(repr, BUILTIN))} or a path; "
                        f"got {type(source).__name__}.")
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        docs = [(str(p.relative_to(path)), read_text(p, allow_empty=True)) for p in files]
        docs = [d for d in docs if d[1].strip()]
        if not docs:
            raise CorpusError(f"corpus folder {str(path)!r} holds no non-empty .txt file.")
        return docs
    if path.is_file():
        return _paragraph_documents(read_text(path), str(path), min_words)
    raise CorpusError(f"corpus must be one of {', '.join(BUILTIN)}, a .txt file or a folder; "
                      f"{str(path)!r} does not exist.")


def read_text(path: str | os.PathLike, allow_empty: bool = False) -> str:
    """The text of a UTF-8 file, refusing what is not prose: empty (unless ``allow_empty``: one
    empty file of a folder is skipped), binary, not UTF-8, or one huge line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise CorpusError(f"corpus file {str(path)!r} cannot be read: {err.strerror}.") from None
    if not raw.strip() and allow_empty:
        return ""
    if not raw.strip():
        raise CorpusError(f"corpus file {str(path)!r} is empty: it needs UTF-8 text.")
    if b"\0" in raw:
        raise CorpusError(f"corpus file {str(path)!r} is binary (it holds NUL bytes): it needs UTF-8 text.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CorpusError(f"corpus file {str(path)!r} is not UTF-8 (byte {err.start}): "
                          "convert it to UTF-8 text first.") from None
    longest = max(len(line) for line in text.splitlines())
    if longest > _LONGEST_LINE:
        raise CorpusError(f"corpus file {str(path)!r} has a line of {longest:,} characters: it needs "
                          "text in lines, with documents or paragraphs separated by blank lines.")
    return text


def _paragraph_documents(text: str, name: str, min_words: int) -> list[Document]:
    """Join blank-line separated paragraphs into documents of at least ``min_words`` words."""
    docs, current, words = [], [], 0
    for para in re.split(r"\n\s*\n", text):
        if not para.strip():
            continue
        current.append(para)
        words += len(para.split())
        if words >= min_words:
            docs.append((f"{Path(name).name}#{len(docs)}", "\n\n".join(current)))
            current, words = [], 0
    if current:
        docs.append((f"{Path(name).name}#{len(docs)}", "\n\n".join(current)))
    if not docs:
        raise CorpusError(f"corpus file {name!r} is empty.")
    return docs


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fwcourse"


@functools.lru_cache(maxsize=4)
def _builtin_documents(name: str) -> tuple[Document, ...]:
    """A built-in corpus's documents, parsed once per set of installed versions and cached on disk
    (``~/.cache/fwcourse``; parsing the sources takes about 20 s)."""
    sources = BUILTIN[name]
    key = hashlib.sha256(json.dumps(
        [_CACHE_FORMAT, [(s, docstrings.source_version(s), str(docstrings.source_root(s))) for s in sources]]
    ).encode()).hexdigest()[:16]
    path = _cache_dir() / f"corpus-{name}-{key}.json"
    try:
        return tuple(map(tuple, json.loads(path.read_text("utf-8"))))
    except (OSError, ValueError):
        pass
    docs = docstrings.docstring_documents(sources)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".corpus-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(docs, fh)
        os.replace(tmp, path)
    except OSError:  # a read-only home: parse again next time
        pass
    return tuple(docs)


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_corpus(
    url: str = TINY_SHAKESPEARE_URL,
    sha256: str = TINY_SHAKESPEARE_SHA256,
    dest: str | os.PathLike | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` (any scheme urllib knows, ``file://`` included) and verify its sha256.

    The file lands in ``dest`` (default ``~/.cache/fwcourse/<file name>``); a copy already there
    with the right checksum is reused without a download. A download whose checksum differs is
    deleted and refused with a ``ValueError``: a moved or edited file never slips into training.
    Returns the path, ready for ``load_documents(path)``.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"url must be a URL such as https://... or file:///...; got {url!r}.")
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ValueError(f"sha256 must be 64 hexadecimal digits; got {sha256!r}.")
    name = Path(urllib.request.url2pathname(url.rsplit("/", 1)[-1])).name or "corpus.txt"
    target = Path(dest) if dest is not None else _cache_dir() / name
    if target.is_file() and sha256_of(target) == sha256.lower():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        got = sha256_of(tmp)
        if got != sha256.lower():
            raise ValueError(
                f"checksum mismatch for {url}: expected sha256 {sha256.lower()}, got {got}; "
                "the file was not kept."
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


def download_wikitext2(url: str = WIKITEXT2_URL, sha256: str = WIKITEXT2_SHA256,
                       dest: str | os.PathLike | None = None) -> Path:
    """Download WikiText-2 (checksum-verified, see :func:`download_corpus`) and unpack it into a
    folder of one ``.txt`` file per Wikipedia article, ready for ``--corpus FOLDER``.

    The articles of the three official files are pooled and split again by document with the
    course's leak-free split (the official split is by article too). Returns the folder
    (default ``~/.cache/fwcourse/wikitext-2``); an existing folder is reused.
    """
    import zipfile

    folder = Path(dest) if dest is not None else _cache_dir() / "wikitext-2"
    if folder.is_dir() and any(folder.glob("*.txt")):
        return folder
    archive = download_corpus(url, sha256, dest=folder.parent / Path(url).name)
    articles: list[str] = []
    with zipfile.ZipFile(archive) as zf:
        for member in sorted(n for n in zf.namelist() if n.endswith(".raw")):
            articles += wikitext_articles(zf.read(member).decode("utf-8"))
    if not articles:
        raise CorpusError(f"{archive} holds no WikiText article (no '.raw' file with ' = Title = ' lines).")
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".wikitext-"))
    for i, text in enumerate(articles):
        (tmp / f"{i:05d}.txt").write_text(text, encoding="utf-8")
    os.replace(tmp, folder)
    return folder


def wikitext_articles(text: str) -> list[str]:
    """The articles of a WikiText ``.raw`` file: each starts at a top-level `` = Title = `` line."""
    articles, current = [], []
    for line in text.splitlines():
        if re.fullmatch(r" = [^=].* = ", line) and current:
            articles.append("\n".join(current).strip())
            current = []
        current.append(line)
    if current:
        articles.append("\n".join(current).strip())
    return [a for a in articles if a]


# -- the split -----------------------------------------------------------------------------------
@dataclass
class Split:
    """Documents of each part of a document-level split."""

    train: list[Document]
    valid: list[Document]
    test: list[Document]
    report: dict = field(default_factory=dict)  # what leak-free splitting removed and moved

    @property
    def train_texts(self) -> list[str]:
        return [text for _, text in self.train]

    @property
    def valid_texts(self) -> list[str]:
        return [text for _, text in self.valid]

    @property
    def test_texts(self) -> list[str]:
        return [text for _, text in self.test]


def split_documents(
    docs: Sequence[Document], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Split:
    """Split whole documents into train / valid / test, about ``fractions`` of the *words* each.

    Documents are shuffled with ``seed`` and dealt out in order until each part has its share of
    the words, so one long document cannot leave a part empty; each part gets at least one
    document. No document is cut: its windows all fall in one part.
    """
    docs = list(docs)
    if len(docs) < 3:
        raise CorpusError(f"docs must hold at least 3 documents to split three ways; got {len(docs)}.")
    frac = validate.array(fractions, "fractions", shape=(3,), dtype=float)
    if np.any(frac <= 0) or abs(frac.sum() - 1) > 1e-6:
        raise ValueError(f"fractions must be 3 positive numbers summing to 1; got {tuple(frac)}.")
    order = np.random.default_rng(seed).permutation(len(docs))
    words = np.array([len(docs[i][1].split()) for i in order], dtype=float)
    # position of each document's middle in the cumulative word count decides its part
    middle = (np.cumsum(words) - words / 2) / max(words.sum(), 1.0)
    part = np.searchsorted(np.cumsum(frac)[:2], middle, side="right")
    for p in range(3):  # never an empty part: take the nearest document of the largest part
        if not np.any(part == p):
            donor = int(np.argmax(np.bincount(part, minlength=3)))
            members = np.flatnonzero(part == donor)
            part[members[-1] if donor < p else members[0]] = p
    chosen = [[docs[i] for i, q in zip(order, part) if q == p] for p in range(3)]
    return Split(*chosen)


def load_split(source: str | os.PathLike | None = DEFAULT_CORPUS,
               fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0, min_words: int = 200,
               max_heldout_shared: float = 0.1) -> Split:
    """The leak-free document split of a corpus: :func:`load_documents`, near-duplicates removed,
    :func:`split_documents`, then held-out documents that share more than ``max_heldout_shared``
    of their 8-grams with training moved to training (:func:`fwcourse.data.dedup.leak_free_split`).

    ``split.report`` says how many documents were removed and moved, and the share of validation
    and test 8-gram positions also found in training.
    """
    docs = load_documents(source, min_words)
    split, report = dedup.leak_free_split(
        docs, lambda kept: split_documents(kept, fractions, seed), max_heldout_shared)
    split.report = report
    return split


# -- tokens --------------------------------------------------------------------------------------
class Tokenizer:
    """Words -> integer ids with Keras ``TextVectorization``: lower case, punctuation stripped,
    split at whitespace; id 0 is padding, id 1 the out-of-vocabulary token ``[UNK]``.

    Build with :meth:`fit` (vocabulary of the most frequent words of some texts) or
    :meth:`from_vocabulary` (a saved vocabulary, e.g. a checkpoint's ``vocab.json``).
    """

    def __init__(self, vocabulary: Sequence[str]) -> None:
        import keras

        vocab = [str(w) for w in vocabulary]
        if len(vocab) < 3 or vocab[PAD_ID] != "" or vocab[OOV_ID] != "[UNK]":
            raise ValueError(
                "vocabulary must start with '' (padding) and '[UNK]' and hold at least one word; "
                f"got {vocab[:3]!r}..."
            )
        self._layer = keras.layers.TextVectorization(
            standardize=_STANDARDIZE, vocabulary=vocab[2:], output_mode="int"
        )
        self.vocabulary: list[str] = vocab

    @classmethod
    def fit(cls, texts: Sequence[str], max_tokens: int = 5000) -> "Tokenizer":
        """Vocabulary of the ``max_tokens - 2`` most frequent words of ``texts`` (plus pad, [UNK])."""
        import keras

        max_tokens = validate.positive_int(max_tokens, "max_tokens", minimum=3)
        texts = _texts(texts, "texts")
        layer = keras.layers.TextVectorization(max_tokens=max_tokens, standardize=_STANDARDIZE)
        layer.adapt(texts)
        return cls(layer.get_vocabulary())

    @classmethod
    def from_vocabulary(cls, vocabulary: Sequence[str]) -> "Tokenizer":
        return cls(vocabulary)

    @property
    def size(self) -> int:
        """Number of ids, padding and [UNK] included (the models' output size)."""
        return len(self.vocabulary)

    @property
    def fingerprint(self) -> str:
        """sha256 of the vocabulary: two tokenizers agree on every id iff their fingerprints do."""
        return hashlib.sha256("\n".join(self.vocabulary).encode("utf-8")).hexdigest()

    def words(self, text: str) -> list[str]:
        """The cleaned words of ``text`` (lower case, no punctuation), before the vocabulary lookup."""
        cleaned = self._standardize(text)
        return cleaned.split()

    def _standardize(self, text: str) -> str:
        import tensorflow as tf  # the same string ops TextVectorization applies before its lookup

        out = tf.strings.lower(tf.constant(text))
        out = tf.strings.regex_replace(out, _PUNCTUATION, "")
        return out.numpy().decode("utf-8")

    def encode(self, text: str) -> np.ndarray:
        """Token ids (int32, shape (n_words,)) of one text."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}.")
        if not text.split():
            return np.zeros(0, dtype=np.int32)
        return np.asarray(self._layer(text), dtype=np.int32).reshape(-1)

    def encode_all(self, texts: Sequence[str]) -> list[np.ndarray]:
        """:meth:`encode` of each text: one token stream per document."""
        return [self.encode(t) for t in _texts(texts, "texts")]

    def decode(self, ids) -> list[str]:
        """Words of ``ids`` (padding shows as '')."""
        arr = validate.token_ids(validate.array(ids, "ids", ndim=1), "ids", self.size)
        return [self.vocabulary[int(i)] for i in arr]

    def windows(self, texts: Sequence[str], context: int = 3, pad_start: bool = True):
        """``(X, y)`` windows of all ``texts``: see :func:`windows_of_documents`."""
        return windows_of_documents(self.encode_all(texts), context, pad_start)


def _texts(texts, name: str) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError(f"{name} must be a list of str (one per document).")
    texts = list(texts)
    if not texts:
        raise ValueError(f"{name} must hold at least one text.")
    return texts


# -- windows -------------------------------------------------------------------------------------
def windows(tokens, context: int, pad_start: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every ``context`` consecutive tokens and the token after them.

    Returns ``X`` of shape (N, context) and ``y`` of shape (N,) with ``X[i] = tokens[i:i+context]``
    and ``y[i] = tokens[i+context]`` (N = len(tokens) - context). With ``pad_start`` the first
    tokens are targets too, their missing left context filled with ``PAD_ID`` (N = len(tokens) - 1),
    which is how a model learns to predict from fewer than ``context`` words.
    """
    context = validate.positive_int(context, "context")
    tok = validate.array(tokens, "tokens", ndim=1)
    if not np.issubdtype(tok.dtype, np.integer) and tok.size:
        raise TypeError(f"tokens must be integers; got dtype {tok.dtype}.")
    tok = tok.astype(np.int32)
    if pad_start:
        tok = np.concatenate([np.full(context - 1, PAD_ID, np.int32), tok])
    if tok.size <= context:
        return np.zeros((0, context), np.int32), np.zeros(0, np.int32)
    X = np.lib.stride_tricks.sliding_window_view(tok[:-1], context)
    return X.copy(), tok[context:].copy()


def windows_of_documents(docs: Sequence, context: int = 3, pad_start: bool = True):
    """:func:`windows` of each document, concatenated: no window crosses a document boundary."""
    parts = [windows(d, context, pad_start) for d in docs]
    if not parts:
        raise ValueError("docs must hold at least one token stream.")
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# -- one call ------------------------------------------------------------------------------------
@dataclass
class TokenCorpus:
    """A tokenizer fitted on the training documents and the token stream of every document."""

    tokenizer: Tokenizer
    train: list[np.ndarray]
    valid: list[np.ndarray]
    test: list[np.ndarray]
    split: Split

    def n_tokens(self) -> dict[str, int]:
        return {p: int(sum(len(d) for d in getattr(self, p))) for p in ("train", "valid", "test")}


def load_token_documents(
    source: str | os.PathLike | None = DEFAULT_CORPUS,
    max_tokens: int = 5000,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    min_words: int = 200,
    vocabulary: Sequence[str] | None = None,
) -> TokenCorpus:
    """Load, split by document without leaks (:func:`load_split`), fit the vocabulary on train
    only (or use ``vocabulary``), tokenize.

    Returns a :class:`TokenCorpus`: ``corpus.train`` is a list of int32 arrays, one whole token
    stream per training document (likewise ``valid``, ``test``); ``corpus.tokenizer`` maps words
    to ids and back.
    """
    split = load_split(source, fractions, seed, min_words)
    tok = Tokenizer(vocabulary) if vocabulary is not None else Tokenizer.fit(split.train_texts, max_tokens)
    return TokenCorpus(
        tok, tok.encode_all(split.train_texts), tok.encode_all(split.valid_texts),
        tok.encode_all(split.test_texts), split,
    )


def nextword_arrays(corpus: TokenCorpus, context: int = 3, pad_start: bool = True) -> dict:
    """``{"train": (X, y), "valid": (X, y), "test": (X, y)}`` windows of a :class:`TokenCorpus`."""
    return {p: windows_of_documents(getattr(corpus, p), context, pad_start) for p in ("train", "valid", "test")}
