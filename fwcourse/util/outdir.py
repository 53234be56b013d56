"""The output folders of the commands: checked before any work starts, never someone else's files overwritten.

* :func:`prepare`: the folder exists (it is created) and can be written, or :class:`OutputError`
  says why in one line, before any training.
* :func:`claim`: a command's run folder. ``fwcourse-run.json`` records which command wrote the
  folder and the settings that make its run that run (the model, the context, the vocabulary,
  ...). A folder holding files the command would write is refused when they are not its own, or
  when they belong to a run of other settings, unless ``overwrite``.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

from fwcourse.util import atomic

__all__ = ["MANIFEST", "OutputError", "prepare", "claim"]

MANIFEST = "fwcourse-run.json"


class OutputError(ValueError):
    """An output folder a command cannot use as asked; the message is one line naming the option."""


def prepare(path: str | os.PathLike, option: str = "--out") -> Path:
    """Create the folder ``path`` (and its parents) and check a file can be written there.

    Raises :class:`OutputError` naming ``option`` when ``path`` is a file, cannot be created, or
    is read-only: a command calls this before it trains, so that no work is lost at the end.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{option} {str(out)!r} is a file; expected a folder (it is created if missing).")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".fwcourse-write-test-"):
            pass
    except OSError as err:
        raise OutputError(f"{option} {str(out)!r} cannot be written ({err.strerror or err}); "
                          "choose a folder you can write to.") from None
    return out


def claim(path: str | os.PathLike, command: str, identity: dict, files: Iterable[str],
          overwrite: bool = False, option: str = "--out") -> Path:
    """Make ``path`` the run folder of ``command`` for the run described by ``identity``.

    ``files`` are the names (files or folders) the command writes there. When some of them exist:

    * written by ``command`` for the same ``identity`` (per ``fwcourse-run.json``): kept, so that
      the command can resume or refresh its own run;
    * otherwise (another command's, no record, or a run of other settings): :class:`OutputError`
      naming what differs, unless ``overwrite``, which deletes those names (only those) first.

    Files of other names are never touched. Returns the folder, prepared by :func:`prepare`.
    """
    out = prepare(path, option)
    identity = json.loads(json.dumps(identity))  # as it reads back from the record (tuples as lists)
    present = sorted(name for name in files if (out / name).exists())
    recorded = _read_manifest(out)
    same_run = recorded is not None and recorded.get("command") == command and recorded.get("identity") == identity
    if present and not same_run:
        if not overwrite:
            raise OutputError(_refusal(out, command, identity, present, recorded, option))
        for name in present:
            if (out / name).is_dir():
                shutil.rmtree(out / name)
            else:
                (out / name).unlink()
    if not same_run:
        atomic.write_text(out / MANIFEST, json.dumps({"command": command, "identity": identity}, indent=2))
    return out


def _read_manifest(out: Path) -> dict | None:
    """The folder's run record; ``None`` when it has none or it is unreadable (a foreign folder)."""
    try:
        record = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _refusal(out: Path, command: str, identity: dict, present: list[str], recorded: dict | None,
             option: str) -> str:
    where = f"{option} {str(out)!r}"
    advice = f"choose another {option}, or add --overwrite to replace {'them' if len(present) > 1 else 'it'}."
    if recorded is None or recorded.get("command") != command:
        return f"{where} already holds {', '.join(present)}, which {command} did not write; {advice}"
    theirs = recorded.get("identity") or {}
    differ = [f"{k}: {theirs.get(k)!r} there, {v!r} here" for k, v in identity.items() if theirs.get(k) != v]
    differ += [f"{k}: {v!r} there, none here" for k, v in theirs.items() if k not in identity]
    return f"{where} holds a {command} run of other settings ({'; '.join(differ)}); {advice}"

