"""Exercises of notebook 00 (start here): a warm-up on the outer product."""
from __future__ import annotations

import numpy as np

from fwcourse.associative_memory import outer_product as _outer_product
from fwcourse.course.check import Exercise, odd_sizes


def _outer_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(v=rng.standard_normal(s.n), k=rng.standard_normal(s.m))


outer_product = Exercise(
    name="outer_product",
    reference=_outer_product,
    make_inputs=_outer_inputs,
    hint=[
        "The result has one row per entry of v and one column per entry of k.",
        "Entry (i, j) is v[i] * k[j]: broadcasting v[:, None] against k[None, :] builds all of them.",
    ],
)

EXERCISES = [outer_product]
