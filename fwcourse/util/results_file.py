"""Result records of the long experiments (``reproduce ba2016``, ``compare-lm``): a JSON list in
``data/``, written after every run so that a run cut short keeps what it finished. Each record
says where its numbers were made with :func:`fwcourse.util.envinfo.machine`."""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["load_records", "write_records"]


def load_records(path: Path) -> list[dict]:
    """Records already written (none when the file does not exist)."""
    if not path.exists():
        return []
    records = json.loads(path.read_text())
    if not isinstance(records, list):
        raise ValueError(f"{path} must hold a JSON list of records.")
    return records


def write_records(path: Path, records: list[dict]) -> None:
    """All records, one per line (diffs of the committed file then show which runs changed)."""
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")
