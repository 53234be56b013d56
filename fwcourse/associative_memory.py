"""A matrix as an associative memory: write key-value pairs with outer products, read with a key."""
from __future__ import annotations

import numpy as np

from fwcourse.util import validate


def outer_product(v: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The outer product ``v kᵀ`` of a value ``v`` (n,) and a key ``k`` (m,): shape (n, m).

    The building block of every fast-weight update in the course (Schmidhuber 1992's FROM/TO
    change, Ba et al. 2016's ``h hᵀ``, the rank-one per-token gradient of Clark et al. 2022).
    """
    v = validate.array(v, "v", ndim=1)
    k = validate.array(k, "k", ndim=1)
    return v[:, None] * k[None, :]


def write_sequence(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The memory after each write, ``W_t = Σ_{s≤t} v_s k_sᵀ``: shape (T, n, m) for keys (T, m), values (T, n)."""
    keys = validate.array(keys, "keys", ndim=2)
    values = validate.array(values, "values", ndim=2)
    validate.same_length("keys", keys, "values", values)
    return np.cumsum(values[:, :, None] * keys[:, None, :], axis=0)


def read(W: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Read memory ``W`` (n, m) with queries (m,) or (T, m): ``W q`` for each query."""
    W = validate.array(W, "W", ndim=2)
    queries = validate.array(queries, "queries", ndim=(1, 2))
    if queries.shape[-1] != W.shape[1]:
        raise ValueError(f"queries must have {W.shape[1]} features (W's columns); got shape {queries.shape}.")
    return queries @ W.T
