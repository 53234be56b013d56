"""The checkers of notebook 05: the reference passes, known-wrong answers get the right status."""
from __future__ import annotations

import numpy as np
import pytest

from fwcourse.course import check
from fwcourse.course.exercises import nb05


def _run(exercise, func):
    return exercise.run(func, seed=0).status


@pytest.mark.parametrize("func,status", [
    (lambda T: np.tril(np.ones((T, T), bool), -1), check.WRONG_VALUES),   # diagonal left out
    (lambda T: np.triu(np.ones((T, T), bool)), check.WRONG_VALUES),       # transposed: the future
    (lambda T: np.tril(np.ones((T, T))), check.WRONG_DTYPE),              # floats, not booleans
    (lambda T: np.tril(np.ones((T + 1, T + 1), bool)), check.WRONG_SHAPE),
])
def test_causal_mask_wrong_answers(func, status):
    assert _run(nb05.causal_mask, func) == status


def _softmax(z, axis=-1):
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _unstable_softmax(z, axis=-1):
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _attention(q, k, v, mask_k=0, scale=True, axis=-1, softmax=_softmax):
    T, d = q.shape
    scores = q @ k.T / (np.sqrt(d) if scale else 1.0)
    mask = np.tril(np.ones((T, T), bool), mask_k)
    return softmax(np.where(mask, scores, -1e30), axis) @ v


@pytest.mark.parametrize("func,status", [
    (lambda q, k, v: _attention(q, k, v, mask_k=q.shape[0]), check.WRONG_VALUES),  # no mask
    (lambda q, k, v: _attention(q, k, v, mask_k=-1), check.WRONG_VALUES),   # cannot see itself
    (lambda q, k, v: _attention(q, k, v, scale=False), check.WRONG_VALUES),  # no 1/sqrt(d)
    (lambda q, k, v: _attention(q, k, v, axis=0), check.WRONG_VALUES),       # softmax over t
    (lambda q, k, v: _attention(q, k, v).T, check.WRONG_SHAPE),
])
def test_causal_attention_wrong_answers(func, status):
    assert _run(nb05.causal_attention, func) == status


def test_causal_attention_checker_passes_the_reference_and_the_worked_solution():
    ex = nb05.causal_attention
    assert ex.notebook == "05"
    namespace = {"np": np}
    exec(ex.solution_code, namespace)
    for func in (ex.reference, namespace["causal_attention"], _attention):
        assert ex.run(func, seed=0).status == check.PASSED


def test_causal_attention_without_the_row_maximum_overflows_and_is_told_why():
    unstable = lambda q, k, v: _attention(q, k, v, softmax=_unstable_softmax)  # noqa: E731
    # right at the ordinary scales of the random trials: only the large scores catch it
    assert check.Exercise.run(nb05.causal_attention, unstable, seed=0).status == check.PASSED
    with np.errstate(over="ignore", invalid="ignore"):
        result = nb05.causal_attention.run(unstable, seed=0)
    assert result.status == check.WRONG_VALUES
    assert "NaN or inf" in result.message and "overflows" in result.message
    assert result.message.splitlines()[-1].startswith("Subtract each row's maximum")


def test_an_exception_on_large_scores_is_reported_with_the_fix():
    def strict(q, k, v):
        with np.errstate(over="raise"):
            return _attention(q, k, v, softmax=_unstable_softmax)

    result = nb05.causal_attention.run(strict, seed=0)
    assert result.status == check.ERROR
    assert "FloatingPointError" in result.message and "Subtract each row's maximum" in result.message


@pytest.mark.parametrize("func,status", [
    (lambda l, w: np.sum(w * np.exp(l)) / np.sum(w), check.WRONG_VALUES),  # mean of exponentials
    (lambda l, w: np.exp(np.mean(l)), check.WRONG_VALUES),                  # padding counted
    (lambda l, w: np.exp(np.sum(w * l)), check.WRONG_VALUES),               # not averaged
    (lambda l, w: np.exp(np.sum(w * l, axis=1) / np.sum(w, axis=1)), check.WRONG_SHAPE),
])
def test_perplexity_wrong_answers(func, status):
    assert _run(nb05.perplexity, func) == status


def _self_attention(layer, x, *, mask=True, scale_by_model=False, split="(3, heads, head)",
                    softmax_axis=-1, merge_swapped=False, project=True, see_itself=True):
    """Exercise 3 (core) in NumPy, and the mistakes it can make."""
    B, T, d_model = x.shape
    heads, head = layer.n_heads, d_model // layer.n_heads
    qkv = x @ layer.qkv.kernel + layer.qkv.bias
    if split == "(3, heads, head)":        # the layer's layout: [q | k | v], heads in blocks of d_head
        qkv = qkv.reshape(B, T, 3, heads, head).transpose(2, 0, 3, 1, 4)
    elif split == "(3, head, heads)":      # heads taken as interleaved columns
        qkv = qkv.reshape(B, T, 3, head, heads).transpose(2, 0, 4, 1, 3)
    else:                                  # "(heads, 3, head)": q, k, v taken inside each head's block
        qkv = qkv.reshape(B, T, heads, 3, head).transpose(3, 0, 2, 1, 4)
    q, k, v = qkv
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(d_model if scale_by_model else head)
    if mask:
        scores = np.where(np.tril(np.ones((T, T), bool), 0 if see_itself else -1), scores, -np.inf)
    y = _softmax(scores, softmax_axis) @ v                                     # (B, heads, T, head)
    y = y.transpose(0, 2, 3, 1) if merge_swapped else y.transpose(0, 2, 1, 3)  # (B, T, ., .)
    y = y.reshape(B, T, d_model)
    return y @ layer.out.kernel + layer.out.bias if project else y


def test_causal_self_attention_passes_an_answer_in_numpy():
    """NumPy arrays in, NumPy out: the checker does not insist on keras.ops (the worked solution,
    in keras.ops, is run by test_exercise_catalogue)."""
    assert nb05.causal_self_attention.run(_self_attention, seed=0).status == check.PASSED


def test_causal_self_attention_reference_takes_the_course_layer_and_agrees_with_it():
    """The checker's stand-in has the attributes of the real layer: the reference reads them from a
    float32 CausalSelfAttention as well (the notebook's layer falls back on it) and gives its output."""
    from fwcourse import transformer

    layer = transformer.CausalSelfAttention(d_model=6, n_heads=2)
    x = np.random.default_rng(3).standard_normal((2, 5, 6)).astype("float32")
    layer.build(x.shape)
    np.testing.assert_allclose(np.asarray(nb05.causal_self_attention_reference(layer, x)), np.asarray(layer(x)),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("label, kwargs", [
    ("no causal mask", dict(mask=False)),
    ("scores scaled by sqrt(d_model), not sqrt(d_head)", dict(scale_by_model=True)),
    ("heads taken as interleaved columns", dict(split="(3, head, heads)")),
    ("q, k, v taken inside each head's block", dict(split="(heads, 3, head)")),
    ("softmax over the queries", dict(softmax_axis=-2)),
    ("heads merged in the wrong order", dict(merge_swapped=True)),
    ("no output projection", dict(project=False)),
    ("a position cannot see itself", dict(see_itself=False)),
])
def test_causal_self_attention_wrong_answers(label, kwargs):
    with np.errstate(invalid="ignore"):   # a row with every score masked is NaN: the check says so
        result = nb05.causal_self_attention.run(lambda *a: _self_attention(*a, **kwargs), seed=1)
    assert result.status == check.WRONG_VALUES, f"{label}: {result}"


def test_causal_self_attention_one_head_output_is_the_wrong_shape():
    result = nb05.causal_self_attention.run(lambda layer, x: _self_attention(layer, x)[..., :1], seed=2)
    assert result.status == check.WRONG_SHAPE
