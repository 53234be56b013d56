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

EXERCISES = [causal_mask, linear_attention, delta_update]
