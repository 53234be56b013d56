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
    X = validate.array(X, "X", ndim=2).astype(np.int32)
    out = np.empty((len(X), model.output_shape[-1]))
    for start, lp in _batches(model, X, batch_size):
        out[start:start + len(lp)] = lp
    return out


def evaluate(model: keras.Model, X, y, batch_size: int = 1024) -> dict[str, float]:
    """Perplexity, loss and top-1/top-5 accuracy on ``(X, y)``: the scores of
    :func:`fwcourse.ngram.scores`, computed batch by batch.

    The whole (N, V) log-probability matrix is never held: at a few thousand words of vocabulary
    it and its float64 temporaries take gigabytes for a test set of a few ten thousand windows.
    """
    X = validate.array(X, "X", ndim=2).astype(np.int32)
    y = validate.array(y, "y", shape=(len(X),))
    if len(y) == 0:
        raise ValueError("y must hold at least one target.")
    losses, ranks = np.empty(len(y)), np.empty(len(y), np.int64)
    for start, lp in _batches(model, X, batch_size):
        rows = slice(start, start + len(lp))
        losses[rows] = ngram.target_losses(lp, y[rows])
        ranks[rows] = np.sum(lp > -losses[rows, None], axis=1)  # ties in the model's favour, as ngram.scores
    return {"loss": float(losses.mean()), "perplexity": ngram.perplexity(losses),
            **{f"top{k}": float(np.mean(ranks < k)) for k in (1, 5)}}


def _batches(model: keras.Model, X: np.ndarray, batch_size: int):
    """``(start, log_probs)`` of each batch of ``batch_size`` windows of ``X``, in order."""
    batch_size = validate.positive_int(batch_size, "batch_size")
    for start in range(0, len(X), batch_size):
        logits = np.asarray(model.predict_on_batch(X[start:start + batch_size]), np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        yield start, logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


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
