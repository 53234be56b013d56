"""The Keras FastWeightRNN layer against the NumPy reference, on random weights and odd sizes."""
from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fwcourse import fwrnn  # noqa: E402
from fwcourse import fwrnn_layer  # noqa: E402
from fwcourse.fwrnn_layer import (  # noqa: E402
    FORMS, FastWeightRNN, FastWeightRNNCell, compiles_own_loop, lstm_step_flops, memory_form, step_flops)


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


@pytest.mark.parametrize("B,T,D,H,S,form", [
    (3, 4, 5, 8, 2, "attention"), (2, 11, 3, 16, 1, "attention"), (2, 2, 1, 3, 3, "attention"),
    (2, 11, 3, 4, 1, "matrix"), (3, 9, 2, 6, 2, "matrix"),
])
def test_both_memory_forms_match_numpy_reference(B, T, D, H, S, form):
    """Either form, as chosen for (T, H), gives the reference's outputs and final A in float64,
    forwards and with go_backwards; an explicit zero initial state takes the matrix form."""
    assert memory_form(H, D, T, S) == form
    rng = np.random.default_rng(T + 10 * H)
    x = rng.standard_normal((B, T, D))
    layer = FastWeightRNN(H, inner_steps=S, decay=0.9, fast_lr=0.6, return_sequences=True,
                          return_state=True, dtype="float64")
    layer.build((None, T, D))
    v = _randomise(layer, rng)
    zeros = [np.zeros((B, H)), np.zeros((B, H * H))]
    for backwards in (False, True):
        layer.go_backwards = backwards
        h_ref, A_ref = _reference(x[:, ::-1] if backwards else x, v, layer, return_memory=True)
        for initial_state in (None, zeros):
            out, h, A = (np.asarray(t) for t in layer(x, initial_state=initial_state))
            np.testing.assert_allclose(out, h_ref, rtol=1e-9, atol=1e-11)
            np.testing.assert_allclose(h, h_ref[:, -1], rtol=1e-9, atol=1e-11)
            np.testing.assert_allclose(A.reshape(B, H, H), A_ref[:, -1], rtol=1e-9, atol=1e-11)


def test_memory_form_follows_the_flop_counts():
    # at S = 1 and D = R: the matrix form ≈ 9R², the attention form ≈ 4R² + 4TR, an LSTM ≈ 16R²
    R = 1000
    assert step_flops(R, R, 10, 1, "matrix") / R ** 2 == pytest.approx(9, rel=0.01)
    assert step_flops(R, R, R, 1, "attention") / R ** 2 == pytest.approx(8, rel=0.01)
    assert lstm_step_flops(R, R) / R ** 2 == pytest.approx(16, rel=0.01)
    for T in (1, 11, 100, 1000):
        for R in (4, 20, 100):
            cost = {form: step_flops(R, 7, T, 2, form) for form in FORMS}
            assert cost[memory_form(R, 7, T, 2)] == min(cost.values())
    assert memory_form(20, 7, None) == "matrix"
    with pytest.raises(ValueError, match="form must be one of"):
        step_flops(4, 4, 4, form="dense")


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


@pytest.mark.parametrize("units,form", [(5, "matrix"), (16, "attention")])
def test_masked_padding_is_skipped(units, form):
    """Sequences padded at the end give the same final output as unpadded ones, in either form."""
    assert memory_form(units, 4, 7, 2) == form
    rng = np.random.default_rng(1)
    tokens = rng.integers(1, 9, size=(3, 7))
    lengths = np.array([7, 4, 2])
    padded = np.where(np.arange(7) < lengths[:, None], tokens, 0)
    emb = keras.layers.Embedding(9, 4, mask_zero=True)
    fw = FastWeightRNN(units, inner_steps=2)
    model = keras.Sequential([emb, fw])
    got = np.asarray(model(padded))
    for i, n in enumerate(lengths):
        alone = np.asarray(fw(emb(tokens[i:i + 1, :n])))
        np.testing.assert_allclose(got[i], alone[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("units,form", [(4, "matrix"), (12, "attention")])
def test_gradients_are_finite_and_match_finite_differences(units, form):
    import tensorflow as tf

    assert memory_form(units, 3, 5, 2) == form
    rng = np.random.default_rng(2)
    x = tf.constant(rng.standard_normal((2, 5, 3)))
    layer = FastWeightRNN(units, inner_steps=2, dtype="float64")
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


def test_when_the_layer_compiles_its_own_loop():
    import tensorflow as tf

    inside = tf.function(lambda steps, jit: tf.constant(compiles_own_loop(steps, jit)))
    assert bool(inside(11, "auto")) and bool(inside(1, "auto")) and bool(inside(500, True))
    assert not any(bool(inside(steps, "auto")) for steps in (None, 65))
    assert not bool(inside(11, False))
    assert not compiles_own_loop(11, True)  # eager calls: a compile would be paid on every call
    compiled_step = tf.function(lambda: tf.constant(compiles_own_loop(11, True)), jit_compile=True)
    assert not bool(compiled_step())  # XLA compiles the whole step already
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto'; got 'yes'"):
        compiles_own_loop(11, "yes")  # a truthy string is not a yes
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto'; got 1"):
        compiles_own_loop(11, 1)  # equal to True, but not a bool


@pytest.mark.parametrize("units,form", [(4, "matrix"), (12, "attention")])
def test_compiled_loop_matches_the_reference_and_the_uncompiled_gradients(units, form, monkeypatch):
    """The XLA-compiled loop of a traced call: outputs as the reference (forwards, backwards and
    with padding masked), gradients as the eager loop's."""
    import tensorflow as tf

    assert memory_form(units, 3, 6, 2) == form
    compiled, compiled_loop = [], fwrnn_layer._compiled_loop
    monkeypatch.setattr(fwrnn_layer, "_compiled_loop", lambda layer: compiled.append(1) or compiled_loop(layer))
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 6, 3))
    layer = FastWeightRNN(units, inner_steps=2, return_sequences=True, dtype="float64")
    layer.build((None, 6, 3))
    v = _randomise(layer, rng)
    for backwards in (False, True):
        layer.go_backwards = backwards
        want = _reference(x[:, ::-1] if backwards else x, v, layer)
        np.testing.assert_allclose(np.asarray(tf.function(layer)(x)), want, rtol=1e-9, atol=1e-11)
    layer.go_backwards = False
    mask = np.arange(6) < np.array([[6], [4]])
    got = np.asarray(tf.function(lambda x, m: layer(x, mask=m))(x, mask))
    np.testing.assert_allclose(got[1, :4], _reference(x[1:, :4], v, layer)[0], rtol=1e-9, atol=1e-11)

    def gradients(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x) ** 2)
        return tape.gradient(loss, [w.value for w in layer.weights])

    eager = gradients(tf.constant(x))
    traced = tf.function(gradients)(tf.constant(x))
    for e, t in zip(eager, traced):
        np.testing.assert_allclose(np.asarray(t), np.asarray(e), rtol=1e-9, atol=1e-12)
    assert len(compiled) >= 4


@pytest.mark.parametrize("backwards", [False, True])
@pytest.mark.parametrize("zero_output", [False, True])
@pytest.mark.parametrize("units", [4, 12])  # matrix and attention form at T = 6
def test_traced_calls_with_a_mask_match_eager_ones(backwards, zero_output, units):
    """Every combination of direction and zeroed outputs under a mask, traced (compiled where it
    can be) as eager, outputs and final states."""
    import tensorflow as tf

    rng = np.random.default_rng(7)
    x = tf.constant(rng.standard_normal((3, 6, 3)), dtype="float32")
    mask = tf.constant(np.arange(6) < np.array([[6], [4], [2]]))
    layer = FastWeightRNN(units, inner_steps=2, return_sequences=True, return_state=True,
                          go_backwards=backwards, zero_output_for_mask=zero_output)
    layer.build((None, 6, 3))
    _randomise(layer, rng)
    for eager, traced in zip(layer(x, mask=mask), tf.function(lambda x, m: layer(x, mask=m))(x, mask)):
        np.testing.assert_allclose(np.asarray(traced), np.asarray(eager), rtol=1e-5, atol=1e-5)


def test_bidirectional_over_padding_matches_eager_calls():
    tokens = np.where(np.arange(7) < np.array([[7], [3]]), np.random.default_rng(8).integers(1, 9, (2, 7)), 0)
    model = keras.Sequential([keras.layers.Embedding(9, 4, mask_zero=True),
                              keras.layers.Bidirectional(FastWeightRNN(6, return_sequences=True))])
    np.testing.assert_allclose(model.predict(tokens, verbose=0), np.asarray(model(tokens)), rtol=1e-5, atol=1e-5)


def test_a_compiled_loop_is_freed_with_its_layer():
    import gc
    import weakref

    import tensorflow as tf

    gc.collect()  # the layers of earlier tests, so that only this one's can leave the dictionary
    before = len(fwrnn_layer._COMPILED_LOOPS)
    layer = FastWeightRNN(8)
    tf.function(lambda x: layer(x))(np.zeros((2, 6, 3), dtype="float32"))
    assert layer in fwrnn_layer._COMPILED_LOOPS
    kernel = weakref.ref(layer.cell.kernel.value)
    del layer
    gc.collect()
    assert kernel() is None and len(fwrnn_layer._COMPILED_LOOPS) == before


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
    assert cfg["jit_compile"] == "auto" and FastWeightRNN.from_config({**cfg, "jit_compile": False}).jit_compile is False


def test_no_memory_state_when_fast_lr_is_zero():
    assert FastWeightRNNCell(4, fast_lr=0.0).state_size == [4]
    assert FastWeightRNNCell(4).state_size == [4, 16]


@pytest.mark.parametrize("kwargs,match", [
    (dict(units=0), "units"),
    (dict(units=4, inner_steps=0), r"inner_steps \(S\) must be an integer >= 1"),
    (dict(units=4, decay=0.0), r"decay \(λ\) must be in \(0, 1\]"),
    (dict(units=4, decay=1.5), r"decay \(λ\) must be in \(0, 1\]"),
    (dict(units=4, fast_lr=-1.0), r"fast_lr \(η\) must be in \[0, inf\)"),
    (dict(units=4, jit_compile="always"), r"jit_compile must be True, False or 'auto'; got 'always'"),
])
def test_bad_hyperparameters_are_explained(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        FastWeightRNN(**kwargs)


def test_wrong_input_rank_is_explained():
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, time, features\)"):
        FastWeightRNN(3)(np.zeros((2, 5), dtype="float32"))


def test_runs_under_jax(run_under_jax, tmp_path):
    """Both memory forms (H = 4: matrix, H = 12: attention, at T = 7, S = 2) under JAX."""
    assert (memory_form(4, 2, 7, 2), memory_form(12, 2, 7, 2)) == ("matrix", "attention")
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
        results = []
        for units in (4, 12):
            layer = FastWeightRNN(units, inner_steps=2, return_sequences=True, dtype="float64")
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
            results.append({{"err": err, "finite": all(bool(np.isfinite(np.asarray(g)).all()) for g in grads)}})
        print(json.dumps(results))
    """)
    for result in json.loads(out.strip().splitlines()[-1]):
        assert result["err"] < 1e-9
        assert result["finite"]
