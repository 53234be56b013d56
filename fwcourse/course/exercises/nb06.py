"""Exercises of notebook 06 (Fast Weight Layers): a dense layer's per-token gradients, one SGD step
on the past as linear attention and its chunked form (warm-up), and a Fast Weight Layer with one
fast dense layer below a softmax unembedding, inner gradient included (core)."""
from __future__ import annotations

import tracemalloc
from types import SimpleNamespace
from typing import Callable

import numpy as np
import tensorflow as tf
from keras import ops

from fwcourse.util import validate
from fwcourse.course.check import ERROR, WRONG_VALUES, CheckResult, Exercise, odd_sizes
from fwcourse.course.exercises.nb05 import MODEL_RULES, validation_perplexity
from fwcourse.course.stretch import Stretch, int_in
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



def fast_weight_layer_reference(layer, x, labels, c) -> tuple[np.ndarray, np.ndarray]:
    """A Fast Weight Layer of one fast dense layer below a slow softmax unembedding, by its
    definition (Clark et al. 2022, §3): ``(delta [T, m], logits [T, V])``, in float64.

    The layer computes ``h_s = x_s W + b`` and the unembedding ``h_s W_out + b_out``; the inner loss
    is ``L = Σ_s c_s CE_s`` with ``CE_s`` the softmax cross-entropy of label ``y_s``. ``delta[s]`` is
    ``∂L/∂h_s``, the upstream gradient at the dense layer's output. ``logits[t]`` is the block's
    output at ``x_t`` after one explicit SGD step on ``L_{<t} = Σ_{s<t} c_s CE_s``, taken at the
    slow weights, with step sizes ``η_W`` for ``W`` and ``η_b`` for ``b`` (the unembedding is not
    updated): ``logits_t = f(x_t; θ - η ⊙ ∇_θ L_{<t})``. Every gradient comes from
    ``tf.GradientTape``, one tape per position: the definition, not the linear-attention form.

    ``layer`` has ``kernel`` W (d, m), ``bias`` b (m,), ``out_kernel`` W_out (m, V), ``out_bias``
    (V,) and the step sizes ``step_kernel`` η_W and ``step_bias`` η_b; ``x`` (T, d), integer
    ``labels`` (T,) in [0, V), loss weights ``c`` (T,) >= 0.
    """
    W = validate.array(layer.kernel, "layer.kernel", ndim=2)
    d, m = W.shape
    b = validate.array(layer.bias, "layer.bias", shape=(m,))
    W_out = validate.array(layer.out_kernel, "layer.out_kernel", shape=(m, None))
    b_out = validate.array(layer.out_bias, "layer.out_bias", shape=(W_out.shape[1],))
    x = validate.array(x, "x", shape=(None, d))
    T = x.shape[0]
    labels = validate.token_ids(validate.array(labels, "labels", shape=(T,)), "labels", W_out.shape[1])
    c = validate.array(c, "c", shape=(T,))
    if c.size and c.min() < 0:
        raise ValueError(f"c must hold loss weights >= 0; got a minimum of {c.min():g}.")
    eta_W = float(validate.in_range(layer.step_kernel, "layer.step_kernel"))
    eta_b = float(validate.in_range(layer.step_bias, "layer.step_bias"))
    W, b, W_out, b_out, x, c = (tf.constant(a, tf.float64) for a in (W, b, W_out, b_out, x, c))

    def inner_loss(h, before: int):
        """Σ_{s<before} c_s CE_s, for the layer's outputs h of those positions."""
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels[:before], h @ W_out + b_out)
        return tf.reduce_sum(c[:before] * ce)

    logits = []
    for t in range(T):
        with tf.GradientTape() as tape:
            tape.watch([W, b])
            loss = inner_loss(x[:t] @ W + b, t)
        # zero, not None, at t = 0: no earlier tokens, no step
        grad_W, grad_b = tape.gradient(loss, [W, b], unconnected_gradients=tf.UnconnectedGradients.ZERO)
        W_t, b_t = W - eta_W * grad_W, b - eta_b * grad_b
        logits.append((x[t:t + 1] @ W_t + b_t) @ W_out + b_out)
    h = x @ W + b
    with tf.GradientTape() as tape:
        tape.watch(h)
        loss = inner_loss(h, T)
    return tape.gradient(loss, h).numpy(), tf.concat(logits, axis=0).numpy()


def _fast_weight_layer_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    T, d, m = s.t, s.d, s.m
    V = m + s.n + 1  # more classes than units, so that every change of h shows in the logits
    # the layer's stand-in: a dense layer, the unembedding and the two step sizes, at the scale
    # Keras initialises weights (a plain namespace of NumPy values, so that the grader can hand it
    # to a process without the course package)
    layer = SimpleNamespace(
        kernel=rng.standard_normal((d, m)) / np.sqrt(d), bias=0.1 * rng.standard_normal(m),
        out_kernel=rng.standard_normal((m, V)) / np.sqrt(m), out_bias=0.1 * rng.standard_normal(V),
        # unequal step sizes, so that a bias stepped with the kernel's step size is wrong
        step_kernel=float(rng.uniform(0.5, 1.0)), step_bias=float(rng.uniform(1.5, 2.0)),
    )
    # c = w / N as in the FWL: some positions unweighted (padding; the last has no next token),
    # the others of unequal weight, so that δ without c, or with one c for all, is wrong
    w = rng.uniform(0.5, 1.0, T) * (rng.random(T) < 0.8)
    w[-1] = 0.0
    c = w / w.sum() if w.any() else w  # no weighted token, no loss: c = 0
    return dict(layer=layer, x=rng.standard_normal((T, d)), labels=rng.integers(0, V, T), c=c)


fast_weight_layer = Exercise(
    name="fast_weight_layer",
    reference=fast_weight_layer_reference,
    make_inputs=_fast_weight_layer_inputs,
    hint=[
        "Slow pass first: h = x @ layer.kernel + layer.bias, logits = h @ layer.out_kernel + "
        "layer.out_bias, p = the softmax of each row of the logits.",
        "The gradient of c_s CE_s at the logits is c_s (p_s - onehot(y_s)); at h it is that times "
        "layer.out_kernel.T: delta = c[:, None] * (p - onehot) @ layer.out_kernel.T, shape (T, m).",
        "The kernel's step at x_t is -step_kernel Σ_{s<t} (x_t·x_s) delta_s: np.tril(x @ x.T, k=-1) "
        "@ delta. The bias's is -step_bias Σ_{s<t} delta_s: np.cumsum(delta, 0) - delta.",
        "Add both steps to h, unembed with the slow layer.out_kernel and layer.out_bias, and return "
        "(delta, logits).",
    ],
)

EXERCISES = [per_token_kernel_gradients, fast_dense, chunked_attention, fast_weight_layer]


# -- stretch ---------------------------------------------------------------------------------------
def fwl_perplexity(answer, corpus_name: str, sizes) -> float:
    """Validation perplexity of the FWL model on notebook 06's corpus ``corpus_name`` at ``sizes``
    (:func:`fwcourse.course.exercises.nb05.validation_perplexity` with ``fwl_size`` free too)."""
    from fwcourse.experiments import lm_compare

    return validation_perplexity(answer, lm_compare.load_corpus(corpus_name, sizes), sizes, fwl=True,
                                 rules={**MODEL_RULES, "fwl_size": int_in(1, 1024)})


better_fwl = Stretch(
    name="better_fwl",
    margin=0.01,
    goal="an FWL model with a lower validation perplexity than the notebook's, with the same data, "
         "epochs and batches and at most its parameters, by changing fwl_size, d_model, n_layers, "
         "n_heads or learning_rate.",
    measure=fwl_perplexity,
    reference=lambda: {},
    unit="validation perplexity (FWL model)",
    hint=[
        "fwl_size is the fast layer's width: the fast update is a sum of rank-one terms, so a wider "
        "layer can hold more of the window.",
        "The FWL's own step size is learned; the outer learning rate sets how fast it is.",
        "The committed results (data/fwl_results.md) say the FWL's best epoch was its last: a larger "
        "learning rate may reach further in the same epochs.",
    ],
)

STRETCH = [better_fwl]
