"""The models of Ba et al. (2016), section 4.1: a 100-d character embedding, one recurrent layer of
R units (one of :data:`MODELS`: the rows of their Table 1, a tanh RNN and an RNN + LayerNorm
control), 100 ReLU units and 10 logits, trained with Adam and gradient-norm clipping at 5. Every
builder takes ``seed`` for its initialisers and leaves the global random state alone."""
from __future__ import annotations

import numpy as np

from fwcourse.data import retrieval
from fwcourse.util import validate
from fwcourse.util.seeded_init import Initialisers

MODELS = ("rnn", "irnn", "lstm", "alstm", "rnn_ln", "fastweights")


def recurrent_layer(model: str, units: int, inner_steps: int = 1, decay: float = 0.95,
                    fast_lr: float = 0.5, seed: int = 0, copies: int = 4):
    """The recurrent layer of one of :data:`MODELS`, with ``units`` hidden units.

    ``alstm`` is the A-LSTM of the paper's Table 1, the associative LSTM of Danihelka et al.
    (2016) (:class:`fwcourse.alstm.AssociativeLSTM`, ``units`` even) with ``copies`` redundant
    copies of its memory; the paper does not give its number of copies. ``rnn_ln`` is the
    fast-weight layer with η = 0: the same extra depth (``inner_steps`` LayerNorm-ReLU steps) but
    no fast memory, the control critics asked for. ``decay`` (λ) and
    ``fast_lr`` (η) are the fast memory's, as in :class:`fwcourse.fwrnn_layer.FastWeightRNN`;
    ``seed`` seeds the layer's initial weights.
    """
    import keras

    from fwcourse.alstm import AssociativeLSTM
    from fwcourse.fwrnn_layer import FastWeightRNN

    validate.choice(model, "model", MODELS)
    units = validate.positive_int(units, "units (R)")
    init = Initialisers(seed)
    if model == "rnn":
        return keras.layers.SimpleRNN(units, activation="tanh", kernel_initializer=init("GlorotUniform"),
                                      recurrent_initializer=init("Orthogonal"))
    if model == "irnn":  # Le, Jaitly & Hinton (2015): ReLU, identity recurrence, tiny input weights
        return keras.layers.SimpleRNN(
            units, activation="relu", recurrent_initializer=keras.initializers.Identity(),
            kernel_initializer=init("RandomNormal", stddev=0.001),
        )
    if model == "lstm":
        return keras.layers.LSTM(units, kernel_initializer=init("GlorotUniform"),
                                 recurrent_initializer=init("Orthogonal"))
    if model == "alstm":
        return AssociativeLSTM(units, copies=copies, kernel_initializer=init("GlorotUniform"),
                               recurrent_initializer=init("Orthogonal"), permutation_seed=init.seed())
    return FastWeightRNN(units, inner_steps=inner_steps, decay=decay,
                         fast_lr=0.0 if model == "rnn_ln" else fast_lr,
                         kernel_initializer=init("GlorotUniform"), recurrent_initializer=init("Orthogonal"))


LR_FLOOR = 0.01  # the cosine schedule ends at this fraction of the initial learning rate


def build_model(model: str, units: int, *, embed_dim: int = 100, hidden: int = 100,
                learning_rate: float = 1e-3, lr_decay_steps: int | None = None,
                clipnorm: float = 5.0, inner_steps: int = 1,
                decay: float = 0.95, fast_lr: float = 0.5, copies: int = 4, seed: int = 0):
    """Embedding(100) → recurrent layer(R) → Dense(100, ReLU) → 10 logits, compiled with Adam.

    With ``lr_decay_steps`` the learning rate follows a cosine from ``learning_rate`` down to 1% of
    it (``LR_FLOOR``) over that many steps (Loshchilov & Hutter 2017); otherwise it is constant. ``decay`` (λ),
    ``fast_lr`` (η) and ``inner_steps`` are the fast memory's, ``copies`` the A-LSTM's
    (:func:`recurrent_layer`). ``seed`` seeds the initial weights.
    """
    import keras

    if lr_decay_steps is not None:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, validate.positive_int(lr_decay_steps, "lr_decay_steps"), alpha=LR_FLOOR)
    init = Initialisers(seed)
    net = keras.Sequential([
        keras.Input(shape=(None,), dtype="int32"),
        keras.layers.Embedding(retrieval.VOCAB_SIZE, embed_dim,
                               embeddings_initializer=init("RandomUniform", minval=-0.05, maxval=0.05)),
        recurrent_layer(model, units, inner_steps, decay, fast_lr, seed=init.seed(), copies=copies),
        keras.layers.Dense(hidden, activation="relu", kernel_initializer=init("GlorotUniform")),
        keras.layers.Dense(retrieval.NUM_CLASSES, kernel_initializer=init("GlorotUniform")),
    ], name=f"{model}_{units}")
    net.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        # XLA for every model and backend, so that all are timed compiled alike: Keras leaves it
        # off for TensorFlow on a CPU-only machine, where FastWeightRNN would compile its own loop
        # but the other models would run op by op (benchmarks/results/fwrnn.md)
        jit_compile=True,
    )
    return net


def fast_weight_parts(net) -> dict:
    """The NumPy weights of a trained ``fastweights``/``rnn_ln`` model from :func:`build_model`.

    Keys: ``embedding`` (vocab, E), ``W``, ``C``, ``b``, ``gain``, ``ln_bias`` (for
    :func:`fwcourse.fwrnn.fast_weight_rnn`), ``decay``, ``fast_lr``, ``inner_steps``.
    """
    layer = net.layers[1]
    if not hasattr(layer, "fast_lr"):
        raise ValueError(f"net must be a fastweights or rnn_ln model; its recurrent layer is {type(layer).__name__}.")
    cell = layer.cell
    return dict(embedding=np.asarray(net.layers[0].embeddings), W=np.asarray(cell.recurrent_kernel),
                C=np.asarray(cell.kernel), b=np.asarray(cell.bias), gain=np.asarray(cell.ln_gain),
                ln_bias=np.asarray(cell.ln_bias), decay=layer.decay, fast_lr=layer.fast_lr,
                inner_steps=layer.inner_steps)
