"""Notebook 01's exercise checks: the reference passes, known-wrong answers get the right verdict."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse import fast_weight_controller as fc
from fwcourse.course import check
from fwcourse.course.exercises import nb01 as ex


@pytest.mark.parametrize("wrong, status", [
    (lambda W, to, frm: W + np.outer(frm, to), check.WRONG_SHAPE),        # transposed change
    (lambda W, to, frm: np.outer(to, frm), check.WRONG_VALUES),           # forgot the old weights
    (lambda W, to, frm: W - np.outer(to, frm), check.WRONG_VALUES),       # wrong sign
])
def test_fast_weight_update_wrong_answers(wrong, status):
    assert ex.fast_weight_update.run(wrong, seed=1).status == status


def _write_then_read(W, x_slow, x_fast, K, bk, V, bv):
    W_new = W + np.outer(V @ x_slow + bv, K @ x_slow + bk)
    return W_new @ x_fast, W_new


def _no_bias(W, x_slow, x_fast, K, bk, V, bv):
    return W @ x_fast, W + np.outer(V @ x_slow, K @ x_slow)


def _only_y(W, x_slow, x_fast, K, bk, V, bv):
    return W @ x_fast


@pytest.mark.parametrize("wrong, status", [
    (_write_then_read, check.WRONG_VALUES),     # F reads after S's change: off by one in time
    (_no_bias, check.WRONG_VALUES),
    (_only_y, check.WRONG_SHAPE),
])
def test_controller_step_wrong_answers(wrong, status):
    assert ex.controller_step.run(wrong, seed=2).status == status


def test_write_gradients_matches_finite_differences():
    rng = np.random.default_rng(3)
    W, to, frm = rng.standard_normal((3, 5)), rng.standard_normal(3), rng.standard_normal(5)
    x, d = rng.standard_normal(5), rng.standard_normal(3)

    def loss(to_, frm_):
        e = (W + np.outer(to_, frm_)) @ x - d
        return 0.5 * e @ e

    g_to, g_frm = fc.write_gradients(W, to, frm, x, d)
    h = 1e-6
    num_to = [(loss(to + h * np.eye(3)[i], frm) - loss(to - h * np.eye(3)[i], frm)) / (2 * h) for i in range(3)]
    num_frm = [(loss(to, frm + h * np.eye(5)[i]) - loss(to, frm - h * np.eye(5)[i])) / (2 * h) for i in range(5)]
    np.testing.assert_allclose(g_to, num_to, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g_frm, num_frm, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("wrong, status", [
    (lambda W, to, frm, x, d: ((W @ x - d) * (frm @ x), ((W @ x - d) @ to) * x), check.WRONG_VALUES),  # forgot the write
    (lambda W, to, frm, x, d: ((((W + np.outer(to, frm)) @ x - d) @ to) * x,
                               ((W + np.outer(to, frm)) @ x - d) * (frm @ x)), check.WRONG_SHAPE),  # swapped
    (lambda W, to, frm, x, d: ((d - (W + np.outer(to, frm)) @ x) * (frm @ x),
                               ((d - (W + np.outer(to, frm)) @ x) @ to) * x), check.WRONG_VALUES),  # sign
])
def test_write_gradients_wrong_answers(wrong, status):
    assert ex.write_gradients.run(wrong, seed=4).status == status


def _controller_gradients(W0, x_slow, x_fast, target, K, bk, V, bv, *, read_after_write=False,
                          next_read_only=False, sign=1.0, start_from_zero=False, transposed=False):
    """Exercise 4 written out with sums over the blamed reads, and the mistakes it can make."""
    frm, to = x_slow @ K.T + bk, x_slow @ V.T + bv
    W = np.zeros_like(W0) if start_from_zero else W0
    e = np.empty_like(target)
    for t in range(len(x_slow)):
        W_new = W + np.outer(to[t], frm[t])
        e[t] = (W_new if read_after_write else W) @ x_fast[t] - target[t]
        W = W_new
    d_to, d_frm = np.zeros_like(to), np.zeros_like(frm)
    for t in range(len(x_slow)):
        blamed = range(t if read_after_write else t + 1, len(x_slow))
        G = sum((sign * np.outer(e[u], x_fast[u]) for u in (blamed[:1] if next_read_only else blamed)),
                np.zeros_like(W0))
        d_to[t], d_frm[t] = (G.T @ frm[t], G @ to[t]) if transposed else (G @ frm[t], G.T @ to[t])
    return 0.5 * np.sum(e ** 2), d_frm.T @ x_slow, d_frm.sum(axis=0), d_to.T @ x_slow, d_to.sum(axis=0)


def test_controller_gradients_written_out_matches_finite_differences():
    """The version these tests perturb is right: a central-difference check, in float64."""
    inputs = ex.controller_gradients.make_inputs(np.random.default_rng(5), 2)
    _, *grads = _controller_gradients(**inputs)
    h = 1e-6
    for name, grad in zip(("K", "bk", "V", "bv"), grads):
        value = inputs[name]
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + h
            plus = _controller_gradients(**inputs)[0]
            value[idx] = old - h
            minus = _controller_gradients(**inputs)[0]
            value[idx] = old
            numeric[idx] = (plus - minus) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6, err_msg=name)


def test_controller_gradients_passes_the_written_out_version():
    assert ex.controller_gradients.run(_controller_gradients, seed=5).status == check.PASSED


@pytest.mark.parametrize("wrong, status", [
    # F reads after S's change: off by one in time, each write blamed for its own step's read too
    (lambda *a: _controller_gradients(*a, read_after_write=True), check.WRONG_VALUES),
    # only the next read blamed: the write forgotten after one step
    (lambda *a: _controller_gradients(*a, next_read_only=True), check.WRONG_VALUES),
    # the error taken as target - output: every gradient has the wrong sign (the loss is right)
    (lambda *a: _controller_gradients(*a, sign=-1.0), check.WRONG_VALUES),
    # the fast weights from before the window ignored
    (lambda *a: _controller_gradients(*a, start_from_zero=True), check.WRONG_VALUES),
    # G transposed in the chain rule of the outer product: the shapes do not fit (m != n)
    (lambda *a: _controller_gradients(*a, transposed=True), check.ERROR),
    # FROM and TO swapped in the answer: (dV, dbv) where (dK, dbk) belong
    (lambda *a: (lambda r: (r[0], r[3], r[4], r[1], r[2]))(_controller_gradients(*a)), check.WRONG_SHAPE),
    # the gradients only, without the loss
    (lambda *a: _controller_gradients(*a)[1:], check.WRONG_SHAPE),
])
def test_controller_gradients_wrong_answers(wrong, status):
    assert ex.controller_gradients.run(wrong, seed=6).status == status
