"""Fast Weight Layers (Clark, Guu, Chang, Pasupat, Hinton & Norouzi, EMNLP 2022), as a Keras 3 layer.

A Fast Weight Layer (FWL) sits between the body of a language model and its softmax. For every
position t it returns the output the block would give **after one gradient step on the LM loss of
the tokens before t**, taken at the slow weights θ:

.. math::  \\text{logits}_t = f\\big(x_t;\\ \\theta - \\eta \\odot \\nabla_\\theta L_{<t}\\big),
           \\qquad L_{<t} = \\sum_{s<t} c_s\\, \\mathrm{CE}(f(x_s; \\theta), y_s)

with one learned step size per fast-updated parameter (η initialised to 0.01) and loss weights
:math:`c_s = w_s / N`. All positions are computed in parallel and without materialising any
per-position weights, because the gradient a dense layer receives from one token is rank one,
:math:`\\nabla_W = \\sum_s x_s^\\top \\delta_s`, so

.. math::  x_t \\big(W - \\eta \\sum_{s<t} x_s^\\top \\delta_s\\big)
           = x_t W - \\eta \\sum_{s<t} (x_t \\cdot x_s)\\, \\delta_s

is causal un-normalised linear attention (query = the fast-pass input, key = the slow-pass input,
value = the upstream gradient δ), computed with :func:`fwcourse.chunked_attention.mixed_chunk_attention`.
Bias and LayerNorm-offset updates are exclusive cumulative sums of δ; the LayerNorm-scale update is
the exclusive cumulative sum of :math:`\\hat z_s \\odot \\delta_s` (computed in chunks too: a running sum is
linear attention with all scores 1).

The block (the README's "fast weight block"): Dense(d → 4·size) → squared ReLU → Dense(4·size → size)
→ LayerNorm → unembedding Dense(size → vocab_size). Kernels, biases and the LayerNorm scale/offset
are fast-updated (six step sizes); the unembedding is not. The inner gradient is written out in
``keras.ops`` (no ``GradientTape``), so the layer runs on every Keras backend, and training
differentiates through it (the step sizes and slow weights learn to make the updates useful).

Differences from the original code, on purpose:

* **Inner-loss normaliser.** The original divides by Σ weights over the **whole batch**, so a
  sequence's updates depend on the other sequences and on their padding. The default here,
  ``loss_normalization="sequence"``, uses :math:`N_i = \\sum_t w_{i,t}` of each sequence on its own
  (a sequence gives the same output alone or in any batch); ``"batch"`` reproduces the original
  exactly. Either way N includes the weights of later positions (they are known in advance: 0 only
  for padding and the last position), while the loss terms used at t are those of positions < t.
* **Any T.** T need not be a multiple of ``attn_chunks``: the attention pads internally.
* **LayerNorm epsilon** (1e-6) in the variance, as in ``keras.layers.LayerNormalization``.
* **Keras 3**, mixed precision (softmax and LayerNorm statistics in float32), integer labels (no
  [B, T, V] one-hot input needed), serialisable, and validated inputs.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from fwcourse.chunked_attention import mixed_chunk_attention
from fwcourse.transformer import causal_mask
from fwcourse.util import validate

__all__ = ["FWLBlock", "make_labels", "LOSS_NORMALIZATIONS", "FAST_PARAMS"]

LOSS_NORMALIZATIONS = ("sequence", "batch")
# The fast-updated parameters, in the order of the block; each has its own learned step size.
FAST_PARAMS = ("kernel1", "bias1", "kernel2", "bias2", "ln_scale", "ln_offset")


def make_labels(tokens, vocab_size: int | None = None, mask=None):
    """Next-token labels and loss weights for a batch of token ids ``tokens`` [B, T].

    ``labels[:, t] = tokens[:, t + 1]`` (rolled, so the last label is ``tokens[:, 0]``, a dummy),
    and ``weights`` is 1 except at the last position, which has no next token. With ``mask`` [B, T]
    (1 for real tokens, 0 for padding) a position counts only when it and its label are real.

    Args:
        tokens: integer token ids [B, T].
        vocab_size: if given, labels are one-hot [B, T, vocab_size] (the original README's form);
            otherwise integer ids [B, T], which :class:`FWLBlock` also accepts.
        mask: optional [B, T] of 0/1.

    Returns:
        ``(labels, weights)``; weights are float32 [B, T].
    """
    if len(tokens.shape) != 2:
        raise ValueError(f"tokens must have shape [batch, time]; got {tuple(tokens.shape)}.")
    if "int" not in str(getattr(tokens, "dtype", "")):
        raise TypeError(f"tokens must be integer token ids; got dtype {tokens.dtype}.")
    labels = ops.roll(tokens, -1, axis=1)
    length = ops.shape(tokens)[1]
    weights = ops.cast(ops.arange(length) < length - 1, "float32")[None, :] * ops.ones_like(
        ops.cast(tokens, "float32")
    )
    if mask is not None:
        if tuple(mask.shape) != tuple(tokens.shape):
            raise ValueError(
                f"mask must have the shape of tokens {tuple(tokens.shape)}; got {tuple(mask.shape)}."
            )
        mask = ops.cast(mask, "float32")
        weights = weights * mask * ops.roll(mask, -1, axis=1)
    if vocab_size is not None:
        validate.positive_int(vocab_size, "vocab_size")
        labels = ops.one_hot(labels, vocab_size)
    return labels, weights


def _concrete(value) -> np.ndarray | None:
    """The NumPy value of an eager tensor or array; None for symbolic ones (traced, functional)."""
    try:
        arr = np.asarray(ops.convert_to_numpy(value))
    except Exception:  # a KerasTensor, tf.function tensor or jax tracer has no value yet
        return None
    return arr.astype(np.float32) if arr.dtype.name == "bfloat16" else arr


@keras.saving.register_keras_serializable(package="fwcourse")
class FWLBlock(keras.layers.Layer):
    """A Fast Weight Layer block: logits at t after one gradient step on the loss of tokens < t.

    Args:
        size: block width; Dense(d → 4·size) → relu² → Dense(4·size → size) → LayerNorm → unembed.
        vocab_size: number of tokens V.
        attn_chunks: chunks G of the mixed-chunk attention (16 suits T = 4096; any T is accepted).
        loss_normalization: ``"sequence"`` (default: each sequence's inner loss is
            Σ_t w·CE / Σ_t w over that sequence alone) or ``"batch"`` (Σ over the whole batch, the
            original's normaliser, which couples the sequences of a batch).
        step_size_init: initial value of the six learned step sizes (the paper: 0.01).
        epsilon: LayerNorm variance epsilon.

    Call with ``x`` [B, T, d], ``labels`` (one-hot [B, T, V] or integer ids [B, T]) and ``weights``
    [B, T] in [0, 1] (0 for padding and for the last position; see :func:`make_labels`).
    Returns logits [B, T, V]. Position 0 (no earlier tokens) gets the slow output (to round-off).
    """

    def __init__(
        self,
        size: int,
        vocab_size: int,
        attn_chunks: int = 1,
        loss_normalization: str = "sequence",
        step_size_init: float = 0.01,
        epsilon: float = 1e-6,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.size = validate.positive_int(size, "size")
        self.vocab_size = validate.positive_int(vocab_size, "vocab_size")
        self.attn_chunks = validate.positive_int(attn_chunks, "attn_chunks")
        self.loss_normalization = validate.choice(loss_normalization, "loss_normalization",
                                                  LOSS_NORMALIZATIONS)
        self.step_size_init = float(validate.in_range(step_size_init, "step_size_init"))
        self.epsilon = float(validate.in_range(epsilon, "epsilon", 0, low_open=True))

    def build(self, x_shape, labels_shape=None, weights_shape=None) -> None:
        d = x_shape[-1]
        if d is None:
            raise ValueError(f"x must have a known feature size (last axis); got shape {tuple(x_shape)}.")
        hidden = 4 * self.size
        dense = dict(initializer="glorot_uniform")
        self.kernel1 = self.add_weight(shape=(d, hidden), name="kernel1", **dense)
        self.bias1 = self.add_weight(shape=(hidden,), name="bias1", initializer="zeros")
        self.kernel2 = self.add_weight(shape=(hidden, self.size), name="kernel2", **dense)
        self.bias2 = self.add_weight(shape=(self.size,), name="bias2", initializer="zeros")
        self.ln_scale = self.add_weight(shape=(self.size,), name="ln_scale", initializer="ones")
        self.ln_offset = self.add_weight(shape=(self.size,), name="ln_offset", initializer="zeros")
        self.out_kernel = self.add_weight(shape=(self.size, self.vocab_size), name="out_kernel", **dense)
        self.out_bias = self.add_weight(shape=(self.vocab_size,), name="out_bias", initializer="zeros")
        init = keras.initializers.Constant(self.step_size_init)
        self.step_sizes = {
            p: self.add_weight(shape=(), name=f"step_size_{p}", initializer=init) for p in FAST_PARAMS
        }
        self.input_dim = d

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "size": self.size,
            "vocab_size": self.vocab_size,
            "attn_chunks": self.attn_chunks,
            "loss_normalization": self.loss_normalization,
            "step_size_init": self.step_size_init,
            "epsilon": self.epsilon,
        }

    def compute_output_shape(self, x_shape, labels_shape=None, weights_shape=None):
        return (*x_shape[:-1], self.vocab_size)

    # -- input checks ---------------------------------------------------------------------------
    def _check_inputs(self, x, labels, weights) -> bool:
        """Validate shapes (always) and values (when the inputs are concrete); True for int labels."""
        if len(x.shape) != 3:
            raise ValueError(f"x must have shape [batch, time, features]; got {tuple(x.shape)}.")
        if x.shape[-1] is not None and x.shape[-1] != self.input_dim:
            raise ValueError(
                f"x must have {self.input_dim} features (the size this layer was built with); "
                f"got shape {tuple(x.shape)}."
            )
        integer = len(labels.shape) == 2
        if integer and "int" not in str(labels.dtype):
            raise TypeError(
                f"labels of shape [batch, time] must be integer token ids; got dtype {labels.dtype}. "
                f"Pass integer ids or one-hot labels of shape [batch, time, {self.vocab_size}]."
            )
        if not integer:
            if len(labels.shape) != 3:
                raise ValueError(
                    f"labels must be integer ids [batch, time] or one-hot [batch, time, "
                    f"{self.vocab_size}]; got shape {tuple(labels.shape)}."
                )
            if labels.shape[-1] is not None and labels.shape[-1] != self.vocab_size:
                raise ValueError(
                    f"labels must be one-hot over vocab_size={self.vocab_size} classes (last axis); "
                    f"got shape {tuple(labels.shape)}."
                )
        if len(weights.shape) != 2:
            raise ValueError(f"weights must have shape [batch, time]; got {tuple(weights.shape)}.")
        for name, tensor in (("labels", labels), ("weights", weights)):
            for axis, what in ((0, "batch"), (1, "time")):
                a, b = x.shape[axis], tensor.shape[axis]
                if a is not None and b is not None and a != b:
                    raise ValueError(
                        f"x and {name} must have the same {what} size (axis {axis}); got "
                        f"{tuple(x.shape)} and {tuple(tensor.shape)}."
                    )
        self._check_values(x, labels, weights, integer)
        return integer

    def _check_values(self, x, labels, weights, integer: bool) -> None:
        """Range checks that need values; skipped while tracing (a compiled model.fit step)."""
        w = _concrete(weights)
        if w is not None:
            validate.array(w, "weights")
            if w.size and (w.min() < 0 or w.max() > 1):
                raise ValueError(
                    f"weights must lie in [0, 1]; got values in [{w.min():g}, {w.max():g}]."
                )
        xv = _concrete(x)
        if xv is not None:
            validate.array(xv, "x")
        y = _concrete(labels)
        if y is None or not y.size:
            return
        if integer:
            validate.token_ids(y, "labels", self.vocab_size)
            return
        validate.array(y, "labels")
        sums = y.sum(-1)
        if y.min() < 0 or y.max() > 1 or (w is not None and np.any((w > 0) & (np.abs(sums - 1) > 1e-3))):
            raise ValueError(
                f"labels must be one-hot (values in [0, 1], each weighted position summing to 1 over "
                f"the last axis of size {self.vocab_size}); got values in [{y.min():g}, {y.max():g}]."
            )

    # -- the block --------------------------------------------------------------------------------
    def _stats_dtype(self) -> str:
        """float32 for the softmax and LayerNorm statistics when computing in half precision."""
        return "float32" if self.compute_dtype in ("float16", "bfloat16") else self.compute_dtype

    def _normalize(self, z):
        """LayerNorm without scale/offset: (ẑ, 1/σ) with σ = sqrt(var + ε) over the feature axis."""
        zs = ops.cast(z, self._stats_dtype())
        centred = zs - ops.mean(zs, axis=-1, keepdims=True)
        inv_std = ops.rsqrt(ops.mean(centred * centred, axis=-1, keepdims=True) + self.epsilon)
        return ops.cast(centred * inv_std, z.dtype), ops.cast(inv_std, z.dtype)

    def _loss_scale(self, weights):
        """c = w / N: the weight of each position's cross-entropy in the inner loss."""
        if self.loss_normalization == "sequence":
            total = ops.sum(weights, axis=1, keepdims=True)
        else:
            total = ops.sum(weights)
        # A sequence (or batch) with no weighted tokens has no loss: any positive N gives c = 0.
        return weights / ops.where(total > 0, total, ops.ones_like(total))

    def _slow_pass_and_gradients(self, x, labels, weights) -> dict:
        """The slow pass at θ and, by hand, the gradients δ of Σ_s c_s CE_s at each fast-updated layer.

        Each position's δ comes from its own loss term only (the block acts position-wise), so one
        backward pass gives the per-token gradients every later position needs.
        """
        integer = self._check_inputs(x, labels, weights)
        dtype = self.compute_dtype
        x = ops.cast(x, dtype)
        c = self._loss_scale(ops.cast(weights, dtype))[..., None]
        g, w_out = self.ln_scale, self.out_kernel

        z1 = ops.matmul(x, self.kernel1) + self.bias1
        r1 = ops.relu(z1)
        a1 = r1 * r1
        n2, inv_std = self._normalize(ops.matmul(a1, self.kernel2) + self.bias2)
        logits = ops.matmul(n2 * g + self.ln_offset, w_out) + self.out_bias

        probs = ops.cast(ops.softmax(ops.cast(logits, self._stats_dtype()), axis=-1), dtype)
        w_out_t = ops.transpose(w_out)
        if integer:  # (p - onehot(y)) W_outᵀ without building the one-hot tensor
            grad_h = ops.matmul(probs, w_out_t) - ops.take(w_out_t, labels, axis=0)
        else:  # soft/one-hot labels: d CE / d logits = p·Σy - y
            y = ops.cast(labels, dtype)
            grad_h = ops.matmul(probs * ops.sum(y, axis=-1, keepdims=True) - y, w_out_t)
        grad_h = c * grad_h
        grad_n = grad_h * g
        grad_z2 = inv_std * (  # LayerNorm backward: (u - mean(u) - ẑ·mean(u ẑ)) / σ
            grad_n
            - ops.mean(grad_n, axis=-1, keepdims=True)
            - n2 * ops.mean(grad_n * n2, axis=-1, keepdims=True)
        )
        grad_z1 = ops.matmul(grad_z2, ops.transpose(self.kernel2)) * (2.0 * r1)
        return dict(x=x, z1=z1, a1=a1, n2=n2, grad_h=grad_h, grad_z2=grad_z2, grad_z1=grad_z1)

    def _step(self, name: str):
        return ops.cast(self.step_sizes[name], self.compute_dtype)

    def _first_layer_fast(self, s: dict, state: dict | None = None):
        """z1 at θ - η∇: x_t W1 + b1 - η_W1 Σ_{s<t} (x_t·x_s) δ1_s - η_b1 Σ_{s<t} δ1_s
        (plus x_t S and the carried bias sum, with ``state`` from earlier windows)."""
        grad_w = self._attend(s["x"], s["x"], s["grad_z1"])
        grad_b = self._running_sum(s["grad_z1"])
        if state is not None:
            grad_w = grad_w + ops.matmul(s["x"], state["kernel1"])
            grad_b = grad_b + state["bias1"][:, None]
        z1_fast = s["z1"] - self._step("kernel1") * grad_w - self._step("bias1") * grad_b
        r1_fast = ops.relu(z1_fast)
        return r1_fast * r1_fast

    def _attend(self, query, key, value):
        return mixed_chunk_attention(query, key, value, self.attn_chunks, exclusive=True)

    def _running_sum(self, value):
        """Σ_{s<t} v_s along time, exactly zero at t = 0: linear attention whose scores are all 1.

        So it runs in chunks like the attention: matmuls inside the chunks, a short cumsum across
        them. That is about 2·C multiply-adds per element where a scan needs one, small next to
        the attention itself, and matmuls are what accelerators do fastest; a plain ``ops.cumsum``
        over thousands of positions lowers to a sliding-window reduction on GPUs (quadratic work
        in T), which made the training step 1.27x slower at T = 4096 on an H100
        (benchmarks/results/fwl_gpu.md).
        """
        ones = ops.ones_like(value[..., :1])
        return self._attend(ones, ones, value)

    def call(self, x, labels, weights, state=None, carry: float = 1.0):
        """Logits [B, T, V]; with ``state`` (see :meth:`initial_state`), ``(logits, new_state)``.

        ``state`` holds, per sequence, the inner-loss gradients of the earlier windows of its
        document (:mod:`fwcourse.fwl_carry`, beyond the paper): they are added to this window's
        running sums, so that position t steps on the gradient of every earlier token, not only
        those of its window. ``new_state = carry · (state + this window's gradient)``: a window j
        windows back weighs ``carry**j`` (0 forgets, giving the plain layer; 1 sums them all).
        """
        s = self._slow_pass_and_gradients(x, labels, weights)
        if state is not None:
            carry = validate.in_range(carry, "carry", 0, 1)
            state = self._checked_state(state, ops.shape(x)[0])
        a1_fast = self._first_layer_fast(s, state)
        grads = {
            "kernel2": self._attend(a1_fast, s["a1"], s["grad_z2"]),
            "bias2": self._running_sum(s["grad_z2"]),
            "ln_scale": self._running_sum(s["grad_h"] * s["n2"]),
            "ln_offset": self._running_sum(s["grad_h"]),
        }
        if state is not None:
            grads["kernel2"] = grads["kernel2"] + ops.matmul(a1_fast, state["kernel2"])
            for p in ("bias2", "ln_scale", "ln_offset"):
                grads[p] = grads[p] + state[p][:, None]
        z2_fast = (ops.matmul(a1_fast, self.kernel2) + self.bias2
                   - self._step("kernel2") * grads["kernel2"] - self._step("bias2") * grads["bias2"])
        n2_fast, _ = self._normalize(z2_fast)
        g_fast = self.ln_scale - self._step("ln_scale") * grads["ln_scale"]
        beta_fast = self.ln_offset - self._step("ln_offset") * grads["ln_offset"]
        logits = ops.matmul(n2_fast * g_fast + beta_fast, self.out_kernel) + self.out_bias
        if state is None:
            return logits
        window = {  # ∇θ of this window's whole inner loss, per sequence
            "kernel1": ops.einsum("btd,bth->bdh", s["x"], s["grad_z1"]),
            "bias1": ops.sum(s["grad_z1"], axis=1),
            "kernel2": ops.einsum("bth,bts->bhs", s["a1"], s["grad_z2"]),
            "bias2": ops.sum(s["grad_z2"], axis=1),
            "ln_scale": ops.sum(s["grad_h"] * s["n2"], axis=1),
            "ln_offset": ops.sum(s["grad_h"], axis=1),
        }
        carry = ops.cast(carry, self.compute_dtype)
        return logits, {p: carry * (state[p] + window[p]) for p in FAST_PARAMS}

    def _checked_state(self, state, batch_size) -> dict:
        if not isinstance(state, dict) or set(state) != set(FAST_PARAMS):
            raise ValueError(f"state must be a dict with keys {FAST_PARAMS} (see initial_state); "
                             f"got {type(state).__name__} {sorted(state) if isinstance(state, dict) else ''}.")
        for p in FAST_PARAMS:
            want = (batch_size, *getattr(self, p).shape)
            if tuple(state[p].shape) != want:
                raise ValueError(f"state[{p!r}] must have shape {want} ([batch, *{p} shape]); "
                                 f"got {tuple(state[p].shape)}.")
        return {p: ops.cast(state[p], self.compute_dtype) for p in FAST_PARAMS}

    def initial_state(self, batch_size: int) -> dict:
        """Zero carried gradients for ``batch_size`` sequences: {parameter: [B, *its shape]}."""
        batch_size = validate.positive_int(batch_size, "batch_size")
        return {p: ops.zeros((batch_size, *getattr(self, p).shape), self.compute_dtype)
                for p in FAST_PARAMS}

    def update_contributions(self, x, labels, weights) -> dict[str, np.ndarray]:
        """How much each earlier token s changed the fast weights used at position t (for plots).

        For the two dense layers, the size of token s's term in the attention sum at t:
        ``|η| |q_t·k_s| ‖δ_s‖`` (query = fast-pass input at t, key = slow-pass input at s), as
        NumPy [B, T, T] arrays keyed ``"dense1"`` and ``"dense2"`` (zero for s ≥ t). Quadratic in
        T: meant for inspecting one short window, not for training.
        """
        s = self._slow_pass_and_gradients(x, labels, weights)
        a1_fast = self._first_layer_fast(s)
        out = {}
        for name, query, key, value, step in (
            ("dense1", s["x"], s["x"], s["grad_z1"], "kernel1"),
            ("dense2", a1_fast, s["a1"], s["grad_z2"], "kernel2"),
        ):
            scores = ops.abs(ops.einsum("btd,bsd->bts", query, key))
            norms = ops.sqrt(ops.sum(value * value, axis=-1))[:, None, :]
            earlier = ops.cast(causal_mask(ops.shape(query)[1], exclusive=True), scores.dtype)
            out[name] = ops.convert_to_numpy(ops.abs(self._step(step)) * scores * norms * earlier)
        return out
