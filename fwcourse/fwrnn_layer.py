"""Keras 3 fast-weight RNN layer (Ba et al. 2016), written with ``keras.ops`` only.

``FastWeightRNN`` is used like ``keras.layers.LSTM``: it is a ``keras.layers.RNN`` with a
:class:`FastWeightRNNCell`, so ``return_sequences``, ``return_state``, ``go_backwards``,
``stateful``, ``unroll`` and masking of padded steps (a masked step leaves the state and the
memory unchanged) work as for any Keras RNN, on the TensorFlow, JAX and PyTorch backends.

One step, row-vector convention (``W`` is the paper's Wᵀ), Ba et al. (2016) eqs. (1)-(2)::

    slow   = x(t) C + h(t) W + b                 # the slow terms use h(t), the previous final state
    h_0    = f(slow)
    h_s+1  = f(LN(slow + h_s A(t)))  for s < S   # LN over each example's features
    h(t+1) = h_S
    A(t+1) = λ A(t) + η h(t+1)ᵀ h(t+1)           # A starts at 0 for every sequence

The memory is carried as a flattened (batch, units²) state. With ``fast_lr=0`` the layer has no
fast memory at all (no A is carried): it is then the RNN + LayerNorm control of the same depth.
"""
from __future__ import annotations

import keras
from keras import ops

from fwcourse.util import validate
from fwcourse.util.numerics import LN_EPSILON


def _check_hyper(units, inner_steps, decay, fast_lr) -> tuple[int, int, float, float]:
    units = validate.positive_int(units, "units")
    inner_steps = validate.positive_int(inner_steps, "inner_steps (S)")
    validate.in_range(decay, "decay (λ)", 0, 1, low_open=True)
    validate.in_range(fast_lr, "fast_lr (η)", 0)
    return units, inner_steps, float(decay), float(fast_lr)


@keras.saving.register_keras_serializable(package="fwcourse")
class FastWeightRNNCell(keras.layers.Layer):
    """One step of the fast-weight RNN; see the module docstring for the equations.

    Args:
        units: H, the number of hidden units.
        inner_steps: S ≥ 1, iterations of the inner loop (the paper finds S = 1 suffices).
        decay: λ in (0, 1], how fast the memory forgets.
        fast_lr: η ≥ 0, the fast learning rate (0: no fast memory).
        activation: f (ReLU in the paper).
        use_bias: whether the slow pre-activation has a bias b.
        layer_norm_epsilon: ε of the LayerNorm.
        kernel_initializer, recurrent_initializer, bias_initializer: for C, W, b.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: for C, W, b.
    """

    def __init__(
        self,
        units: int,
        inner_steps: int = 1,
        decay: float = 0.95,
        fast_lr: float = 0.5,
        activation="relu",
        use_bias: bool = True,
        layer_norm_epsilon: float = LN_EPSILON,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.units, self.inner_steps, self.decay, self.fast_lr = _check_hyper(
            units, inner_steps, decay, fast_lr
        )
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.layer_norm_epsilon = float(validate.in_range(layer_norm_epsilon, "layer_norm_epsilon", 0, low_open=True))
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.has_memory = self.fast_lr > 0
        # the memory A travels flattened, (batch, units²), so that every backend's RNN loop and
        # mask handling treat it like any other state
        self.state_size = [self.units, self.units * self.units] if self.has_memory else [self.units]
        self.output_size = self.units

    def build(self, input_shape) -> None:
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"FastWeightRNNCell inputs must have shape (batch, features) with known features; "
                f"got {tuple(input_shape)}."
            )
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), name="kernel",
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), name="recurrent_kernel",
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
        )
        self.bias = self.add_weight(
            shape=(self.units,), name="bias", initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
        ) if self.use_bias else None
        # named as in the NumPy reference (fwcourse.util.numerics.layer_norm: gain and bias)
        self.ln_gain = self.add_weight(shape=(self.units,), name="ln_gain", initializer="ones")
        self.ln_bias = self.add_weight(shape=(self.units,), name="ln_bias", initializer="zeros")

    def _layer_norm(self, z):
        """:func:`fwcourse.util.numerics.layer_norm` in ``keras.ops``, with the learned gain and bias."""
        # over the feature axis of each example: examples in a batch never mix
        # sums, not ops.mean/ops.var: on JAX (Keras 3.15) those compute float64 input in float32
        n = float(self.units)
        centred = z - ops.sum(z, axis=-1, keepdims=True) / n
        var = ops.sum(ops.square(centred), axis=-1, keepdims=True) / n
        return centred * ops.rsqrt(var + self.layer_norm_epsilon) * self.ln_gain + self.ln_bias

    def call(self, inputs, states, training=False):
        h_prev = states[0]
        slow = ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)
        if self.bias is not None:
            slow = slow + self.bias
        h = self.activation(slow)
        if not self.has_memory:
            for _ in range(self.inner_steps):
                h = self.activation(self._layer_norm(slow))
            return h, [h]
        A = ops.reshape(states[1], (-1, self.units, self.units))
        for _ in range(self.inner_steps):
            read = ops.squeeze(ops.matmul(A, ops.expand_dims(h, -1)), -1)
            h = self.activation(self._layer_norm(slow + read))
        A = self.decay * A + self.fast_lr * ops.expand_dims(h, -1) * ops.expand_dims(h, -2)
        return h, [h, ops.reshape(A, (-1, self.units * self.units))]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    def get_config(self) -> dict:
        ser = keras.initializers.serialize
        reg = keras.regularizers.serialize
        return {
            **super().get_config(),
            "units": self.units,
            "inner_steps": self.inner_steps,
            "decay": self.decay,
            "fast_lr": self.fast_lr,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "kernel_initializer": ser(self.kernel_initializer),
            "recurrent_initializer": ser(self.recurrent_initializer),
            "bias_initializer": ser(self.bias_initializer),
            "kernel_regularizer": reg(self.kernel_regularizer),
            "recurrent_regularizer": reg(self.recurrent_regularizer),
            "bias_regularizer": reg(self.bias_regularizer),
        }


_CELL_KEYS = (
    "units", "inner_steps", "decay", "fast_lr", "activation", "use_bias", "layer_norm_epsilon",
    "kernel_initializer", "recurrent_initializer", "bias_initializer",
    "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
)


@keras.saving.register_keras_serializable(package="fwcourse")
class FastWeightRNN(keras.layers.RNN):
    """The fast-weight RNN of Ba et al. (2016) as a Keras layer, used like ``keras.layers.LSTM``.

    Input (batch, time, features); output (batch, units), or (batch, time, units) with
    ``return_sequences=True``. Padded steps are skipped when the input carries a mask (e.g. from
    ``Embedding(mask_zero=True)``). The cell's arguments are those of :class:`FastWeightRNNCell`.

    Example::

        model = keras.Sequential([
            keras.layers.Embedding(38, 100),
            FastWeightRNN(20, inner_steps=1, decay=0.95, fast_lr=0.5),
            keras.layers.Dense(10, activation="softmax"),
        ])
    """

    def __init__(
        self,
        units: int,
        inner_steps: int = 1,
        decay: float = 0.95,
        fast_lr: float = 0.5,
        activation="relu",
        use_bias: bool = True,
        layer_norm_epsilon: float = LN_EPSILON,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        **kwargs,
    ) -> None:
        cell = FastWeightRNNCell(
            units, inner_steps=inner_steps, decay=decay, fast_lr=fast_lr, activation=activation,
            use_bias=use_bias, layer_norm_epsilon=layer_norm_epsilon,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
            name="fast_weight_rnn_cell",
        )
        super().__init__(
            cell, return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs,
        )

    def build(self, sequences_shape, initial_state_shape=None) -> None:
        if len(sequences_shape) != 3 or sequences_shape[-1] is None:
            raise ValueError(
                f"FastWeightRNN inputs must have shape (batch, time, features) with known "
                f"features; got {tuple(sequences_shape)}."
            )
        super().build(sequences_shape, initial_state_shape)

    @property
    def units(self) -> int:
        return self.cell.units

    @property
    def inner_steps(self) -> int:
        return self.cell.inner_steps

    @property
    def decay(self) -> float:
        return self.cell.decay

    @property
    def fast_lr(self) -> float:
        return self.cell.fast_lr

    def get_config(self) -> dict:
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        return {**config, **{k: cell_config[k] for k in _CELL_KEYS}}

    @classmethod
    def from_config(cls, config: dict) -> "FastWeightRNN":
        return cls(**config)
