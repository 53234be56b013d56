"""The Keras FastWeightRNN layer against the NumPy reference, on random weights and odd sizes."""
from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fwcourse import fwrnn  # noqa: E402
from fwcourse.fwrnn_layer import FastWeightRNN, FastWeightRNNCell  # noqa: E402


def _randomise(layer, rng):
    """Random values for every weight (LayerNorm gain and bias included), returned by name."""
    values = {}
    for w in layer.weights:
        name = w.path.split("/")[-1]
        v = rng.standard_normal(tuple(w.shape)) * (0.5 if name != "ln_gain" else 0.3)
        if name == "ln_gain":
            v += 1
        w.assign(v)
        values[name] = v
    return values


def _reference(x, v, layer, **kw):
    return fwrnn.fast_weight_rnn(
        x, v["recurrent_kernel"], v["kernel"], v["bias"], decay=layer.decay, fast_lr=layer.fast_lr,
        inner_steps=layer.inner_steps, gain=v["ln_gain"], ln_bias=v["ln_bias"], **kw)


@pytest.mark.parametrize("B,T,D,H,S,decay,fast_lr", [
    (1, 1, 2, 3, 1, 0.95, 0.5), (3, 7, 5, 4, 2, 0.9, 0.3), (2, 11, 3, 6, 3, 1.0, 0.7),
    (4, 5, 1, 5, 1, 0.5, 0.0),
])
def test_matches_numpy_reference(B, T, D, H, S, decay, fast_lr):
    rng = np.random.default_rng(B + 10 * T)
    x = rng.standard_normal((B, T, D))
    layer = FastWeightRNN(H, inner_steps=S, decay=decay, fast_lr=fast_lr, return_sequences=True,
                          dtype="float64")
    layer.build((None, T, D))
    v = _randomise(layer, rng)
    want = _reference(x, v, layer)
    np.testing.assert_allclose(np.asarray(layer(x)), want, rtol=1e-9, atol=1e-11)
    last = FastWeightRNN.from_config(layer.get_config())
    last.build((None, T, D))
    last.set_weights(layer.get_weights())
    assert last.return_sequences
    np.testing.assert_allclose(np.asarray(last(x)), want, rtol=1e-9, atol=1e-11)


def test_return_state_and_last_output():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4))
    layer = FastWeightRNN(5, return_state=True, dtype="float64")
    layer.build((None, 6, 4))
    v = _randomise(layer, rng)
    out, h, A = (np.asarray(t) for t in layer(x))
    h_ref, A_ref = _reference(x, v, layer, return_memory=True)
    np.testing.assert_allclose(out, h_ref[:, -1], rtol=1e-9)
    np.testing.assert_allclose(h, h_ref[:, -1], rtol=1e-9)
    np.testing.assert_allclose(A.reshape(3, 5, 5), A_ref[:, -1], rtol=1e-9, atol=1e-12)


def test_masked_padding_is_skipped():
    """Sequences padded at the end give the same final output as unpadded ones."""
    rng = np.random.default_rng(1)
    tokens = rng.integers(1, 9, size=(3, 7))
    lengths = np.array([7, 4, 2])
    padded = np.where(np.arange(7) < lengths[:, None], tokens, 0)
    emb = keras.layers.Embedding(9, 4, mask_zero=True)
    fw = FastWeightRNN(5, inner_steps=2)
    model = keras.Sequential([emb, fw])
    got = np.asarray(model(padded))
    for i, n in enumerate(lengths):
        alone = np.asarray(fw(emb(tokens[i:i + 1, :n])))
        np.testing.assert_allclose(got[i], alone[0], rtol=1e-5, atol=1e-6)


def test_gradients_are_finite_and_match_finite_differences():
    import tensorflow as tf

    rng = np.random.default_rng(2)
    x = tf.constant(rng.standard_normal((2, 5, 3)))
    layer = FastWeightRNN(4, inner_steps=2, dtype="float64")
    layer.build((None, 5, 3))
    _randomise(layer, rng)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grads = tape.gradient(loss, [w.value for w in layer.weights])
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)
    W = layer.cell.recurrent_kernel
    base = np.asarray(W)
    for (i, j) in [(0, 1), (3, 2)]:
        eps = 1e-6
        plus, minus = base.copy(), base.copy()
        plus[i, j] += eps
        minus[i, j] -= eps
        W.assign(plus)
        f_plus = float(np.sum(np.asarray(layer(x)) ** 2))
        W.assign(minus)
        f_minus = float(np.sum(np.asarray(layer(x)) ** 2))
        W.assign(base)
        assert np.asarray(grads[1])[i, j] == pytest.approx((f_plus - f_minus) / (2 * eps), rel=1e-5, abs=1e-7)


def test_trains_inside_a_model_and_saves(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.integers(1, 10, size=(16, 6))
    y = rng.integers(0, 3, size=16)
    model = keras.Sequential([keras.layers.Embedding(10, 4), FastWeightRNN(5, inner_steps=1),
                              keras.layers.Dense(3)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-6)
    cfg = loaded.layers[1].get_config()
    assert (cfg["units"], cfg["inner_steps"], cfg["decay"], cfg["fast_lr"]) == (5, 1, 0.95, 0.5)


def test_no_memory_state_when_fast_lr_is_zero():
    assert FastWeightRNNCell(4, fast_lr=0.0).state_size == [4]
    assert FastWeightRNNCell(4).state_size == [4, 16]


@pytest.mark.parametrize("kwargs,match", [
    (dict(units=0), "units"),
    (dict(units=4, inner_steps=0), r"inner_steps \(S\) must be an integer >= 1"),
    (dict(units=4, decay=0.0), r"decay \(λ\) must be in \(0, 1\]"),
    (dict(units=4, decay=1.5), r"decay \(λ\) must be in \(0, 1\]"),
    (dict(units=4, fast_lr=-1.0), r"fast_lr \(η\) must be in \[0, inf\)"),
])
def test_bad_hyperparameters_are_explained(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        FastWeightRNN(**kwargs)


def test_wrong_input_rank_is_explained():
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, time, features\)"):
        FastWeightRNN(3)(np.zeros((2, 5), dtype="float32"))


def test_runs_under_jax(run_under_jax, tmp_path):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 7, 2))
    np.save(tmp_path / "x.npy", x)
    out = run_under_jax(f"""
        import json, numpy as np, jax
        jax.config.update("jax_enable_x64", True)  # so that float64 really is float64
        import keras
        from fwcourse import fwrnn
        from fwcourse.fwrnn_layer import FastWeightRNN
        assert keras.backend.backend() == "jax"
        x = np.load({str(tmp_path / 'x.npy')!r})
        layer = FastWeightRNN(4, inner_steps=2, return_sequences=True, dtype="float64")
        layer.build((None, 7, 2))
        rng = np.random.default_rng(5)
        v = {{}}
        for w in layer.weights:
            val = rng.standard_normal(tuple(w.shape)) * 0.5 + (1 if "ln_gain" in w.path else 0)
            w.assign(val); v[w.path.split("/")[-1]] = val
        ref = fwrnn.fast_weight_rnn(x, v["recurrent_kernel"], v["kernel"], v["bias"], inner_steps=2,
                                    gain=v["ln_gain"], ln_bias=v["ln_bias"])
        err = float(np.abs(np.asarray(layer(x)) - ref).max())
        values = [w.value for w in layer.trainable_variables]
        loss = lambda vals: (layer.stateless_call(vals, [], x)[0] ** 2).sum()
        grads = jax.jit(jax.grad(loss))(values)
        print(json.dumps({{"err": err, "finite": all(bool(np.isfinite(np.asarray(g)).all()) for g in grads)}}))
    """)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["err"] < 1e-9
    assert result["finite"]
