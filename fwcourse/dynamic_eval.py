"""Dynamic evaluation (Krause et al. 2018, 2019): adapt the weights to a document while reading it.

A window of T tokens is read in chunks of ``chunk_len`` positions. Chunk k is scored with the
current weights θ_k, then one SGD step is taken on that chunk's mean loss (Krause et al. 2018,
eq. 5, with the optional decay back to the trained weights θ_g of their eq. 7):

    θ_{k+1} = θ_k − η ∇_θ L(chunk k; θ_k) + λ (θ_g − θ_k).

Position t of chunk k is thus predicted after steps on the targets of chunks < k only, i.e. on
tokens the model has already seen. The weights go back to θ_g at the start of each window (or of
each document, see ``doc``), since each document gets its own adapted copy. This is the baseline
Fast Weight Layers are compared with in notebook 06: one forward and one backward pass per chunk,
sequential, one weight copy per document, and not usable during training. Here each chunk
re-reads its whole fixed-shape window (one compiled step serves every chunk), so a window costs
(T / chunk_len − 1) forward + backward passes plus one forward pass.

TensorFlow backend (it takes gradients with ``tf.GradientTape``); any Keras model mapping tokens
[B, T] to logits [B, T, V] works.
"""
from __future__ import annotations

import weakref

import keras
import numpy as np

from fwcourse.util import validate
from fwcourse.util.envinfo import visible_gpus


def dynamic_eval(model: keras.Model, tokens, targets, weights=None, doc=None, chunk_len: int = 32,
                 learning_rate: float = 1e-3, decay: float = 0.0,
                 jit_compile: bool | None = None) -> np.ndarray:
    """Per-token losses [N, T] (nats) of ``model`` under dynamic evaluation; ``model`` is unchanged.

    Args:
        model: tokens [1, T] -> next-token logits [1, T, V].
        tokens, targets: int [N, T] windows and their next tokens (see ``fwcourse.data.lm_data``).
        weights: [N, T] in [0, 1]; 0 for padding (scored as 0 and left out of every update).
        doc: optional [N] document id of each window: consecutive windows of the same document
            keep adapting instead of starting again from the trained weights.
        chunk_len: positions per SGD step (the last chunk of a window may be shorter).
        learning_rate: η; 0 gives the static model's losses.
        decay: λ in [0, 1], the pull back towards the trained weights at every step.
        jit_compile: compile the step with XLA (default: when a GPU is visible).
    """
    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(
            "dynamic_eval takes its gradients with tf.GradientTape; run it with KERAS_BACKEND=tensorflow."
        )
    import tensorflow as tf

    tokens, targets, weights = _validated(model, tokens, targets, weights)
    chunk_len = validate.positive_int(chunk_len, "chunk_len")
    lr = float(validate.in_range(learning_rate, "learning_rate", 0, None))
    decay = float(validate.in_range(decay, "decay", 0, 1))
    doc = np.arange(len(tokens)) if doc is None else validate.array(doc, "doc", shape=(len(tokens),))
    if jit_compile is None:
        jit_compile = bool(visible_gpus())

    variables = list(model.trainable_variables)
    trained = [tf.constant(v.numpy()) for v in variables]
    score, adapt = _compiled(model, bool(jit_compile))
    lr_t, decay_t = tf.constant(lr, tf.float32), tf.constant(decay, tf.float32)

    seq_len = tokens.shape[1]
    starts = list(range(0, seq_len, chunk_len))
    losses = np.zeros(tokens.shape, dtype=np.float32)
    try:
        for n in range(len(tokens)):
            if n == 0 or doc[n] != doc[n - 1]:
                _restore(variables, trained)
            x, y = tokens[n:n + 1], targets[n:n + 1]
            last_of_doc = n + 1 == len(tokens) or doc[n + 1] != doc[n]
            for start in starts:
                end = min(start + chunk_len, seq_len)
                w = np.zeros((1, seq_len), dtype=np.float32)
                w[0, start:end] = weights[n, start:end]
                # nothing later would use an update after the last scored chunk of a document
                no_update = (start == starts[-1] and last_of_doc) or not w.any()
                if no_update or lr == decay == 0:
                    ce = score(x, y)
                else:
                    ce = adapt(x, y, w, lr_t, decay_t, trained)
                losses[n, start:end] = np.asarray(ce)[0, start:end]
    finally:
        _restore(variables, trained)
    return losses * (weights > 0)


# compiled (score, adapt) per model and XLA setting: traced once, reused by later calls
_COMPILED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _compiled(model: keras.Model, jit_compile: bool):
    import tensorflow as tf

    per_model = _COMPILED.setdefault(model, {})
    if jit_compile in per_model:
        return per_model[jit_compile]
    variables = list(model.trainable_variables)
    model_ref = weakref.ref(model)  # a strong reference here would keep the cache entry alive

    def forward(x, y):
        logits = model_ref()(x, training=False)
        return keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def adapt(x, y, w, lr, decay, trained):
        with tf.GradientTape() as tape:
            ce = forward(x, y)
            loss = tf.reduce_sum(ce * w) / tf.maximum(tf.reduce_sum(w), 1e-12)
        grads = tape.gradient(loss, variables)
        for v, g, v0 in zip(variables, grads, trained):
            g = tf.zeros_like(v0) if g is None else tf.convert_to_tensor(g)  # embeddings: sparse
            v.assign(v - tf.cast(lr, v.dtype) * g + tf.cast(decay, v.dtype) * (v0 - v))
        return ce

    per_model[jit_compile] = (tf.function(forward, jit_compile=jit_compile, reduce_retracing=True),
                              adapt)
    return per_model[jit_compile]


def _restore(variables, values) -> None:
    for v, v0 in zip(variables, values):
        v.assign(v0)


def _validated(model, tokens, targets, weights):
    tokens = validate.array(tokens, "tokens", ndim=2)
    targets = validate.array(targets, "targets", shape=tokens.shape)
    vocab = getattr(model, "vocab_size", None)
    for name, arr in (("tokens", tokens), ("targets", targets)):
        validate.token_ids(arr, name, vocab)
    if weights is None:
        weights = np.ones(tokens.shape, dtype=np.float32)
    weights = validate.array(weights, "weights", shape=tokens.shape).astype(np.float32)
    if np.any((weights < 0) | (weights > 1)):
        raise ValueError("weights must lie in [0, 1] (0 marks padding).")
    return tokens.astype(np.int32), targets.astype(np.int32), weights
