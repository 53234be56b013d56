"""Exercises of notebook 03 (Ba et al. 2016): the memory update, the inner loop, the attention form
(warm-up), and one step of the Keras cell (core)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from fwcourse import fwrnn
from fwcourse.course.check import Exercise, odd_sizes
from fwcourse.course.stretch import Stretch, int_in, settings
from fwcourse.data import retrieval
from fwcourse.util import validate


def _rates(rng: np.random.Generator) -> dict:
    return dict(decay=float(rng.uniform(0.5, 1.0)), fast_lr=float(rng.uniform(0.1, 1.0)))


def _memory_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    # a non-symmetric A, so that an answer that transposes the old memory is caught
    return dict(A=rng.standard_normal((s.b, s.d, s.d)), h=rng.standard_normal((s.b, s.d)), **_rates(rng))


memory_update = Exercise(
    name="memory_update",
    reference=fwrnn.update_memory,
    make_inputs=_memory_inputs,
    hint=[
        "A(t) = λ A(t−1) + η h(t) h(t)ᵀ: decay the old memory, then add the outer product of the new state.",
        "For a batch, h has shape (B, H): h[:, :, None] * h[:, None, :] is a (B, H, H) stack of outer products.",
    ],
)


def _units(trial: int) -> int:
    """H for a trial: at least five features, since LayerNorm over two features outputs ±1
    whatever the input, and the inner loop would settle at once."""
    return odd_sizes(trial).d + 3


def _flipping_memory(rng: np.random.Generator, batch: int, units: int) -> np.ndarray:
    """A memory (B, H, H) under which every inner-loop step changes h.

    A memory the network builds (η > 0) makes the loop settle within a step or two, so that an
    answer taking one step too many or too few can differ from the reference by round-off only.
    An anti-Hebbian memory (η < 0) makes h flip between states instead: every step changes it
    (by >= 9% of its largest entry on 12 000 inputs tried). It is symmetric, as every fast-weight
    memory is, so reading it as ``A h`` or ``h A`` is the same.
    """
    past = rng.standard_normal((batch, 3, units))
    return -2.0 * np.einsum("bti,btj->bij", past, past)


def _layer_norm_parameters(rng: np.random.Generator, units: int) -> dict:
    return dict(gain=1 + 0.2 * rng.standard_normal(units), bias=0.1 * rng.standard_normal(units))


def _inner_inputs(rng: np.random.Generator, trial: int) -> dict:
    s, H = odd_sizes(trial), _units(trial)
    A = _flipping_memory(rng, s.b, H)
    return dict(slow=rng.standard_normal((s.b, H)), A=A, inner_steps=1 + trial % 3,
                **_layer_norm_parameters(rng, H))


inner_loop = Exercise(
    name="inner_loop",
    reference=fwrnn.inner_loop,
    make_inputs=_inner_inputs,
    hint=[
        "Start from h_0 = relu(slow). Then repeat inner_steps times: h = relu(LN(slow + A h)).",
        "A h for a batch: np.einsum('bij,bj->bi', A, h). LayerNorm: subtract the mean and divide by "
        "sqrt(var + 1e-5) over axis=-1 (each example's features), then * gain + bias.",
        "The slow term stays the same in every iteration: only h changes inside the loop.",
    ],
)


def _attention_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(h_past=rng.standard_normal((s.t, s.d)), query=rng.standard_normal(s.d), **_rates(rng))


attention_read = Exercise(
    name="attention_read",
    reference=fwrnn.attention_read,
    make_inputs=_attention_inputs,
    hint=[
        "A(t) h_s = η Σ_τ λ^(t−τ) h(τ) (h(τ)·h_s): a weighted sum of the stored states, no H×H matrix.",
        "With h_past of shape (t, H), the newest state is the last row and has age 0: "
        "ages = np.arange(t − 1, −1, −1).",
    ],
)


def fast_weight_cell_step_reference(cell, x, h, A):
    """One step of the fast-weight RNN cell (Ba et al. 2016, eqs. 1-2): ``(h(t+1), A(t+1))``.

    ``slow = x C + h(t) W + b`` (the previous *final* state), ``h_0 = relu(slow)``, S times
    ``h_{s+1} = relu(LN(slow + A(t) h_s))`` over each example's features, then
    ``A(t+1) = λ A(t) + η h(t+1) h(t+1)ᵀ``. ``cell`` is a
    :class:`fwcourse.fwrnn_layer.FastWeightRNNCell`, or anything with its weights ``kernel`` (C),
    ``recurrent_kernel`` (W), ``bias``, ``ln_gain``, ``ln_bias`` and its ``inner_steps`` (S),
    ``decay`` (λ), ``fast_lr`` (η); ``x`` (B, D), ``h`` (B, H), ``A`` (B, H, H). Arrays and eager
    tensors alike are computed on in NumPy.
    """
    kernel, recurrent, bias, gain, ln_bias = (
        np.asarray(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias, cell.ln_gain, cell.ln_bias))
    x, h, A = np.asarray(x), np.asarray(h), np.asarray(A)
    h_new = fwrnn.inner_loop(x @ kernel + h @ recurrent + bias, A, cell.inner_steps, gain, ln_bias)
    return h_new, fwrnn.update_memory(A, h_new, cell.decay, cell.fast_lr)


def _cell_inputs(rng: np.random.Generator, trial: int) -> dict:
    s, H = odd_sizes(trial), _units(trial)
    D = s.n
    ln = _layer_norm_parameters(rng, H)
    # the cell's stand-in: the attributes a FastWeightRNNCell has, holding random weights (a plain
    # namespace, so that the grader can hand it to a process without the course package)
    cell = SimpleNamespace(kernel=rng.standard_normal((D, H)),
                           recurrent_kernel=rng.standard_normal((H, H)) / np.sqrt(H),
                           bias=0.1 * rng.standard_normal(H), ln_gain=ln["gain"], ln_bias=ln["bias"],
                           inner_steps=1 + trial % 3, **_rates(rng))
    return dict(cell=cell, x=rng.standard_normal((s.b, D)), h=np.abs(rng.standard_normal((s.b, H))),
                A=_flipping_memory(rng, s.b, H))


fast_weight_cell_step = Exercise(
    name="fast_weight_cell_step",
    reference=fast_weight_cell_step_reference,
    make_inputs=_cell_inputs,
    hint=[
        "slow = x @ cell.kernel + h @ cell.recurrent_kernel + cell.bias, computed once with the previous "
        "final state h: it stays the same in every inner step.",
        "h_s = relu(slow); then cell.inner_steps times: h_s = relu(LN(slow + A h_s)), with A h_s = "
        "ops.einsum('bij,bj->bi', A, h_s) and LN over the last axis: (z - mean) / sqrt(var + 1e-5) * "
        "cell.ln_gain + cell.ln_bias.",
        "Write to the memory after the inner loop, with the new state: A_new = cell.decay * A + "
        "cell.fast_lr * h_s h_sᵀ for each example (ops.einsum('bi,bj->bij', h_s, h_s)). Return (h_s, A_new).",
    ],
)

EXERCISES = [memory_update, inner_loop, attention_read, fast_weight_cell_step]


# -- stretch ---------------------------------------------------------------------------------------
_SETTING_RULES = {
    "decay": lambda v, name: validate.in_range(v, name, 0, 1, low_open=True),
    "fast_lr": lambda v, name: validate.in_range(v, name, 0, 2),
    "inner_steps": int_in(1, 3),
    "learning_rate": lambda v, name: validate.in_range(v, name, 0, 0.1, low_open=True),
}


def plateau_error(answer, data: retrieval.Splits, units: int, steps: int, eval_every: int) -> float:
    """Best validation error (%) of the fast-weight RNN trained ``steps`` steps on ``data`` (seed 0)
    with the paper's settings (λ = 0.95, η = 0.5, S = 1, Adam 1e-3) changed by ``answer``."""
    from fwcourse.experiments import ba2016

    s = settings(answer, {}, _SETTING_RULES)
    run = ba2016.train_one("fastweights", units, data, seed=0, max_steps=steps, eval_every=eval_every,
                           patience=10 ** 6, **s)
    return 100 * run["valid_error"]


leave_the_plateau = Stretch(
    name="leave_the_plateau",
    margin=0.02,
    goal="reach a lower validation error than the paper's settings within the notebook's step budget, "
         "by changing decay (λ), fast_lr (η), inner_steps (S, at most 3) or learning_rate.",
    measure=plateau_error,
    reference=lambda: {},
    unit="best validation error (%)",
    hint=[
        "λ sets how long a pair stays in the fast memory: the sequences are short (11 steps).",
        "η sets how strongly each state is written; LayerNorm keeps the inner loop bounded, so "
        "large values may be fine.",
        "The plateau is where the net has not yet found the key: a larger Adam step can find it "
        "sooner and then overshoot.",
    ],
)

STRETCH = [leave_the_plateau]
