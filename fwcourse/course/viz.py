"""Pictures of fast weights: heatmaps, and a player that steps through frames over time.

The frame-making functions (:func:`frame_indices`, :func:`color_limit`, :func:`heatmaps`,
:func:`matrix_figure`) are pure and need no kernel. Panels that are compared share one colour
scale, and a grid of panels has exactly as many axes as panels. :func:`frame_player` and :func:`matrix_player` show a slider with a Play
button when a Jupyter widget front end can show it, and otherwise a static grid of frames
(set ``FWCOURSE_STATIC_PLOTS=1`` to force that, e.g. when exporting a notebook to HTML or PDF).
"""
from __future__ import annotations

import math
import os
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np

from fwcourse.util import validate

STATIC_ENV = "FWCOURSE_STATIC_PLOTS"


def as_frames(frames, name: str = "frames") -> np.ndarray:
    """A sequence of matrices as one array (T, n, m); a single matrix (n, m) is one frame."""
    arr = validate.array(frames, name, ndim=(2, 3), finite=False).astype(float)
    return arr[None] if arr.ndim == 2 else arr


def color_limit(*arrays) -> float:
    """One symmetric colour limit for all the given arrays (of any shapes), so that a colour means
    the same value in every frame or panel drawn with it: the largest finite |entry|, or 1 when
    there is none."""
    if not arrays:
        raise TypeError("color_limit needs at least one array.")
    limit = 0.0
    for arr in arrays:
        arr = np.asarray(arr, dtype=float)
        finite = np.abs(arr[np.isfinite(arr)])
        limit = max(limit, float(finite.max()) if finite.size else 0.0)
    return limit if limit > 0 else 1.0


def frame_indices(n_frames: int, max_frames: int) -> list[int]:
    """Up to ``max_frames`` evenly spaced frame numbers from 0 to ``n_frames - 1``, both ends included."""
    validate.positive_int(n_frames, "n_frames")
    validate.positive_int(max_frames, "max_frames")
    if n_frames <= max_frames:
        return list(range(n_frames))
    return sorted({int(round(x)) for x in np.linspace(0, n_frames - 1, max_frames)})


def heatmap(matrix, ax=None, title: str | None = None, limit: float | None = None,
            cmap: str = "RdBu_r", colorbar: bool = True):
    """Draw a matrix as a heatmap (red positive, blue negative, white zero); return the image."""
    m = validate.array(matrix, "matrix", ndim=2, finite=False)
    ax = plt.gca() if ax is None else ax
    limit = color_limit(m) if limit is None else limit
    image = ax.imshow(m, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return image


def heatmaps(matrices: Sequence, axes: Sequence, titles: Sequence[str] | None = None,
             limit: float | None = None, colorbar: bool = True) -> list:
    """Draw matrices that are compared, one per axes, on one shared colour scale; return the images.

    The scale is ``limit``, by default :func:`color_limit` of all the matrices: without it, each
    panel would stretch its own largest entry to full colour and a small matrix would look as
    strong as a large one.
    """
    axes = list(axes)
    if len(axes) != len(matrices):
        raise ValueError(f"need one axes per matrix ({len(matrices)}); got {len(axes)}.")
    if titles is not None and len(titles) != len(matrices):
        raise ValueError(f"titles must have one entry per matrix ({len(matrices)}); got {len(titles)}.")
    limit = color_limit(*matrices) if limit is None else limit
    return [heatmap(m, ax=ax, title=None if titles is None else titles[i], limit=limit, colorbar=colorbar)
            for i, (m, ax) in enumerate(zip(matrices, axes))]


def _panel_grid(n_panels: int, columns: int = 4, panel_size: tuple[float, float] = (3.2, 3.0)):
    """A figure with exactly ``n_panels`` axes in rows of at most ``columns``; return (fig, axes).

    Rows are balanced (6 panels in 4 columns are 2 rows of 3, not 4 + 2), and no axes is made for
    the cells a last, shorter row leaves: a grid never shows empty panels.
    """
    validate.positive_int(n_panels, "n_panels")
    validate.positive_int(columns, "columns")
    rows = math.ceil(n_panels / columns)
    cols = math.ceil(n_panels / rows)
    fig = plt.figure(figsize=(panel_size[0] * cols, panel_size[1] * rows))
    return fig, [fig.add_subplot(rows, cols, i + 1) for i in range(n_panels)]


def matrix_figure(frames, t: int | Sequence[int], titles: Sequence[str] | None = None,
                  suptitle: str | None = None, columns: int = 4):
    """A figure of frame ``t`` (or a grid of several frames) on the colour scale of all frames."""
    arr = as_frames(frames)
    picks = [t] if np.ndim(t) == 0 else list(t)
    if not picks:
        raise ValueError("t must name at least one frame; got none.")
    for p in picks:
        if not 0 <= int(p) < len(arr):
            raise ValueError(f"t must be a frame number in [0, {len(arr) - 1}]; got {p}.")
    if titles is not None and len(titles) != len(arr):
        raise ValueError(f"titles must have one entry per frame ({len(arr)}); got {len(titles)}.")
    fig, axes = _panel_grid(len(picks), columns)
    heatmaps([arr[p] for p in picks], axes,
             titles=[titles[p] if titles is not None else f"t = {p}" for p in picks],
             limit=color_limit(arr), colorbar=len(picks) == 1)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def widgets_available() -> bool:
    """True inside a Jupyter kernel with ipywidgets, unless ``FWCOURSE_STATIC_PLOTS`` asks for static."""
    if os.environ.get(STATIC_ENV, "").strip() not in ("", "0"):
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _show(fig) -> None:
    from IPython.display import display

    display(fig)
    plt.close(fig)


def frame_player(draw: Callable[[int], "plt.Figure"], n_frames: int, description: str = "t",
                 interval_ms: int = 500, max_static: int = 6) -> None:
    """Step through ``draw(t)`` for t = 0..n_frames-1 with a slider and a Play button.

    ``draw(t)`` returns a matplotlib Figure. Without a widget front end, up to ``max_static``
    evenly spaced frames are shown one after another instead. The player is displayed here, so
    it shows wherever the call stands in a cell; it returns None (returning the widget too would
    show it twice when the call ends a cell).
    """
    n_frames = validate.positive_int(n_frames, "n_frames")
    if not callable(draw):
        raise TypeError(f"draw must be a function t -> Figure; got {type(draw).__name__}.")
    if not widgets_available():
        for t in frame_indices(n_frames, max_static):
            _show(draw(t))
        return
    import ipywidgets as widgets
    from IPython.display import display

    play = widgets.Play(min=0, max=n_frames - 1, step=1, interval=interval_ms, description="Play")
    slider = widgets.IntSlider(min=0, max=n_frames - 1, step=1, description=description,
                               continuous_update=False)
    widgets.link((play, "value"), (slider, "value"))
    output = widgets.interactive_output(lambda t: _show(draw(t)), {"t": slider})
    display(widgets.VBox([widgets.HBox([play, slider]), output]))


def matrix_player(frames, titles: Sequence[str] | None = None, suptitle: str | None = None,
                  description: str = "t", max_static: int = 8) -> None:
    """Show a sequence of matrices (T, n, m) over time: slider + Play, or a static grid of frames."""
    arr = as_frames(frames)
    if titles is not None and len(titles) != len(arr):
        raise ValueError(f"titles must have one entry per frame ({len(arr)}); got {len(titles)}.")
    if not widgets_available():
        _show(matrix_figure(arr, frame_indices(len(arr), max_static), titles, suptitle))
        return
    frame_player(lambda t: matrix_figure(arr, t, titles, suptitle), len(arr), description)
