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


def controller_gradients_reference(W0, x_slow, x_fast, target, K, bk, V, bv):
    """Loss and gradients of the additive FROM/TO controller over a window: ``(E, dK, dbk, dV, dbv)``.

    ``E = 1/2 sum_t |W(t-1) x_fast(t) - target(t)|^2`` with ``W(t) = W(t-1) + to(t) frm(t)^T``
    (the paper's Eqs. 1 and 5, additive), backpropagated through the fast weights
    (:func:`fwcourse.fast_weight_controller.loss_and_grads`).
    """
    params = dict(K=K, bk=bk, V=V, bv=bv)
    loss, grads, _ = fc.loss_and_grads(params, x_slow, x_fast, target, update="additive", W0=W0)
    return loss, grads["K"], grads["bk"], grads["V"], grads["bv"]


def _window_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    m, n, n_slow, T = s.n, s.m, s.d, s.t
    # Several steps (T >= 5 from the second trial on), so that a write has more than one later read
    # to answer for: a backward pass that stops one step after each write is then wrong.
    return dict(W0=rng.standard_normal((m, n)), x_slow=rng.standard_normal((T, n_slow)),
                x_fast=rng.standard_normal((T, n)), target=rng.standard_normal((T, m)),
                K=rng.standard_normal((n, n_slow)), bk=rng.standard_normal(n),
                V=rng.standard_normal((m, n_slow)), bv=rng.standard_normal(m))


controller_gradients = Exercise(
    name="controller_gradients",
    reference=controller_gradients_reference,
    make_inputs=_window_inputs,
    hint=[
        "Forward: keep every step's error e(t) = W(t-1) @ x_fast[t] - target[t], and the FROM/TO "
        "patterns frm(t) = K @ x_slow[t] + bk, to(t) = V @ x_slow[t] + bv; E = 0.5 * sum of e(t)**2.",
        "Backward, from the last step to the first: G = dE/dW(t) starts at 0 after the last step. The "
        "write at t gets dE/dto(t) = G @ frm(t) and dE/dfrm(t) = G.T @ to(t) (Exercise 3 with one read), "
        "then G += outer(e(t), x_fast[t]): the read at t used W(t-1), the weights before the write at t.",
        "The write at t stays in the memory, so G sums the reads of every later step, not only the next. "
        "Finally dK = sum_t outer(dE/dfrm(t), x_slow[t]), dbk = sum_t dE/dfrm(t), and the same for V, bv with to.",
    ],
)

EXERCISES = [fast_weight_update, controller_step, write_gradients, controller_gradients]
