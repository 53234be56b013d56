"""Keras 3 Associative LSTM (Danihelka, Wayne, Uria, Kalchbrenner & Graves, ICML 2016), written
with ``keras.ops`` only: the "A-LSTM" baseline of Ba et al. (2016), Table 1.

In the associative-retrieval experiment (Ba et al. 2016, section 4.1, Table 1) fast weights are
compared with the IRNN, the LSTM and the A-LSTM, the associative LSTM of Danihelka et al. (2016):
an LSTM whose cell is a holographic associative memory, a complex-valued vector that stores values
bound to keys by complex multiplication and reads them back with another key, kept in several
redundant copies to reduce the noise of retrieval. It is not an LSTM with soft attention over its
stored past states (Bahdanau et al. 2015), which is what fast weights approximate without storing
the states. Ba et al. give no settings for it beyond R, the number of hidden units.

A hidden state of R real units holds R/2 complex units, real parts first: ``h = [Re h, Im h]``.
One step, row-vector convention, as in the equations of the Associative LSTM of Danihelka et al.
(2016), with N copies of the memory::

    [ĝ_f, ĝ_i, ĝ_o, r̂_i, r̂_o] = x(t) W_x + h(t-1) W_h + b      # the gates: R/2 each; keys: R each
    û                         = x(t) W_u + b_u                  # no recurrent term (W_hu = 0)
    g_f, g_i, g_o = σ(ĝ_f), σ(ĝ_i), σ(ĝ_o)                      # one gate per complex unit
    r_i, r_o, u   = bound(r̂_i), bound(r̂_o), bound(û)
    c_s(t) = g_f ⊙ c_s(t-1) + (P_s r_i) ⊛ (g_i ⊙ u)             # copy s = 1..N of the memory
    h(t)   = g_o ⊙ bound( (1/N) Σ_s (P_s r_o) ⊛ c_s(t) )

⊛ is the element-wise complex product, ``bound(z) = z / max(1, |z|)`` element-wise (the modulus of
each complex unit at most 1), and P_s is a fixed random permutation of the complex units, the same
for the input and the output key of copy s: a value stored under a key comes back from every copy,
while the interference of the other stored pairs is permuted differently in each copy and averages
out. The memory copies start at 0 for every sequence.

Choices of ours, where Ba et al. give no settings for their A-LSTM:

* û has no recurrent term (W_hu = 0), unlike the LSTM's candidate input: the value stored under
  a key is a function of the character just read, which is what the retrieval task stores, and
  the recurrent kernel has 3.5 R columns, fewer than the LSTM's 4 R.
* N = 4 copies by default. Danihelka et al. show that the noise of a retrieval falls as copies
  are added; 4 keeps the memory at 4 R numbers an example (``copies`` changes it).
* One gate per complex unit, shared by its real and imaginary parts: a gate scales a complex
  unit without turning its phase, as in Danihelka et al.
* The forget gate's bias starts at 1 (``unit_forget_bias``), as ``keras.layers.LSTM`` does, so
  the A-LSTM and the LSTM of Table 1 start alike.

In the weights, ``kernel`` (features, 4.5 R) = [W_x | W_u], ``recurrent_kernel`` (R, 3.5 R) = W_h
and ``bias`` (4.5 R) = [b | b_u], each in the order f, i, o, r_i, r_o (, u) above.
``AssociativeLSTM`` is a ``keras.layers.RNN``: ``return_sequences``, ``return_state``, masking of
padded steps and the other RNN options work as for ``keras.layers.LSTM``.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from fwcourse.recurrent_cell import RecurrentCell, RecurrentLayer
from fwcourse.util import validate


def _check_hyper(units, copies) -> tuple[int, int]:
    units = validate.positive_int(units, "units")
    if units % 2:
        raise ValueError(f"units must be even (R/2 complex units, real and imaginary parts); got {units}.")
    return units, validate.positive_int(copies, "copies")


def _bound(z, half: int):
    """Danihelka et al.'s ``bound``: each complex unit (z[..., k], z[..., k + half]) divided by
    max(1, its modulus)."""
    re, im = z[..., :half], z[..., half:]
    # sqrt(max(1, |z|²)), not max(1, |z|): the same value, but the gradient of a unit that is
    # exactly 0 (zero input and zero bias) does not meet sqrt'(0) = inf, which is NaN on JAX
    scale = ops.sqrt(ops.maximum(re * re + im * im, 1.0))
    return z / ops.concatenate([scale, scale], axis=-1)


def _complex_mul(a, b, half: int):
    """Element-wise complex product of two [real parts, imaginary parts] tensors."""
    ar, ai, br, bi = a[..., :half], a[..., half:], b[..., :half], b[..., half:]
    return ops.concatenate([ar * br - ai * bi, ar * bi + ai * br], axis=-1)


@keras.saving.register_keras_serializable(package="fwcourse")
class AssociativeLSTMCell(RecurrentCell):
    """One step of the Associative LSTM; see the module docstring for the equations.

    Args:
        units: R, the number of real hidden units (even: R/2 complex units).
        copies: N ≥ 1, redundant copies of the associative memory (Ba et al. do not give theirs).
        permutation_seed: seed of the copies' fixed permutations P_s; ``None`` draws one from
            NumPy's global generator (so ``keras.utils.set_random_seed`` fixes it). It is part of
            the config: a saved layer is rebuilt with the same permutations.
        unit_forget_bias: add 1 to the forget gate's bias at initialisation, as
            ``keras.layers.LSTM`` does by default.
        **kwargs: the initializers and regularizers of the kernel, the recurrent kernel and the
            bias, as for :class:`fwcourse.recurrent_cell.RecurrentCell`, and a Layer's arguments.

    State: ``[h (batch, R), memory (batch, N·R)]``, the N copies of the memory flattened.
    """

    def __init__(
        self,
        units: int,
        copies: int = 4,
        permutation_seed: int | None = None,
        unit_forget_bias: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.units, self.copies = _check_hyper(units, copies)
        self.permutation_seed = (int(np.random.randint(2**31 - 1)) if permutation_seed is None
                                 else validate.positive_int(permutation_seed, "permutation_seed", minimum=0))
        self.unit_forget_bias = bool(unit_forget_bias)
        half = self.units // 2
        perms = np.random.default_rng(self.permutation_seed).permuted(
            np.tile(np.arange(half), (self.copies, 1)), axis=1)
        # P_s acts on complex units: the real and the imaginary part move together
        self.permutations = np.concatenate([perms, perms + half], axis=1)
        self.state_size = [self.units, self.copies * self.units]
        self.output_size = self.units

    def build(self, input_shape) -> None:
        R, half = self.units, self.units // 2

        def forget_bias_one(shape, dtype=None):
            forget = keras.initializers.Ones()((half,), dtype=dtype)
            return ops.concatenate([forget, self.bias_initializer((shape[0] - half,), dtype=dtype)])

        self.add_kernels(input_shape, 3 * half + 3 * R, 3 * half + 2 * R, 3 * half + 3 * R,
                         forget_bias_one if self.unit_forget_bias else None)

    def call(self, inputs, states, training=False):
        R, half = self.units, self.units // 2
        h_prev, memory = states[0], ops.reshape(states[1], (-1, self.copies, R))
        z = ops.matmul(inputs, self.kernel) + self.bias
        keyed = z[:, :3 * half + 2 * R] + ops.matmul(h_prev, self.recurrent_kernel)
        g_f, g_i, g_o = (ops.tile(ops.sigmoid(keyed[:, k * half:(k + 1) * half]), (1, 2)) for k in range(3))
        r_i = _bound(keyed[:, 3 * half:3 * half + R], half)
        r_o = _bound(keyed[:, 3 * half + R:], half)
        u = _bound(z[:, 3 * half + 2 * R:], half)
        r_i, r_o = ops.take(r_i, self.permutations, axis=1), ops.take(r_o, self.permutations, axis=1)
        memory = (ops.expand_dims(g_f, 1) * memory
                  + _complex_mul(r_i, ops.expand_dims(g_i * u, 1), half))
        # a sum over the copies divided by N, not ops.mean: on JAX (Keras 3.15) that computes
        # float64 input in float32
        read = ops.sum(_complex_mul(r_o, memory, half), axis=1) / float(self.copies)
        h = g_o * _bound(read, half)
        return h, [h, ops.reshape(memory, (-1, self.copies * R))]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "copies": self.copies,
            "permutation_seed": self.permutation_seed,
            "unit_forget_bias": self.unit_forget_bias,
        }


@keras.saving.register_keras_serializable(package="fwcourse")
class AssociativeLSTM(RecurrentLayer):
    """The Associative LSTM of Danihelka et al. (2016) as a Keras layer, used like
    ``keras.layers.LSTM``: Ba et al.'s (2016) A-LSTM baseline.

    Input (batch, time, features); output (batch, units), or (batch, time, units) with
    ``return_sequences=True``. The cell's arguments are those of :class:`AssociativeLSTMCell`.

    Example::

        model = keras.Sequential([
            keras.layers.Embedding(38, 100),
            AssociativeLSTM(20, copies=4),
            keras.layers.Dense(10),
        ])
    """

    cell_keys = ("units", "copies", "permutation_seed", "unit_forget_bias")

    def __init__(
        self,
        units: int,
        copies: int = 4,
        permutation_seed: int | None = None,
        unit_forget_bias: bool = True,
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
        cell = AssociativeLSTMCell(
            units, copies=copies, permutation_seed=permutation_seed, unit_forget_bias=unit_forget_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
            name="associative_lstm_cell",
        )
        super().__init__(
            cell, return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs,
        )

    @property
    def copies(self) -> int:
        return self.cell.copies

    @property
    def permutations(self) -> np.ndarray:
        """(copies, units) column indices: copy s reads a key k as ``k[..., permutations[s]]``."""
        return self.cell.permutations
