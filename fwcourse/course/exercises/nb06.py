"""Exercises of notebook 06 (Fast Weight Layers): gradients of a dense layer are linear attention."""
from __future__ import annotations

import tracemalloc
from typing import Callable

import numpy as np
from keras import ops

from fwcourse.util import validate
from fwcourse.course.check import ERROR, WRONG_VALUES, CheckResult, Exercise, odd_sizes
from fwcourse.chunked_attention import mixed_chunk_attention, quadratic_attention

# The references are private: the module-level names are the exercises, as the notebook uses them.


def _per_token_kernel_gradients(x: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Reference: the gradient each token gives a dense layer's kernel, ``G[s] = x_sᵀ δ_s``, [T, d, m].

    For ``z_s = x_s W`` (x [T, d], W [d, m]) and upstream gradients ``δ_s = ∂L/∂z_s`` (delta [T, m]),
    ``∂L/∂W = Σ_s x_sᵀ δ_s``: a sum of rank-one outer products, one per token (Clark et al. 2022, §3).
    """
    x = validate.array(x, "x", ndim=2)
    delta = validate.array(delta, "delta", ndim=2)
    validate.same_length("x", x, "delta", delta)
    return x[:, :, None] * delta[:, None, :]


def _fast_dense(W: np.ndarray, x: np.ndarray, delta: np.ndarray, lr: float) -> np.ndarray:
    """Reference: ``y_t = x_t (W - lr Σ_{s<t} x_sᵀ δ_s) = x_t W - lr Σ_{s<t} (x_t·x_s) δ_s``, [T, m].

    A dense layer after one SGD step on the tokens before t, for every t at once: causal
    un-normalised linear attention with query x_t, key x_s and value δ_s (strictly earlier s).
    """
    W = validate.array(W, "W", ndim=2)
    x = validate.array(x, "x", shape=(None, W.shape[0]))
    delta = validate.array(delta, "delta", shape=(x.shape[0], W.shape[1]))
    validate.in_range(lr, "lr")
    step = quadratic_attention(x[None], x[None], delta[None], exclusive=True)[0]
    return x @ W - lr * ops.convert_to_numpy(step)


def _chunked_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, chunks: int) -> np.ndarray:
    """Reference: ``y_t = Σ_{s<t} (q_t·k_s) v_s`` for q, k [T, d], v [T, m], by mixed-chunk attention.

    ``chunks`` divides T. Wraps :func:`fwcourse.chunked_attention.mixed_chunk_attention` (batched).
    """
    q = validate.array(q, "q", ndim=2)
    k = validate.array(k, "k", shape=q.shape)
    v = validate.array(v, "v", shape=(q.shape[0], None))
    out = mixed_chunk_attention(q[None], k[None], v[None], chunks, exclusive=True)
    return ops.convert_to_numpy(out)[0]


def _gradient_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(x=rng.standard_normal((s.t, s.d)), delta=rng.standard_normal((s.t, s.m)))


def _fast_dense_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(
        W=rng.standard_normal((s.d, s.m)),
        x=rng.standard_normal((s.t, s.d)),
        delta=rng.standard_normal((s.t, s.m)),
        lr=float(rng.uniform(0.1, 1.0)),
    )


def _chunked_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    chunks = (1, 3, 2, 4, 5)[trial % 5]
    T = chunks * max(s.t // 2, 1)
    return dict(
        q=rng.standard_normal((T, s.d)),
        k=rng.standard_normal((T, s.d)),
        v=rng.standard_normal((T, s.m)),
        chunks=chunks,
    )


# The memory probe: long enough that one T × T float64 matrix (33.6 MB) dwarfs the chunked form's
# within-chunk scores (T·C floats, 1 MB at C = 64; the worked solution peaks at 2 MB), and short
# enough that even the quadratic form answers in well under a second.
_PROBE_T, _PROBE_CHUNKS, _PROBE_D, _PROBE_M = 2048, 32, 4, 3
# A quarter of one T × T float64 matrix: any T × T array of floats (float32 included) exceeds it.
_PROBE_BUDGET = _PROBE_T * _PROBE_T * 8 // 4


def _peak_bytes(func: Callable, args: tuple) -> int:
    """Peak bytes allocated (NumPy arrays included) while ``func(*args)`` runs."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        func(*args)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()


def _quadratic_memory_problem(func: Callable) -> tuple[str, str] | None:
    """(status, message) when ``func`` needs O(T²) memory at T = _PROBE_T, else None."""
    rng = np.random.default_rng(0)
    T, chunk = _PROBE_T, _PROBE_T // _PROBE_CHUNKS
    args = (rng.standard_normal((T, _PROBE_D)), rng.standard_normal((T, _PROBE_D)),
            rng.standard_normal((T, _PROBE_M)), _PROBE_CHUNKS)
    where = (f"With T = {T} in chunks = {_PROBE_CHUNKS} chunks of C = {chunk} "
             f"(d = {_PROBE_D}, m = {_PROBE_M}),")
    try:
        peak = _peak_bytes(func, args)
    except Exception as err:  # the learner's mistake, reported, not re-raised
        return ERROR, f"{where} the call raised {type(err).__name__}: {err}"
    if peak <= _PROBE_BUDGET:
        return None
    return WRONG_VALUES, (
        f"The values agree with the reference, but not the cost. {where} your function's arrays "
        f"took {peak / 1e6:.1f} MB at their peak: one float64 T × T score matrix alone is "
        f"{T * T * 8 / 1e6:.1f} MB, while the chunked form needs about {T * chunk * 8 / 1e6:.1f} MB "
        f"for its within-chunk scores (the check allows {_PROBE_BUDGET / 1e6:.1f} MB).\n"
        f"Compute scores inside each chunk only (shape (chunks, C, C)) and let the earlier chunks "
        f"reach position t through their memories kc[g].T @ vc[g]."
    )


class _ChunkedExercise(Exercise):
    """An exercise whose answer must also run in O(T·C) memory, not build the T × T score matrix.

    The random trials check the values at small T, where the quadratic form gives the same
    numbers; one more call at T = _PROBE_T measures the memory its arrays take.
    """

    def run(self, func: Callable | None, seed: int | None = None) -> CheckResult:
        result = super().run(func, seed)
        problem = _quadratic_memory_problem(func) if result.passed else None
        return result if problem is None else self._result(*problem)


per_token_kernel_gradients = Exercise(
    name="per_token_kernel_gradients",
    reference=_per_token_kernel_gradients,
    make_inputs=_gradient_inputs,
    hint=[
        "Token s contributes the outer product of its input x[s] (length d) and its upstream "
        "gradient delta[s] (length m): a d × m matrix.",
        "Broadcast: x[:, :, None] * delta[:, None, :] has shape (T, d, m).",
    ],
)

fast_dense = Exercise(
    name="fast_dense",
    reference=_fast_dense,
    make_inputs=_fast_dense_inputs,
    hint=[
        "Position t may only use the gradients of tokens s < t (strictly before t).",
        "scores = x @ x.T gives x_t·x_s; keep the entries with s < t (np.tril(..., k=-1)), "
        "then y = x @ W - lr * scores @ delta.",
    ],
)

chunked_attention = _ChunkedExercise(
    name="chunked_attention",
    reference=_chunked_attention,
    make_inputs=_chunked_inputs,
    hint=[
        "Reshape q, k, v to (chunks, C, features) with C = T // chunks.",
        "Inside a chunk: np.tril(qc @ kc.T, k=-1) @ vc. Across chunks: the memory of chunk g is "
        "kc[g].T @ vc[g]; chunk g reads the sum of the memories of chunks 0..g-1.",
        "earlier = np.cumsum(memory, axis=0) - memory gives the exclusive sum; the inter-chunk "
        "part of chunk g is qc[g] @ earlier[g].",
    ],
)

EXERCISES = [per_token_kernel_gradients, fast_dense, chunked_attention]
