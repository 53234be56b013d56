"""The FWL with its fast-weight state carried across windows, against its definition (autodiff)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from fwcourse import fwl_carry, transformer
from fwcourse.data import lm_data
from fwcourse.fwl import FAST_PARAMS
from test_fwl import _block, _inputs, _layer, _params


def _carried_definition(layer, xs, labels, weights, carry):
    """Window k, position t: f(x_t; θ - η ∇θ[Σ_{j<k} carry^(k-j) L_j + L_k,<t]), one tape per t;
    L_j = Σ_s (w_s / N_j) CE_s over window j (N_j: its weights' sum, the "sequence" normaliser)."""
    params = {k: tf.convert_to_tensor(v) for k, v in _params(layer).items()}
    lr = {p: tf.convert_to_tensor(layer.step_sizes[p]) for p in FAST_PARAMS}
    out = []
    for k in range(len(xs)):
        rows = []
        for t in range(xs[k].shape[0]):
            fast = [params[p] for p in FAST_PARAMS]
            with tf.GradientTape() as tape:
                tape.watch(fast)
                theta = dict(params, **dict(zip(FAST_PARAMS, fast)))
                loss = 0.0
                for j in range(k + 1):
                    end = t if j == k else xs[j].shape[0]
                    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
                        labels[j][:end], _block(theta, xs[j][:end]))
                    scale = 1.0 if j == k else carry ** (k - j)
                    loss += scale * tf.reduce_sum(weights[j][:end] / weights[j].sum() * ce)
            grads = tape.gradient(loss, fast, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            stepped = {p: params[p] - lr[p] * g for p, g in zip(FAST_PARAMS, grads)}
            rows.append(_block(dict(params, **stepped), xs[k][t:t + 1])[0])
        out.append(tf.stack(rows).numpy())
    return out


@pytest.mark.parametrize("carry", [0.0, 0.5, 1.0])
def test_carried_state_equals_one_step_on_every_earlier_window(carry):
    T, d, V, size, chunks = 5, 4, 7, 3, 2
    layer = _layer(d, V, size, chunks, seed=1)
    xs, labels, weights = zip(*(
        (x[0], y[0], w[0]) for x, y, w in (_inputs(1, T, d, V, seed=k, padded=False) for k in range(3))))
    expected = _carried_definition(layer, xs, labels, weights, carry)
    state = layer.initial_state(1)
    for k in range(3):
        got, state = layer(xs[k][None], labels[k][None], weights[k][None], state=state, carry=carry)
        np.testing.assert_allclose(ops.convert_to_numpy(got)[0], expected[k], rtol=1e-9, atol=1e-9)
    plain = ops.convert_to_numpy(layer(xs[2][None], labels[2][None], weights[2][None]))[0]
    assert np.allclose(plain, expected[2]) == (carry == 0.0)  # carrying changes the output


def test_bad_state_and_carry():
    layer = _layer(4, 7, 3, 1)
    x, labels, weights = _inputs(2, 5, 4, 7)
    with pytest.raises(ValueError, match="carry"):
        layer(x, labels, weights, state=layer.initial_state(2), carry=1.5)
    with pytest.raises(ValueError, match=r"state\['kernel1'\] must have shape \(2, 4, 12\)"):
        layer(x, labels, weights, state=layer.initial_state(3))
    with pytest.raises(ValueError, match="state must be a dict with keys"):
        layer(x, labels, weights, state={"kernel1": 0})


@pytest.fixture(scope="module")
def model_and_windows():
    model = transformer.build_lm(30, 8, 1, 2, 6, fwl_size=4, seed=0, compile=False)
    for v in model.head.step_sizes.values():
        v.assign(0.5)  # large steps, so that the carried state visibly matters
    rng = np.random.default_rng(0)
    docs = [rng.integers(1, 30, n) for n in (20, 7, 14, 3)]  # 4, 2, 3 and 1 windows
    return model, lm_data.lm_windows(docs, 6)


def test_carry_zero_is_the_plain_fwl_and_batching_changes_nothing(model_and_windows):
    model, w = model_and_windows
    plain = transformer.token_losses(model, w.tokens, w.targets) * (w.weights > 0)
    np.testing.assert_allclose(fwl_carry.carried_losses(model, w, 0.0), plain, rtol=1e-5, atol=1e-5)
    one, four = (fwl_carry.carried_losses(model, w, 1.0, batch_size=b) for b in (1, 4))
    np.testing.assert_allclose(one, four, rtol=1e-5, atol=1e-5)
    first = fwl_carry.window_index(w.doc) == 0
    np.testing.assert_allclose(one[first], plain[first], rtol=1e-5, atol=1e-5)  # nothing to carry yet
    assert np.abs(one[~first] - plain[~first]).max() > 1e-3


def test_window_index_and_tune_carry(model_and_windows):
    model, w = model_and_windows
    np.testing.assert_array_equal(fwl_carry.window_index([3, 3, 5, 3, 5]), [0, 1, 0, 2, 1])
    carries = (0.0, 0.5, 1.0)
    ppl = [transformer.perplexity(fwl_carry.carried_losses(model, w, c), w.weights) for c in carries]
    assert fwl_carry.tune_carry(model, w, carries) == carries[int(np.argmin(ppl))]
    assert fwl_carry.tune_carry(model, w, [0.25]) == 0.25
    with pytest.raises(ValueError, match="carries"):
        fwl_carry.tune_carry(model, w, [2.0])
    base = transformer.build_lm(30, 8, 1, 2, 6, seed=0, compile=False)
    with pytest.raises(ValueError, match="fwl_size"):
        fwl_carry.carried_losses(base, w, 0.5)
