"""Exercises of notebook 05 (a causal transformer language model): the mask, causal attention,
and perplexity from per-token losses (warm-up), and a multi-head causal self-attention layer's
call (core)."""
from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Callable

import numpy as np

from fwcourse import transformer
from fwcourse.course.check import ERROR, WRONG_VALUES, CheckResult, Exercise, odd_sizes
from fwcourse.course.stretch import InvalidAnswer, Stretch, int_in, settings
from fwcourse.util import validate


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


# Every row's largest score q_t·k_s/√d is exactly this (its own key, s = t): np.exp overflows to
# inf in float64 above about 709.8, so a softmax that does not subtract the row maximum returns
# inf/inf = NaN on every row.
_LARGE_SCORE = 1e3


def _large_score_inputs() -> dict:
    """q = k with rows of norm sqrt(_LARGE_SCORE·√d), so that scores reach ±_LARGE_SCORE."""
    s = odd_sizes(3)
    rng = np.random.default_rng(0)
    unit = rng.standard_normal((s.t, s.d))
    unit /= np.linalg.norm(unit, axis=-1, keepdims=True)
    q = np.sqrt(_LARGE_SCORE * np.sqrt(s.d)) * unit
    return dict(q=q, k=q.copy(), v=rng.standard_normal((s.t, s.m)))


def _large_score_problem(func: Callable) -> tuple[str, str] | None:
    """(status, message) when ``func`` fails on scores of ±_LARGE_SCORE, else None."""
    inputs = _large_score_inputs()
    shapes = ", ".join(f"{name}: shape {value.shape}" for name, value in inputs.items())
    where = (f"With large scores (every row's largest q·k/sqrt(d) is {_LARGE_SCORE:g}; "
             f"inputs {shapes})")
    fix = ("Subtract each row's maximum from the scores before np.exp: the softmax does not change "
           "(the factor exp(-max) cancels in the division) and the largest term becomes exp(0) = 1.")
    try:
        out = np.asarray(func(*inputs.values()), dtype=float)
    except Exception as err:  # the learner's mistake, reported, not re-raised
        return ERROR, f"{where} the call raised {type(err).__name__}: {err}\n{fix}"
    if np.all(np.isfinite(out)):
        return None
    index = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
    return WRONG_VALUES, (
        f"{where} the output contains NaN or inf, first at index {index}: np.exp overflows to inf "
        f"above about 709, and inf/inf is NaN.\n{fix}"
    )


class _StableSoftmaxExercise(Exercise):
    """An exercise whose answer must also survive large scores, as a numerically stable softmax does.

    Values are checked by the random trials at ordinary scales (the reference takes its softmax
    in float32, which is too coarse to compare values at scores of 1e3); large scores only have
    to give a finite output.
    """

    def run(self, func: Callable | None, seed: int | None = None) -> CheckResult:
        result = super().run(func, seed)
        problem = _large_score_problem(func) if result.passed else None
        return result if problem is None else self._result(*problem)


causal_attention = _StableSoftmaxExercise(
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

def causal_self_attention_reference(layer, x):
    """Multi-head causal self-attention with ``layer``'s weights, in ``x``'s dtype:
    :class:`fwcourse.transformer.CausalSelfAttention` (Vaswani et al. 2017, eq. 1 in every head,
    with a causal mask).

    ``layer`` is a ``CausalSelfAttention``, or anything with its ``d_model``, ``n_heads`` and the
    weights ``qkv.kernel`` (d_model, 3 d_model), ``qkv.bias``, ``out.kernel`` (d_model, d_model),
    ``out.bias``; ``x`` (B, T, d_model).
    """
    x = np.asarray(x)
    reference = _reference_layer(layer.d_model, layer.n_heads, x.dtype.name)
    reference.set_weights([np.asarray(w) for w in (layer.qkv.kernel, layer.qkv.bias, layer.out.kernel, layer.out.bias)])
    return reference(x)


@functools.lru_cache(maxsize=None)
def _reference_layer(d_model: int, n_heads: int, dtype: str) -> transformer.CausalSelfAttention:
    """One built reference layer per configuration, reused: creating a layer's variables costs far
    more than the attention itself (a check would spend most of its time there)."""
    reference = transformer.CausalSelfAttention(d_model, n_heads, dtype=dtype)
    reference.build((None, None, d_model))
    return reference


# (heads, width of a head) per trial: one head and several, heads of width 1 and wider, so that
# heads split or merged in the wrong order, or scores scaled by the model's width instead of the
# head's, are wrong in some trial
_HEADS = [(1, 2), (2, 3), (3, 1), (2, 2)]


def _self_attention_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    n_heads, head = _HEADS[trial % len(_HEADS)]
    d_model = n_heads * head

    def dense(width: int) -> SimpleNamespace:
        # weights of the scale Keras initialises them at, so that scores stay of order 1 and the
        # softmax is far from one-hot: a missing 1/sqrt(d) then changes the output
        return SimpleNamespace(kernel=rng.standard_normal((d_model, width)) / np.sqrt(d_model),
                               bias=0.1 * rng.standard_normal(width))

    # the layer's stand-in: the attributes a CausalSelfAttention has, holding random weights (a plain
    # namespace, so that the grader can hand it to a process without the course package)
    layer = SimpleNamespace(d_model=d_model, n_heads=n_heads, qkv=dense(3 * d_model), out=dense(d_model))
    # at least two positions: over one, the softmax is 1 whatever the scores (Keras warns about it)
    return dict(layer=layer, x=rng.standard_normal((s.b, s.t + 1, d_model)))


causal_self_attention = Exercise(
    name="causal_self_attention",
    reference=causal_self_attention_reference,
    make_inputs=_self_attention_inputs,
    hint=[
        "qkv = x @ layer.qkv.kernel + layer.qkv.bias has shape (B, T, 3 d_model): queries, keys, values "
        "side by side. Reshape it to (B, T, 3, n_heads, d_head) and move the axes to (3, B, n_heads, T, d_head).",
        "In every head: scores = q @ k^T / sqrt(d_head), shape (B, n_heads, T, T); set the scores of s > t "
        "to -inf, softmax over the last axis, multiply by v.",
        "Merge the heads back: (B, n_heads, T, d_head) -> (B, T, n_heads, d_head) -> (B, T, d_model), "
        "then the output projection @ layer.out.kernel + layer.out.bias.",
    ],
    rtol=1e-5, atol=1e-6,  # the reference takes its softmax in float32 (mixed-precision safe)
)

EXERCISES = [causal_mask, causal_attention, causal_self_attention, perplexity]


# -- stretch ---------------------------------------------------------------------------------------
MODEL_RULES = {
    "d_model": int_in(4, 1024), "n_layers": int_in(1, 8), "n_heads": int_in(1, 32),
    "learning_rate": lambda v, name: validate.in_range(v, name, 0, 0.1, low_open=True),
}


def validation_perplexity(answer, corpus, sizes, fwl: bool = False, rules: dict = MODEL_RULES) -> float:
    """Validation perplexity of the transformer LM trained on ``corpus`` with ``sizes`` (epochs, data,
    sequence length and batch fixed) changed by ``answer``, a dict of the settings in ``rules``, and
    with no more parameters than ``sizes`` gives (the same budget in compute and in size)."""
    from fwcourse.experiments import lm_compare

    base = {"attn_chunks": 1, "fwl_size": None, **vars(sizes)}
    s = SimpleNamespace(**settings(answer, base, rules))
    vocab = corpus.tokenizer.size

    def n_params(z) -> int:
        return transformer.build_lm(vocab, z.d_model, z.n_layers, z.n_heads, z.seq_len,
                                    fwl_size=z.fwl_size if fwl else None, attn_chunks=z.attn_chunks,
                                    compile=False).count_params()

    try:
        params = n_params(s)
    except ValueError as err:  # e.g. d_model not divisible by n_heads
        raise InvalidAnswer(str(err)) from None
    budget = n_params(SimpleNamespace(**base))
    if params > budget:
        raise InvalidAnswer(f"{params:,} parameters is over the budget of {budget:,} (the reference's).")
    _, history, _, _ = lm_compare.train(corpus, fwl, s, seed=0)
    return float(np.exp(min(history.history["val_loss"])))


better_transformer = Stretch(
    name="better_transformer",
    margin=0.01,
    goal="a lower validation perplexity than the notebook's transformer, with the same data, epochs "
         "and batches and at most its number of parameters, by changing d_model, n_layers, n_heads "
         "or learning_rate.",
    measure=validation_perplexity,
    reference=lambda: {},
    unit="validation perplexity",
    hint=[
        "The learning rate matters most for a short budget: try 2x and 0.5x.",
        "Most parameters are in the embedding and the output layer (vocabulary x d_model): a narrower "
        "d_model frees parameters for another block.",
        "More heads of a smaller size cost no parameters.",
    ],
)

STRETCH = [better_transformer]
