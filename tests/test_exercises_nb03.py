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


def _cell_step(cell, x, h, A, *, ln=True, ln_axis=-1, slow_from_inner=False, write_first=False,
               write_old_state=False, decay=True, extra=0, relu_after_ln=True):
    """Exercise 4 in NumPy, and the mistakes it can make."""
    def memory(state):
        return (cell.decay if decay else 1.0) * A + cell.fast_lr * state[:, :, None] * state[:, None, :]

    read_from = memory(h) if write_first else A
    slow = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
    h_s = np.maximum(slow, 0)
    for _ in range(cell.inner_steps + extra):
        z = (x @ cell.kernel + h_s @ cell.recurrent_kernel + cell.bias if slow_from_inner else slow)
        z = z + np.einsum("bij,bj->bi", read_from, h_s)
        z = cell.ln_gain * _ln(z, ln_axis) + cell.ln_bias if ln else z
        h_s = np.maximum(z, 0) if relu_after_ln else z
    if write_first:
        return h_s, read_from
    return h_s, memory(h if write_old_state else h_s)


SOLUTIONS = {
    "memory_update": lambda A, h, decay, fast_lr: decay * A + fast_lr * h[:, :, None] * h[:, None, :],
    "inner_loop": _inner,
    "attention_read": lambda h, q, decay, fast_lr: (
        fast_lr * decay ** np.arange(len(h) - 1, -1, -1) * (h @ q)) @ h,
    "fast_weight_cell_step": _cell_step,
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
    "fast_weight_cell_step": [
        ("no LayerNorm", lambda *a: _cell_step(*a, ln=False), check.WRONG_VALUES),
        ("LayerNorm over the batch axis", lambda *a: _cell_step(*a, ln_axis=0), check.WRONG_VALUES),
        ("slow term from the inner state h_s, not h(t)", lambda *a: _cell_step(*a, slow_from_inner=True), check.WRONG_VALUES),
        ("memory written before the read: off by one in time", lambda *a: _cell_step(*a, write_first=True), check.WRONG_VALUES),
        ("memory written with the old state h(t)", lambda *a: _cell_step(*a, write_old_state=True), check.WRONG_VALUES),
        ("memory not decayed", lambda *a: _cell_step(*a, decay=False), check.WRONG_VALUES),
        ("one inner step too many", lambda *a: _cell_step(*a, extra=1), check.WRONG_VALUES),
        ("no ReLU after the LayerNorm", lambda *a: _cell_step(*a, relu_after_ln=False), check.WRONG_VALUES),
        ("the state only, not the memory", lambda *a: _cell_step(*a)[0], check.WRONG_SHAPE),
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


@pytest.mark.parametrize("name, new_state", [
    ("inner_loop", _inner),
    ("fast_weight_cell_step", lambda *a, **kw: _cell_step(*a, **kw)[0]),
])
@pytest.mark.parametrize("seed", range(20))
def test_one_inner_step_too_many_is_off_by_a_clear_margin(name, new_state, seed):
    """Not a tolerance accident: on every trial's inputs the extra step moves h by >= 1e-2 of its size."""
    ex = getattr(nb03, name)
    rng = np.random.default_rng(seed)
    for trial in range(ex.n_trials):
        inputs = ex.make_inputs(rng, trial)
        right = new_state(*inputs.values())
        wrong = new_state(*inputs.values(), extra=1)
        assert np.abs(wrong - right).max() >= 1e-2 * np.abs(right).max(), f"trial {trial}"


def test_fast_weight_cell_step_reference_takes_the_course_keras_cell_and_agrees_with_its_call():
    """The checker's stand-in has the attributes of the real cell: the reference reads them from a
    FastWeightRNNCell as well (the notebook's cell falls back on it) and gives that cell's step."""
    from keras import ops

    from fwcourse.fwrnn_layer import FastWeightRNNCell

    rng = np.random.default_rng(8)
    B, D, H = 3, 4, 6
    cell = FastWeightRNNCell(H, inner_steps=2, decay=0.9, fast_lr=0.3, dtype="float64")
    cell.build((B, D))
    cell.set_weights([rng.standard_normal(w.shape) for w in cell.get_weights()])
    x, h = rng.standard_normal((B, D)), np.abs(rng.standard_normal((B, H)))
    past = rng.standard_normal((B, 2, H))
    A = 0.3 * np.einsum("bti,btj->bij", past, past)
    h_ref, A_ref = nb03.fast_weight_cell_step_reference(cell, x, h, A)
    h_keras, (_, A_keras) = cell.call(x, [h, A.reshape(B, H * H)])
    np.testing.assert_allclose(h_ref, ops.convert_to_numpy(h_keras), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(A_ref, ops.convert_to_numpy(A_keras).reshape(B, H, H), rtol=1e-10, atol=1e-12)
