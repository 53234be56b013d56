"""Grade submitted notebooks: ``python -m fwcourse grade NB.ipynb [...] [--csv out.csv] [--timeout S]``.

Each notebook runs headless, top to bottom, in a kernel of its own. Every exercise check it calls
reports its verdict (see :mod:`fwcourse.course.check`), and the score is the number of the notebook's
exercises whose public checks passed. A cell that raises does not stop the run (later exercises
are still graded); a notebook that runs past ``--timeout`` seconds is stopped and graded on what
ran; a file that is not a notebook is reported as such. The batch always goes on.
"""
from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from fwcourse.course.check import GRADE_LOG_ENV, PASSED

NOT_RUN = "not_run"


@dataclass
class NotebookGrade:
    """The outcome of grading one file."""

    path: str
    notebook: str | None = None
    outcome: str = "completed"  # completed | timeout | corrupt | unknown notebook | kernel failure
    detail: str = ""
    results: dict[str, dict] = field(default_factory=dict)  # exercise -> {status, message}
    cell_errors: list[str] = field(default_factory=list)

    @property
    def score(self) -> int:
        return sum(r["status"] == PASSED for r in self.results.values())

    @property
    def total(self) -> int:
        return len(self.results)


def exercise_names(notebook: str) -> list[str]:
    """Names of the exercises of notebook ``notebook`` ("00", "01", ...), in order."""
    module = importlib.import_module(f"fwcourse.course.exercises.nb{notebook}")
    return [ex.name for ex in module.EXERCISES]


def _notebook_id(nb, path: Path) -> str | None:
    ident = nb.metadata.get("fwcourse", {}).get("notebook")
    if ident:
        return str(ident)
    prefix = path.name[:2]
    return prefix if prefix.isdigit() else None


def _read(path: Path):
    """The notebook at ``path``, or a reason it is not one."""
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except FileNotFoundError:
        return None, "file not found"
    except Exception as err:  # invalid JSON, wrong schema, binary data: all "not a notebook"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return None, f"not a valid notebook ({first[:200]})"
    return nb, ""


def _execute(nb, workdir: Path, log: Path, timeout: float, scale: str) -> tuple[str, list[str]]:
    """Run every code cell within ``timeout`` seconds in all; return (outcome, cell error lines)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    env_before = dict(os.environ)
    os.environ.update({GRADE_LOG_ENV: str(log), "FWCOURSE_SCALE": scale,
                       "FWCOURSE_STATIC_PLOTS": "1", "MPLBACKEND": "Agg"})
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, startup_timeout=120,
                            resources={"metadata": {"path": str(workdir)}})
    deadline = time.monotonic() + timeout
    outcome = "completed"
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    outcome = "timeout"
                    break
                client.timeout = max(1, int(remaining))
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    outcome = "timeout"
                    break
                except DeadKernelError:
                    outcome = "kernel failure"
                    break
    except Exception as err:  # the kernel could not start, or died while starting
        outcome = f"kernel failure ({type(err).__name__}: {err})"[:300]
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    errors = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"cell {index}: {out.get('ename')}: {str(out.get('evalue'))[:200]}")
    return outcome, errors


def grade_notebook(path: str | Path, timeout: float = 600, scale: str = "quick") -> NotebookGrade:
    """Execute one submission and collect its exercise verdicts."""
    path = Path(path)
    grade = NotebookGrade(path=str(path))
    nb, problem = _read(path)
    if nb is None:
        grade.outcome, grade.detail = "corrupt", problem
        return grade
    grade.notebook = _notebook_id(nb, path)
    try:
        names = exercise_names(grade.notebook) if grade.notebook else []
    except ModuleNotFoundError:
        names = []
    if not names:
        grade.outcome = "unknown notebook"
        grade.detail = "no course exercises found for it (metadata fwcourse.notebook or an NN_ file name)"
        return grade
    with tempfile.TemporaryDirectory(prefix="fwgrade-") as tmp:
        log = Path(tmp) / "verdicts.jsonl"
        grade.outcome, grade.cell_errors = _execute(nb, path.resolve().parent, log, timeout, scale)
        verdicts = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    for name in names:
        grade.results[name] = {"status": NOT_RUN, "message": "the check never ran"}
    for record in verdicts:  # the last verdict of each exercise counts
        if record["exercise"] in grade.results:
            grade.results[record["exercise"]] = {"status": record["status"], "message": record["message"]}
    if grade.outcome == "timeout":
        grade.detail = f"stopped after {timeout:g} s; graded on the cells that ran"
    return grade


def format_grade(grade: NotebookGrade) -> str:
    head = f"== {grade.path}" + (f" (notebook {grade.notebook})" if grade.notebook else "")
    lines = [head, f"  outcome: {grade.outcome}" + (f": {grade.detail}" if grade.detail else "")]
    width = max([len(n) for n in grade.results] + [8])
    for name, r in grade.results.items():
        first = r["message"].strip().splitlines()[-1] if r["message"].strip() and r["status"] != PASSED else ""
        lines.append(f"  {name:<{width}}  {r['status']:<13} {first[:120]}")
    for err in grade.cell_errors[:5]:
        lines.append(f"  error in {err}")
    if grade.results:
        lines.append(f"  score: {grade.score}/{grade.total}")
    return "\n".join(lines)


def write_csv(grades: list[NotebookGrade], path: Path) -> None:
    """One row per (file, exercise); a file with no exercises graded gets one row with its outcome."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "notebook", "outcome", "exercise", "status", "score", "total"])
        for g in grades:
            rows = g.results.items() or [("", {"status": g.outcome})]
            for name, r in rows:
                writer.writerow([g.path, g.notebook or "", g.outcome, name, r["status"], g.score, g.total])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fwcourse grade", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK.ipynb", help="submitted notebooks")
    parser.add_argument("--csv", type=Path, help="also write the results to this CSV file")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per notebook (default 600)")
    parser.add_argument("--scale", default="quick", choices=["quick", "default", "full"],
                        help="FWCOURSE_SCALE the notebooks run at (default quick)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds; got {args.timeout:g}")
    if args.csv is not None and not args.csv.parent.exists():
        parser.error(f"--csv: folder {args.csv.parent} does not exist")
    grades = []
    for path in args.notebooks:
        grade = grade_notebook(path, timeout=args.timeout, scale=args.scale)
        print(format_grade(grade), flush=True)
        grades.append(grade)
    if args.csv is not None:
        write_csv(grades, args.csv)
        print(f"Wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
