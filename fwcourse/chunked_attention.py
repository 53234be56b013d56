"""Causal un-normalised linear attention, quadratic and mixed-chunk (Hua et al. 2022), in ``keras.ops``.

Both functions compute, for every batch element and every query position ``t``,

.. math::  y_t = \\sum_{s \\le t} (q_t \\cdot k_s)\\, v_s
           \\qquad\\text{(or } s < t \\text{ with } ``exclusive=True``)

which is the read-out of the fast-weight matrix :math:`W_t = \\sum_{s \\le t} v_s k_s^\\top` at query
:math:`q_t` (Schlag et al. 2021). There is no softmax and no normaliser, so splitting the sum is
exact:

* :func:`quadratic_attention` forms the masked [T, T] score matrix: O(T² d) time, O(T²) memory.
* :func:`mixed_chunk_attention` ("mixed chunk attention" of FLASH, Hua et al. 2022, used by the
  Fast Weight Layers of Clark et al. 2022) splits T into G chunks of C = T/G positions. Inside a
  chunk it uses the masked quadratic form ([C, C] scores); across chunks it carries the exclusive
  cumulative sum of the per-chunk memories :math:`\\sum_{s \\in \\text{chunk}} k_s^\\top v_s`
  ([d_k, d_v] each). Cost O(T·C·d + G·d_k·d_v) instead of O(T²·d): linear in T for fixed C.

The causal masks are :func:`fwcourse.transformer.causal_mask` (``exclusive=True`` for s < t).

When T is not a multiple of G the sequence is padded at the end with zeros (which add nothing to any
sum) and the padding is cut off again: the result is exact for every T, never silently wrong.
Both run under every Keras backend (TensorFlow, JAX), inside ``tf.function``/``jax.jit`` and with
unknown (``None``) batch and time sizes.
"""
from __future__ import annotations

from keras import ops

from fwcourse.transformer import causal_mask
from fwcourse.util import validate

__all__ = ["quadratic_attention", "mixed_chunk_attention"]


def _check_qkv(q, k, v) -> None:
    """Static checks (ranks and sizes known at trace time): q, k [B, T, d_k] and v [B, T, d_v]."""
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        if len(tensor.shape) != 3:
            raise ValueError(f"{name} must have shape [batch, time, features]; got {tuple(tensor.shape)}.")

    def agree(a, b) -> bool:
        return a is None or b is None or a == b

    if not agree(q.shape[-1], k.shape[-1]):
        raise ValueError(
            f"q and k must have the same feature size (last axis); got {tuple(q.shape)} and "
            f"{tuple(k.shape)}."
        )
    for axis, what in ((0, "batch"), (1, "time")):
        for name, tensor in (("k", k), ("v", v)):
            if not agree(q.shape[axis], tensor.shape[axis]):
                raise ValueError(
                    f"q and {name} must have the same {what} size (axis {axis}); got "
                    f"{tuple(q.shape)} and {tuple(tensor.shape)}."
                )


def quadratic_attention(q, k, v, exclusive: bool = False):
    """Causal linear attention by the [T, T] score matrix: ``y_t = Σ_{s≤t} (q_t·k_s) v_s``.

    Args:
        q: queries [B, T, d_k]. k: keys [B, T, d_k]. v: values [B, T, d_v].
        exclusive: sum over s < t instead of s ≤ t (the Fast Weight Layer's "tokens before t").

    Returns:
        [B, T, d_v]. The definition that :func:`mixed_chunk_attention` is tested against.
    """
    _check_qkv(q, k, v)
    scores = ops.einsum("btd,bsd->bts", q, k)
    scores = scores * ops.cast(causal_mask(ops.shape(q)[1], exclusive), scores.dtype)
    return ops.einsum("bts,bsv->btv", scores, v)


def mixed_chunk_attention(q, k, v, attn_chunks: int, exclusive: bool = False):
    """Causal linear attention in ``attn_chunks`` chunks (FLASH's mixed chunk attention).

    Same result as :func:`quadratic_attention` (to round-off) at O(T·T/G + G·d_k·d_v) cost.

    Args:
        q: queries [B, T, d_k]. k: keys [B, T, d_k]. v: values [B, T, d_v].
        attn_chunks: number of chunks G >= 1 (G = 1 is the quadratic form; G = T is a pure
            recurrence over positions). T need not be divisible by G: the input is zero-padded.
        exclusive: sum over s < t instead of s ≤ t.

    Returns:
        [B, T, d_v].
    """
    chunks = validate.positive_int(attn_chunks, "attn_chunks")
    _check_qkv(q, k, v)
    if chunks == 1:  # no earlier chunks: skip the (then all-zero) inter-chunk memory
        return quadratic_attention(q, k, v, exclusive)
    batch, length = ops.shape(q)[0], ops.shape(q)[1]
    d_v = v.shape[-1]
    pad = (-length) % chunks
    if not isinstance(pad, int) or pad:  # symbolic length, or a length that is not a multiple of G
        widths = [[0, 0], [0, pad], [0, 0]]
        q, k, v = (ops.pad(t, widths) for t in (q, k, v))
    chunk_len = (length + pad) // chunks
    qc, kc, vc = (ops.reshape(t, (batch, chunks, chunk_len, t.shape[-1])) for t in (q, k, v))

    # Inside each chunk: the masked quadratic form.
    scores = ops.einsum("bgtd,bgsd->bgts", qc, kc)
    scores = scores * ops.cast(causal_mask(chunk_len, exclusive), scores.dtype)
    intra = ops.einsum("bgts,bgsv->bgtv", scores, vc)

    # Across chunks: each chunk reads the memory written by all earlier chunks. Shifting the
    # inclusive cumsum by one chunk (rather than subtracting) keeps the first chunk exactly zero.
    memory = ops.einsum("bgsd,bgsv->bgdv", kc, vc)
    earlier = ops.concatenate(
        [ops.zeros_like(memory[:, :1]), ops.cumsum(memory, axis=1)[:, :-1]], axis=1
    )
    inter = ops.einsum("bgtd,bgdv->bgtv", qc, earlier)

    out = ops.reshape(intra + inter, (batch, -1, d_v))
    return out[:, :length]
