"""Keras 3 fast-weight RNN layer (Ba et al. 2016), written with ``keras.ops`` only.

``FastWeightRNN`` is used like ``keras.layers.LSTM``: it is a ``keras.layers.RNN`` with a
:class:`FastWeightRNNCell`, so ``return_sequences``, ``return_state``, ``go_backwards``,
``stateful``, ``unroll`` and masking of padded steps (a masked step leaves the state and the
memory unchanged) work as for any Keras RNN, on the TensorFlow and JAX backends (the two the tests run).

One step, row-vector convention (``W`` is the paper's Wᵀ), Ba et al. (2016) eqs. (1)-(2)::

    slow   = x(t) C + h(t) W + b                 # the slow terms use h(t), the previous final state
    h_0    = f(slow)
    h_s+1  = f(LN(slow + h_s A(t)))  for s < S   # LN over each example's features
    h(t+1) = h_S
    A(t+1) = λ A(t) + η h(t+1)ᵀ h(t+1)           # A starts at 0 for every sequence

The memory is a flattened (batch, units²) state (what ``return_state`` and ``stateful`` see).
Inside its loop over time the layer keeps it in whichever of two equivalent forms costs fewer
FLOPs for the sequence length T (:func:`memory_form`, counts in :func:`step_flops`), the two
forms of the NumPy reference :mod:`fwcourse.fwrnn` (its ``form`` argument): the matrix A(t),
O(units²) per step, or the last T states, read by attention
``h_s A(t) = Σ_τ η λ^(t−τ) (h_s·h(τ)) h(τ)``, O(T·units) per step, with A(T) built once at the
end. The input term ``x C + b`` is computed for all steps in one product
before the loop. With ``fast_lr=0`` the layer has no fast memory at all (no A is carried): it
is then the RNN + LayerNorm control of the same depth.
"""
from __future__ import annotations

import weakref
from typing import NamedTuple

import keras
import numpy as np
from keras import ops
# the loop over time that keras.layers.RNN.inner_loop runs (masking, go_backwards, unroll); it
# is not exported under keras.backend
from keras.src.backend import rnn as backend_rnn

from fwcourse.recurrent_cell import RecurrentCell, RecurrentLayer
from fwcourse.util import validate
from fwcourse.util.numerics import LN_EPSILON


def _check_hyper(units, inner_steps, decay, fast_lr) -> tuple[int, int, float, float]:
    units = validate.positive_int(units, "units")
    inner_steps = validate.positive_int(inner_steps, "inner_steps (S)")
    validate.in_range(decay, "decay (λ)", 0, 1, low_open=True)
    validate.in_range(fast_lr, "fast_lr (η)", 0)
    return units, inner_steps, float(decay), float(fast_lr)


@keras.saving.register_keras_serializable(package="fwcourse")
class FastWeightRNNCell(RecurrentCell):
    """One step of the fast-weight RNN; see the module docstring for the equations.

    Args:
        units: H, the number of hidden units.
        inner_steps: S ≥ 1, iterations of the inner loop (the paper finds S = 1 suffices).
        decay: λ in (0, 1], how fast the memory forgets.
        fast_lr: η ≥ 0, the fast learning rate (0: no fast memory).
        activation: f (ReLU in the paper).
        use_bias: whether the slow pre-activation has a bias b.
        layer_norm_epsilon: ε of the LayerNorm.
        **kwargs: the initializers and regularizers of C (kernel), W (recurrent kernel) and b
            (bias), as for :class:`fwcourse.recurrent_cell.RecurrentCell`, and a Layer's arguments.
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
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.units, self.inner_steps, self.decay, self.fast_lr = _check_hyper(
            units, inner_steps, decay, fast_lr
        )
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.layer_norm_epsilon = float(validate.in_range(layer_norm_epsilon, "layer_norm_epsilon", 0, low_open=True))
        self.has_memory = self.fast_lr > 0
        # the memory A travels flattened, (batch, units²), so that every backend's RNN loop and
        # mask handling treat it like any other state
        self.state_size = [self.units, self.units * self.units] if self.has_memory else [self.units]
        self.output_size = self.units

    def build(self, input_shape) -> None:
        self.add_kernels(input_shape, self.units, self.units, self.units if self.use_bias else None)
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

    def project(self, inputs):
        """The input term ``x C + b`` of the slow pre-activation, for (..., features) inputs.

        It does not depend on the state, so :class:`FastWeightRNN` computes it for all the steps
        of a sequence in one product before its loop over time.
        """
        projected = ops.matmul(inputs, self.kernel)
        return projected + self.bias if self.bias is not None else projected

    def _inner_loop(self, projected, h_prev, read):
        """``h(t+1)`` from ``x C + b`` and ``h(t)``: S times ``h_s+1 = f(LN(slow + read(h_s)))``.

        ``read`` is ``h_s ↦ h_s A(t)`` in whichever form the memory is kept, or None without memory.
        """
        slow = projected + ops.matmul(h_prev, self.recurrent_kernel)
        h = self.activation(slow)
        for _ in range(self.inner_steps):
            h = self.activation(self._layer_norm(slow if read is None else slow + read(h)))
        return h

    def projected_step(self, projected, states):
        """One step from the projected input ``x(t) C + b``, the memory kept as A(t) (eqs. 1-2)."""
        if not self.has_memory:
            h = self._inner_loop(projected, states[0], None)
            return h, [h]
        A = ops.reshape(states[1], (-1, self.units, self.units))
        h = self._inner_loop(projected, states[0],
                             lambda h_s: ops.squeeze(ops.matmul(A, ops.expand_dims(h_s, -1)), -1))
        A = self.decay * A + self.fast_lr * ops.expand_dims(h, -1) * ops.expand_dims(h, -2)
        return h, [h, ops.reshape(A, (-1, self.units * self.units))]

    def attention_step(self, projected, states, weights):
        """One step from ``x(t) C + b`` with the memory kept as the states written to it.

        ``states`` are h(t) and ``past`` (batch, T, units), the last T states written, oldest
        first, zero where nothing is written yet. The read is the attention form
        ``A(t) h_s = Σ_j w_j past_j (past_j·h_s)`` with ``weights`` w_j = η λ^(T−1−j) (T,): a
        state written k steps ago sits in slot T−1−k and has decayed by λ^k. O(T·units) per read
        instead of the matrix form's O(units²).
        """
        h_prev, past = states
        h = self._inner_loop(
            projected, h_prev,
            lambda h_s: ops.squeeze(ops.matmul(
                ops.expand_dims(weights * ops.squeeze(ops.matmul(past, ops.expand_dims(h_s, -1)), -1), 1),
                past), 1))
        # shifting the register ages every state by one step; a masked step keeps the old states
        # in Keras' loop, so it neither writes nor ages the memory
        return h, [h, ops.concatenate([past[:, 1:], ops.expand_dims(h, 1)], axis=1)]

    def call(self, inputs, states, training=False):
        return self.projected_step(self.project(inputs), states)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "inner_steps": self.inner_steps,
            "decay": self.decay,
            "fast_lr": self.fast_lr,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }


FORMS = ("matrix", "attention")


def step_flops(units: int, features: int, steps: int, inner_steps: int = 1,
               form: str = "matrix") -> int:
    """Forward FLOPs of one time step for one example, as :class:`FastWeightRNN` computes it.

    A multiply-add counts 2, any other elementwise operation 1; R = ``units``, D = ``features``,
    S = ``inner_steps``, T = ``steps`` (the sequence length):

    * input term ``x C + b``: 2DR + R; slow recurrent term ``h(t) W``: 2R² + R; h_0 = f(slow): R;
    * each inner step: the read ``A(t) h_s``, then ``f(LN(slow + read))``: 1 + 7 + 1 = 9R;
    * ``form="matrix"``: the read is 2R²; the write ``λ A + η h hᵀ`` is 3R² + R;
    * ``form="attention"``: the read runs over all T slots of the register (zeros where nothing
      is written yet), 2TR (scores) + T (weights) + 2TR (sum); the write shifts the register,
      no arithmetic (see :meth:`FastWeightRNNCell.attention_step`).

    So at S = 1 and D = R the matrix form costs about 9R² and the attention form 4R² + 4TR,
    against 16R² for an LSTM (:func:`lstm_step_flops`: eight R×R products).
    """
    R, D = validate.positive_int(units, "units"), validate.positive_int(features, "features")
    T, S = validate.positive_int(steps, "steps"), validate.positive_int(inner_steps, "inner_steps (S)")
    common = 2 * D * R + R + 2 * R * R + 2 * R + 9 * R * S
    if form == "matrix":
        return common + 2 * R * R * S + 3 * R * R + R
    if form == "attention":
        return common + S * (4 * T * R + T)
    raise ValueError(f"form must be one of {FORMS}; got {form!r}.")


def lstm_step_flops(units: int, features: int) -> int:
    """Forward FLOPs of one step of ``keras.layers.LSTM`` for one example, counted as
    :func:`step_flops` counts: the four gates' input and recurrent products and bias, 8DR + 8R² + 4R;
    three sigmoids and two tanh, 5R; ``c = f c + i g``, 3R; ``h = o tanh(c)``, R."""
    units, features = validate.positive_int(units, "units"), validate.positive_int(features, "features")
    return 8 * features * units + 8 * units * units + 13 * units


def memory_form(units: int, features: int, steps: int | None, inner_steps: int = 1) -> str:
    """The form of the memory with fewer FLOPs (:func:`step_flops`) for sequences of ``steps``.

    ``"attention"`` while about 4T < 5R at S = 1, else ``"matrix"``; ``"matrix"`` when the length
    is not known when the loop is built. Both forms compute the same outputs; the attention form
    also keeps O(T·R) instead of O(R²) per step for the backward pass, so where it has fewer
    FLOPs it moves less memory too.
    """
    if steps is None:
        return "matrix"
    costs = {form: step_flops(units, features, steps, inner_steps, form) for form in FORMS}
    return min(FORMS, key=costs.__getitem__)


# The longest sequence whose loop FastWeightRNN(jit_compile="auto") has TensorFlow compile with
# XLA: the loop is unrolled, and its compile time grows with the number of steps
# (``python benchmarks/bench_fwrnn.py`` measures it).
XLA_MAX_STEPS = 64


def _check_jit_compile(jit_compile) -> None:
    # not `in (True, False, "auto")`: 1, 0 and np.True_ compare equal to the booleans
    if not (isinstance(jit_compile, bool) or (isinstance(jit_compile, str) and jit_compile == "auto")):
        raise ValueError(f"jit_compile must be True, False or 'auto'; got {jit_compile!r}.")


def compiles_own_loop(steps: int | None, jit_compile: bool | str = "auto") -> bool:
    """Whether :class:`FastWeightRNN` compiles its loop over ``steps`` time steps with XLA itself.

    On TensorFlow, which runs a graph op by op unless the model is compiled with XLA (and Keras
    leaves XLA off on a CPU), the memory's many small per-step products cost the layer 2 to 2.5
    times an LSTM's training step; compiled, about as much as an LSTM. The layer compiles only
    inside a traced function (``fit``, ``predict``, ``tf.function``), where the compile is paid
    once, and not where XLA compiles the whole step already. It unrolls the loop (TensorFlow
    cannot pass the gradient of a while loop across an XLA boundary), so only for a known number
    of steps: with ``jit_compile="auto"`` up to :data:`XLA_MAX_STEPS`, with ``True`` any, with
    ``False`` none. JAX compiles the whole step anyway.
    """
    _check_jit_compile(jit_compile)
    if not jit_compile or keras.backend.backend() != "tensorflow" or steps is None:
        return False
    if jit_compile == "auto" and steps > XLA_MAX_STEPS:
        return False
    import tensorflow as tf
    from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext

    # inside a function XLA compiles already (a model compiled with jit_compile=True) there is
    # nothing to gain, and a nested compiled function has XLA recompile the step on every call
    return not tf.executing_eagerly() and not GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


class LoopSettings(NamedTuple):
    """What :class:`FastWeightRNN`'s loop over time depends on besides its tensors: a compiled
    loop is traced once per layer and value of these."""
    memory_starts_empty: bool  # A(0) = 0, which the attention form assumes
    go_backwards: bool
    return_sequences: bool
    zero_output_for_mask: bool
    unroll: bool


# one compiled loop per layer, dropped with the layer: its traces hold the layer's variables
_COMPILED_LOOPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled_loop(layer: "FastWeightRNN"):
    """``layer._loop`` compiled by XLA, as a TensorFlow function that holds the layer weakly."""
    if layer not in _COMPILED_LOOPS:
        import tensorflow as tf

        ref = weakref.ref(layer)
        _COMPILED_LOOPS[layer] = tf.function(
            lambda sequences, initial_state, mask, settings: ref()._loop(sequences, initial_state, mask, settings),
            jit_compile=True, autograph=False)
    return _COMPILED_LOOPS[layer]


@keras.saving.register_keras_serializable(package="fwcourse")
class FastWeightRNN(RecurrentLayer):
    """The fast-weight RNN of Ba et al. (2016) as a Keras layer, used like ``keras.layers.LSTM``.

    Input (batch, time, features); output (batch, units), or (batch, time, units) with
    ``return_sequences=True``. Padded steps are skipped when the input carries a mask (e.g. from
    ``Embedding(mask_zero=True)``). The cell's arguments are those of :class:`FastWeightRNNCell`;
    ``jit_compile`` says whether, on TensorFlow, the layer compiles its loop over time with XLA
    (:func:`compiles_own_loop`).

    Example::

        model = keras.Sequential([
            keras.layers.Embedding(38, 100),
            FastWeightRNN(20, inner_steps=1, decay=0.95, fast_lr=0.5),
            keras.layers.Dense(10, activation="softmax"),
        ])
    """

    cell_keys = ("units", "inner_steps", "decay", "fast_lr", "activation", "use_bias", "layer_norm_epsilon")

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
        jit_compile: bool | str = "auto",
        **kwargs,
    ) -> None:
        _check_jit_compile(jit_compile)
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
        self.jit_compile = jit_compile
        # set by call for its inner_loop: whether A(0) = 0, as the attention form assumes
        self._memory_starts_empty = False

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self._memory_starts_empty = initial_state is None
        try:
            return super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        finally:
            self._memory_starts_empty = False

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """The loop over time, with ``x C + b`` computed for all steps in one product and the
        memory kept in the cheaper of its two forms (:func:`memory_form`); on TensorFlow compiled
        with XLA where it can be (:func:`compiles_own_loop`)."""
        if self.stateful:
            # A(0) is carried over from the last batch, so the matrix form, in Keras' own loop
            # (which also guards the PyTorch backend's in-place state updates)
            return super().inner_loop(sequences, initial_state, mask, training=training)
        settings = LoopSettings(self._memory_starts_empty, self.go_backwards, self.return_sequences,
                                self.zero_output_for_mask, self.unroll)
        # Keras' unrolled TensorFlow loop zeroes the outputs of a backwards pass with the mask
        # unreversed (Bidirectional sets zero_output_for_mask), so that case keeps the while loop
        keras_bug = mask is not None and self.go_backwards and self.zero_output_for_mask
        if compiles_own_loop(sequences.shape[1], self.jit_compile) and not keras_bug:
            return _compiled_loop(self)(sequences, initial_state, mask, settings._replace(unroll=True))
        return self._loop(sequences, initial_state, mask, settings)

    def _loop(self, sequences, initial_state, mask, settings: "LoopSettings"):
        cell = self.cell
        projected = cell.project(sequences)
        steps = sequences.shape[1]
        attention = (cell.has_memory and settings.memory_starts_empty
                     and memory_form(cell.units, sequences.shape[-1], steps, cell.inner_steps) == "attention")
        if attention:
            weights = ops.convert_to_tensor(
                cell.fast_lr * cell.decay ** np.arange(steps - 1, -1, -1), dtype=projected.dtype)
            initial_state = [initial_state[0], ops.zeros_like(projected)]
        last_output, outputs, states = backend_rnn(
            (lambda x, states: cell.attention_step(x, states, weights)) if attention else cell.projected_step,
            projected, initial_state, go_backwards=settings.go_backwards, mask=mask,
            unroll=settings.unroll, input_length=steps, zero_output_for_mask=settings.zero_output_for_mask,
            return_all_outputs=settings.return_sequences,
        )
        if attention:
            # A(T) = Σ_j w_j past_jᵀ past_j, built once for return_state and stateful layers (and
            # pruned by the compiler when neither uses it)
            h, past = states
            A = ops.einsum("btr,bts->brs", past * ops.expand_dims(weights, -1), past)
            states = [h, ops.reshape(A, (-1, cell.units * cell.units))]
        return last_output, outputs, states

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
        return {**super().get_config(), "jit_compile": self.jit_compile}
