"""NumPy reference of the fast-weight RNN of Ba et al. (2016), in two equivalent forms.

Ba, Hinton, Mnih, Leibo & Ionescu, "Using fast weights to attend to the recent past" (arXiv
1610.06258), eqs. (1)-(2) and the text around them. In the paper's column-vector notation:

* fast memory, reset to 0 at the start of every sequence:
  ``A(t) = λ A(t−1) + η h(t) h(t)ᵀ``;
* preliminary state ``h_0(t+1) = f(W h(t) + C x(t))``;
* inner loop ``h_{s+1}(t+1) = f(LN[W h(t) + C x(t) + A(t) h_s(t+1)])`` for s = 0..S−1, and
  ``h(t+1) = h_S(t+1)``; f = ReLU. The slow terms use h(t), the previous *final* state.

Code here uses row vectors, as Keras does: a batch of states ``h`` has shape (B, H), the slow
pre-activation is ``h @ W + x @ C + b`` (so ``W`` here is the paper's Wᵀ, ``C`` is (D, H)).

Two forms of the memory read ``A(t) h_s``:

* ``form="matrix"`` keeps A(t) explicitly, (B, H, H) per step;
* ``form="attention"`` never builds A: ``A(t) h_s = η Σ_{τ≤t} λ^{t−τ} h(τ) (h(τ)·h_s)``, attention
  over the earlier states with weights ``η λ^{t−τ} h(τ)·h_s`` (O(t·H) memory per example).

Both agree to round-off. LayerNorm (:func:`fwcourse.util.numerics.layer_norm`) normalises each
example over its features (axis −1), never over the batch. Time steps are indexed from 1 in the paper and from 0 in arrays: ``h[:, t]`` is
the state after reading ``x[:, t]``, and the memory used at that step holds ``h[:, :t]``.
"""
from __future__ import annotations

import numpy as np

from fwcourse.util import validate
from fwcourse.util.numerics import layer_norm

FORMS = ("matrix", "attention")


def _check_rates(decay: float, fast_lr: float) -> None:
    validate.in_range(decay, "decay (λ)", 0, 1, low_open=True)
    validate.in_range(fast_lr, "fast_lr (η)", 0)


def relu(z: np.ndarray) -> np.ndarray:
    """The paper's nonlinearity f."""
    return np.maximum(z, 0.0)


def update_memory(A: np.ndarray, h: np.ndarray, decay: float = 0.95, fast_lr: float = 0.5) -> np.ndarray:
    """One fast-weight update ``A(t) = λ A(t−1) + η h(t) h(t)ᵀ`` (Ba et al. 2016, eq. 1).

    Args:
        A: the memory before the update, (H, H) or a batch (B, H, H).
        h: the new state h(t), (H,) or (B, H).
        decay: λ in (0, 1].  fast_lr: η ≥ 0.
    """
    A = validate.array(A, "A", ndim=(2, 3))
    h = validate.array(h, "h", ndim=A.ndim - 1)
    if A.shape[-2:] != (h.shape[-1], h.shape[-1]) or A.shape[:-2] != h.shape[:-1]:
        raise ValueError(
            f"A must have shape {h.shape[:-1] + (h.shape[-1], h.shape[-1])} to match h of shape "
            f"{h.shape}; got {A.shape}."
        )
    _check_rates(decay, fast_lr)
    return _update_memory(A, h, decay, fast_lr)


def _update_memory(A: np.ndarray, h: np.ndarray, decay: float, fast_lr: float) -> np.ndarray:
    """:func:`update_memory` on checked inputs (the forward pass calls it at every step)."""
    return decay * A + fast_lr * h[..., :, None] * h[..., None, :]


def attention_read(h_past: np.ndarray, query: np.ndarray, decay: float = 0.95,
                   fast_lr: float = 0.5) -> np.ndarray:
    """``A(t) h_s`` without building A: ``η Σ_τ λ^{t−τ} h(τ) (h(τ)·h_s)`` (attention form).

    Args:
        h_past: the states h(1..t) written to the memory so far, (t, H) or (B, t, H); t may be 0.
        query: the inner-loop state h_s(t+1), (H,) or (B, H).
        decay: λ in (0, 1].  fast_lr: η ≥ 0.

    Returns:
        The read, shaped like ``query``.
    """
    h_past, query = _check_read(h_past, query, decay, fast_lr)
    return _attention_read(h_past, query, decay, fast_lr)


def attention_weights(h_past: np.ndarray, query: np.ndarray, decay: float = 0.95,
                      fast_lr: float = 0.5) -> np.ndarray:
    """The weight ``η λ^{t−τ} h(τ)·h_s`` the read gives each earlier state τ = 1..t, shape (..., t)."""
    h_past, query = _check_read(h_past, query, decay, fast_lr)
    return _attention_weights(h_past, query, decay, fast_lr)


def _check_read(h_past, query, decay, fast_lr) -> tuple[np.ndarray, np.ndarray]:
    h_past = validate.array(h_past, "h_past", ndim=(2, 3))
    query = validate.array(query, "query", shape=h_past.shape[:-2] + (h_past.shape[-1],))
    _check_rates(decay, fast_lr)
    return h_past, query


def _attention_read(h_past: np.ndarray, query: np.ndarray, decay: float, fast_lr: float) -> np.ndarray:
    """:func:`attention_read` on checked inputs (the forward pass calls it at every step)."""
    return np.einsum("...t,...th->...h", _attention_weights(h_past, query, decay, fast_lr), h_past)


def _attention_weights(h_past: np.ndarray, query: np.ndarray, decay: float, fast_lr: float) -> np.ndarray:
    t = h_past.shape[-2]
    ages = np.arange(t - 1, -1, -1)  # t−τ for τ = 1..t: the newest state has age 0
    return fast_lr * decay ** ages * np.einsum("...th,...h->...t", h_past, query)


def settle(slow: np.ndarray, read, inner_steps: int = 1, gain: np.ndarray | None = None,
           bias: np.ndarray | None = None) -> np.ndarray:
    """The inner loop of one time step (eq. 2): ``h_0 = f(slow)``, then S times
    ``h_{s+1} = f(LN[slow + A(t) h_s])``; returns h_S.

    Args:
        slow: the slow pre-activation ``h(t) W + x(t) C + b``, (B, H); it stays fixed in the loop.
        read: ``read(h_s) -> A(t) h_s``, the memory read (matrix or attention form).
        inner_steps: S ≥ 1.  gain, bias: LayerNorm parameters (H,), or None for 1 and 0.
    """
    h_s = relu(slow)
    for _ in range(inner_steps):
        h_s = relu(layer_norm(slow + read(h_s), gain, bias))
    return h_s


def inner_loop(slow: np.ndarray, A: np.ndarray, inner_steps: int = 1, gain: np.ndarray | None = None,
               bias: np.ndarray | None = None) -> np.ndarray:
    """:func:`settle` with an explicit memory A (B, H, H): the matrix form of one step's inner loop."""
    slow = validate.array(slow, "slow", ndim=2)
    A = validate.array(A, "A", shape=(slow.shape[0], slow.shape[1], slow.shape[1]))
    inner_steps = validate.positive_int(inner_steps, "inner_steps (S)")
    return settle(slow, lambda q: np.einsum("bij,bj->bi", A, q), inner_steps, gain, bias)


def fast_weight_rnn(
    x: np.ndarray,
    W: np.ndarray,
    C: np.ndarray,
    b: np.ndarray | None = None,
    *,
    decay: float = 0.95,
    fast_lr: float = 0.5,
    inner_steps: int = 1,
    gain: np.ndarray | None = None,
    ln_bias: np.ndarray | None = None,
    form: str = "matrix",
    return_memory: bool = False,
):
    """Run the fast-weight RNN of Ba et al. (2016, eqs. 1-2) over a batch of sequences.

    Args:
        x: inputs, (B, T, D) or one sequence (T, D).
        W: slow recurrent weights (H, H), used as ``h @ W``.
        C: input weights (D, H), used as ``x @ C``.
        b: bias (H,) or None.
        decay: λ in (0, 1].  fast_lr: η ≥ 0 (η = 0 gives the RNN + LayerNorm control).
        inner_steps: S ≥ 1.  gain, ln_bias: LayerNorm parameters (H,) or None.
        form: ``"matrix"`` (explicit A(t)) or ``"attention"`` (no H×H matrix).
        return_memory: also return A after every step, (B, T, H, H) (matrix form only).

    Returns:
        The states h(1..T), shaped like ``x`` with D replaced by H; with ``return_memory``, the pair
        ``(h, A)`` where ``A[:, t]`` is the memory after writing ``h[:, t]``.
    """
    x = validate.array(x, "x", ndim=(2, 3))
    single = x.ndim == 2
    if single:
        x = x[None]
    batch, steps, features = x.shape
    W = validate.array(W, "W", ndim=2)
    units = W.shape[0]
    if W.shape != (units, units):
        raise ValueError(f"W must have shape ({units}, {units}); got {W.shape}.")
    C = validate.array(C, "C", shape=(features, units))
    b = np.zeros(units) if b is None else validate.array(b, "b", shape=(units,))
    _check_rates(decay, fast_lr)
    inner_steps = validate.positive_int(inner_steps, "inner_steps (S)")
    validate.choice(form, "form", FORMS)
    if return_memory and form != "matrix":
        raise ValueError("return_memory=True needs form='matrix' (the attention form builds no A).")

    x_proj = x @ C + b
    h = np.zeros((batch, steps, units))
    h_prev = np.zeros((batch, units))
    A = np.zeros((batch, units, units))
    memories = np.zeros((batch, steps, units, units)) if return_memory else None
    for t in range(steps):
        if form == "matrix":
            read = lambda q, A=A: np.einsum("bij,bj->bi", A, q)
        else:
            read = lambda q, past=h[:, :t]: _attention_read(past, q, decay, fast_lr)
        # the slow terms use h(t), the previous final state, not h_0(t+1)
        h_prev = settle(h_prev @ W + x_proj[:, t], read, inner_steps, gain, ln_bias)
        h[:, t] = h_prev
        if form == "matrix":
            A = _update_memory(A, h_prev, decay, fast_lr)
            if return_memory:
                memories[:, t] = A
    if single:
        h = h[0]
        memories = None if memories is None else memories[0]
    return (h, memories) if return_memory else h


def read_weights(x_proj: np.ndarray, h: np.ndarray, W: np.ndarray, decay: float = 0.95,
                 fast_lr: float = 0.5) -> np.ndarray:
    """For one sequence, the attention weights of the first inner-loop read at every step.

    Row t holds, for τ < t, the weight ``η λ^{t−1−τ} h(τ)·h_0`` that the read ``A h_0`` gives the
    stored state ``h[τ]`` while computing ``h[t]`` (``h_0`` is that step's preliminary state);
    entries τ ≥ t are 0 (not yet stored). Shape (T, T).

    Args:
        x_proj: the input terms ``x C + b`` of the sequence, (T, H).
        h: its states from :func:`fast_weight_rnn`, (T, H).
        W: the slow recurrent weights (H, H).
    """
    h = validate.array(h, "h", ndim=2)
    x_proj = validate.array(x_proj, "x_proj", shape=h.shape)
    W = validate.array(W, "W", shape=(h.shape[1], h.shape[1]))
    _check_rates(decay, fast_lr)
    steps = len(h)
    out = np.zeros((steps, steps))
    previous = np.vstack([np.zeros((1, h.shape[1])), h[:-1]])
    preliminary = relu(previous @ W + x_proj)
    for t in range(1, steps):
        out[t, :t] = _attention_weights(h[:t], preliminary[t], decay, fast_lr)
    return out
