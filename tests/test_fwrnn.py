"""The NumPy fast-weight RNN against its definition (Ba et al. 2016, eqs. 1-2), written as loops."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse import fwrnn
from fwcourse.util.numerics import LN_EPSILON, layer_norm


def _definition(x, W, C, b, decay, fast_lr, S, gain, beta, eps=LN_EPSILON):
    """One example at a time, explicit A(t) and explicit LayerNorm: the paper's equations verbatim."""
    B, T, _ = x.shape
    H = W.shape[0]
    out = np.zeros((B, T, H))
    for i in range(B):
        A = np.zeros((H, H))  # reset for every sequence
        h = np.zeros(H)
        for t in range(T):
            slow = W.T @ h + C.T @ x[i, t] + b  # the paper's W h(t) + C x(t), column vectors
            hs = np.maximum(slow, 0)
            for _ in range(S):
                z = slow + A @ hs
                mu = sum(z) / H
                var = sum((zj - mu) ** 2 for zj in z) / H
                hs = np.maximum(gain * (z - mu) / np.sqrt(var + eps) + beta, 0)
            h = hs
            A = decay * A + fast_lr * np.outer(h, h)
            out[i, t] = h
    return out


def _params(rng, D, H):
    return dict(W=rng.standard_normal((H, H)) * 0.5, C=rng.standard_normal((D, H)),
                b=rng.standard_normal(H) * 0.1, gain=1 + 0.3 * rng.standard_normal(H),
                ln_bias=0.2 * rng.standard_normal(H))


@pytest.mark.parametrize("B,T,D,H,S", [(1, 1, 2, 3, 1), (3, 7, 5, 4, 1), (2, 9, 3, 5, 3), (4, 5, 1, 7, 2)])
@pytest.mark.parametrize("form", fwrnn.FORMS)
def test_matches_definition(B, T, D, H, S, form):
    rng = np.random.default_rng(B * 100 + T)
    x = rng.standard_normal((B, T, D))
    p = _params(rng, D, H)
    got = fwrnn.fast_weight_rnn(x, p["W"], p["C"], p["b"], decay=0.9, fast_lr=0.4, inner_steps=S,
                                gain=p["gain"], ln_bias=p["ln_bias"], form=form)
    want = _definition(x, p["W"], p["C"], p["b"], 0.9, 0.4, S, p["gain"], p["ln_bias"])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_matrix_and_attention_forms_agree_to_round_off():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 13, 5))
    p = _params(rng, 5, 6)
    kw = dict(decay=0.95, fast_lr=0.5, inner_steps=2, gain=p["gain"], ln_bias=p["ln_bias"])
    a = fwrnn.fast_weight_rnn(x, p["W"], p["C"], p["b"], form="matrix", **kw)
    b = fwrnn.fast_weight_rnn(x, p["W"], p["C"], p["b"], form="attention", **kw)
    assert np.abs(a - b).max() < 1e-12


def test_examples_do_not_interact_and_memory_is_reset():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 6, 4))
    p = _params(rng, 4, 5)
    batch = fwrnn.fast_weight_rnn(x, **p)
    for i in range(3):
        np.testing.assert_allclose(batch[i], fwrnn.fast_weight_rnn(x[i], **p), rtol=1e-12)
    # a second call starts from A = 0 again
    np.testing.assert_array_equal(fwrnn.fast_weight_rnn(x, **p), batch)


def test_memory_is_the_decayed_sum_of_outer_products():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 5, 3))
    p = _params(rng, 3, 4)
    h, A = fwrnn.fast_weight_rnn(x, decay=0.8, fast_lr=0.3, return_memory=True, **p)
    t = 4
    want = sum(0.3 * 0.8 ** (t - tau) * np.einsum("bi,bj->bij", h[:, tau], h[:, tau]) for tau in range(t + 1))
    np.testing.assert_allclose(A[:, t], want, rtol=1e-12)
    np.testing.assert_allclose(A[:, 0], 0.3 * np.einsum("bi,bj->bij", h[:, 0], h[:, 0]))


def test_slow_terms_use_the_previous_final_state():
    """With S = 2, feeding h_0(t+1) instead of h(t) into the slow terms changes the result."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 4, 3))
    p = _params(rng, 3, 5)
    got = fwrnn.fast_weight_rnn(x, inner_steps=2, decay=0.9, fast_lr=0.5, **p)

    # the bug found in public reimplementations: slow = h_0 W + x C + b inside the loop
    h, A, wrong = np.zeros((1, 5)), np.zeros((1, 5, 5)), []
    for t in range(4):
        xp = x[:, t] @ p["C"] + p["b"]
        h0 = fwrnn.relu(h @ p["W"] + xp)
        hs = h0
        for _ in range(2):
            hs = fwrnn.relu(layer_norm(h0 @ p["W"] + xp + np.einsum("bij,bj->bi", A, hs), p["gain"], p["ln_bias"]))
        h = hs
        A = fwrnn.update_memory(A, h, 0.9, 0.5)
        wrong.append(h)
    assert np.abs(got - np.stack(wrong, 1)).max() > 1e-3


def test_update_memory_and_attention_read():
    rng = np.random.default_rng(6)
    B, t, H = 3, 6, 5
    hs = rng.standard_normal((B, t, H))
    q = rng.standard_normal((B, H))
    A = np.zeros((B, H, H))
    for tau in range(t):
        A = fwrnn.update_memory(A, hs[:, tau], 0.9, 0.7)
    np.testing.assert_allclose(fwrnn.attention_read(hs, q, 0.9, 0.7), np.einsum("bij,bj->bi", A, q), rtol=1e-12)
    w = fwrnn.attention_weights(hs[0], q[0], 0.9, 0.7)
    for tau in range(t):  # η λ^{t−τ} h(τ)·h_s, the newest state (τ = t) having age 0
        assert w[tau] == pytest.approx(0.7 * 0.9 ** (t - 1 - tau) * hs[0, tau] @ q[0])
    assert fwrnn.attention_read(np.zeros((0, H)), q[0]).shape == (H,)


def test_zero_fast_lr_is_the_layernorm_control():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 5, 3))
    p = _params(rng, 3, 4)
    got = fwrnn.fast_weight_rnn(x, fast_lr=0.0, inner_steps=2, **p)
    want = _definition(x, p["W"], p["C"], p["b"], 0.95, 0.0, 2, p["gain"], p["ln_bias"])
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("kwargs,match", [
    (dict(x=np.zeros(3)), "x must have 2 or 3 dimensions"),
    (dict(x=np.zeros((1, 2, 3, 4))), "x must have 2 or 3 dimensions"),
    (dict(inner_steps=0), "inner_steps"),
    (dict(decay=0.0), r"decay \(λ\) must be in \(0, 1\]"),
    (dict(decay=1.2), r"decay \(λ\) must be in \(0, 1\]"),
    (dict(fast_lr=-0.1), "fast_lr"),
    (dict(C=np.zeros((4, 3))), r"C must have shape \(2, 3\)"),
    (dict(W=np.zeros((3, 2))), r"W must have shape \(3, 3\)"),
    (dict(form="softmax"), "form must be one of"),
    (dict(form="attention", return_memory=True), "return_memory"),
])
def test_bad_input_is_explained(kwargs, match):
    args = dict(x=np.zeros((2, 4, 2)), W=np.zeros((3, 3)), C=np.zeros((2, 3)))
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        fwrnn.fast_weight_rnn(args.pop("x"), args.pop("W"), args.pop("C"), **args)


def test_bad_memory_shapes_are_explained():
    with pytest.raises(ValueError, match="A must have shape"):
        fwrnn.update_memory(np.zeros((2, 3, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="query must have shape"):
        fwrnn.attention_read(np.zeros((2, 5, 3)), np.zeros((2, 4)))
    with pytest.raises(TypeError, match="inner_steps"):
        fwrnn.fast_weight_rnn(np.zeros((1, 2, 2)), np.zeros((3, 3)), np.zeros((2, 3)), inner_steps=1.5)


def test_read_weights_reproduce_the_first_read():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 3))
    p = _params(rng, 3, 4)
    h, A = fwrnn.fast_weight_rnn(x, decay=0.9, fast_lr=0.6, return_memory=True, **p)
    x_proj = x @ p["C"] + p["b"]
    w = fwrnn.read_weights(x_proj, h, p["W"], 0.9, 0.6)
    assert np.all(np.triu(w) == 0)
    for t in range(1, 6):
        h0 = np.maximum(h[t - 1] @ p["W"] + x_proj[t], 0)
        np.testing.assert_allclose(w[t] @ h, A[t - 1] @ h0, rtol=1e-10, atol=1e-12)
