"""Result records of the long experiments (``reproduce ba2016``, ``compare-lm``): a JSON list in
``data/``, written after every run so that a run cut short keeps what it finished, and a line
saying where the numbers were made."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

__all__ = ["DATA_DIR", "machine", "load_records", "write_records"]

# Where the committed results live: data/ at the top of the repository.
DATA_DIR = Path(__file__).resolve().parents[2] / "data"


def machine() -> str:
    """One line describing where the numbers were made."""
    import keras

    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    ncpu = len(cpus) if cpus is not None else os.cpu_count()
    return (f"{platform.machine()} {platform.processor() or platform.system()}, {ncpu} CPU core(s) "
            f"usable, Python {platform.python_version()}, Keras {keras.__version__} "
            f"({keras.backend.backend()} backend)")


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
