"""Atomic file writes: a command stopped at any moment leaves each file either old or new, never half.

The new content goes to a temporary file in the same folder, which then replaces the target with
:func:`os.replace` (atomic on POSIX and Windows when both are on one file system, as a file and
its folder are). Every file a command writes as its state (settings, vocabularies, models,
results) goes through :func:`replacing` or :func:`write_text`.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator

__all__ = ["replacing", "write_text"]


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without an error, it replaces
    ``path``. On an error (or Ctrl-C) the temporary file is removed and ``path`` is untouched.

    The temporary name keeps ``path``'s suffix, for writers that check it (``model.save`` wants
    ``.keras``), with ``.tmp`` before it: ``.model.PID-XXXX.tmp.keras``.
    """
    target = Path(path)
    # named, not created, here: the writer creates it, so it gets the usual permissions (umask), not
    # mkstemp's owner-only ones, which os.replace would carry over to the target
    tmp_path = target.with_name(f".{target.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{target.suffix}")
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
