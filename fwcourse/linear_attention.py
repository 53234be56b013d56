"""Linear transformers are fast-weight programmers: one computation, three ways (NumPy).

Schlag, Irie & Schmidhuber, "Linear Transformers Are Secretly Fast Weight Programmers", ICML 2021.
With keys ``k(i)``, values ``v(i)``, queries ``q(i)`` and a feature map ``phi``:

* **fast-weight programmer** (the 1992 FROM/TO memory):
  ``W(i) = W(i-1) + v(i) phi(k(i))^T``, ``y(i) = W(i) phi(q(i))``: a fixed-size (d_v, d_k) memory,
  O(T d_v d_k) time (:func:`fast_weight_sequential`);
* **causal un-normalised linear attention**, in parallel matrix form:
  ``y(i) = sum_{j<=i} v(j) (phi(k(j)) . phi(q(i)))``, i.e. ``Y = (M * phi(Q) phi(K)^T) V`` with the
  causal mask M: O(T^2) time and memory (:func:`linear_attention_parallel`);
* **chunked**: quadratic inside chunks of C steps, the fast weights carried across chunks,
  O(T C d + T d_v d_k) (:func:`linear_attention_chunked`).

All three are exactly equal (up to round-off). :func:`causal_softmax_attention` is the standard
transformer's attention beside them: it has no fixed-size memory equivalent.

Arrays are ``(..., T, d)``: any leading batch axes, then time, then features.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from fwcourse.util import validate

FeatureMap = Callable[[np.ndarray], np.ndarray]


def elu_plus_one(x: np.ndarray) -> np.ndarray:
    """``phi(x) = elu(x) + 1`` (Katharopoulos et al. 2020): positive, elementwise."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def identity(x: np.ndarray) -> np.ndarray:
    """``phi(x) = x``: plain dot-product keys and queries."""
    return np.asarray(x, dtype=float)


FEATURE_MAPS: dict[str, FeatureMap] = {"identity": identity, "elu_plus_one": elu_plus_one}


def apply_feature_map(phi: FeatureMap | str | None, x: np.ndarray, name: str) -> np.ndarray:
    """``phi(x)``, checked: ``phi`` is None (identity), a name in :data:`FEATURE_MAPS` or a callable
    that keeps the shape of its input and returns finite numbers. ``name`` names ``x`` in errors."""
    if phi is None:
        phi = identity
    elif isinstance(phi, str):
        phi = FEATURE_MAPS[validate.choice(phi, "phi", FEATURE_MAPS)]
    elif not callable(phi):
        raise TypeError(f"phi must be a callable, a name or None; got {type(phi).__name__}.")
    out = np.asarray(phi(x), dtype=float)
    if out.shape != x.shape:
        raise ValueError(
            f"phi must keep the shape of its input: phi({name}) has shape {out.shape}, {name} has {x.shape}."
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"phi({name}) must be finite; it contains NaN or inf.")
    return out


def check_qkv(q, k, v) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate queries ``q`` (..., T, d_k), keys ``k`` (..., T, d_k), values ``v`` (..., T, d_v)."""
    q = validate.array(q, "q", dtype=float)
    k = validate.array(k, "k", dtype=float)
    v = validate.array(v, "v", dtype=float)
    for name, arr in (("q", q), ("k", k), ("v", v)):
        if arr.ndim < 2:
            raise ValueError(f"{name} must have shape (..., T, d); got {arr.shape}.")
    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape (..., T, d_k); got q {q.shape} and k {k.shape}.")
    if v.shape[:-1] != k.shape[:-1]:
        raise ValueError(
            f"v must have shape {k.shape[:-1] + ('d_v',)} (the batch and time axes of k); got {v.shape}."
        )
    return q, k, v


def causal_mask(T: int) -> np.ndarray:
    """The (T, T) boolean causal mask: entry (i, j) is True when j <= i (query i may see key j).

    The one causal mask of the course's NumPy code (notebook 02's exercise); ``keras.ops`` code
    uses :func:`fwcourse.transformer.causal_mask`, which follows the same convention.
    """
    T = validate.positive_int(T, "T")
    return np.tril(np.ones((T, T), dtype=bool))


def fast_weight_sequential(q, k, v, phi: FeatureMap | str | None = None, W0=None,
                           return_state: bool = False):
    """The fast-weight programmer, one step at a time (Schlag et al. 2021).

    ``W(i) = W(i-1) + v(i) phi(k(i))^T`` then ``y(i) = W(i) phi(q(i))``. ``W0`` (..., d_v, d_k) is
    the memory before the first step (zeros if None). Returns ``y`` (..., T, d_v), and the final
    ``W`` too when ``return_state``.
    """
    q, k, v = check_qkv(q, k, v)
    fq, fk = apply_feature_map(phi, q, "q"), apply_feature_map(phi, k, "k")
    state_shape = v.shape[:-2] + (v.shape[-1], k.shape[-1])
    W = np.zeros(state_shape) if W0 is None else validate.array(W0, "W0", shape=state_shape, dtype=float).copy()
    y = np.empty(v.shape)
    for i in range(v.shape[-2]):
        W += v[..., i, :, None] * fk[..., i, None, :]
        y[..., i, :] = (W @ fq[..., i, :, None])[..., 0]
    return (y, W) if return_state else y


def linear_attention_parallel(q, k, v, phi: FeatureMap | str | None = None) -> np.ndarray:
    """Causal un-normalised linear attention in matrix form: ``Y = (M * phi(Q) phi(K)^T) V``.

    ``M`` is :func:`causal_mask`; O(T^2) time and memory. Returns (..., T, d_v).
    """
    q, k, v = check_qkv(q, k, v)
    fq, fk = apply_feature_map(phi, q, "q"), apply_feature_map(phi, k, "k")
    scores = fq @ np.swapaxes(fk, -1, -2)
    return np.where(causal_mask(q.shape[-2]), scores, 0.0) @ v


def linear_attention_chunked(q, k, v, chunk_size: int, phi: FeatureMap | str | None = None) -> np.ndarray:
    """Causal un-normalised linear attention in chunks of ``chunk_size`` steps.

    Inside a chunk: the masked quadratic form. Across chunks: the fast weights written by all
    earlier chunks, ``W_c = sum_{chunks < c} V_chunk^T phi(K_chunk)`` (an exclusive cumulative sum),
    read by every query of chunk c. T need not be a multiple of ``chunk_size``: the last chunk is
    padded with zero values (which write nothing) and the padding is cut off the output.
    """
    q, k, v = check_qkv(q, k, v)
    C = validate.positive_int(chunk_size, "chunk_size")
    fq, fk = apply_feature_map(phi, q, "q"), apply_feature_map(phi, k, "k")
    T = q.shape[-2]
    G = -(-T // C)
    pad = [(0, 0)] * (q.ndim - 2) + [(0, G * C - T), (0, 0)]
    def chunks(x):
        return np.pad(x, pad).reshape(x.shape[:-2] + (G, C, x.shape[-1]))
    cq, ck, cv = chunks(fq), chunks(fk), chunks(v)
    intra = np.where(causal_mask(C), cq @ np.swapaxes(ck, -1, -2), 0.0) @ cv
    writes = np.swapaxes(cv, -1, -2) @ ck                # (..., G, d_v, d_k): each chunk's fast-weight change
    before = np.cumsum(writes, axis=-3) - writes          # exclusive: chunks strictly before
    inter = cq @ np.swapaxes(before, -1, -2)
    out = (intra + inter).reshape(v.shape[:-2] + (G * C, v.shape[-1]))
    return out[..., :T, :]


def causal_softmax_attention(q, k, v, scale: float | None = None) -> np.ndarray:
    """Standard causal softmax attention: ``y(i) = sum_{j<=i} softmax_j(s q(i).k(j)) v(j)``.

    ``s = 1/sqrt(d_k)`` unless ``scale`` is given. The weights are normalised over the past, so
    no fixed-size matrix can replace the growing set of keys and values. Returns (..., T, d_v).
    """
    q, k, v = check_qkv(q, k, v)
    s = 1.0 / np.sqrt(q.shape[-1]) if scale is None else float(validate.in_range(scale, "scale", 0, None, low_open=True))
    scores = s * (q @ np.swapaxes(k, -1, -2))
    scores = np.where(causal_mask(q.shape[-2]), scores, -np.inf)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (scores / scores.sum(axis=-1, keepdims=True)) @ v
