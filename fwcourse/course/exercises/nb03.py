"""Exercises of notebook 03 (Ba et al. 2016): the memory update, the inner loop, the attention form."""
from __future__ import annotations

import numpy as np

from fwcourse import fwrnn
from fwcourse.course.check import Exercise, odd_sizes


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


def _inner_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    # A memory the network builds (η > 0) makes the loop settle within a step or two, so that an
    # answer taking one step too many or too few can differ from the reference by round-off only.
    # An anti-Hebbian memory (η < 0) makes h flip between states instead: every step changes it
    # (by >= 9% of its largest entry on 12 000 inputs tried). At least five features: LayerNorm
    # over two features outputs ±1 whatever the input, so the loop would settle at once there too.
    H = s.d + 3
    past = rng.standard_normal((s.b, 3, H))
    A = -2.0 * np.einsum("bti,btj->bij", past, past)
    return dict(slow=rng.standard_normal((s.b, H)), A=A, inner_steps=1 + trial % 3,
                gain=1 + 0.2 * rng.standard_normal(H), bias=0.1 * rng.standard_normal(H))


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

EXERCISES = [memory_update, inner_loop, attention_read]
