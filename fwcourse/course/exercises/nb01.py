"""Exercises of notebook 01: Schmidhuber's (1992) fast-weight controller."""
from __future__ import annotations

import numpy as np

from fwcourse import fast_weight_controller as fc
from fwcourse.course.check import Exercise, odd_sizes
from fwcourse.course.stretch import Stretch, settings
from fwcourse.util import validate


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


# -- stretch ---------------------------------------------------------------------------------------
_SETTING_RULES = {
    "variant": lambda v, name: validate.choice(v, name, fc.VARIANTS),
    "update": lambda v, name: validate.choice(v, name, fc.UPDATES),
    "lr": lambda v, name: validate.in_range(v, name, 0, 1, low_open=True),
    "window": lambda v, name: int(validate.in_range(validate.positive_int(v, name, minimum=2), name, 2, 1000)),
    "steepness": lambda v, name: validate.in_range(v, name, 0, 100, low_open=True),
}


def _reference_binding_settings() -> dict:
    return {"variant": "from_to", "update": "bounded", **fc.TRAIN_SETTINGS["variable_binding", "from_to"]}


def binding_steps(answer, n_steps: int, seeds: int) -> float:
    """Median steps to solve the variable-binding task over ``seeds`` seeds (an unsolved seed counts
    as never), training with the reference settings changed by ``answer`` (a dict)."""
    s = settings(answer, _reference_binding_settings(), _SETTING_RULES)
    steps = [fc.train_online(fc.variable_binding(n_steps, rng=1000 + seed), rng=seed, progress=False, **s).steps_to_solve
             for seed in range(seeds)]
    return float(np.median([np.inf if v is None else v for v in steps]))


faster_binding = Stretch(
    name="faster_binding",
    goal="solve the variable-binding task in fewer steps (median over the notebook's seeds) than the "
         "course's settings, by changing variant, update, lr, window or steepness.",
    measure=binding_steps,
    reference=lambda: {},
    unit="median steps to solve the binding task",
    hint=[
        "Start from one change at a time: the Adam step size `lr` first (try 0.01 and 0.1).",
        "`window` is how many steps each gradient looks back; a longer one sees more of each delay "
        "between parking and asking, but updates S less often.",
        "`steepness` sets how sharply the bounded update saturates; compare with update='additive'.",
        "Try the other architecture, variant='per_weight', with its own step size.",
    ],
)

STRETCH = [faster_binding]
