"""The causal transformer LM against definitions: explicit attention loops, prefix evaluation."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fwcourse import transformer as tr  # noqa: E402


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _attention_loop(q, k, v):
    """Definition: out_t = Σ_{s≤t} softmax_s(q_t·k_s/√d) v_s, one position at a time."""
    out = np.zeros(q.shape[:-1] + (v.shape[-1],))
    for t in range(q.shape[-2]):
        scores = np.einsum("...d,...sd->...s", q[..., t, :], k[..., :t + 1, :]) / np.sqrt(q.shape[-1])
        out[..., t, :] = np.einsum("...s,...sd->...d", _softmax(scores), v[..., :t + 1, :])
    return out


@pytest.mark.parametrize("shape,dv", [((1, 1, 4), 3), ((2, 3, 7, 5), 2), ((3, 11, 1), 4)])
def test_causal_attention_matches_loop(shape, dv):
    rng = np.random.default_rng(len(shape) + dv)
    q, k = rng.standard_normal(shape), rng.standard_normal(shape)
    v = rng.standard_normal(shape[:-1] + (dv,))
    got, weights = tr.causal_attention(q, k, v, return_weights=True)
    np.testing.assert_allclose(np.asarray(got), _attention_loop(q, k, v), rtol=1e-5, atol=1e-6)
    weights = np.asarray(weights)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    assert np.all(np.triu(weights, 1) == 0)


def test_causal_mask_is_lower_triangle():
    """The keras.ops mask, entry by entry: s <= t (s < t with exclusive), the NumPy mask's convention."""
    from fwcourse import linear_attention as la

    for t in (1, 2, 7):
        mask = np.asarray(tr.causal_mask(t))
        assert mask.dtype == bool
        np.testing.assert_array_equal(mask, [[s <= q for s in range(t)] for q in range(t)])
        np.testing.assert_array_equal(mask, la.causal_mask(t))
        np.testing.assert_array_equal(np.asarray(tr.causal_mask(t, exclusive=True)),
                                      [[s < q for s in range(t)] for q in range(t)])
    for bad in (0, 2.5, None):
        with pytest.raises((ValueError, TypeError), match="seq_len"):
            tr.causal_mask(bad)


def test_causal_mask_of_a_length_known_only_when_traced():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def mask_of(x):
        return tr.causal_mask(tf.shape(x)[0], exclusive=True)

    np.testing.assert_array_equal(np.asarray(mask_of(tf.zeros(4))), np.tril(np.ones((4, 4), bool), -1))


def test_attention_layer_matches_explicit_heads():
    d, heads, b, t = 6, 3, 2, 5
    layer = tr.CausalSelfAttention(d, heads)
    x = np.random.default_rng(1).standard_normal((b, t, d)).astype("float32")
    got = np.asarray(layer(x))
    w_qkv, b_qkv = (np.asarray(w, dtype=float) for w in layer.qkv.weights)
    w_out, b_out = (np.asarray(w, dtype=float) for w in layer.out.weights)
    qkv = x @ w_qkv + b_qkv
    hd = d // heads
    outs = []
    for h in range(heads):  # head h reads columns h*hd:(h+1)*hd of each of q, k, v
        q, k, v = (qkv[..., j * d + h * hd: j * d + (h + 1) * hd] for j in range(3))
        outs.append(_attention_loop(q, k, v))
    want = np.concatenate(outs, -1) @ w_out + b_out
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _tiny(fwl=False, **kw):
    args = dict(vocab_size=17, d_model=12, n_layers=2, n_heads=3, seq_len=10, seed=2)
    if fwl:
        pytest.importorskip("fwcourse.fwl")
        args.update(fwl_size=5, attn_chunks=2)
    args.update(kw)
    return tr.build_lm(**args)


def test_prefix_gives_the_same_logits():
    """Causality, by definition: logits at t from the whole window = logits from tokens[:t+1].
    (Not for the FWL head: its inner-loss normaliser counts the window's length.)"""
    model = _tiny()
    tokens = np.random.default_rng(3).integers(0, 17, (2, 9))
    full = np.asarray(model(tokens))
    for t in range(9):
        prefix = np.asarray(model(tokens[:, :t + 1]))
        np.testing.assert_allclose(full[:, t], prefix[:, t], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fwl", [False, True])
def test_future_tokens_do_not_change_the_past(fwl):
    model = _tiny(fwl)
    rng = np.random.default_rng(4)
    tokens = rng.integers(1, 17, (3, 10))
    base = np.asarray(model(tokens))
    for t in (0, 4, 9):
        changed = tokens.copy()
        changed[:, t:] = rng.integers(1, 17, changed[:, t:].shape)
        out = np.asarray(model(changed))
        np.testing.assert_allclose(out[:, :t], base[:, :t], rtol=1e-5, atol=1e-6)
        if t < 9:
            assert np.abs(out[:, t:] - base[:, t:]).max() > 1e-4


def test_attention_maps_are_causal_distributions():
    model = _tiny()
    maps = model.attention_maps(np.random.default_rng(5).integers(0, 17, (2, 7)))
    assert maps.shape == (2, 2, 3, 7, 7)
    np.testing.assert_allclose(maps.sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(maps, 1) == 0)


def test_fit_on_tf_data_learns_and_round_trips(tmp_path):
    from fwcourse.data import lm_data

    docs = [np.random.default_rng(i).integers(2, 17, 23) for i in range(3)]
    win = lm_data.lm_windows(docs, 10)
    model = _tiny(learning_rate=1e-2)
    before = model.evaluate(lm_data.lm_dataset(win, batch_size=len(win)), verbose=0)
    model.fit(lm_data.lm_dataset(win, batch_size=4, shuffle=True), epochs=10, verbose=0,
              shuffle=False)
    after = model.evaluate(lm_data.lm_dataset(win, batch_size=len(win)), verbose=0)
    assert after < before - 0.5
    # the loss is the weighted mean token loss: exp of it is the perplexity of token_losses
    losses = tr.token_losses(model, win.tokens, win.targets)
    np.testing.assert_allclose(np.log(tr.perplexity(losses, win.weights)), after, rtol=1e-4)
    path = tmp_path / "lm.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(win.tokens)), np.asarray(model(win.tokens)),
                               rtol=1e-5, atol=1e-6)
    assert loaded.get_config() == model.get_config()


def test_fwl_model_round_trips(tmp_path):
    model = _tiny(fwl=True)
    tokens = np.random.default_rng(6).integers(0, 17, (2, 10))
    model.save(tmp_path / "fwl.keras")
    loaded = keras.models.load_model(tmp_path / "fwl.keras")
    np.testing.assert_allclose(np.asarray(loaded(tokens)), np.asarray(model(tokens)), rtol=1e-5,
                               atol=1e-6)


def test_perplexity_is_the_one_in_ngram():
    """Its definition is tested in test_ngram; notebook 05 and lm_compare reach it from here."""
    from fwcourse import ngram

    assert tr.perplexity is ngram.perplexity


def test_use_accelerator_on_cpu_keeps_float32():
    try:
        info = tr.use_accelerator()
        if info["gpus"] == 0:
            assert info["policy"] == "float32" and not info["xla"]
        assert keras.mixed_precision.global_policy().name == info["policy"]
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_mixed_precision_gives_float32_logits():
    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        model = _tiny()
        assert model.embed.compute_dtype == "bfloat16"
        out = model(np.zeros((1, 4), "int32"))
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("kwargs,match", [
    (dict(d_model=10, n_heads=3), "divisible by n_heads"),
    (dict(vocab_size=0), "vocab_size"),
    (dict(seq_len=0), "seq_len"),
    (dict(attn_chunks=0), "attn_chunks"),
    (dict(dropout=1.0), "dropout"),
    (dict(learning_rate=0.0), "learning_rate"),
])
def test_bad_construction(kwargs, match):
    args = dict(vocab_size=7, d_model=6, n_layers=1, n_heads=2, seq_len=5, compile=False)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        tr.build_lm(**args)


@pytest.mark.parametrize("layer", [tr.CausalSelfAttention, tr.TransformerBlock])
@pytest.mark.parametrize("dropout", [1.0, -0.1, "0.1x"])
def test_layers_validate_dropout_alike(layer, dropout):
    with pytest.raises((ValueError, TypeError), match="dropout"):
        layer(6, 2, dropout=dropout)


def test_bad_calls():
    model = _tiny()
    with pytest.raises(ValueError, match="seq_len <= 10"):
        model(np.zeros((1, 11), "int32"))
    with pytest.raises(TypeError, match="integer"):
        tr.token_losses(model, np.zeros((1, 3)), np.zeros((1, 3), int))
    with pytest.raises(ValueError, match=r"ids in \[0, 17\)"):
        tr.token_losses(model, np.full((1, 3), 17), np.zeros((1, 3), int))
    with pytest.raises(ValueError, match="next_tokens must have shape"):
        tr.token_losses(model, np.zeros((1, 3), int), np.zeros((1, 4), int))
    with pytest.raises(ValueError, match="positive sum"):
        tr.perplexity(np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="q and k"):
        tr.causal_attention(np.ones((3, 2)), np.ones((4, 2)), np.ones((3, 2)))


def test_runs_under_jax(run_under_jax):
    out = run_under_jax("""
        import numpy as np, keras
        from fwcourse import transformer as tr
        assert keras.backend.backend() == "jax"
        for fwl in (None, 4):
            m = tr.build_lm(13, 8, 1, 2, 7, fwl_size=fwl, attn_chunks=2, seed=0, pad_id=None)
            x = np.random.default_rng(0).integers(0, 13, (2, 7))
            full = np.asarray(m(x))
            for t in (1, 4):
                y = x.copy()
                y[:, t:] = (y[:, t:] + 1) % 13
                np.testing.assert_allclose(np.asarray(m(y))[:, :t], full[:, :t], atol=1e-5)
        h = m.fit(x, np.roll(x, -1, 1), epochs=1, verbose=0).history["loss"]  # the FWL model
        assert np.all(np.isfinite(h))
        print("ok")
    """)
    assert out.strip().endswith("ok")


def test_build_lm_seeds_its_weights_without_touching_the_global_random_state():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    sizes = dict(vocab_size=40, d_model=16, n_layers=1, n_heads=2, seq_len=8, fwl_size=8, compile=False)
    a, b, c = tr.build_lm(**sizes, seed=3), tr.build_lm(**sizes, seed=3), tr.build_lm(**sizes, seed=4)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    random_weights = [w.path for w in a.weights if "kernel" in w.name or w.name == "embeddings"]
    assert len(random_weights) >= 6  # embeddings, attention, MLP, FWL kernels
    for wa, wb, wc in zip(a.weights, b.weights, c.weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())  # same seed, same model
        if wa.path in random_weights:
            assert not np.allclose(wa.numpy(), wc.numpy())  # another seed, other weights
    kernels = [w.numpy() for w in a.weights if "kernel" in w.name and len(w.shape) == 2]
    assert len({k.tobytes() for k in kernels}) == len(kernels)  # each kernel its own draw
