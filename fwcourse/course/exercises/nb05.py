"""Exercises of notebook 05 (a causal transformer language model): the mask, causal attention,
and perplexity from per-token losses."""
from __future__ import annotations

import numpy as np

from fwcourse import transformer
from fwcourse.course.check import Exercise, odd_sizes


def _mask_inputs(rng: np.random.Generator, trial: int) -> dict:
    return dict(seq_len=int(odd_sizes(trial).t))


causal_mask = Exercise(
    name="causal_mask",
    reference=transformer.causal_mask,
    make_inputs=_mask_inputs,
    hint=[
        "Row t says which positions s position t may look at: itself and everything before it.",
        "mask[t, s] is True when s <= t: the lower triangle, diagonal included (np.tril).",
    ],
)


def _attention_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(q=rng.standard_normal((s.t, s.d)), k=rng.standard_normal((s.t, s.d)),
                v=rng.standard_normal((s.t, s.m)))


causal_attention = Exercise(
    name="causal_attention",
    reference=transformer.causal_attention,
    make_inputs=_attention_inputs,
    hint=[
        "Scores q_t·k_s for all pairs are one matrix product, scaled by 1/sqrt(d).",
        "Set the scores of future positions (s > t) to -inf before the softmax over s (the last axis).",
        "Subtract each row's maximum before np.exp for stability; then divide by the row sum and "
        "multiply by v.",
    ],
    rtol=1e-5, atol=1e-6,  # the reference takes its softmax in float32 (mixed-precision safe)
)


def _perplexity_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    losses = rng.exponential(2.0, (s.b, s.t + 2))
    weights = (rng.random(losses.shape) < 0.7).astype(float)
    weights[0, 0] = 1.0
    return dict(losses=losses, weights=weights)


perplexity = Exercise(
    name="perplexity",
    reference=transformer.perplexity,
    make_inputs=_perplexity_inputs,
    hint=[
        "Perplexity is the exponential of the average loss per token, not the average of exponentials.",
        "Padding has weight 0: average with np.sum(weights * losses) / np.sum(weights).",
    ],
)

EXERCISES = [causal_mask, causal_attention, perplexity]
