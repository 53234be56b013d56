"""Exercises of notebook 02: linear transformers are fast-weight programmers."""
from __future__ import annotations

import numpy as np

from fwcourse import delta_rule as dr
from fwcourse import linear_attention as la
from fwcourse.course.check import Exercise, odd_sizes
from fwcourse.course.stretch import InvalidAnswer, Stretch


def _mask_inputs(rng: np.random.Generator, trial: int) -> dict:
    return dict(T=odd_sizes(trial).t)


causal_mask = Exercise(
    name="causal_mask",
    reference=la.causal_mask,
    make_inputs=_mask_inputs,
    hint=[
        "Row i is the query at time i, column j the key at time j; query i may use keys 0..i.",
        "np.tril keeps the lower triangle *including* the diagonal; make the result boolean.",
    ],
)


def linear_attention_reference(q, k, v):
    """Causal un-normalised linear attention with phi = identity: ``(M * Q K^T) V``."""
    return la.linear_attention_parallel(q, k, v)


def _attention_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(q=rng.standard_normal((s.t, s.d)), k=rng.standard_normal((s.t, s.d)),
                v=rng.standard_normal((s.t, s.n)))


linear_attention = Exercise(
    name="linear_attention",
    reference=linear_attention_reference,
    make_inputs=_attention_inputs,
    hint=[
        "Scores: A = q @ k.T, shape (T, T); entry (i, j) is q(i) . k(j).",
        "Zero the scores of future keys (j > i) with the causal mask, then multiply by v. No softmax, "
        "no normalisation.",
    ],
)


def _delta_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    return dict(W=rng.standard_normal((s.n, s.m)), k=rng.standard_normal(s.m), v=rng.standard_normal(s.n),
                beta=float(rng.uniform(0.1, 1.0)))


delta_update = Exercise(
    name="delta_update",
    reference=dr.delta_update,
    make_inputs=_delta_inputs,
    hint=[
        "First read what the memory holds under the key: v_old = W @ k.",
        "Write the difference, scaled by beta: W + beta * outer(v - v_old, k).",
    ],
)


def delta_rule_memory_reference(q, k, v, beta):
    """The delta-rule fast-weight memory over a sequence (Schlag et al. 2021, the delta update rule),
    with the keys and queries used as given (no feature map, no normalisation), from ``W(0) = 0``:
    ``W(i) = W(i-1) + beta(i) (v(i) - W(i-1) k(i)) k(i)^T``, ``y(i) = W(i) q(i)``."""
    return dr.delta_rule(q, k, v, beta, phi=None, normalise=False)


def _sequence_inputs(rng: np.random.Generator, trial: int) -> dict:
    s = odd_sizes(trial)
    # Unit-norm keys, as the sum-normalised features of the paper's code are bounded: a write then
    # shrinks what is stored under the key by the factor 1 - beta instead of amplifying it.
    k = rng.standard_normal((s.t, s.d))
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    return dict(q=rng.standard_normal((s.t, s.d)), k=k, v=rng.standard_normal((s.t, s.n)),
                beta=rng.uniform(0.1, 1.0, s.t))


delta_rule_memory = Exercise(
    name="delta_rule_memory",
    reference=delta_rule_memory_reference,
    make_inputs=_sequence_inputs,
    hint=[
        "Start from an empty memory W = np.zeros((d_v, d_k)) and go through the sequence in order, "
        "one delta_update per step with the key k[i], the value v[i] and the strength beta[i].",
        "Write first, then read: y[i] = W @ q[i] with the memory that already holds step i's write "
        "(the 2021 paper's order; notebook 01's controller read first).",
        "Read with the query q[i], not the key; stack the T reads into an array of shape (T, d_v).",
    ],
)

EXERCISES = [causal_mask, linear_attention, delta_update, delta_rule_memory]


# -- stretch ---------------------------------------------------------------------------------------
def recall_error(write, d: int, n_pairs: int, draws: int = 3) -> float:
    """Mean relative recall error |W k_i - v_i|^2 / |v_i|^2 over ``n_pairs`` random pairs written in
    order by ``write(W, k, v) -> W`` into a d x d memory (unit-norm random keys, standard normal
    values), averaged over ``draws`` draws (the same seeds for every answer).

    The memory must be W alone, and the rule a function of (W, k, v): one write is replayed (a
    rule that keeps its own record of past pairs returns another W), and replayed again from a
    slightly perturbed W (a rule that looks its answer up by W's exact contents jumps).
    """
    if not callable(write):
        raise InvalidAnswer(f"The answer must be a function write(W, k, v) -> new W; got {type(write).__name__}.")

    def call(W, k, v):
        out = np.asarray(write(W.copy(), k.copy(), v.copy()), dtype=float)
        if out.shape != (d, d):
            raise InvalidAnswer(f"write must return the ({d}, {d}) memory; got shape {out.shape}.")
        if not np.all(np.isfinite(out)):
            raise InvalidAnswer("write returned a memory with NaN or infinite entries.")
        return out

    errors = []
    for draw in range(draws):
        rng = np.random.default_rng(draw)
        keys, values = dr.make_keys(n_pairs, d, "random", rng), rng.standard_normal((n_pairs, d))
        history = [np.zeros((d, d))]
        for k, v in zip(keys, values):
            history.append(call(history[-1], k, v))
        t = int(rng.integers(1, n_pairs))
        W, k, v = history[t], keys[t], values[t]
        if not np.allclose(call(W, k, v), history[t + 1], rtol=1e-9, atol=1e-12):
            raise InvalidAnswer(f"write must depend only on (W, k, v): replaying write number {t + 1} gave a "
                                "different memory (a rule that keeps its own record of the pairs, or draws "
                                "random numbers).")
        nudge = 1e-7 * rng.standard_normal((d, d))
        jump = np.linalg.norm(call(W + nudge, k, v) - history[t + 1])
        if jump > 1e4 * np.linalg.norm(nudge) + 1e-9:
            raise InvalidAnswer(f"write must be a smooth function of W: changing W by {np.linalg.norm(nudge):.1e} "
                                f"changed the new memory by {jump:.2g}.")
        errors.append(np.mean(np.sum((keys @ history[-1].T - values) ** 2, 1) / np.sum(values ** 2, 1)))
    return float(np.mean(errors))


better_memory_rule = Stretch(
    name="better_memory_rule",
    goal="write a rule write(W, k, v) -> W whose d x d memory recalls 2d pairs (twice its capacity) "
         "with a lower mean error than the delta rule (beta = 1).",
    measure=recall_error,
    reference=lambda: lambda W, k, v: dr.delta_update(W, k, v, 1.0),
    unit="mean relative recall error over all pairs",
    hint=[
        "With beta = 1 the delta rule recalls the last pairs perfectly and forgets the oldest: is a "
        "smaller beta a better trade over all pairs?",
        "Let beta depend on what the memory already returns for k (Schlag et al. 2021 learn it).",
        "The best any d x d linear memory can do is the least-squares W; how close can a rule that "
        "only sees (W, k, v) get?",
    ],
)

STRETCH = [better_memory_rule]
