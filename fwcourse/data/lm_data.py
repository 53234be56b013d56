"""Long documents for the transformer language models: corpora, [B, T] windows, tf.data pipelines.

Built-in corpora, tokenized by :class:`fwcourse.data.corpus.Tokenizer` and split by document without
leaks (:func:`fwcourse.data.corpus.load_split`), or a ``.txt`` file or folder of the learner's own:

* ``"docstrings"``: the offline real-text corpus of :mod:`fwcourse.data.corpus` (the docstrings of the
  standard library, numpy, keras, matplotlib and tensorflow, one document per module);
* ``"stdlib"``: the standard library's docstrings alone (small: the quick scale);
* ``"synthetic"``: long documents generated here, each about its own few characters and places
  whose names are rare in the corpus (each name is used by only a few documents) but recur all
  through the document. A static model can only guess a name the first time; after that, a model
  that adapts to the document (fast weights, dynamic evaluation) can copy it. This is the
  situation Clark et al. (2022) report the largest gains for: long documents and repeated rare
  tokens.

A document becomes windows of ``seq_len + 1`` tokens (inputs ``x = w[:-1]``, next-token targets
``y = w[1:]``), consecutive windows overlapping by one token so that every token is a target once;
the last window is padded with :data:`fwcourse.data.corpus.PAD_ID` and weight 0.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fwcourse.data import corpus
from fwcourse.util import validate
from fwcourse import ngram
from fwcourse.data import dedup

CORPORA = (*corpus.BUILTIN, "synthetic")

# Words of the synthetic documents other than names (all lower case, no punctuation).
_PEOPLE_SLOTS = ("met", "called", "visited", "thanked", "followed", "wrote to", "waited for",
                 "argued with", "helped", "remembered")
_THINGS = ("letter", "map", "lamp", "key", "boat", "garden", "clock", "bridge", "river", "window",
           "book", "coat", "song", "road", "market", "tower")
_ADJECTIVES = ("old", "small", "quiet", "red", "long", "cold", "bright", "narrow", "green", "heavy")
_TIMES = ("in the morning", "at night", "after dinner", "on monday", "before the rain",
          "in the evening", "at noon", "later that day")
_TEMPLATES = (
    "{p} {verb} {q} {time}",
    "{p} went to {place} with {q}",
    "in {place} {p} found the {adj} {thing}",
    "{p} said that {q} had left the {thing} in {place}",
    "the {adj} {thing} of {place} was near the {thing2}",
    "{q} and {p} walked along the {adj} {thing} {time}",
    "nobody in {place} knew where {p} kept the {thing}",
    "the {thing} was {adj} and the {thing2} was {adj2}",
    "{time} the {thing} looked {adj}",
    "{p} gave {q} a {adj} {thing} from {place}",
)
_SYLLABLES = ("ka", "lo", "mi", "ren", "tas", "vu", "zel", "dor", "fi", "gan", "hup", "jo", "bre",
              "quo", "sil", "yan", "wex", "nim", "pra", "tul", "os", "ur", "eth", "ix")


@dataclass
class LMWindows:
    """Windows of documents: ``tokens``, next-token ``targets``, ``weights`` (0 = padding) and
    ``positions`` (each target's index in its document), all [N, T]; ``doc`` [N] the document."""

    tokens: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    positions: np.ndarray
    doc: np.ndarray

    def __len__(self) -> int:
        return len(self.tokens)

    def take(self, index) -> "LMWindows":
        """The windows at ``index`` (an int array, slice or boolean mask)."""
        return LMWindows(self.tokens[index], self.targets[index], self.weights[index],
                         self.positions[index], self.doc[index])


# -- the synthetic corpus -------------------------------------------------------------------------
def name_pool(n_names: int, seed: int = 0) -> list[str]:
    """``n_names`` distinct made-up names of 2 to 3 syllables (deterministic in ``seed``)."""
    n_names = validate.positive_int(n_names, "n_names")
    rng = np.random.default_rng(seed)
    taken = set(_common_words())
    names: list[str] = []
    while len(names) < n_names:
        word = "".join(rng.choice(_SYLLABLES, size=rng.integers(2, 4)))
        if word not in taken:
            taken.add(word)
            names.append(word)
    return names


def _common_words() -> list[str]:
    words = set()
    for phrase in _PEOPLE_SLOTS + _THINGS + _ADJECTIVES + _TIMES + _TEMPLATES:
        words.update(w for w in phrase.split() if not w.startswith("{"))
    return sorted(words)


def synthetic_vocabulary(n_names: int, seed: int = 0) -> list[str]:
    """Every word the generator can write: padding, ``[UNK]``, common words, then the names."""
    return ["", "[UNK]"] + _common_words() + name_pool(n_names, seed)


def default_n_names(n_docs: int, names_per_doc: int = 4) -> int:
    """The name pool of :func:`synthetic_documents`: one name per document, at least enough for one."""
    return max(int(n_docs), int(names_per_doc) + 2)


def synthetic_documents(n_docs: int = 200, words_per_doc: int = 600, n_names: int | None = None,
                        names_per_doc: int = 4, seed: int = 0) -> list[corpus.Document]:
    """``n_docs`` documents ``(name, text)`` of about ``words_per_doc`` words each.

    Each document draws ``names_per_doc`` people and two places from a pool of ``n_names`` names
    (default :func:`default_n_names`: each name occurs in about ``names_per_doc + 2`` documents)
    and writes sentences about them from a small grammar; within the document one name is the
    protagonist and appears most often. Sentences end with a full stop (stripped by the tokenizer).
    """
    n_docs = validate.positive_int(n_docs, "n_docs")
    words_per_doc = validate.positive_int(words_per_doc, "words_per_doc")
    names_per_doc = validate.positive_int(names_per_doc, "names_per_doc", minimum=2)
    n_names = (default_n_names(n_docs, names_per_doc) if n_names is None
               else validate.positive_int(n_names, "n_names"))
    if n_names < names_per_doc + 2:
        raise ValueError(f"n_names must be >= names_per_doc + 2 = {names_per_doc + 2}; got {n_names}.")
    pool = name_pool(n_names, seed)
    rng = np.random.default_rng(seed + 1)
    # people: the protagonist is drawn most often (a Zipf-like 1/rank preference)
    people_p = 1.0 / np.arange(1, names_per_doc + 1)
    people_p /= people_p.sum()
    docs = []
    for i in range(n_docs):
        chosen = rng.choice(n_names, size=names_per_doc + 2, replace=False)
        people, places = [pool[j] for j in chosen[:names_per_doc]], [pool[j] for j in chosen[names_per_doc:]]
        sentences, count = [], 0
        while count < words_per_doc:
            p, q = rng.choice(names_per_doc, size=2, replace=False, p=people_p)
            text = str(rng.choice(_TEMPLATES)).format(
                p=people[p], q=people[q], place=places[rng.integers(2)],
                verb=rng.choice(_PEOPLE_SLOTS), time=rng.choice(_TIMES),
                thing=rng.choice(_THINGS), thing2=rng.choice(_THINGS),
                adj=rng.choice(_ADJECTIVES), adj2=rng.choice(_ADJECTIVES))
            sentences.append(text + ".")
            count += len(text.split())
        docs.append((f"synthetic#{i}", " ".join(sentences)))
    return docs


# -- loading a corpus ----------------------------------------------------------------------------
def load_split(name: str | os.PathLike = corpus.DEFAULT_CORPUS, n_docs: int = 200,
               words_per_doc: int = 600, seed: int = 0,
               fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> corpus.Split:
    """The leak-free document split (:func:`fwcourse.data.dedup.leak_free_split`) of a built-in
    corpus or of a ``.txt`` file or folder, before tokenization."""
    if isinstance(name, str) and name not in CORPORA and not os.path.exists(name):
        raise corpus.CorpusError(f"corpus must be one of {', '.join(CORPORA)} or a .txt file or "
                                 f"folder; {name!r} is neither.")
    if name != "synthetic":
        return corpus.load_split(name, fractions, seed)
    docs = synthetic_documents(n_docs, words_per_doc, seed=seed)
    split, split.report = dedup.leak_free_split(docs, lambda d: corpus.split_documents(d, fractions, seed))
    return split


def load_lm_corpus(name: str | os.PathLike = corpus.DEFAULT_CORPUS, max_tokens: int = 5000,
                   n_docs: int = 200, words_per_doc: int = 600, seed: int = 0,
                   fractions: Sequence[float] = (0.8, 0.1, 0.1),
                   max_train_tokens: int | None = None) -> corpus.TokenCorpus:
    """A :class:`fwcourse.data.corpus.TokenCorpus` (tokenizer + token stream per document, leak-free
    split by document) of a built-in corpus (:data:`CORPORA`) or of a ``.txt`` file or folder.

    ``max_tokens`` sizes the vocabulary of a text corpus (fitted on its training documents);
    ``n_docs`` and ``words_per_doc`` the synthetic one, whose vocabulary is everything the
    generator can write, so every name has its own id even if only held-out documents use it.
    ``max_train_tokens`` keeps training documents (in the split's shuffled order) until about
    that many words: a laptop-sized share of a large corpus, with validation and test untouched.
    """
    split = load_split(name, n_docs, words_per_doc, seed, fractions)
    tok = (corpus.Tokenizer.from_vocabulary(synthetic_vocabulary(default_n_names(n_docs), seed))
           if name == "synthetic" else None)
    if max_train_tokens is not None:
        max_train_tokens = validate.positive_int(max_train_tokens, "max_train_tokens")
        words = np.cumsum([len(text.split()) for _, text in split.train])
        split.train = split.train[:max(1, int(np.searchsorted(words, max_train_tokens)) + 1)]
    if tok is None:
        tok = corpus.Tokenizer.fit(split.train_texts, max_tokens)
    return corpus.TokenCorpus(tok, tok.encode_all(split.train_texts),
                              tok.encode_all(split.valid_texts), tok.encode_all(split.test_texts),
                              split)


def require_tokens(data: corpus.TokenCorpus, seq_len: int, name) -> None:
    """Refuse a corpus too small to train on windows of ``seq_len`` tokens and to evaluate, with a
    :class:`fwcourse.data.corpus.CorpusError` that says how much it holds and needs."""
    sizes = data.n_tokens()
    if sizes["train"] < seq_len + 1 or min(sizes["valid"], sizes["test"]) < 2:
        raise corpus.CorpusError(
            f"corpus {str(name)!r} is too small for windows of {seq_len} tokens: its split holds "
            f"{sizes['train']:,} training, {sizes['valid']:,} validation and {sizes['test']:,} test "
            f"tokens; it needs at least {seq_len + 1:,} training tokens and 2 of each held-out part.")


# -- windows --------------------------------------------------------------------------------------
def lm_windows(docs: Sequence, seq_len: int, max_windows_per_doc: int | None = None) -> LMWindows:
    """Cut each document's token stream into windows of ``seq_len`` inputs and their next tokens.

    Window k of a document holds inputs ``doc[k*T : k*T+T]`` and targets ``doc[k*T+1 : k*T+T+1]``;
    positions past the document's end are padding (token and target ``PAD_ID``, weight 0). Every
    token but a document's first is a target exactly once. Documents of fewer than 2 tokens give
    nothing. ``max_windows_per_doc=1`` keeps only each document's start (for loss by position).
    """
    seq_len = validate.positive_int(seq_len, "seq_len")
    if max_windows_per_doc is not None:
        max_windows_per_doc = validate.positive_int(max_windows_per_doc, "max_windows_per_doc")
    if isinstance(docs, np.ndarray) and docs.ndim == 1 and docs.dtype != object:
        raise TypeError("docs must be a list of token arrays (one per document), not one array.")
    parts = []
    for i, doc in enumerate(docs):
        tok = validate.array(doc, f"docs[{i}]", ndim=1)
        if tok.size and not np.issubdtype(tok.dtype, np.integer):
            raise TypeError(f"docs[{i}] must hold integer token ids; got dtype {tok.dtype}.")
        if tok.size and tok.min() < 0:
            raise ValueError(f"docs[{i}] must hold token ids >= 0; got {tok.min()}.")
        n_win = -(-(tok.size - 1) // seq_len) if tok.size >= 2 else 0
        if max_windows_per_doc is not None:
            n_win = min(n_win, max_windows_per_doc)
        if n_win == 0:
            continue
        length = n_win * seq_len + 1
        padded = np.full(length, corpus.PAD_ID, dtype=np.int32)
        padded[:min(length, tok.size)] = tok[:length]
        start = np.arange(n_win)[:, None] * seq_len + np.arange(seq_len)[None, :]
        parts.append((padded[start], padded[start + 1], (start + 1 < tok.size).astype(np.float32),
                      start + 1, np.full(n_win, i)))
    if not parts:
        raise ValueError("docs must hold at least one document of 2 or more tokens.")
    return LMWindows(*(np.concatenate([p[k] for p in parts]) for k in range(5)))


def repeat_mask(tokens, targets) -> np.ndarray:
    """Boolean [N, T]: ``targets[n, t]`` already occurred among ``tokens[n, :t+1]`` (what the model
    saw). False marks a first occurrence within the window: the two groups of Clark et al.'s
    analysis of repeated tokens."""
    tokens = validate.array(tokens, "tokens", ndim=2)
    targets = validate.array(targets, "targets", shape=tokens.shape)
    out = np.zeros(tokens.shape, dtype=bool)
    t_index = np.arange(tokens.shape[1])
    for n in range(tokens.shape[0]):
        # first index of each distinct token in the row; a target repeats iff that index <= t
        values, first = np.unique(tokens[n], return_index=True)
        where = np.clip(np.searchsorted(values, targets[n]), 0, len(values) - 1)
        out[n] = (values[where] == targets[n]) & (first[where] <= t_index)
    return out


def trigram_losses(data: corpus.TokenCorpus, windows: LMWindows) -> np.ndarray:
    """Per-token losses [N, T] (nats) of notebook 04's Kneser-Ney trigram fitted on ``data``'s
    training documents, on the targets of ``windows`` (windows of ``data.test``), as the transformers (each target's two previous document tokens,
    padding before the document's start)."""
    X, y = corpus.windows_of_documents(data.train, context=2, pad_start=True)
    model = ngram.KneserNeyTrigram(data.tokenizer.size).fit(X, y)
    docs = data.test
    offsets = np.concatenate([[0], np.cumsum([len(d) + 2 for d in docs])])
    flat = np.concatenate([np.concatenate([[corpus.PAD_ID] * 2, d]) for d in docs]).astype(np.int64)
    real = windows.weights > 0
    # index of each target in ``flat`` (two pads before every document); padding scores 0
    at = offsets[windows.doc][:, None] + 2 + np.where(real, windows.positions, 1)
    ctx = np.stack([flat[at - 2], flat[at - 1]], axis=-1).reshape(-1, 2)
    lp = model.target_log_proba(ctx, flat[at].reshape(-1))
    return (-lp).reshape(windows.weights.shape) * real


def lm_dataset(windows: LMWindows, batch_size: int, shuffle: bool = False, seed: int = 0,
               drop_remainder: bool = False):
    """A ``tf.data.Dataset`` of ``(tokens, targets, weights)`` batches for ``model.fit``/``evaluate``."""
    import tensorflow as tf

    if not isinstance(windows, LMWindows):
        raise TypeError(f"windows must be an LMWindows (see lm_windows); got {type(windows).__name__}.")
    batch_size = validate.positive_int(batch_size, "batch_size")
    ds = tf.data.Dataset.from_tensor_slices(
        (windows.tokens.astype(np.int32), windows.targets.astype(np.int32),
         windows.weights.astype(np.float32)))
    if shuffle:
        ds = ds.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
