"""The Keras Associative LSTM (Ba et al.'s A-LSTM) against its definition, written as a float64
NumPy loop over time steps and memory copies with complex numbers."""
from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fwcourse.alstm import AssociativeLSTM, AssociativeLSTMCell  # noqa: E402


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _bound(z):
    return z / np.maximum(1, np.abs(z))


def _reference(x, kernel, recurrent_kernel, bias, perms):
    """Danihelka et al. (2016), one complex unit per pair of real units and one loop per copy.

    Returns the hidden states (B, T, R) as [real parts, imaginary parts], the final memory copies
    (B, N, R/2) complex, and the largest modulus of a key or update before ``bound`` (to show the
    bound was exercised).
    """
    B, T, _ = x.shape
    N, n = perms.shape
    R = 2 * n

    def complex_part(z, start):
        return z[:, start:start + n] + 1j * z[:, start + n:start + R]

    h = np.zeros((B, n), complex)
    memory = np.zeros((B, N, n), complex)
    states, largest = [], 0.0
    for t in range(T):
        z = x[:, t] @ kernel + bias
        keyed = z[:, :3 * n + 2 * R] + np.concatenate([h.real, h.imag], axis=1) @ recurrent_kernel
        g_f, g_i, g_o = (_sigmoid(keyed[:, k * n:(k + 1) * n]) for k in range(3))
        raw = [complex_part(keyed, 3 * n), complex_part(keyed, 3 * n + R), complex_part(z, 3 * n + 2 * R)]
        largest = max(largest, *(np.abs(v).max() for v in raw))
        r_i, r_o, u = (_bound(v) for v in raw)
        read = np.zeros((B, n), complex)
        for s in range(N):
            memory[:, s] = g_f * memory[:, s] + r_i[:, perms[s]] * (g_i * u)
            read += r_o[:, perms[s]] * memory[:, s]
        h = g_o * _bound(read / N)
        states.append(np.concatenate([h.real, h.imag], axis=1))
    return np.stack(states, axis=1), memory, largest


def _randomise(layer, rng, scale=1.0):
    values = {}
    for w in layer.weights:
        values[w.path.split("/")[-1]] = v = rng.standard_normal(tuple(w.shape)) * scale
        w.assign(v)
    return values


def _layer_and_reference(rng, B, T, D, R, N, **kw):
    x = rng.standard_normal((B, T, D))
    layer = AssociativeLSTM(R, copies=N, permutation_seed=int(rng.integers(1000)), dtype="float64", **kw)
    layer.build((None, T, D))
    v = _randomise(layer, rng)
    ref = _reference(x, v["kernel"], v["recurrent_kernel"], v["bias"], layer.permutations[:, :R // 2])
    return x, layer, ref


@pytest.mark.parametrize("B,T,D,R,N", [(1, 1, 1, 2, 1), (3, 7, 5, 6, 3), (2, 9, 3, 8, 1), (4, 5, 2, 10, 4)])
def test_matches_the_definition(B, T, D, R, N):
    rng = np.random.default_rng(B + 10 * T + 100 * R)
    x, layer, (want, _, largest) = _layer_and_reference(rng, B, T, D, R, N, return_sequences=True)
    assert largest > 1  # bound() changed some keys: the test covers it
    got = np.asarray(layer(x))
    assert got.shape == (B, T, R)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    again = AssociativeLSTM.from_config(layer.get_config())
    again.build((None, T, D))
    again.set_weights(layer.get_weights())
    np.testing.assert_array_equal(again.permutations, layer.permutations)
    np.testing.assert_allclose(np.asarray(again(x)), want, rtol=1e-10, atol=1e-12)


def test_permutations_move_complex_units_whole_and_differ_between_copies():
    cell = AssociativeLSTMCell(12, copies=5, permutation_seed=3)
    half = 6
    for row in cell.permutations:
        assert sorted(row[:half]) == list(range(half))
        np.testing.assert_array_equal(row[half:], row[:half] + half)
    assert len({row.tobytes() for row in cell.permutations}) == 5
    np.testing.assert_array_equal(AssociativeLSTMCell(12, copies=5, permutation_seed=3).permutations,
                                  cell.permutations)


def test_return_state_gives_the_last_output_and_the_memory_copies():
    rng = np.random.default_rng(1)
    x, layer, (want, memory, _) = _layer_and_reference(rng, 3, 6, 4, 6, 2, return_state=True)
    out, h, flat = (np.asarray(t) for t in layer(x))
    assert out.shape == h.shape == (3, 6) and flat.shape == (3, 2 * 6)
    np.testing.assert_allclose(out, want[:, -1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h, want[:, -1], rtol=1e-10, atol=1e-12)
    copies = flat.reshape(3, 2, 6)
    np.testing.assert_allclose(copies[..., :3] + 1j * copies[..., 3:], memory, rtol=1e-10, atol=1e-12)


def test_forget_gate_bias_starts_at_one():
    cell = AssociativeLSTMCell(6, copies=2)
    cell.build((None, 3))
    b = np.asarray(cell.bias)
    assert b.shape == (3 * 3 + 3 * 6,)
    np.testing.assert_array_equal(b[:3], 1.0)
    np.testing.assert_array_equal(b[3:], 0.0)
    plain = AssociativeLSTMCell(6, unit_forget_bias=False)
    plain.build((None, 3))
    np.testing.assert_array_equal(np.asarray(plain.bias), 0.0)


def test_masked_padding_is_skipped():
    rng = np.random.default_rng(2)
    tokens = rng.integers(1, 9, size=(3, 7))
    lengths = np.array([7, 4, 2])
    padded = np.where(np.arange(7) < lengths[:, None], tokens, 0)
    emb = keras.layers.Embedding(9, 4, mask_zero=True)
    layer = AssociativeLSTM(6, copies=3)
    got = np.asarray(keras.Sequential([emb, layer])(padded))
    for i, n in enumerate(lengths):
        alone = np.asarray(layer(emb(tokens[i:i + 1, :n])))
        np.testing.assert_allclose(got[i], alone[0], rtol=1e-5, atol=1e-6)


def test_gradients_reach_every_weight_even_from_zero_input():
    """A zero input with a zero bias gives keys of modulus 0, where |z| has no derivative (JAX
    would give NaN there: checked in :func:`test_runs_under_jax`)."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    layer = AssociativeLSTM(6, copies=2, unit_forget_bias=False, dtype="float64")
    layer.build((None, 5, 3))
    x = rng.standard_normal((2, 5, 3))
    x[:, 0] = 0.0
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(tf.constant(x)) ** 2)
    grads = tape.gradient(loss, layer.trainable_variables)
    for w, g in zip(layer.trainable_variables, grads):
        g = np.asarray(g)
        assert np.all(np.isfinite(g)) and np.any(g != 0), w.path


def test_gradients_match_finite_differences():
    """Autodiff through the bound, the complex products and the permuted copies agrees with central
    differences of the loss, in float64, on random weights and a random direction per weight."""
    import tensorflow as tf

    rng = np.random.default_rng(4)
    layer = AssociativeLSTM(6, copies=3, return_sequences=True, dtype="float64")
    layer.build((None, 4, 3))
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
    x = tf.constant(rng.standard_normal((2, 4, 3)))
    target = rng.standard_normal((2, 4, 6))

    def loss():
        return float(tf.reduce_sum((layer(x) - target) ** 2))

    with tf.GradientTape() as tape:
        value = tf.reduce_sum((layer(x) - target) ** 2)
    grads = tape.gradient(value, layer.trainable_variables)
    eps = 1e-6
    for w, g in zip(layer.trainable_variables, grads):
        w0 = w.numpy()
        d = rng.standard_normal(w0.shape)
        w.assign(w0 + eps * d)
        up = loss()
        w.assign(w0 - eps * d)
        down = loss()
        w.assign(w0)
        np.testing.assert_allclose(np.sum(np.asarray(g) * d), (up - down) / (2 * eps), rtol=1e-6, err_msg=w.path)


def test_go_backwards_reads_the_sequence_reversed():
    rng = np.random.default_rng(5)
    forward = AssociativeLSTM(6, copies=2, permutation_seed=3, dtype="float64")
    backward = AssociativeLSTM(6, copies=2, permutation_seed=3, go_backwards=True, dtype="float64")
    x = rng.standard_normal((2, 5, 3))
    forward.build(x.shape)
    backward.build(x.shape)
    backward.set_weights(forward.get_weights())
    np.testing.assert_allclose(np.asarray(backward(x)), np.asarray(forward(x[:, ::-1])), rtol=1e-12)


def test_trains_inside_a_model_and_saves(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.integers(1, 10, size=(16, 6))
    y = rng.integers(0, 3, size=16)
    model = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(10, 4),
                              AssociativeLSTM(6, copies=2), keras.layers.Dense(3)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert all(np.any(a != b) for a, b in zip(before, model.get_weights()))  # every weight moved
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-6)
    cfg = loaded.layers[1].get_config()
    assert (cfg["units"], cfg["copies"]) == (6, 2)
    np.testing.assert_array_equal(loaded.layers[1].permutations, model.layers[1].permutations)


@pytest.mark.parametrize("kwargs,match", [
    (dict(units=0), "units must be an integer >= 1"),
    (dict(units=5), "units must be even"),
    (dict(units=4.0), "units must be an integer"),
    (dict(units=4, copies=0), "copies must be an integer >= 1"),
    (dict(units=4, permutation_seed=-1), "permutation_seed must be an integer >= 0"),
])
def test_bad_hyperparameters_are_explained(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        AssociativeLSTM(**kwargs)


def test_wrong_input_rank_is_explained():
    with pytest.raises(ValueError, match=r"AssociativeLSTM inputs must have shape \(batch, time, features\)"):
        AssociativeLSTM(4)(np.zeros((2, 5), dtype="float32"))


def test_runs_under_jax(run_under_jax, tmp_path):
    rng = np.random.default_rng(5)
    x, layer, (want, _, _) = _layer_and_reference(rng, 3, 7, 2, 6, 3, return_sequences=True)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", want)
    np.savez(tmp_path / "w.npz", *layer.get_weights())
    out = run_under_jax(f"""
        import json, numpy as np, jax
        jax.config.update("jax_enable_x64", True)  # so that float64 really is float64
        import keras
        from fwcourse.alstm import AssociativeLSTM
        assert keras.backend.backend() == "jax"
        x = np.load({str(tmp_path / 'x.npy')!r})
        weights = np.load({str(tmp_path / 'w.npz')!r})
        layer = AssociativeLSTM(6, copies=3, permutation_seed={layer.cell.permutation_seed},
                                return_sequences=True, dtype="float64")
        layer.build((None, 7, 2))
        layer.set_weights([weights[f"arr_{{i}}"] for i in range(len(weights.files))])
        err = float(np.abs(np.asarray(layer(x)) - np.load({str(tmp_path / 'want.npy')!r})).max())
        # a zero first step with a zero bias: keys of modulus 0, where JAX's |z| gradient is NaN
        x[:, 0] = 0.0
        layer.cell.bias.assign(np.zeros(layer.cell.bias.shape))
        values = [w.value for w in layer.trainable_variables]
        loss = lambda vals: (layer.stateless_call(vals, [], x)[0] ** 2).sum()
        grads = jax.jit(jax.grad(loss))(values)
        print(json.dumps({{"err": err, "finite": all(bool(np.isfinite(np.asarray(g)).all()) for g in grads)}}))
    """)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["err"] < 1e-9
    assert result["finite"]
