"""Execute one notebook headless, top to bottom, within a time budget; the grader runs this in its sandbox.

``python -m fwcourse.course.run_notebook NOTEBOOK.ipynb REPORT.json --timeout S`` runs every code
cell in a kernel of its own, in the notebook's folder. A cell that raises does not stop the run; after
``S`` seconds of cells in all (the kernel's start not counted), the run stops. ``REPORT.json`` then says how it went::

    {"outcome": "completed" | "timeout" | "kernel failure", "detail": "...",
     "errors": ["cell 7: ValueError: ...", ...]}

The learner's kernel runs beside this process and could rewrite the report: it tells the teacher
whether the notebook runs, and no score depends on it (see :mod:`fwcourse.course.grade`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

OUTCOMES = ("completed", "timeout", "kernel failure")


def execute(nb: nbformat.NotebookNode, folder: Path, timeout: float) -> tuple[str, str]:
    """Run ``nb``'s code cells in place (their outputs replaced) within ``timeout`` seconds in all.

    Returns (outcome, detail), the outcome one of :data:`OUTCOMES`.
    """
    for cell in nb.cells:  # the outputs saved with the file are not this run's, errors included
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, startup_timeout=120,
                            resources={"metadata": {"path": str(folder)}})
    try:
        with client.setup_kernel():  # its own limit, startup_timeout: the budget is for the cells
            deadline = time.monotonic() + timeout
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return "timeout", f"stopped after {timeout:g} s"
                client.timeout = max(1, int(remaining))
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    return "timeout", f"stopped after {timeout:g} s, in cell {index}"
                except DeadKernelError:
                    return "kernel failure", f"the kernel died in cell {index} (out of memory?)"
    except Exception as err:  # the kernel could not start, or died while starting
        return "kernel failure", f"{type(err).__name__}: {err}"
    return "completed", ""


def cell_errors(nb: nbformat.NotebookNode) -> list[str]:
    """One line per error output: ``cell N: Name: value``."""
    errors = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fwcourse.course.run_notebook", description=__doc__.split("\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("report", type=Path)
    parser.add_argument("--timeout", type=float, required=True, help="seconds for all cells together")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds; got {args.timeout:g}")
    nb = nbformat.read(args.notebook, as_version=4)
    outcome, detail = execute(nb, args.notebook.resolve().parent, args.timeout)
    report = {"outcome": outcome, "detail": detail, "errors": cell_errors(nb)}
    args.report.write_text(json.dumps(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
