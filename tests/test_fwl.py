"""FWLBlock against its definition: the slow block after one explicit SGD step (autodiff, float64)."""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from fwcourse.fwl import FAST_PARAMS, FWLBlock, make_labels

# (B, T, d, V, size, attn_chunks): chunks dividing T, not dividing T, larger than T, and G = 1.
SHAPES = [(2, 7, 5, 11, 3, 2), (3, 6, 4, 9, 4, 3), (1, 9, 3, 5, 3, 9), (2, 5, 6, 7, 2, 1)]
EPS = 1e-6


def _inputs(B, T, d, V, seed=0, padded=True):
    """Random x, integer labels and weights (last position 0; some padding when ``padded``)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, d))
    tokens = rng.integers(0, V, (B, T))
    labels, weights = (ops.convert_to_numpy(a) for a in make_labels(tokens))
    weights = weights.astype(np.float64)
    if padded and B > 1:
        weights[-1, T // 2 :] = 0.0  # the last sequence is short: padded from T // 2
    if T > 2:
        weights[0, 1] = 0.5  # fractional weights are allowed
    return x, labels, weights


def _layer(d, V, size, chunks, normalization="sequence", seed=0, dtype="float64"):
    """A built layer with random slow weights and random (large) step sizes, so updates matter."""
    layer = FWLBlock(size, V, chunks, loss_normalization=normalization, dtype=dtype)
    layer.build((None, None, d))
    rng = np.random.default_rng(100 + seed)
    for v in layer.weights:
        if v.path.split("/")[-1].startswith("step_size"):
            v.assign(rng.uniform(0.3, 1.5))
        else:
            v.assign(rng.standard_normal(v.shape) * (0.8 if len(v.shape) == 2 else 0.5)
                     + (1.0 if "ln_scale" in v.path else 0.0))
    return layer


def _params(layer):
    return {p: getattr(layer, p) for p in (*FAST_PARAMS, "out_kernel", "out_bias")}


def _block(p, x):
    """The slow block f(x; θ) written plainly: dense, relu², dense, LayerNorm, unembedding."""
    a = tf.nn.relu(x @ p["kernel1"] + p["bias1"]) ** 2
    z = a @ p["kernel2"] + p["bias2"]
    mu = tf.reduce_mean(z, -1, keepdims=True)
    var = tf.reduce_mean((z - mu) ** 2, -1, keepdims=True)
    h = (z - mu) / tf.sqrt(var + EPS) * p["ln_scale"] + p["ln_offset"]
    return h @ p["out_kernel"] + p["out_bias"]


def _definition(layer, x, labels, weights, normalization):
    """logits[i, t] = f(x[i, t]; θ - η ⊙ ∇θ Σ_{s<t} (w[i, s] / N) CE[i, s]), one tape per (i, t)."""
    params = {k: tf.convert_to_tensor(v) for k, v in _params(layer).items()}
    lr = {p: tf.convert_to_tensor(layer.step_sizes[p]) for p in FAST_PARAMS}
    B, T, _ = x.shape
    rows = []
    for i in range(B):
        norm = weights[i].sum() if normalization == "sequence" else weights.sum()
        row = []
        for t in range(T):
            fast = [params[p] for p in FAST_PARAMS]
            with tf.GradientTape() as tape:
                tape.watch(fast)
                logits = _block(dict(params, **dict(zip(FAST_PARAMS, fast))), x[i, :t])
                ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels[i, :t], logits)
                loss = tf.reduce_sum(weights[i, :t] / norm * ce)
            grads = tape.gradient(loss, fast, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            stepped = {p: params[p] - lr[p] * g for p, g in zip(FAST_PARAMS, grads)}
            row.append(_block(dict(params, **stepped), x[i, t : t + 1])[0])
        rows.append(tf.stack(row))
    return tf.stack(rows)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("normalization", ["sequence", "batch"])
def test_equals_slow_block_after_one_explicit_sgd_step(shape, normalization):
    """(a) every sequence i and position t; (g) chunk counts that do not divide T included."""
    B, T, d, V, size, chunks = shape
    x, labels, weights = _inputs(B, T, d, V, seed=sum(shape))
    layer = _layer(d, V, size, chunks, normalization, seed=T)
    expected = _definition(layer, x, labels, weights, normalization).numpy()
    got = ops.convert_to_numpy(layer(x, labels, weights))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    # the update matters: the fast output differs from the slow one after position 0
    slow = _block({k: tf.convert_to_tensor(v) for k, v in _params(layer).items()}, x).numpy()
    assert np.abs(got[:, 1:] - slow[:, 1:]).max() > 1e-3


def test_one_hot_and_integer_labels_agree():
    B, T, d, V, size, chunks = SHAPES[0]
    x, labels, weights = _inputs(B, T, d, V, seed=5)
    layer = _layer(d, V, size, chunks)
    one_hot = np.eye(V)[labels]
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer(x, one_hot, weights)),
        ops.convert_to_numpy(layer(x, labels, weights)),
        rtol=1e-12, atol=1e-12,
    )


@pytest.mark.parametrize("shape", SHAPES[:2])
def test_position_zero_equals_slow_output(shape):
    """(c) no earlier tokens, no update."""
    B, T, d, V, size, chunks = shape
    x, labels, weights = _inputs(B, T, d, V, seed=7)
    layer = _layer(d, V, size, chunks)
    slow = _block({k: tf.convert_to_tensor(v) for k, v in _params(layer).items()}, x).numpy()
    got = ops.convert_to_numpy(layer(x, labels, weights))
    np.testing.assert_allclose(got[:, 0], slow[:, 0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("normalization", ["sequence", "batch"])
def test_causal(normalization):
    """(d) the output at t does not change when inputs or labels at >= t change."""
    B, T, d, V, size, chunks = 2, 8, 4, 7, 3, 3
    x, labels, weights = _inputs(B, T, d, V, seed=9)
    layer = _layer(d, V, size, chunks, normalization)
    base = ops.convert_to_numpy(layer(x, labels, weights))
    rng = np.random.default_rng(10)
    for t in range(T):
        x2, labels2 = x.copy(), labels.copy()
        x2[:, t:] = rng.standard_normal(x2[:, t:].shape)
        labels2[:, t:] = (labels2[:, t:] + rng.integers(1, V, labels2[:, t:].shape)) % V
        changed = ops.convert_to_numpy(layer(x2, labels2, weights))
        np.testing.assert_allclose(changed[:, :t], base[:, :t], rtol=1e-12, atol=1e-12)
        assert not np.allclose(changed[:, t], base[:, t])


def test_gradients_reach_every_step_size_and_match_nested_autodiff():
    """(e) training differentiates through the inner gradient: compare with nested GradientTapes."""
    B, T, d, V, size, chunks = 2, 5, 3, 6, 3, 2
    x, labels, weights = _inputs(B, T, d, V, seed=11)
    layer = _layer(d, V, size, chunks)
    probe = np.random.default_rng(12).standard_normal((B, T, V))
    variables = layer.trainable_variables
    with tf.GradientTape() as tape:
        got = tf.reduce_sum(layer(x, labels, weights) * probe)
    grads = tape.gradient(got, variables)
    with tf.GradientTape() as tape:
        expected = tf.reduce_sum(_definition(layer, x, labels, weights, "sequence") * probe)
    expected_grads = tape.gradient(expected, variables)
    for v, g, e in zip(variables, grads, expected_grads):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-8, atol=1e-9, err_msg=v.path)
    paths = [v.path for v in variables]
    for p in FAST_PARAMS:
        assert abs(float(grads[paths.index(layer.step_sizes[p].path)])) > 1e-6, p


def test_sequence_alone_equals_sequence_in_padded_batch():
    """(f) with the default normalisation there is no coupling between the examples of a batch."""
    d, V, size, chunks = 4, 9, 2, 3
    layer = _layer(d, V, size, chunks)
    x, labels, weights = _inputs(1, 7, d, V, seed=13, padded=False)
    alone = ops.convert_to_numpy(layer(x, labels, weights))[0]
    bx, blabels, bweights = _inputs(3, 11, d, V, seed=14)
    bx[1, :7], blabels[1, :7], bweights[1] = x[0], labels[0], 0.0
    bweights[1, :7] = weights[0]  # positions 7..10 of sequence 1 are padding
    batched = ops.convert_to_numpy(layer(bx, blabels, bweights))[1, :7]
    np.testing.assert_allclose(batched, alone, rtol=1e-11, atol=1e-11)
    # ...which the original batch-wide normalisation does not have
    coupled = _layer(d, V, size, chunks, "batch")
    a = ops.convert_to_numpy(coupled(x, labels, weights))[0]
    b = ops.convert_to_numpy(coupled(bx, blabels, bweights))[1, :7]
    assert not np.allclose(a[1:], b[1:])


def test_any_length_any_chunk_count():
    """(g) T not divisible by attn_chunks is padded internally: same result as attn_chunks=1."""
    d, V, size = 3, 5, 2
    x, labels, weights = _inputs(2, 13, d, V, seed=15)
    ref = _layer(d, V, size, 1)
    expected = ops.convert_to_numpy(ref(x, labels, weights))
    for chunks in (2, 4, 5, 13, 20):
        layer = _layer(d, V, size, chunks)
        got = ops.convert_to_numpy(layer(x, labels, weights))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10, err_msg=f"chunks={chunks}")


def test_runs_under_jax(run_under_jax, tmp_path):
    """(h) same numbers under the JAX backend (jit), and jax.grad reaches every step size."""
    B, T, d, V, size, chunks = 2, 7, 4, 9, 3, 3
    x, labels, weights = _inputs(B, T, d, V, seed=16)
    layer = _layer(d, V, size, chunks)
    expected = ops.convert_to_numpy(layer(x, labels, weights))
    np.savez(tmp_path / "in.npz", x=x, labels=labels, weights=weights,
             **{f"w{i}": v.numpy() for i, v in enumerate(layer.weights)})
    out = run_under_jax(
        f"""
        import jax, keras, numpy as np
        assert keras.backend.backend() == "jax"
        from fwcourse.fwl import FWLBlock
        data = np.load({str(tmp_path / "in.npz")!r})
        layer = FWLBlock({size}, {V}, {chunks}, dtype="float32")
        layer.build((None, None, {d}))
        for i, v in enumerate(layer.weights):
            v.assign(data[f"w{{i}}"].astype("float32"))
        x, labels, weights = data["x"].astype("float32"), data["labels"], data["weights"].astype("float32")
        try:  # eager calls validate values under JAX too
            layer(x, labels, 2 * weights)
            raise SystemExit("weights outside [0, 1] were accepted")
        except ValueError as err:
            assert "weights must lie in [0, 1]" in str(err)
        values = [v.value for v in layer.trainable_variables]
        def forward(values):
            return layer.stateless_call(values, [], x, labels, weights)[0]
        out = np.asarray(jax.jit(forward)(values))
        grads = jax.jit(jax.grad(lambda values: (forward(values) ** 2).sum()))(values)
        steps = [abs(float(g)) for v, g in zip(layer.trainable_variables, grads) if "step_size" in v.path]
        np.save({str(tmp_path / "out.npy")!r}, out)
        print(len(steps), min(steps))
        """
    )
    n_steps, min_grad = out.strip().splitlines()[-1].split()
    assert int(n_steps) == len(FAST_PARAMS) and float(min_grad) > 0
    got = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=2e-3)


def test_serialisable_in_a_saved_model(tmp_path):
    d, V, size, chunks, T = 4, 7, 2, 2, 6
    x, labels, weights = _inputs(2, T, d, V, seed=17)
    layer = _layer(d, V, size, chunks, "batch", dtype="float32")
    config = layer.get_config()
    json.dumps(config)
    clone = FWLBlock.from_config(config)
    assert (clone.size, clone.vocab_size, clone.attn_chunks, clone.loss_normalization) == (size, V, chunks, "batch")

    inputs = [keras.Input((T, d)), keras.Input((T,), dtype="int32"), keras.Input((T,))]
    model = keras.Model(inputs, FWLBlock(size, V, chunks, name="fwl")(*inputs))
    model.get_layer("fwl").set_weights(layer.get_weights())
    path = tmp_path / "fwl_model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    args = [x.astype("float32"), labels.astype("int32"), weights.astype("float32")]
    np.testing.assert_allclose(loaded.predict(args, verbose=0), model.predict(args, verbose=0), rtol=1e-6)
    assert loaded.get_layer("fwl").loss_normalization == "sequence"


def test_model_fit_trains_the_step_sizes():
    """A compiled training step runs (input checks skip values while tracing) and moves every η."""
    d, V, size, chunks, T = 4, 6, 2, 2, 8
    rng = np.random.default_rng(18)
    tokens = rng.integers(0, V, (16, T))
    labels, weights = (ops.convert_to_numpy(a) for a in make_labels(tokens))
    x = rng.standard_normal((16, T, d)).astype("float32")
    inputs = [keras.Input((T, d)), keras.Input((T,), dtype="int32"), keras.Input((T,))]
    block = FWLBlock(size, V, chunks)
    model = keras.Model(inputs, block(*inputs))
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = {p: float(v.numpy()) for p, v in block.step_sizes.items()}
    assert before == {p: pytest.approx(0.01) for p in FAST_PARAMS}  # the paper's initial η
    model.fit([x, labels, weights], labels, sample_weight=weights, epochs=1, batch_size=8, verbose=0)
    for p, v in block.step_sizes.items():
        assert float(v.numpy()) != before[p], p


def test_mixed_precision_close_to_float32():
    d, V, size, chunks = 4, 7, 2, 2
    x, labels, weights = _inputs(2, 6, d, V, seed=19)
    full = _layer(d, V, size, chunks, dtype="float32")
    half = FWLBlock(size, V, chunks, dtype="mixed_bfloat16")
    half.build((None, None, d))
    half.set_weights(full.get_weights())
    a = ops.convert_to_numpy(full(x.astype("float32"), labels, weights.astype("float32")))
    b = ops.convert_to_numpy(ops.cast(half(x.astype("float32"), labels, weights.astype("float32")), "float32"))
    assert np.all(np.isfinite(b))
    np.testing.assert_allclose(b, a, rtol=0.1, atol=0.15 * np.abs(a).max())


def test_make_labels_definition():
    rng = np.random.default_rng(20)
    tokens = rng.integers(0, 5, (3, 6))
    mask = np.ones((3, 6))
    mask[1, 4:] = 0
    labels, weights = (ops.convert_to_numpy(a) for a in make_labels(tokens, mask=mask))
    for b in range(3):
        for t in range(6):
            if t + 1 < 6:
                assert labels[b, t] == tokens[b, t + 1]
            real = t + 1 < 6 and mask[b, t] and mask[b, t + 1]
            assert weights[b, t] == (1.0 if real else 0.0)
    one_hot, _ = make_labels(tokens, vocab_size=5)
    np.testing.assert_array_equal(ops.convert_to_numpy(one_hot), np.eye(5)[labels])
    with pytest.raises(TypeError, match="tokens"):
        make_labels(tokens.astype(float))
    with pytest.raises(ValueError, match="mask"):
        make_labels(tokens, mask=mask[:, :5])


def test_bad_input():
    d, V, size, chunks = 4, 7, 2, 2
    x, labels, weights = _inputs(2, 6, d, V, seed=21)
    layer = _layer(d, V, size, chunks)
    for kwargs, match in [
        (dict(attn_chunks=0), "attn_chunks"), (dict(size=0), "size"), (dict(vocab_size=-1), "vocab_size"),
        (dict(loss_normalization="token"), "loss_normalization"),
    ]:
        args = {**dict(size=size, vocab_size=V, attn_chunks=chunks), **kwargs}
        with pytest.raises(ValueError, match=match):
            FWLBlock(**args)
    cases = [
        ((x[:, :5], labels, weights), ValueError, "x and labels .* time"),
        ((x[:1], labels, weights), ValueError, "x and labels .* batch"),
        ((x, labels, weights[:, :5]), ValueError, "x and weights .* time"),
        ((x[..., :3], labels, weights), ValueError, "x must have 4 features"),
        ((x[0], labels, weights), ValueError, "x must have shape"),
        ((x, np.eye(V + 1)[labels], weights), ValueError, "vocab_size=7"),
        ((x, labels + V, weights), ValueError, r"labels must hold ids in \[0, 7\)"),
        ((x, labels.astype(float), weights), TypeError, "labels .* integer"),
        ((x, 0.5 * np.eye(V)[labels], weights), ValueError, "labels must be one-hot"),
        ((x, labels, weights * 2), ValueError, r"weights must lie in \[0, 1\]"),
        ((x, labels, -weights), ValueError, r"weights must lie in \[0, 1\]"),
        ((x, labels, weights[..., None]), ValueError, "weights must have shape"),
        ((np.where(x > 1, np.nan, x), labels, weights), ValueError, "x must be finite"),
    ]
    for args, error, match in cases:
        with pytest.raises(error, match=match):
            layer(*args)


def test_update_contributions_match_per_token_autodiff():
    """dense1[b, t, s] = ‖x_t (η ∇_{W1} c_s CE_s)‖: token s's share of the fast kernel used at t."""
    B, T, d, V, size, chunks = 2, 5, 3, 6, 3, 2
    x, labels, weights = _inputs(B, T, d, V, seed=22)
    layer = _layer(d, V, size, chunks)
    got = layer.update_contributions(x, labels, weights)["dense1"]
    params = {k: tf.convert_to_tensor(v) for k, v in _params(layer).items()}
    eta = float(layer.step_sizes["kernel1"].numpy())
    expected = np.zeros((B, T, T))
    for b in range(B):
        for s in range(T):
            with tf.GradientTape() as tape:
                tape.watch(params["kernel1"])
                logits = _block(params, x[b, s : s + 1])
                ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels[b, s : s + 1], logits)
                loss = weights[b, s] / weights[b].sum() * ce[0]
            grad = tape.gradient(loss, params["kernel1"]).numpy()
            for t in range(s + 1, T):
                expected[b, t, s] = np.linalg.norm(eta * x[b, t] @ grad)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
