"""The course's one setting: the scale, and the sizes each notebook uses at that scale.

Choose the scale with the environment variable ``FWCOURSE_SCALE`` (``quick``, ``default`` or
``full``), or in a notebook's first cell with ``config.set_scale("quick")``. Nothing else changes
between scales: the same code runs, only the sizes below differ.

* ``quick``: CI and a first look, under a minute a notebook on 2 CPU cores.
* ``default``: a laptop CPU, minutes; shows the real effect.
* ``full``: paper scale; uses a GPU where one is present.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

SCALES = ("quick", "default", "full")
ENV_VAR = "FWCOURSE_SCALE"
DEFAULT_SCALE = "default"

# One block per notebook; every scale of a block has the same keys.
SIZES: dict[str, dict[str, dict]] = {
    "00": {
        "quick": dict(widget_frames=6, matrix_size=5),
        "default": dict(widget_frames=12, matrix_size=8),
        "full": dict(widget_frames=24, matrix_size=8),
    },
}

# Minutes a notebook takes at each scale (a rough guide shown in notebook 00).
MINUTES: dict[str, dict[str, str]] = {
    "00": {"quick": "< 1", "default": "1", "full": "1"},
}


def scale() -> str:
    """The chosen scale, read from ``FWCOURSE_SCALE`` every call (so a notebook may change it)."""
    value = os.environ.get(ENV_VAR, DEFAULT_SCALE).strip().lower() or DEFAULT_SCALE
    if value not in SCALES:
        raise ValueError(
            f"{ENV_VAR}={os.environ.get(ENV_VAR)!r} is not a scale; valid values are "
            f"{', '.join(SCALES)}."
        )
    return value


def set_scale(value: str) -> str:
    """Set the scale for this process (and the kernels or subprocesses it starts)."""
    if not isinstance(value, str) or value.strip().lower() not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {value!r}.")
    os.environ[ENV_VAR] = value.strip().lower()
    return scale()


def sizes(notebook: str, scale_name: str | None = None) -> SimpleNamespace:
    """The sizes notebook ``notebook`` (e.g. ``"03"``) uses at the chosen (or given) scale."""
    if notebook not in SIZES:
        raise ValueError(
            f"notebook must be one of {', '.join(sorted(SIZES))}; got {notebook!r}."
        )
    chosen = scale() if scale_name is None else scale_name
    if chosen not in SCALES:
        raise ValueError(f"scale_name must be one of {', '.join(SCALES)}; got {chosen!r}.")
    return SimpleNamespace(scale=chosen, **SIZES[notebook][chosen])


def describe(notebook: str) -> str:
    """One line for a notebook's first cell: the scale and how to change it."""
    s = sizes(notebook)
    others = ", ".join(x for x in SCALES if x != s.scale)
    return (
        f"Scale: {s.scale} (set FWCOURSE_SCALE or call config.set_scale() to use {others}). "
        f"Sizes: {', '.join(f'{k}={v}' for k, v in vars(s).items() if k != 'scale')}"
    )
