"""Dynamic evaluation against its definition: an explicit loop of SGD steps on a separate copy."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from fwcourse import dynamic_eval as de  # noqa: E402
from fwcourse import transformer as tr  # noqa: E402

VOCAB, T = 13, 9


@pytest.fixture(scope="module")
def model():
    return tr.build_lm(VOCAB, d_model=8, n_layers=1, n_heads=2, seq_len=T, seed=3, compile=False)


def _data(seed, n=3):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, (n, T))
    targets = rng.integers(0, VOCAB, (n, T))
    weights = np.ones((n, T), np.float32)
    weights[-1, -3:] = 0.0  # padding at the end of the last window
    return tokens, targets, weights


def _explicit(model, tokens, targets, weights, doc, chunk_len, lr, decay):
    """Definition: a fresh copy per document, SGD (keras.optimizers.SGD) on each chunk's mean loss
    after scoring it, plus the decay towards the trained weights applied by hand."""
    trained = [w.copy() for w in model.get_weights()]
    copy = keras.models.clone_model(model)
    copy(tokens[:1])
    losses = np.zeros(tokens.shape)
    for n in range(len(tokens)):
        if n == 0 or doc[n] != doc[n - 1]:
            copy.set_weights(trained)
        for start in range(0, T, chunk_len):
            sl = slice(start, min(start + chunk_len, T))
            with tf.GradientTape() as tape:
                logits = copy(tokens[n:n + 1])
                ce = keras.losses.sparse_categorical_crossentropy(targets[n:n + 1], logits,
                                                                  from_logits=True)[0]
                w = weights[n, sl]
                loss = tf.reduce_sum(ce[sl] * w) / max(w.sum(), 1e-12)
            losses[n, sl] = ce.numpy()[sl] * (w > 0)
            if w.sum() == 0:
                continue
            grads = tape.gradient(loss, copy.trainable_variables)
            before = [v.numpy() for v in copy.trainable_variables]
            keras.optimizers.SGD(lr).apply_gradients(zip(grads, copy.trainable_variables))
            for v, b, g in zip(copy.trainable_variables, before, trained):
                v.assign(v.numpy() + decay * (g - b))
    return losses


@pytest.mark.parametrize("chunk_len,lr,decay,doc", [
    (3, 0.5, 0.0, None), (4, 0.3, 0.2, None), (2, 0.4, 0.0, [0, 0, 1]), (T, 0.5, 0.0, None),
])
def test_matches_explicit_sgd_loop(model, chunk_len, lr, decay, doc):
    tokens, targets, weights = _data(chunk_len)
    docs = np.arange(len(tokens)) if doc is None else np.asarray(doc)
    got = de.dynamic_eval(model, tokens, targets, weights, doc=doc, chunk_len=chunk_len,
                          learning_rate=lr, decay=decay)
    want = _explicit(model, tokens, targets, weights, docs, chunk_len, lr, decay)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # the updates matter (otherwise the comparison above would prove little)
    static = tr.token_losses(model, tokens, targets) * (weights > 0)
    if chunk_len < T:
        assert np.abs(got - static).max() > 1e-3


def test_first_chunk_and_zero_rate_are_static(model):
    tokens, targets, weights = _data(7)
    static = tr.token_losses(model, tokens, targets) * (weights > 0)
    adapted = de.dynamic_eval(model, tokens, targets, weights, chunk_len=4, learning_rate=1.0)
    np.testing.assert_allclose(adapted[:, :4], static[:, :4], rtol=1e-5, atol=1e-6)
    frozen = de.dynamic_eval(model, tokens, targets, weights, chunk_len=4, learning_rate=0.0)
    np.testing.assert_allclose(frozen, static, rtol=1e-5, atol=1e-6)


def test_model_weights_are_restored_and_windows_independent(model):
    tokens, targets, weights = _data(11)
    before = [w.copy() for w in model.get_weights()]
    together = de.dynamic_eval(model, tokens, targets, weights, chunk_len=3, learning_rate=0.5)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    alone = de.dynamic_eval(model, tokens[1:2], targets[1:2], weights[1:2], chunk_len=3,
                            learning_rate=0.5)
    np.testing.assert_allclose(together[1:2], alone, rtol=1e-5, atol=1e-6)


def test_adapting_to_a_repeated_document_helps(model):
    # the same window twice as one document: the second reading must be easier after adapting
    tokens, targets, _ = _data(5, n=1)
    twice = de.dynamic_eval(model, np.repeat(tokens, 2, 0), np.repeat(targets, 2, 0),
                            doc=[0, 0], chunk_len=3, learning_rate=0.1)
    assert twice[1].mean() < twice[0].mean()


@pytest.mark.parametrize("kwargs,match", [
    (dict(tokens=np.zeros((2, T), float)), "tokens must hold integer"),
    (dict(targets=np.zeros((2, T + 1), int)), "targets must have shape"),
    (dict(targets=np.full((2, T), VOCAB)), "targets must hold ids in"),
    (dict(weights=np.full((2, T), 2.0)), "weights must lie in"),
    (dict(weights=np.ones((2, 3))), "weights must have shape"),
    (dict(chunk_len=0), "chunk_len"),
    (dict(learning_rate=-1.0), "learning_rate"),
    (dict(decay=1.5), "decay"),
    (dict(doc=[0]), "doc must have shape"),
])
def test_bad_input(model, kwargs, match):
    args = dict(tokens=np.zeros((2, T), int), targets=np.zeros((2, T), int))
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        de.dynamic_eval(model, **args)
