"""Result records of the long experiments (``reproduce ba2016``, ``compare-lm``): a JSON list in the
results folder (``--out``; the committed ones are in ``data/``), written after every run, atomically,
so that a run cut short keeps what it finished. Each record says where its numbers were made with
:func:`fwcourse.util.envinfo.machine`."""
from __future__ import annotations

import json
from pathlib import Path

from fwcourse.util import atomic

__all__ = ["load_records", "write_records"]


def load_records(path: Path) -> list[dict]:
    """Records already written (none when the file does not exist)."""
    if not path.exists():
        return []
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} must hold a JSON list of records; it is not JSON ({err}).") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path} must hold a JSON list of records.")
    return records


def write_records(path: Path, records: list[dict]) -> None:
    """All records, one per line (diffs of the committed file then show which runs changed), written
    atomically: an interrupted write leaves the previous file whole."""
    atomic.write_text(path, "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")
