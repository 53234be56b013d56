"""The delta rule for fast weights, and how many associations a fast-weight memory can hold.

Schlag, Irie & Schmidhuber, "Linear Transformers Are Secretly Fast Weight Programmers", ICML 2021.
The sum rule ``W(i) = W(i-1) + v(i) phi(k(i))^T`` only ever adds; once more than d_k
associations share a d_k-dimensional key space they interfere. The delta rule first reads what is
stored under the key, ``v_bar(i) = W(i-1) phi(k(i))``, and replaces it by a mix of old and new:

    W(i) = W(i-1) + beta(i) (v(i) - v_bar(i)) phi(k(i))^T,      beta(i) = logistic(w_beta . x(i)),

so that with ``beta = 1`` and a unit-norm key the memory returns exactly ``v(i)`` afterwards. Their
code normalises ``phi(k)`` and ``phi(q)`` to sum to one (:func:`sum_normalise`), which they found
crucial for stable training.
"""
from __future__ import annotations

import numpy as np

from fwcourse.linear_attention import FeatureMap, apply_feature_map, check_qkv
from fwcourse.util import validate
from fwcourse.util.numerics import logistic

RULES = ("sum", "delta")
KEY_KINDS = ("random", "orthogonal")


def beta_gate(x, w_beta, b_beta: float = 0.0) -> np.ndarray:
    """The write strength ``beta(i) = logistic(w_beta . x(i) + b_beta)`` in (0, 1) for inputs ``x`` (..., T, d_in)."""
    x = validate.array(x, "x", dtype=float)
    w_beta = validate.array(w_beta, "w_beta", ndim=1, dtype=float)
    if x.ndim < 1 or x.shape[-1] != w_beta.shape[0]:
        raise ValueError(f"x must have shape (..., {w_beta.shape[0]}) to match w_beta; got {x.shape}.")
    validate.in_range(b_beta, "b_beta")
    return logistic(x @ w_beta + b_beta)


def sum_normalise(x: np.ndarray, name: str = "x") -> np.ndarray:
    """``x / sum(x)`` over the last axis; ``x`` must be non-negative with a positive sum (e.g. elu+1)."""
    x = validate.array(x, name, dtype=float)
    total = x.sum(axis=-1, keepdims=True)
    if np.any(x < 0) or np.any(total <= 0):
        raise ValueError(
            f"{name} must be non-negative with a positive sum over its last axis to be sum-normalised; "
            f"use a positive feature map such as phi='elu_plus_one'."
        )
    return x / total


def _check_beta(beta, shape: tuple, axes: str) -> np.ndarray:
    """Write strengths: one number, or one per ``shape`` (named ``axes`` in errors), in [0, 1]."""
    beta = validate.array(beta, "beta", dtype=float)
    if beta.shape not in ((), shape):
        raise ValueError(f"beta must be a number or have shape {shape} {axes}; got {beta.shape}.")
    if np.any((beta < 0) | (beta > 1)):
        raise ValueError("beta must lie in [0, 1].")
    return beta


def _delta_step(W: np.ndarray, k: np.ndarray, v: np.ndarray, beta) -> np.ndarray:
    retrieved = np.einsum("...vk,...k->...v", W, k)
    return W + (np.asarray(beta)[..., None, None] * (v - retrieved)[..., :, None]) * k[..., None, :]


def delta_update(W, k, v, beta) -> np.ndarray:
    """One delta-rule write: ``W + beta (v - W k) k^T`` (Schlag et al. 2021, the delta update rule).

    ``W`` (..., d_v, d_k) the memory, ``k`` (..., d_k) the (feature-mapped) key, ``v`` (..., d_v)
    the new value, ``beta`` a number or (...) array of write strengths in [0, 1].
    """
    W = validate.array(W, "W", dtype=float)
    if W.ndim < 2:
        raise ValueError(f"W must have shape (..., d_v, d_k); got {W.shape}.")
    k = validate.array(k, "k", shape=W.shape[:-2] + (W.shape[-1],), dtype=float)
    v = validate.array(v, "v", shape=W.shape[:-1], dtype=float)
    return _delta_step(W, k, v, _check_beta(beta, W.shape[:-2], "(...)"))


def delta_rule(q, k, v, beta, phi: FeatureMap | str | None = "elu_plus_one", normalise: bool = True,
               W0=None, return_state: bool = False):
    """The delta-rule fast-weight programmer over a sequence.

    ``W(i) = W(i-1) + beta(i) (v(i) - W(i-1) phi(k(i))) phi(k(i))^T``, ``y(i) = W(i) phi(q(i))``,
    with ``phi(k)``, ``phi(q)`` sum-normalised when ``normalise``. ``q``, ``k`` (..., T, d_k),
    ``v`` (..., T, d_v), ``beta`` (..., T) in [0, 1] (e.g. from :func:`beta_gate`) or one number.
    Returns ``y`` (..., T, d_v), and the final ``W`` too when ``return_state``.
    """
    q, k, v = check_qkv(q, k, v)
    fq, fk = apply_feature_map(phi, q, "q"), apply_feature_map(phi, k, "k")
    if normalise:
        fq, fk = sum_normalise(fq, "phi(q)"), sum_normalise(fk, "phi(k)")
    beta = np.broadcast_to(_check_beta(beta, k.shape[:-1], "(..., T)"), k.shape[:-1])
    state_shape = v.shape[:-2] + (v.shape[-1], k.shape[-1])
    W = np.zeros(state_shape) if W0 is None else validate.array(W0, "W0", shape=state_shape, dtype=float)
    y = np.empty(v.shape)
    for i in range(v.shape[-2]):
        W = _delta_step(W, fk[..., i, :], v[..., i, :], beta[..., i])
        y[..., i, :] = np.einsum("...vk,...k->...v", W, fq[..., i, :])
    return (y, W) if return_state else y


# -- capacity ------------------------------------------------------------------------------------
def make_keys(n: int, d: int, kind: str = "random", rng: np.random.Generator | int | None = None) -> np.ndarray:
    """``n`` unit-norm keys in R^d, shape (n, d).

    ``"random"``: independent Gaussian directions. ``"orthogonal"``: the first d keys are an
    orthonormal basis (no interference at all); keys beyond d come from further, independently
    rotated orthonormal bases, since no more than d vectors in R^d can be orthogonal.
    """
    n = validate.positive_int(n, "n")
    d = validate.positive_int(d, "d")
    validate.choice(kind, "kind", KEY_KINDS)
    rng = np.random.default_rng(rng)
    if kind == "random":
        keys = rng.standard_normal((n, d))
    else:
        blocks = -(-n // d)
        bases = np.linalg.qr(rng.standard_normal((blocks, d, d)))[0]   # orthonormal columns
        keys = np.swapaxes(bases, -1, -2).reshape(blocks * d, d)[:n]
    return keys / np.linalg.norm(keys, axis=1, keepdims=True)


def retrieval_errors(keys, values, rule: str = "sum", beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Write the pairs ``keys`` (n, d_k) -> ``values`` (n, d_v) in order, then read every key back.

    Returns the relative error of each pair, ``|W k_i - v_i|^2 / |v_i|^2`` (n,), and ``W``.
    ``"sum"``: ``W = sum_i v_i k_i^T``; ``"delta"``: the delta rule with write strength ``beta``
    (no feature map, keys used as they are).
    """
    keys = validate.array(keys, "keys", ndim=2, dtype=float)
    values = validate.array(values, "values", ndim=2, dtype=float)
    validate.same_length("keys", keys, "values", values)
    validate.choice(rule, "rule", RULES)
    if rule == "sum":
        W = values.T @ keys
    else:
        _, W = delta_rule(keys, keys, values, beta, phi=None, normalise=False, return_state=True)
    err = np.sum((keys @ W.T - values) ** 2, axis=1) / np.maximum(np.sum(values ** 2, axis=1), 1e-300)
    return err, W


def capacity_curve(n_pairs, d_key: int, d_value: int | None = None, rule: str = "sum",
                   kind: str = "random", n_repeats: int = 5,
                   rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Mean relative retrieval error against the number of stored pairs, for d_key-dimensional keys.

    For each ``n`` in ``n_pairs``: ``n_repeats`` draws of n keys (:func:`make_keys`) and n Gaussian
    values, written with ``rule`` (beta = 1 for the delta rule), read back with the same keys.
    Returns an array of shape (len(n_pairs), n_repeats).
    """
    n_pairs = [validate.positive_int(n, "n_pairs entries") for n in np.atleast_1d(n_pairs).tolist()]
    d_key = validate.positive_int(d_key, "d_key")
    d_value = d_key if d_value is None else validate.positive_int(d_value, "d_value")
    n_repeats = validate.positive_int(n_repeats, "n_repeats")
    rng = np.random.default_rng(rng)
    out = np.empty((len(n_pairs), n_repeats))
    for a, n in enumerate(n_pairs):
        for r in range(n_repeats):
            keys = make_keys(n, d_key, kind, rng)
            values = rng.standard_normal((n, d_value))
            out[a, r] = retrieval_errors(keys, values, rule)[0].mean()
    return out
