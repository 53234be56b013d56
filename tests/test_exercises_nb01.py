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
