"""Held-out scores of a next-word model: log-probabilities, perplexity and top-1/top-5 accuracy
(:func:`fwcourse.ngram.scores`), and the table that sets the models side by side."""
from __future__ import annotations

import keras
import numpy as np

from fwcourse import ngram
from fwcourse.util import validate
from fwcourse.util.tables import markdown_table

_TABLE = (("params", ","), ("train_loss", ".3f"), ("valid_loss", ".3f"), ("perplexity", ".1f"),
          ("top1", ".1%"), ("top5", ".1%"))


def log_probs(model: keras.Model, X, batch_size: int = 1024) -> np.ndarray:
    """log-softmax of the model's logits in float64: (N, V)."""
    X = validate.array(X, "X", ndim=2)
    logits = np.asarray(model.predict(X.astype(np.int32), batch_size=batch_size, verbose=0), np.float64)
    top = logits.max(axis=1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))


def evaluate(model: keras.Model, X, y, batch_size: int = 1024) -> dict[str, float]:
    """Perplexity, loss and top-1/top-5 accuracy on ``(X, y)`` (see :func:`fwcourse.ngram.scores`)."""
    return ngram.scores(log_probs(model, X, batch_size), y)


def results_table(rows: dict[str, dict]) -> str:
    """A markdown table: one row per model with the training loss beside the held-out scores.

    Each value of ``rows`` may hold ``train_loss``, ``valid_loss``, ``perplexity``, ``top1``,
    ``top5`` and ``params``; missing entries print as a dash.
    """
    header = ["model", "params", "train loss", "best valid loss", "test perplexity", "test top-1", "test top-5"]
    lines = markdown_table(header, ([name] + [r.get(k) for k, _ in _TABLE] for name, r in rows.items()),
                           formats=[None] + [spec for _, spec in _TABLE],
                           align=[None] + ["right"] * len(_TABLE), missing="-")
    return "\n".join(lines)
