"""Markdown tables of results: the one renderer behind the experiments' pages and tables.

    >>> print("\\n".join(markdown_table(["method", "perplexity"], [["base", 123.456], ["FWL", None]])))
    | method | perplexity |
    |---|---|
    | base | 123.5 |
    | FWL | – |
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

from fwcourse.util import validate

__all__ = ["cell", "markdown_table"]

MISSING = "–"  # an en dash: a value that was not measured, or not reported
_ALIGN = {None: "---", "": "---", "left": ":---", "right": "---:", "center": ":---:"}

Format = str | Callable[[object], str] | None


def cell(value, spec: Format = None, missing: str = MISSING) -> str:
    """One table cell: ``None`` as ``missing``; with ``spec``, the value formatted by it (a format
    spec such as ``".3f"``, ``","`` or ``".1%"``, or a function); without, a float to four
    significant digits (whole numbers with thousands separators from 1,000 on) and anything else
    as ``str`` (so text already formatted passes through)."""
    if value is None:
        return missing
    if isinstance(value, str):
        return value
    if callable(spec):
        return spec(value)
    if spec is not None:
        return format(value, spec)
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence], *,
                   formats: Sequence[Format] | None = None, align: Sequence[str | None] | None = None,
                   missing: str = MISSING) -> list[str]:
    """The lines of a Markdown table: the header, the separator, one line per row.

    Each value goes through :func:`cell` with its column's entry of ``formats`` (``None`` entries,
    or no ``formats``, use the default). ``align`` gives each column's alignment (``"left"``,
    ``"right"``, ``"center"`` or ``None`` for the renderer's default). Every row must have as many
    values as the header.
    """
    header = list(header)
    n = len(header)
    formats = [None] * n if formats is None else list(formats)
    align = [None] * n if align is None else list(align)
    if len(formats) != n or len(align) != n:
        raise ValueError(f"formats and align must have one entry per column ({n}); "
                         f"got {len(formats)} and {len(align)}.")
    for a in align:
        validate.choice(a, "an align entry", _ALIGN)
    lines = [_line(header), "|" + "|".join(_ALIGN[a] for a in align) + "|"]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != n:
            raise ValueError(f"row {i} has {len(row)} values for {n} columns: {row!r}.")
        lines.append(_line(cell(v, f, missing) for v, f in zip(row, formats)))
    return lines


def _line(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"
