"""The four next-word models: a window of ``context`` word ids (B, context) to next-word logits (B, V).

* ``lstm``: the student project's LSTM model: Embedding, 2 x LSTM, Dense + ReLU, Dense
  (Hochreiter & Schmidhuber 1997);
* ``conv1d``: the student project's "transformer", which has no attention: Embedding,
  Conv1D + ReLU, Conv1D, Dense + ReLU, Dense;
* ``fastweights``: Embedding, the fast-weight RNN of Ba et al. (2016, eqs. 1-2;
  :class:`fwcourse.fwrnn_layer.FastWeightRNN`), Dense + ReLU, Dense;
* ``attention``: a real (small) attention model: one pre-LayerNorm causal self-attention block
  (Vaswani et al. 2017) with learned positions, read out at the last position.

The student project put a softmax in the last layer and trained on one-hot labels; here the last
layer gives logits, the softmax lives inside a sparse cross-entropy loss (the same model,
numerically safer, and no (N, V) one-hot matrix).
"""
from __future__ import annotations

import keras
from keras import ops

from fwcourse.util import validate
from fwcourse.util.seeded_init import Initialisers

MODELS = ("lstm", "conv1d", "fastweights", "attention")

# The student project's report names its layers but not their sizes. These are the sizes of the
# widely copied tutorial model it follows (2 x LSTM(1000), Dense(1000)): an assumption, used for
# "project-sized" timings in benchmarks/bench_nextword.py, never as a claim about its exact model.
PROJECT_SIZES = dict(embed_dim=100, units=1000, hidden=1000, filters=1000, kernel_size=3, heads=4)


@keras.saving.register_keras_serializable(package="fwcourse")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position to a sequence (B, T, d): x[:, t] + P[t]."""

    def __init__(self, max_length: int, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_length = validate.positive_int(max_length, "max_length")
        self.seed = seed

    def build(self, input_shape) -> None:
        self.positions = self.add_weight(
            shape=(self.max_length, int(input_shape[-1])), name="positions",
            initializer=keras.initializers.RandomNormal(stddev=0.05, seed=self.seed),
        )

    def call(self, x):
        length = ops.shape(x)[1]
        return x + ops.expand_dims(self.positions[:length], 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "max_length": self.max_length, "seed": self.seed}


def build_model(
    kind: str,
    vocab_size: int,
    context: int = 3,
    embed_dim: int = 64,
    units: int = 128,
    hidden: int = 128,
    filters: int = 128,
    kernel_size: int = 3,
    heads: int = 4,
    learning_rate: float = 1e-3,
    seed: int = 0,
    jit_compile: bool | str = "auto",
) -> keras.Model:
    """A compiled next-word model: (B, context) int ids -> (B, vocab_size) logits.

    ``units`` sizes the recurrent layers (lstm, fastweights), ``filters``/``kernel_size`` the
    convolutions, ``heads`` the attention (``embed_dim`` must divide by it), ``hidden`` the
    Dense + ReLU layer before the output. ``seed`` seeds the initial weights (the global random
    state is left alone). ``jit_compile=False`` skips XLA, whose compile time outweighs its
    speed-up on small, short runs (the quick scale).
    """
    validate.choice(kind, "kind", MODELS)
    V = validate.positive_int(vocab_size, "vocab_size", minimum=3)
    n = validate.positive_int(context, "context")
    d, h = validate.positive_int(embed_dim, "embed_dim"), validate.positive_int(hidden, "hidden")
    validate.in_range(learning_rate, "learning_rate", 0, low_open=True)
    init = Initialisers(seed)
    L = keras.layers
    inp = keras.Input((n,), dtype="int32", name="words")
    x = L.Embedding(V, d, name="embedding",
                    embeddings_initializer=init("RandomUniform", minval=-0.05, maxval=0.05))(inp)
    if kind == "lstm":
        u = validate.positive_int(units, "units")
        x = L.LSTM(u, return_sequences=True, kernel_initializer=init("GlorotUniform"),
                   recurrent_initializer=init("Orthogonal"))(x)
        x = L.LSTM(u, kernel_initializer=init("GlorotUniform"), recurrent_initializer=init("Orthogonal"))(x)
    elif kind == "conv1d":
        f, k = validate.positive_int(filters, "filters"), validate.positive_int(kernel_size, "kernel_size")
        x = L.Conv1D(f, k, padding="causal", activation="relu", kernel_initializer=init("GlorotUniform"))(x)
        x = L.Conv1D(f, k, padding="causal", kernel_initializer=init("GlorotUniform"))(x)
        x = L.Flatten()(x)
    elif kind == "fastweights":
        from fwcourse.fwrnn_layer import FastWeightRNN  # written beside this module; loaded on use

        # jit_compile=False keeps the layer from compiling its own loop too
        x = FastWeightRNN(validate.positive_int(units, "units"), kernel_initializer=init("GlorotUniform"),
                          recurrent_initializer=init("Orthogonal"), jit_compile="auto" if jit_compile else False)(x)
    else:
        heads = validate.positive_int(heads, "heads")
        if d % heads:
            raise ValueError(f"embed_dim must be divisible by heads; got embed_dim={d}, heads={heads}.")
        x = PositionEmbedding(n, seed=init.seed())(x)
        a = L.MultiHeadAttention(heads, d // heads)
        y = L.LayerNormalization()(x)
        x = L.Add()([x, a(y, y, use_causal_mask=True)])
        init.redraw_kernels(a)  # one seeded initialiser would give query, key and value the same weights
        y = L.LayerNormalization()(x)
        ffn = L.Dense(h, activation="relu", kernel_initializer=init("GlorotUniform"))(y)
        x = L.Add()([x, L.Dense(d, kernel_initializer=init("GlorotUniform"))(ffn)])
        x = L.Flatten()(L.Cropping1D((n - 1, 0))(x))  # the last position sees the whole window
        x = L.LayerNormalization()(x)
    x = L.Dense(h, activation="relu", name="hidden", kernel_initializer=init("GlorotUniform"))(x)
    out = L.Dense(V, name="logits", kernel_initializer=init("GlorotUniform"))(x)
    model = keras.Model(inp, out, name=f"nextword_{kind}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5")],
        jit_compile=jit_compile,
    )
    return model


def model_sizes(sizes) -> dict:
    """The model-size arguments of :func:`build_model` from a ``config.sizes("04")`` namespace."""
    keys = ("embed_dim", "units", "hidden", "filters", "kernel_size", "heads", "learning_rate",
            "jit_compile")
    return {k: getattr(sizes, k) for k in keys}
