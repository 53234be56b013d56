"""What the course's recurrent layers share with ``keras.layers.LSTM``: a cell with a kernel, a
recurrent kernel and a bias (their initializers and regularizers chosen and saved as Keras's own
cells do, zeros as the initial state), and a ``keras.layers.RNN`` over it whose config holds the
cell's arguments, so that the layer is built, saved and loaded like an LSTM.

The fast-weight RNN (:mod:`fwcourse.fwrnn_layer`) and the A-LSTM (:mod:`fwcourse.alstm`) differ
only in their step; this module holds the rest once.
"""
from __future__ import annotations

import keras
from keras import ops

# the arguments of every cell here, with keras.layers.LSTMCell's meaning and defaults
WEIGHT_SETTINGS = (
    "kernel_initializer", "recurrent_initializer", "bias_initializer",
    "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
)


class RecurrentCell(keras.layers.Layer):
    """Base of a cell: ``kernel`` (features, k), ``recurrent_kernel`` (units, r) and ``bias``.

    Args:
        kernel_initializer, recurrent_initializer, bias_initializer: for the kernel, the
            recurrent kernel and the bias (Keras names or objects).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: likewise.

    A subclass sets ``units`` and ``state_size`` and calls :meth:`add_kernels` in its ``build``.
    """

    def __init__(
        self,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def add_kernels(self, input_shape, kernel_columns: int, recurrent_columns: int,
                    bias_columns: int | None = None, bias_initializer=None) -> None:
        """Add ``kernel`` (features, kernel_columns), ``recurrent_kernel`` (units,
        recurrent_columns) and, unless ``bias_columns`` is None, ``bias`` (bias_columns,), which
        starts from ``bias_initializer`` when one is given (e.g. a forget gate's bias of 1)."""
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} inputs must have shape (batch, features) with known features; "
                f"got {tuple(input_shape)}."
            )
        self.kernel = self.add_weight(
            shape=(input_shape[-1], kernel_columns), name="kernel",
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, recurrent_columns), name="recurrent_kernel",
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
        )
        self.bias = None if bias_columns is None else self.add_weight(
            shape=(bias_columns,), name="bias", initializer=bias_initializer or self.bias_initializer,
            regularizer=self.bias_regularizer,
        )

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    def get_config(self) -> dict:
        serialize = {"initializer": keras.initializers.serialize, "regularizer": keras.regularizers.serialize}
        return {**super().get_config(),
                **{k: serialize[k.rsplit("_", 1)[1]](getattr(self, k)) for k in WEIGHT_SETTINGS}}


class RecurrentLayer(keras.layers.RNN):
    """Base of a ``keras.layers.RNN`` over a :class:`RecurrentCell` whose config holds the cell's
    arguments (``cell_keys``) instead of the cell, as ``keras.layers.LSTM``'s does."""

    cell_keys: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        # without them the config would save no units, and from_config could not rebuild the layer
        if "units" not in cls.cell_keys:
            raise TypeError(f"{cls.__name__}.cell_keys must name the cell's arguments, units among them.")

    def build(self, sequences_shape, initial_state_shape=None) -> None:
        if len(sequences_shape) != 3 or sequences_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} inputs must have shape (batch, time, features) with known "
                f"features; got {tuple(sequences_shape)}."
            )
        super().build(sequences_shape, initial_state_shape)

    @property
    def units(self) -> int:
        return self.cell.units

    def get_config(self) -> dict:
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        return {**config, **{k: cell_config[k] for k in self.cell_keys + WEIGHT_SETTINGS}}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)
