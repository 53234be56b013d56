"""Each checker of notebook 03 passes the reference and catches known-wrong answers."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse.course import check
from fwcourse.course.exercises import nb03


def _ln(z, axis=-1):
    return (z - z.mean(axis=axis, keepdims=True)) / np.sqrt(z.var(axis=axis, keepdims=True) + 1e-5)


def _inner(slow, A, inner_steps, gain, bias, *, ln_axis=-1, extra=0, keep_slow=True, use_ln=True):
    h = np.maximum(slow, 0)
    for _ in range(inner_steps + extra):
        z = (slow if keep_slow else 0) + np.einsum("bij,bj->bi", A, h)
        h = np.maximum(gain * (_ln(z, ln_axis) if use_ln else z) + bias, 0)
    return h


SOLUTIONS = {
    "memory_update": lambda A, h, decay, fast_lr: decay * A + fast_lr * h[:, :, None] * h[:, None, :],
    "inner_loop": _inner,
    "attention_read": lambda h, q, decay, fast_lr: (
        fast_lr * decay ** np.arange(len(h) - 1, -1, -1) * (h @ q)) @ h,
}

WRONG = {
    "memory_update": [
        ("old memory transposed", lambda A, h, d, e: d * np.swapaxes(A, 1, 2) + e * h[:, :, None] * h[:, None, :], check.WRONG_VALUES),
        ("missing decay", lambda A, h, d, e: A + e * h[:, :, None] * h[:, None, :], check.WRONG_VALUES),
        ("decay on the new term too", lambda A, h, d, e: d * (A + e * h[:, :, None] * h[:, None, :]), check.WRONG_VALUES),
        ("inner product, not outer", lambda A, h, d, e: d * A + e * np.sum(h * h, axis=-1)[:, None, None], check.WRONG_VALUES),
        # np.outer flattens the batch: right for B = 1, a broadcasting error for B > 1
        ("one outer product for the batch", lambda A, h, d, e: d * A + e * np.outer(h, h), check.ERROR),
    ],
    "inner_loop": [
        ("LayerNorm over the batch axis", lambda *a: _inner(*a, ln_axis=0), check.WRONG_VALUES),
        ("one iteration too many", lambda *a: _inner(*a, extra=1), check.WRONG_VALUES),
        ("slow term dropped in the loop", lambda *a: _inner(*a, keep_slow=False), check.WRONG_VALUES),
        ("no LayerNorm", lambda *a: _inner(*a, use_ln=False), check.WRONG_VALUES),
    ],
    "attention_read": [
        ("decay by age reversed", lambda h, q, d, e: (e * d ** np.arange(len(h)) * (h @ q)) @ h, check.WRONG_VALUES),
        ("missing η", lambda h, q, d, e: (d ** np.arange(len(h) - 1, -1, -1) * (h @ q)) @ h, check.WRONG_VALUES),
        ("softmax attention", lambda h, q, d, e: (np.exp(h @ q) / np.exp(h @ q).sum()) @ h, check.WRONG_VALUES),
        ("returns the weights", lambda h, q, d, e: e * d ** np.arange(len(h) - 1, -1, -1) * (h @ q), check.WRONG_SHAPE),
    ],
}


def test_every_exercise_is_listed_for_notebook_03():
    assert [ex.name for ex in nb03.EXERCISES] == list(SOLUTIONS)


@pytest.mark.parametrize("ex", nb03.EXERCISES, ids=lambda e: e.name)
def test_reference_and_solution_pass(ex):
    assert ex.run(ex.reference, seed=0).status == check.PASSED
    assert ex.run(SOLUTIONS[ex.name], seed=1).status == check.PASSED


@pytest.mark.parametrize("name,label,wrong,status",
                         [(n, lbl, f, s) for n, cases in WRONG.items() for lbl, f, s in cases],
                         ids=[f"{n}:{lbl}" for n, cases in WRONG.items() for lbl, _, _ in cases])
def test_known_wrong_answers_are_caught(name, label, wrong, status):
    ex = next(e for e in nb03.EXERCISES if e.name == name)
    result = ex.run(wrong, seed=3)
    assert result.status == status, f"{label}: {result}"



@pytest.mark.parametrize("seed", range(20))
def test_one_inner_step_too_many_is_off_by_a_clear_margin(seed):
    """Not a tolerance accident: on every trial's inputs the extra step moves h by >= 1e-2 of its size."""
    ex = nb03.inner_loop
    rng = np.random.default_rng(seed)
    for trial in range(ex.n_trials):
        inputs = ex.make_inputs(rng, trial)
        right = _inner(*inputs.values())
        wrong = _inner(*inputs.values(), extra=1)
        assert np.abs(wrong - right).max() >= 1e-2 * np.abs(right).max(), f"trial {trial}"
