"""Exercises of notebook 00 (start here): a warm-up on the outer product."""
from __future__ import annotations

import numpy as np

from fwcourse.check import Exercise, odd_sizes


def outer_product(v: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Reference: the outer product ``v kᵀ`` of a value ``v`` (n,) and a key ``k`` (m,), shape (n, m).

    It is the building block of every fast-weight update in the course: writing the pair (k, v)
    into a matrix memory adds ``v kᵀ``, and reading with ``k`` gives back ``v (k·k)``.
    """
    v = np.asarray(v)
    k = np.asarray(k)
    if v.ndim != 1:
        raise ValueError(f"v must be a vector of shape (n,); got shape {v.shape}.")
    if k.ndim != 1:
        raise ValueError(f"k must be a vector of shape (m,); got shape {k.shape}.")
    return v[:, None] * k[None, :]


def _outer_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(v=rng.standard_normal(s.n), k=rng.standard_normal(s.m))


outer_product_exercise = Exercise(
    name="outer_product",
    reference=outer_product,
    make_inputs=_outer_inputs,
    hint=[
        "The result has one row per entry of v and one column per entry of k.",
        "Entry (i, j) is v[i] * k[j]: broadcasting v[:, None] against k[None, :] builds all of them.",
    ],
    solution='''def outer_product(v, k):
    return v[:, None] * k[None, :]      # or np.outer(v, k)''',
    notebook="00",
)

EXERCISES = [outer_product_exercise]
