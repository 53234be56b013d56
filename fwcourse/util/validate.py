"""Input checks shared by every public function: errors name the argument and what was expected."""
from __future__ import annotations

from typing import Iterable

import numpy as np


def array(
    value,
    name: str,
    ndim: int | Iterable[int] | None = None,
    shape: tuple | None = None,
    finite: bool = True,
    dtype=None,
) -> np.ndarray:
    """Return ``value`` as an array, checking rank, shape (``None`` entries are free) and finiteness.

    Raises ``ValueError``/``TypeError`` whose message names ``name`` and the expectation.
    """
    try:
        arr = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be array-like of numbers; got {type(value).__name__}.") from err
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold numbers; got dtype {arr.dtype}.")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {want} dimensions; got shape {arr.shape}.")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}; got {arr.shape}.")
    if finite and np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf.")
    return arr


def token_ids(arr: np.ndarray, name: str, vocab_size: int | None = None) -> np.ndarray:
    """Check ``arr`` holds integer token ids in [0, vocab_size) (any id >= 0 without a size)."""
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer token ids; got dtype {arr.dtype}.")
    if arr.size and (arr.min() < 0 or (vocab_size is not None and arr.max() >= vocab_size)):
        raise ValueError(f"{name} must hold ids in [0, {vocab_size}); got [{arr.min()}, {arr.max()}].")
    return arr


def same_length(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray, axis: int = 0) -> None:
    """Check two arrays agree along ``axis`` (e.g. the time axis of keys and values)."""
    if a.shape[axis] != b.shape[axis]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same size along axis {axis}; "
            f"got {a.shape} and {b.shape}."
        )


def in_range(value, name: str, low=None, high=None, low_open=False, high_open=False):
    """Check a scalar lies in a range, e.g. ``in_range(lam, "lam", 0, 1, low_open=True)`` for (0, 1]."""
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number; got {value!r}.") from err
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    bad_low = low is not None and (v <= low if low_open else v < low)
    bad_high = high is not None and (v >= high if high_open else v > high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        interval = ("(" if low_open or low is None else "[") + f"{lo}, {hi}" + (
            ")" if high_open or high is None else "]"
        )
        raise ValueError(f"{name} must be in {interval}; got {value!r}.")
    return value


def positive_int(value, name: str, minimum: int = 1) -> int:
    """Check an integer is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}.")
    return int(value)


def choice(value, name: str, choices: Iterable):
    """Check ``value`` is one of ``choices`` (e.g. ``choice(form, "form", FORMS)``) and return it."""
    options = tuple(choices)
    try:
        ok = value in options
    except TypeError:  # an unhashable value against dict keys
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}.")
    return value
