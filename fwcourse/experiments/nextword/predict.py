"""Top-k next words of a phrase of any length, from a trained model and its tokenizer."""
from __future__ import annotations

import os
from dataclasses import dataclass

import keras
import numpy as np

from fwcourse import ngram
from fwcourse.data import corpus
from fwcourse.experiments.nextword.run_dir import load_run
from fwcourse.experiments.nextword.scoring import log_probs
from fwcourse.util import validate


@dataclass
class Prediction:
    """The top words after a phrase, and how the phrase was read."""

    words: list[str]            # suggested next words, most likely first
    probs: list[float]          # their probabilities
    used: list[str]             # the (cleaned) words the model saw, at most ``context``
    unknown: list[str]          # words of the phrase that are not in the vocabulary
    dropped: list[str]          # words before the last ``context`` ones, not used


class Predictor:
    """Top-k next words of a phrase of any length, from a trained model and its tokenizer."""

    def __init__(self, model: keras.Model, tokenizer: corpus.Tokenizer, context: int) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.context = validate.positive_int(context, "context")

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> "Predictor":
        """The predictor of a run directory (:func:`~fwcourse.experiments.nextword.run_dir.load_run`)."""
        model, tok, settings = load_run(run_dir)
        return cls(model, tok, settings["context"])

    def window(self, phrase: str) -> tuple[np.ndarray, list[str], list[str], list[str]]:
        """The ids the model sees for ``phrase``: its last ``context`` words, padded on the left
        with ``PAD_ID`` (as at the start of a training document) when there are fewer."""
        words = self.tokenizer.words(phrase)
        used, dropped = words[-self.context:], words[:-self.context]
        ids = [int(self.tokenizer.encode(w)[0]) for w in used]
        unknown = [w for w, i in zip(used, ids) if i == corpus.OOV_ID]
        window = np.array([corpus.PAD_ID] * (self.context - len(ids)) + ids, np.int32)
        return window, used, unknown, dropped

    def predict(self, phrase: str, k: int = 5) -> Prediction:
        """The ``k`` most likely next words (padding and ``[UNK]`` are never suggested)."""
        if not isinstance(phrase, str):
            raise TypeError(f"phrase must be a str; got {type(phrase).__name__}.")
        k = validate.positive_int(k, "k")
        window, used, unknown, dropped = self.window(phrase)
        lp = log_probs(self.model, window[None, :])[0]
        lp[[corpus.PAD_ID, corpus.OOV_ID]] = -np.inf
        best = ngram.top_k(lp[None, :], min(k, self.tokenizer.size - 2))[0]
        return Prediction(
            [self.tokenizer.vocabulary[i] for i in best], [float(np.exp(lp[i])) for i in best],
            used, unknown, dropped,
        )
