"""A Fast Weight Layer that remembers the whole document: its fast-weight state carried across windows.

Beyond the paper. Clark et al.'s FWL updates its weights on the tokens **of the window** only: at
the start of every window of T tokens it forgets the document so far, while dynamic evaluation
(:mod:`fwcourse.dynamic_eval`) keeps adapting from window to window. But the FWL's update is a sum
over earlier tokens, the same running sum mixed-chunk attention carries from chunk to chunk, so it
can be carried from window to window too. With the inner-loss gradient of window j of a document,

.. math::  S_k = \\sum_{j<k} \\lambda^{k-j}\\, \\nabla_\\theta L_j, \\qquad
           \\text{logits}_t = f\\big(x_t;\\ \\theta - \\eta \\odot (S_k + \\nabla_\\theta L_{<t})\\big)

for position t of window k: one gradient step on every earlier token of the document, windows j
back weighted by the carry λ^(k−j) (λ = 0 is the plain FWL; λ = 1 sums them all). The state is one
gradient per fast-updated parameter, about two d × 4·size matrices, instead of dynamic evaluation's
copy of every weight and its backward passes. Here it is used at evaluation only, on a model
trained with the plain FWL, and λ is chosen on validation documents
(:func:`tune_carry`). The last position of each window, whose label is the next window's first
token, stays out of the carried gradient as it stays out of the window's own inner loss.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from fwcourse import fwl, transformer
from fwcourse.util import validate

__all__ = ["carried_losses", "tune_carry"]


def window_index(doc) -> np.ndarray:
    """For windows of documents ``doc`` [N] (in reading order): each window's index in its document."""
    doc = validate.array(doc, "doc", ndim=1)
    index, seen = np.zeros(len(doc), dtype=np.int64), {}
    for n, d in enumerate(doc.tolist()):
        index[n] = seen.get(d, 0)
        seen[d] = index[n] + 1
    return index


def carried_losses(model: keras.Model, windows, carry: float, batch_size: int = 16) -> np.ndarray:
    """Per-token losses [N, T] (nats) of an FWL model that carries its fast-weight state through
    each document's windows (``windows``: :class:`fwcourse.data.lm_data.LMWindows`, in reading
    order). Windows at the same index of different documents are read together in batches."""
    if getattr(model, "fwl_size", None) is None:
        raise ValueError("model must be a TransformerLM built with fwl_size (an FWL head).")
    carry = float(validate.in_range(carry, "carry", 0, 1))
    batch_size = validate.positive_int(batch_size, "batch_size")
    tokens = validate.array(windows.tokens, "windows.tokens", ndim=2).astype(np.int32)
    validate.token_ids(tokens, "windows.tokens", model.vocab_size)
    index = window_index(windows.doc)
    states: dict[int, dict] = {}  # per document: the state after its last window read so far
    losses = np.zeros(tokens.shape, dtype=np.float32)
    zero = {p: np.zeros(getattr(model.head, p).shape, np.float32) for p in fwl.FAST_PARAMS}
    for k in range(int(index.max()) + 1 if len(index) else 0):
        rows = np.flatnonzero(index == k)
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            docs = windows.doc[batch].tolist()
            state = {p: np.stack([states.get(d, zero)[p] for d in docs]) for p in fwl.FAST_PARAMS}
            x = ops.convert_to_tensor(tokens[batch])
            mask = None if model.pad_id is None else ops.not_equal(x, model.pad_id)
            labels, weights = fwl.make_labels(x, mask=mask)
            logits, new = model.head(model.body(x), labels, weights, state=state, carry=carry)
            ce = keras.losses.sparse_categorical_crossentropy(
                windows.targets[batch], ops.cast(logits, "float32"), from_logits=True)
            losses[batch] = ops.convert_to_numpy(ce)
            new = {p: ops.convert_to_numpy(v) for p, v in new.items()}
            for i, d in enumerate(docs):
                states[d] = {p: new[p][i] for p in fwl.FAST_PARAMS}
    return losses * (windows.weights > 0)


def tune_carry(model: keras.Model, windows, carries, batch_size: int = 16) -> float:
    """The carry of ``carries`` with the lowest perplexity on ``windows`` (validation documents)."""
    carries = [float(validate.in_range(c, "carries", 0, 1)) for c in carries]
    if not carries:
        raise ValueError("carries must hold at least one value in [0, 1].")
    if len(carries) == 1:
        return carries[0]
    ppl = [transformer.perplexity(carried_losses(model, windows, c, batch_size), windows.weights)
           for c in carries]
    return carries[int(np.argmin(ppl))]
