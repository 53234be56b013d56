"""The base of the course's Keras RNN layers (fwcourse.recurrent_cell): weights, config, checks."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from fwcourse.recurrent_cell import WEIGHT_SETTINGS, RecurrentCell, RecurrentLayer


class _Cell(RecurrentCell):
    """h(t) = tanh(x C + h(t-1) W [+ b]): the smallest cell on the base."""

    def __init__(self, units, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.units, self.use_bias, self.state_size = units, use_bias, [units]

    def build(self, input_shape):
        self.add_kernels(input_shape, self.units, self.units, self.units if self.use_bias else None)

    def call(self, inputs, states):
        z = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        h = keras.ops.tanh(z if self.bias is None else z + self.bias)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias}


class _Layer(RecurrentLayer):
    cell_keys = ("units", "use_bias")

    def __init__(self, units, use_bias=True, kernel_regularizer=None, **kwargs):
        super().__init__(_Cell(units, use_bias, kernel_regularizer=kernel_regularizer), **kwargs)


def test_weights_config_and_initial_state():
    layer = _Layer(3, use_bias=False, kernel_regularizer="l2")
    out = layer(np.ones((2, 4, 5), "float32"))
    assert out.shape == (2, 3) and layer.cell.bias is None
    assert [w.shape for w in layer.weights] == [(5, 3), (3, 3)]
    assert len(layer.losses) == 1  # the kernel's regulariser reached the weight
    config = layer.get_config()
    assert "cell" not in config and config["units"] == 3 and config["use_bias"] is False
    assert set(WEIGHT_SETTINGS) <= config.keys() and config["kernel_regularizer"] is not None
    again = _Layer.from_config({k: v for k, v in config.items() if k not in WEIGHT_SETTINGS or k == "kernel_regularizer"})
    assert again.units == 3 and isinstance(again.cell.kernel_regularizer, keras.regularizers.L2)
    assert [s.shape for s in layer.cell.get_initial_state(batch_size=2)] == [(2, 3)]


def test_wrong_input_ranks_are_named_by_the_class():
    with pytest.raises(ValueError, match=r"_Layer inputs must have shape \(batch, time, features\)"):
        _Layer(3)(np.ones((2, 5), "float32"))
    with pytest.raises(ValueError, match=r"_Cell inputs must have shape \(batch, features\)"):
        _Cell(3).build((2, 4, 5))


def test_a_layer_must_name_its_cells_arguments():
    with pytest.raises(TypeError, match="cell_keys must name the cell's arguments, units among them"):
        type("Forgetful", (RecurrentLayer,), {})
