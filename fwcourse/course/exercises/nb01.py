"""Exercises of notebook 01: Schmidhuber's (1992) fast-weight controller."""
from __future__ import annotations

import numpy as np

from fwcourse import fast_weight_controller as fc
from fwcourse.course.check import Exercise, odd_sizes


def _update_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(W=rng.standard_normal((s.n, s.m)), to=rng.standard_normal(s.n), frm=rng.standard_normal(s.m))


fast_weight_update = Exercise(
    name="fast_weight_update",
    reference=fc.fast_weight_update,
    make_inputs=_update_inputs,
    hint=[
        "The change has one row per TO unit (F's outputs) and one column per FROM unit (F's inputs).",
        "Entry (i, j) of the change is to[i] * frm[j]; add it to W.",
    ],
)


def controller_step_reference(W, x_slow, x_fast, K, bk, V, bv):
    """One step of the FROM/TO controller with additive fast weights: returns ``(y, W_new)``.

    ``y = W x_fast`` (F answers with the weights programmed so far), then
    ``W_new = W + to frm^T`` with ``frm = K x_slow + bk``, ``to = V x_slow + bv``.
    """
    params = dict(K=K, bk=bk, V=V, bv=bv)
    return fc.step(params, W, x_slow, x_fast, update="additive")


def _step_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    m, n, n_slow = s.n, s.m, s.d
    return dict(W=rng.standard_normal((m, n)), x_slow=rng.standard_normal(n_slow), x_fast=rng.standard_normal(n),
                K=rng.standard_normal((n, n_slow)), bk=rng.standard_normal(n),
                V=rng.standard_normal((m, n_slow)), bv=rng.standard_normal(m))


controller_step = Exercise(
    name="controller_step",
    reference=controller_step_reference,
    make_inputs=_step_inputs,
    hint=[
        "First F answers: y = W @ x_fast, with the weights as they are *before* this step's change.",
        "Then S computes frm = K @ x_slow + bk and to = V @ x_slow + bv; the new weights are W + outer(to, frm).",
        "Return a tuple (y, W_new).",
    ],
)


def _grad_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(W=rng.standard_normal((s.n, s.m)), to=rng.standard_normal(s.n), frm=rng.standard_normal(s.m),
                x=rng.standard_normal(s.m), d=rng.standard_normal(s.n))


write_gradients = Exercise(
    name="write_gradients",
    reference=fc.write_gradients,
    make_inputs=_grad_inputs,
    hint=[
        "Name the error e = (W + outer(to, frm)) @ x - d; then E = 0.5 * e @ e.",
        "The output depends on `to` through to * (frm @ x), a vector times a number.",
        "The output depends on `frm` through to * (frm @ x) too: the chain rule gives (e @ to) * x.",
    ],
)

EXERCISES = [fast_weight_update, controller_step, write_gradients]
