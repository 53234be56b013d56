"""The 1992 fast-weight controller against its definition: explicit loops and finite differences."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse import fast_weight_controller as fc
from fwcourse.util.adam import Adam


def _loop_forward(params, x_slow, x_fast, update, c, W0):
    """The definition, one step and one weight at a time."""
    m, n, _ = fc.fast_shape(params)
    W = W0.copy()
    ys, Ws = [], [W.copy()]
    for t in range(len(x_slow)):
        ys.append(np.array([sum(W[i, j] * x_fast[t, j] for j in range(n)) for i in range(m)]))
        if "A" in params:
            delta = np.array([[params["A"][i, j] @ x_slow[t] + params["a"][i, j] for j in range(n)] for i in range(m)])
        else:
            frm = params["K"] @ x_slow[t] + params["bk"]
            to = params["V"] @ x_slow[t] + params["bv"]
            delta = np.array([[to[i] * frm[j] for j in range(n)] for i in range(m)])
        U = W + delta
        W = U if update == "additive" else 1.0 / (1.0 + np.exp(-4 * c * (U - 0.5)))
        Ws.append(W.copy())
    return np.array(ys), np.array(Ws)


def _setup(variant, rng, T=7, s=4, n=3, m=2):
    params = fc.init_params(s, n, m, variant, rng, init_scale=0.6)
    return (params, rng.standard_normal((T, s)), rng.standard_normal((T, n)),
            rng.standard_normal((T, m)), (rng.random((T, m)) < 0.7).astype(float), rng.uniform(0, 1, (m, n)))


@pytest.mark.parametrize("variant", fc.VARIANTS)
@pytest.mark.parametrize("update", fc.UPDATES)
def test_forward_matches_loop_definition(variant, update):
    rng = np.random.default_rng(1)
    params, xs, xf, _, _, W0 = _setup(variant, rng)
    trace = fc.forward(params, xs, xf, update, 1.7, W0)
    y, W = _loop_forward(params, xs, xf, update, 1.7, W0)
    np.testing.assert_allclose(trace.y, y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trace.W, W, rtol=1e-12, atol=1e-12)


def test_step_is_one_step_of_forward():
    rng = np.random.default_rng(2)
    params, xs, xf, _, _, W0 = _setup("from_to", rng, T=3)
    trace = fc.forward(params, xs, xf, "bounded", 2.0, W0)
    y, W1 = fc.step(params, W0, xs[0], xf[0], "bounded", 2.0)
    np.testing.assert_allclose(y, trace.y[0])
    np.testing.assert_allclose(W1, trace.W[1])


def test_fast_weight_update_is_outer_product():
    rng = np.random.default_rng(3)
    W, to, frm = rng.standard_normal((5, 3)), rng.standard_normal(5), rng.standard_normal(3)
    np.testing.assert_allclose(fc.fast_weight_update(W, to, frm), W + np.outer(to, frm))


@pytest.mark.parametrize("variant", fc.VARIANTS)
@pytest.mark.parametrize("update", fc.UPDATES)
def test_backward_matches_finite_differences(variant, update):
    rng = np.random.default_rng(4)
    params, xs, xf, d, mask, W0 = _setup(variant, rng, T=6, s=3, n=3, m=2)
    c = 1.3
    _, grads, _ = fc.loss_and_grads(params, xs, xf, d, mask, update, c, W0)
    h = 1e-6
    for name in list(params) + ["W0"]:
        arr = W0 if name == "W0" else params[name]
        numeric = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            plus = fc.loss_and_grads(params, xs, xf, d, mask, update, c, W0)[0]
            arr[idx] = old - h
            minus = fc.loss_and_grads(params, xs, xf, d, mask, update, c, W0)[0]
            arr[idx] = old
            numeric[idx] = (plus - minus) / (2 * h)
        rel = np.abs(numeric - grads[name]).max() / max(np.abs(numeric).max(), 1e-12)
        assert rel < 1e-6, f"{name}: relative error {rel:.2e}"


def test_flip_flop_targets_follow_the_rule():
    task = fc.flip_flop(301, rng=5)
    armed, expected = False, []
    for label in task.labels:
        expected.append(float(label == "B" and armed))
        if label == "A":
            armed = True
        elif label == "B":
            armed = False
    np.testing.assert_array_equal(task.target[:, 0], expected)
    np.testing.assert_array_equal(task.x_slow.sum(axis=1), 1.0)
    assert task.mask.all()


def test_variable_binding_targets_are_the_last_parked_slot():
    task = fc.variable_binding(403, rng=6)
    assert task.x_slow.shape == (403, 6) and task.x_fast.shape == (403, 1) and task.target.shape == (403, 3)
    slot = None
    for t in range(len(task)):
        detectors = task.x_slow[t, :3]
        assert detectors.sum() <= 1
        if detectors.sum() == 1:
            slot = int(np.argmax(detectors))
            assert task.x_fast[t, 0] == 0, "the parking step itself is never queried"
        if task.x_fast[t, 0] == 1:
            assert slot is not None
            np.testing.assert_array_equal(task.target[t], np.eye(3)[slot])
            np.testing.assert_array_equal(task.mask[t], 1.0)
        else:
            np.testing.assert_array_equal(task.mask[t], 0.0)
    assert set(np.unique(task.x_slow[:, 3:])) <= {0.0, 1.0}


def test_solved_at_finds_the_first_full_run():
    errors = np.array([0.0, 0.1, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0])
    valid = np.array([1, 1, 1, 1, 1, 0, 1, 1], bool)
    assert fc.solved_at(errors, valid, run=3) is None
    assert fc.solved_at(errors, valid, run=2) == 4
    assert fc.solved_at(errors[5:], valid[5:], run=2) == 3


def test_hand_made_controller_solves_the_flip_flop():
    # One output per fast weight: A writes a 1 on F's B line, B erases it, A and C lines stay 0.
    big = 2.0
    a = np.zeros((1, 3))
    A = np.zeros((1, 3, 3))
    A[0, 1] = [big, -big, 0.0]          # change of the B-line weight for events A, B, C
    A[0, 0] = A[0, 2] = -big            # the A- and C-line weights are pushed to 0 always
    task = fc.flip_flop(500, rng=7)
    trace = fc.forward(dict(A=A, a=a), task.x_slow, task.x_fast, "bounded", 3.0)
    errors, valid = fc.step_errors(trace.y, task.target, task.mask)
    assert errors.max() < 0.05
    assert fc.solved_at(errors, valid) == 100


def test_online_training_solves_the_flip_flop():
    # A small on-line run with the paper's criterion (100 steps in a row with error <= 0.05).
    result = fc.train_online(fc.flip_flop(4000, rng=100), "from_to", lr=0.1, window=5, rng=0, progress=False)
    assert result.steps_to_solve is not None
    assert len(result.errors) <= result.steps_to_solve + 5
    assert result.errors[result.steps_to_solve - 100:result.steps_to_solve].max() <= 0.05


def test_adam_minimises_a_quadratic():
    p = {"x": np.array([3.0, -2.0])}
    opt = Adam(lr=0.1)
    for _ in range(500):
        opt.step(p, {"x": 2 * p["x"]})
    assert np.abs(p["x"]).max() < 1e-2


@pytest.mark.parametrize("call, match", [
    (lambda p: fc.forward(p, np.ones((4, 3)), np.ones((4, 3))), "x_slow"),
    (lambda p: fc.forward(p, np.ones((4, 4)), np.ones((5, 3))), "x_slow and x_fast"),
    (lambda p: fc.forward(p, np.ones((4, 4)), np.full((4, 3), np.nan)), "x_fast must be finite"),
    (lambda p: fc.forward(p, np.ones((4, 4)), np.ones((4, 3)), update="multiplicative"), "update"),
    (lambda p: fc.forward(p, np.ones((4, 4)), np.ones((4, 3)), W0=np.zeros((3, 2))), "W0"),
    (lambda p: fc.forward({"A": 1}, np.ones((4, 4)), np.ones((4, 3))), "params"),
    (lambda p: fc.loss_and_grads(p, np.ones((4, 4)), np.ones((4, 3)), np.ones((4, 3))), "target"),
    (lambda p: fc.init_params(4, 3, 2, "recurrent"), "variant"),
    (lambda p: fc.flip_flop(0), "n_steps"),
    (lambda p: fc.variable_binding(10, p_stop=0), "p_stop"),
])
def test_bad_input_names_the_argument(call, match):
    params = fc.init_params(4, 3, 2, "from_to", 0)
    with pytest.raises((ValueError, TypeError), match=match):
        call(params)


def test_progress_bar_counts_time_steps(monkeypatch):
    """The bar's total and its updates are the task's time steps, not its training windows."""
    bars = []

    class Recorder:
        def __init__(self, total=None, **kwargs):
            self.total, self.n = total, 0
            bars.append(self)

        def update(self, n):
            self.n += n

        def set_postfix(self, **kwargs):
            pass

        def close(self):
            pass

    monkeypatch.setattr(fc, "tqdm", Recorder)
    task = fc.flip_flop(95, rng=0)
    fc.train_online(task, window=10, rng=0, stop_when_solved=False)
    assert bars[0].total == len(task) == 95 and bars[0].n == 95
