"""A causal transformer language model in Keras 3 (``keras.ops`` only: runs on TensorFlow and JAX).

The model of notebook 05 and the body under the Fast Weight Layer of notebook 06:

    h_0 = E[x_t] + P[t]                                  token + learned position embedding
    h_l = h'_l + MLP(LN(h'_l)),  h'_l = h_{l-1} + MHA(LN(h_{l-1}))     pre-LayerNorm blocks
    logits_t = LN(h_L) U                                 unembedding (or the FWL head)

with causal multi-head self-attention (Vaswani et al. 2017, eq. 1, with a causal mask):

    Attention(Q, K, V)_t = Σ_{s ≤ t} softmax_s(q_t·k_s / √d_head) v_s.

:func:`build_lm` builds and compiles it for ``model.fit`` on ``tf.data`` pipelines of
(tokens, next tokens, weights). :func:`use_accelerator` switches on mixed precision when a GPU is
visible (Keras compiles with XLA on a GPU by itself), so the same code runs on a laptop and a GPU.
"""
from __future__ import annotations

import math
import warnings

import keras
import numpy as np
from keras import ops

from fwcourse.ngram import perplexity  # noqa: F401  (the course's one perplexity, used with token_losses)
from fwcourse.util import validate
from fwcourse.util.seeded_init import Initialisers
from fwcourse.util.envinfo import visible_gpus

_PACKAGE = "fwcourse"


# -- the two functions the layers are made of (and notebook 05's exercises) -----------------------
def causal_mask(seq_len, exclusive: bool = False):
    """Boolean [T, T] mask, ``mask[t, s] = s <= t``: position t may attend to itself and the past.

    The course's one causal mask for ``keras.ops`` code (the softmax attention here, the linear
    attention of :mod:`fwcourse.chunked_attention`, the FWL's plots); NumPy code uses
    :func:`fwcourse.linear_attention.causal_mask`, the same convention. With ``exclusive``,
    ``mask[t, s] = s < t`` (only the past: the Fast Weight Layer's "tokens before t").
    ``seq_len`` is a positive int, or a scalar tensor (a length only known inside a traced
    function).
    """
    if not ops.is_tensor(seq_len):
        seq_len = validate.positive_int(seq_len, "seq_len")
    pos = ops.arange(seq_len)
    return pos[:, None] > pos[None, :] if exclusive else pos[:, None] >= pos[None, :]


def causal_attention(q, k, v, return_weights: bool = False):
    """Causal scaled dot-product attention over the last two axes.

    ``q``, ``k``: [..., T, d]; ``v``: [..., T, d_v]. Returns ``Σ_{s≤t} softmax_s(q_t·k_s/√d) v_s``
    of shape [..., T, d_v] (and the attention weights [..., T, T] with ``return_weights``).
    The softmax runs in float32 so that mixed precision cannot overflow the masked scores.
    """
    q, k, v = ops.convert_to_tensor(q), ops.convert_to_tensor(k), ops.convert_to_tensor(v)
    if len(q.shape) < 2 or q.shape != k.shape or q.shape[:-1] != v.shape[:-1]:
        raise ValueError(
            "q and k must have the same shape [..., T, d] and v must be [..., T, d_v]; got "
            f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}."
        )
    scores = ops.matmul(q, ops.swapaxes(k, -1, -2))
    scores = ops.cast(scores, "float32") / math.sqrt(q.shape[-1])
    scores = ops.where(causal_mask(ops.shape(scores)[-1]), scores, ops.cast(-1e30, "float32"))
    with warnings.catch_warnings():  # Keras warns about a softmax over 1 position (T = 1): fine here
        warnings.filterwarnings("ignore", message="You are using a softmax over axis")
        weights = ops.softmax(scores, axis=-1)
    out = ops.matmul(ops.cast(weights, v.dtype), v)
    return (out, weights) if return_weights else out


# -- layers --------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package=_PACKAGE)
class TokenPositionEmbedding(keras.layers.Layer):
    """``E[x_t] + P[t]``: token embedding plus a learned embedding of the position t < ``max_len``."""

    def __init__(self, vocab_size: int, max_len: int, d_model: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = validate.positive_int(vocab_size, "vocab_size")
        self.max_len = validate.positive_int(max_len, "max_len")
        self.d_model = validate.positive_int(d_model, "d_model")
        init = keras.initializers.RandomNormal(stddev=0.02)
        self.token = keras.layers.Embedding(vocab_size, d_model, embeddings_initializer=init,
                                            dtype=self.dtype_policy, name="token")
        self.position = keras.layers.Embedding(max_len, d_model, embeddings_initializer=init,
                                               dtype=self.dtype_policy, name="position")

    def build(self, input_shape):
        self.token.build(input_shape)
        self.position.build((input_shape[-1],))

    def call(self, tokens):
        seq_len = tokens.shape[-1]
        if seq_len is not None and seq_len > self.max_len:
            raise ValueError(
                f"tokens has {seq_len} positions but the model was built for seq_len <= {self.max_len}."
            )
        positions = ops.arange(ops.shape(tokens)[-1])
        return self.token(tokens) + self.position(positions)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "max_len": self.max_len,
                "d_model": self.d_model}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CausalSelfAttention(keras.layers.Layer):
    """Multi-head causal self-attention: heads of size d_model / n_heads, then an output projection."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.d_model = validate.positive_int(d_model, "d_model")
        self.n_heads = validate.positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads}).")
        self.dropout = validate.in_range(dropout, "dropout", 0, 1, high_open=True)
        self.qkv = keras.layers.Dense(3 * d_model, dtype=self.dtype_policy, name="qkv")
        self.out = keras.layers.Dense(d_model, dtype=self.dtype_policy, name="out")
        self.drop = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        self.qkv.build(input_shape)
        self.out.build(tuple(input_shape[:-1]) + (self.d_model,))

    def call(self, x, training=None, return_weights: bool = False):
        batch, seq_len = ops.shape(x)[0], ops.shape(x)[1]
        head = self.d_model // self.n_heads
        qkv = ops.reshape(self.qkv(x), (batch, seq_len, 3, self.n_heads, head))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))          # [3, B, H, T, head]
        y, weights = causal_attention(qkv[0], qkv[1], qkv[2], return_weights=True)
        y = ops.reshape(ops.transpose(y, (0, 2, 1, 3)), (batch, seq_len, self.d_model))
        y = self.drop(self.out(y), training=training)
        return (y, weights) if return_weights else y

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model, "n_heads": self.n_heads,
                "dropout": self.dropout}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TransformerBlock(keras.layers.Layer):
    """Pre-LayerNorm block: ``h + MHA(LN(h))`` then ``h + MLP(LN(h))`` with a GELU MLP of width 4·d."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: int = 4, dropout: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.d_model = validate.positive_int(d_model, "d_model")
        self.n_heads = validate.positive_int(n_heads, "n_heads")
        self.mlp_ratio = validate.positive_int(mlp_ratio, "mlp_ratio")
        self.dropout = validate.in_range(dropout, "dropout", 0, 1, high_open=True)
        policy = self.dtype_policy
        self.ln1 = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="ln1")
        self.attn = CausalSelfAttention(d_model, n_heads, dropout, dtype=policy, name="attn")
        self.ln2 = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="ln2")
        self.fc1 = keras.layers.Dense(mlp_ratio * d_model, activation="gelu", dtype=policy,
                                      name="fc1")
        self.fc2 = keras.layers.Dense(d_model, dtype=policy, name="fc2")
        self.drop = keras.layers.Dropout(dropout, dtype=policy)

    def build(self, input_shape):
        for layer in (self.ln1, self.attn, self.ln2, self.fc1):
            layer.build(input_shape)
        self.fc2.build(tuple(input_shape[:-1]) + (self.mlp_ratio * self.d_model,))

    def call(self, h, training=None, return_weights: bool = False):
        a, weights = self.attn(self.ln1(h), training=training, return_weights=True)
        h = h + a
        h = h + self.drop(self.fc2(self.fc1(self.ln2(h))), training=training)
        return (h, weights) if return_weights else h

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model, "n_heads": self.n_heads,
                "mlp_ratio": self.mlp_ratio, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TransformerLM(keras.Model):
    """Tokens [B, T] -> next-token logits [B, T, V] (float32 even under mixed precision).

    With ``fwl_size`` the unembedding is replaced by ``fwcourse.fwl.FWLBlock(fwl_size, vocab_size,
    attn_chunks)``, fed the body's output and ``fwcourse.fwl.make_labels(tokens)``: the labels of
    position t are the token at t + 1, so by causality position t only learns from tokens <= t.
    Tokens equal to ``pad_id`` (default :data:`fwcourse.data.corpus.PAD_ID` = 0, which the tokenizer
    never gives a word) are padding and are left out of the FWL's inner loss; ``pad_id=None``
    treats every token as real.
    """

    def __init__(self, vocab_size: int, d_model: int, n_layers: int, n_heads: int, seq_len: int,
                 fwl_size: int | None = None, attn_chunks: int = 1, mlp_ratio: int = 4,
                 dropout: float = 0.0, pad_id: int | None = 0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = validate.positive_int(vocab_size, "vocab_size")
        self.d_model = validate.positive_int(d_model, "d_model")
        self.n_layers = validate.positive_int(n_layers, "n_layers", minimum=0)
        self.n_heads = validate.positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads}).")
        self.seq_len = validate.positive_int(seq_len, "seq_len")
        self.fwl_size = None if fwl_size is None else validate.positive_int(fwl_size, "fwl_size")
        self.attn_chunks = validate.positive_int(attn_chunks, "attn_chunks")
        self.mlp_ratio = validate.positive_int(mlp_ratio, "mlp_ratio")
        self.dropout = validate.in_range(dropout, "dropout", 0, 1, high_open=True)
        self.pad_id = None if pad_id is None else validate.positive_int(pad_id, "pad_id", minimum=0)
        policy = self.dtype_policy
        self.embed = TokenPositionEmbedding(vocab_size, seq_len, d_model, dtype=policy,
                                            name="embed")
        self.blocks = [TransformerBlock(d_model, n_heads, mlp_ratio, dropout, dtype=policy,
                                        name=f"block{i}") for i in range(n_layers)]
        self.ln_f = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="ln_f")
        if self.fwl_size is None:
            self.head = keras.layers.Dense(vocab_size, dtype=policy, name="unembed")
        else:
            from fwcourse import fwl  # part of notebook 06; imported only when asked for

            self.head = fwl.FWLBlock(self.fwl_size, vocab_size, self.attn_chunks, dtype=policy,
                                     name="fwl")

    def body(self, tokens, training=None):
        """The hidden states ``LN(h_L)`` [B, T, d] the head reads."""
        h = self.embed(tokens)
        for block in self.blocks:
            h = block(h, training=training)
        return self.ln_f(h)

    def call(self, tokens, training=None):
        tokens = ops.cast(tokens, "int32")
        x = self.body(tokens, training=training)
        if self.fwl_size is None:
            logits = self.head(x)
        else:
            from fwcourse import fwl

            mask = None if self.pad_id is None else ops.not_equal(tokens, self.pad_id)
            labels, weights = fwl.make_labels(tokens, mask=mask)
            logits = self.head(x, labels, weights)
        return ops.cast(logits, "float32")

    def attention_maps(self, tokens) -> np.ndarray:
        """Attention weights of every layer and head, [n_layers, B, n_heads, T, T] (for plots)."""
        tokens = ops.cast(ops.convert_to_tensor(tokens), "int32")
        h = self.embed(tokens)
        maps = []
        for block in self.blocks:
            h, weights = block(h, return_weights=True)
            maps.append(ops.convert_to_numpy(weights))
        return np.stack(maps) if maps else np.zeros((0,))

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "d_model": self.d_model,
                "n_layers": self.n_layers, "n_heads": self.n_heads, "seq_len": self.seq_len,
                "fwl_size": self.fwl_size, "attn_chunks": self.attn_chunks,
                "mlp_ratio": self.mlp_ratio, "dropout": self.dropout, "pad_id": self.pad_id}


# -- building, training and evaluating -----------------------------------------------------------
def use_accelerator() -> dict:
    """Switch on mixed precision when a GPU is visible; return what was chosen.

    bfloat16 on GPUs that have it (compute capability >= 8), float16 with loss scaling (Keras adds
    it at ``compile``) on older ones, float32 on CPU. Keras compiles ``fit`` with XLA by itself
    when a GPU is present (``jit_compile="auto"``), so nothing else changes. Call it before
    building a model.
    """
    gpus = visible_gpus()
    if not gpus:
        policy = "float32"
    else:
        policy = "mixed_bfloat16" if all(_compute_capability(g) >= 8 for g in gpus) else "mixed_float16"
    keras.mixed_precision.set_global_policy(policy)
    return {"gpus": len(gpus), "policy": policy, "xla": bool(gpus)}


def _compute_capability(gpu) -> float:
    try:
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            major, minor = tf.config.experimental.get_device_details(gpu)["compute_capability"]
        else:
            major, minor = (int(x) for x in str(gpu.compute_capability).split("."))
        return major + minor / 10
    except Exception:  # details unknown: assume an older GPU, float16 is safe everywhere
        return 0.0


def seed_weights(model: keras.Model, seed: int) -> keras.Model:
    """Draw the random weights of a built model again from ``seed`` alone, with the distributions
    their layers use (kernels: Glorot uniform; embeddings: N(0, 0.02²)); biases, LayerNorm
    parameters and step sizes start at constants and are left as they are. The global random
    state is not touched: only entry points (commands, notebooks) seed globally."""
    init = Initialisers(validate.positive_int(seed, "seed", minimum=0))
    for weight in model.weights:
        name = weight.name.rsplit("/", 1)[-1]
        if name == "embeddings":
            weight.assign(init("RandomNormal", stddev=0.02)(tuple(weight.shape), dtype=weight.dtype))
        elif "kernel" in name:
            weight.assign(init("GlorotUniform")(tuple(weight.shape), dtype=weight.dtype))
    return model


def build_lm(vocab_size: int, d_model: int, n_layers: int, n_heads: int, seq_len: int,
             fwl_size: int | None = None, attn_chunks: int = 1, mlp_ratio: int = 4,
             dropout: float = 0.0, pad_id: int | None = 0, learning_rate: float = 1e-3,
             seed: int | None = None, compile: bool = True) -> TransformerLM:
    """A built (and by default compiled) :class:`TransformerLM`, ready for ``model.fit``.

    The loss is the mean next-token cross-entropy over tokens with weight > 0: feed ``fit`` a
    dataset of ``(tokens [B, T], next_tokens [B, T], weights [B, T])`` (see
    :func:`fwcourse.data.lm_data.lm_dataset`). Its exponential is the perplexity.
    """
    validate.in_range(learning_rate, "learning_rate", 0, None, low_open=True)
    model = TransformerLM(vocab_size, d_model, n_layers, n_heads, seq_len, fwl_size=fwl_size,
                          attn_chunks=attn_chunks, mlp_ratio=mlp_ratio, dropout=dropout,
                          pad_id=pad_id)
    model(np.zeros((1, seq_len), dtype="int32"))
    if seed is not None:
        seed_weights(model, seed)
    if compile:
        compile_lm(model, learning_rate)
    return model


def compile_lm(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    """Compile with AdamW, gradient clipping at norm 1 and the weighted mean cross-entropy."""
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=0.01, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"),
    )
    return model


def token_losses(model: keras.Model, tokens, next_tokens, batch_size: int = 16) -> np.ndarray:
    """Per-token cross-entropy ``-log p(next_tokens[b, t] | tokens[b, :t+1])`` in nats, [N, T]."""
    tokens = validate.array(tokens, "tokens", ndim=2)
    next_tokens = validate.array(next_tokens, "next_tokens", shape=tokens.shape)
    vocab = getattr(model, "vocab_size", None)
    for name, arr in (("tokens", tokens), ("next_tokens", next_tokens)):
        validate.token_ids(arr, name, vocab)
    batch_size = validate.positive_int(batch_size, "batch_size")
    out = []
    for start in range(0, len(tokens), batch_size):
        logits = model(tokens[start:start + batch_size], training=False)
        ce = keras.losses.sparse_categorical_crossentropy(
            next_tokens[start:start + batch_size], logits, from_logits=True)
        out.append(ops.convert_to_numpy(ce))
    return np.concatenate(out) if out else np.zeros(tokens.shape, dtype="float32")
