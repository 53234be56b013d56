"""Exercises of notebook 02: linear transformers are fast-weight programmers."""
from __future__ import annotations

import numpy as np

from fwcourse import delta_rule as dr
from fwcourse import linear_attention as la
from fwcourse.course.check import Exercise, odd_sizes


def _mask_inputs(rng: np.random.Generator, trial: int) -> dict:
    return dict(T=odd_sizes(trial).t)


causal_mask = Exercise(
    name="causal_mask",
    reference=la.causal_mask,
    make_inputs=_mask_inputs,
    hint=[
        "Row i is the query at time i, column j the key at time j; query i may use keys 0..i.",
        "np.tril keeps the lower triangle *including* the diagonal; make the result boolean.",
    ],
)


def linear_attention_reference(q, k, v):
    """Causal un-normalised linear attention with phi = identity: ``(M * Q K^T) V``."""
    return la.linear_attention_parallel(q, k, v)


def _attention_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(q=rng.standard_normal((s.t, s.d)), k=rng.standard_normal((s.t, s.d)),
                v=rng.standard_normal((s.t, s.n)))


linear_attention = Exercise(
    name="linear_attention",
    reference=linear_attention_reference,
    make_inputs=_attention_inputs,
    hint=[
        "Scores: A = q @ k.T, shape (T, T); entry (i, j) is q(i) . k(j).",
        "Zero the scores of future keys (j > i) with the causal mask, then multiply by v. No softmax, "
        "no normalisation.",
    ],
)


def _delta_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(W=rng.standard_normal((s.n, s.m)), k=rng.standard_normal(s.m), v=rng.standard_normal(s.n),
                beta=float(rng.uniform(0.1, 1.0)))


delta_update = Exercise(
    name="delta_update",
    reference=dr.delta_update,
    make_inputs=_delta_inputs,
    hint=[
        "First read what the memory holds under the key: v_old = W @ k.",
        "Write the difference, scaled by beta: W + beta * outer(v - v_old, k).",
    ],
)


def delta_rule_memory_reference(q, k, v, beta):
    """The delta-rule fast-weight memory over a sequence (Schlag et al. 2021, the delta update rule),
    with the keys and queries used as given (no feature map, no normalisation), from ``W(0) = 0``:
    ``W(i) = W(i-1) + beta(i) (v(i) - W(i-1) k(i)) k(i)^T``, ``y(i) = W(i) q(i)``."""
    return dr.delta_rule(q, k, v, beta, phi=None, normalise=False)


def _sequence_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    # Unit-norm keys, as the sum-normalised features of the paper's code are bounded: a write then
    # shrinks what is stored under the key by the factor 1 - beta instead of amplifying it.
    k = rng.standard_normal((s.t, s.d))
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    return dict(q=rng.standard_normal((s.t, s.d)), k=k, v=rng.standard_normal((s.t, s.n)),
                beta=rng.uniform(0.1, 1.0, s.t))


delta_rule_memory = Exercise(
    name="delta_rule_memory",
    reference=delta_rule_memory_reference,
    make_inputs=_sequence_inputs,
    hint=[
        "Start from an empty memory W = np.zeros((d_v, d_k)) and go through the sequence in order, "
        "one delta_update per step with the key k[i], the value v[i] and the strength beta[i].",
        "Write first, then read: y[i] = W @ q[i] with the memory that already holds step i's write "
        "(the 2021 paper's order; notebook 01's controller read first).",
        "Read with the query q[i], not the key; stack the T reads into an array of shape (T, d_v).",
    ],
)

EXERCISES = [causal_mask, linear_attention, delta_update, delta_rule_memory]
