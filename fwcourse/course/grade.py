"""Grade submitted notebooks: ``python -m fwcourse grade NB.ipynb [...] [--csv out.csv] [--timeout S] [--memory GB]``.

A submission is code a student wrote, so the grader treats it as untrusted. For each file:

1. **Read.** A file that is not a notebook, or whose metadata does not name a course notebook
   (``fwcourse.notebook``: ``"00"`` ... ``"06"``), is reported and not graded. The metadata says
   which notebook it is; a file name that says another (``06_...`` holding notebook 00) is reported.
2. **Run.** A copy of the notebook runs headless, top to bottom, in a kernel of its own, in a sandbox
   (:mod:`fwcourse.course.sandbox`: its own temporary folder, no network, no other submission, no
   home, a memory limit) within ``--timeout`` seconds (:mod:`fwcourse.course.run_notebook`). Its
   outcome (completed, timeout, kernel failure) and the errors of its cells are reported, so the
   teacher knows whether it runs; none of it counts for the score, since the kernel is the learner's.
3. **Check.** The score is the number of the notebook's exercises that pass their public checks,
   judged here. Each exercise's function is read from the submitted file, with the imports and
   functions it needs (:mod:`fwcourse.course.extract`), and defined in a fresh sandboxed process with
   the fwcourse package hidden (:mod:`fwcourse.course.isolated_call`). Here, in the grader's process,
   the exercise's own :meth:`~fwcourse.course.check.Exercise.run` makes the inputs and the expected
   outputs and compares, calling a stand-in that sends each call's inputs to that process and gets
   back only the function's output: the expected outputs never leave the grader. Each call has the
   exercise's time limit, enforced by killing the process, so no exception handler, timer or signal
   setting in the learner's code can stop it, and whatever the function started dies with it. A
   function that uses the reference (``ex.NAME.reference``, ``ex.NAME.solution()``, the fwcourse
   function it mirrors) scores 0: "uses the reference".

Which does what: the ``check`` a learner calls in a notebook runs :meth:`Exercise.run
<fwcourse.course.check.Exercise.run>` on the function itself, in the learner's kernel, with an
in-process time limit, to help the learner; the grader reads nothing it prints or returns. The grade
comes from step 3 alone: the same ``run``, on the stand-in.

The batch always finishes: a file that cannot be read or graded is reported and the next one is
graded. With ``--csv``, each file's rows are written as soon as it is graded, so an interrupted batch
keeps what was graded. At the end, one summary line per file gives its total. Exit status: 0 when
every file was graded, 1 when any could not be, 2 for a mistake on the command line (or no sandbox;
``--no-sandbox`` runs the submissions unsandboxed, as the caller, by explicit choice).
"""
from __future__ import annotations

import csv
import importlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from fwcourse.course import sandbox as sandboxes
from fwcourse.course.check import NOT_ATTEMPTED, PASSED, TIMEOUT, USES_REFERENCE, Exercise, TimeLimit
from fwcourse.course.extract import extract
from fwcourse.course.isolated_call import isolated_function
from fwcourse.course.notebooks import NOTEBOOKS
from fwcourse.course.run_notebook import OUTCOMES
from fwcourse.course.sandbox import Sandbox
from fwcourse.util.cli import ArgumentParser

NOT_GRADED = ("not found", "corrupt", "unknown notebook", "grader error")
KNOWN = tuple(number for number, _, _ in NOTEBOOKS)
MAX_NOTEBOOK_BYTES = 64 * 2 ** 20  # a course notebook without outputs is about 50 kB
_START_SECONDS = 150  # beyond --timeout: to start the kernel (120 s at most) and write the report
_MAX_REPORTED_ERRORS = 50
# Notebook 04, the largest at the quick scale, peaks at 1.45 GB resident (measured on 2 cores) and
# runs whole under this limit; TensorFlow's thread stacks grow with the number of cores, so a
# many-core machine may need a larger --memory for the notebook run (the verdicts come from the
# isolated calls, which need far less).
DEFAULT_MEMORY_GB = 2.0


@dataclass
class NotebookGrade:
    """The outcome of grading one file.

    ``outcome`` is the run's (one of :data:`fwcourse.course.run_notebook.OUTCOMES`) for a graded
    file, else one of :data:`NOT_GRADED`, with ``detail`` saying why.
    """

    path: str
    notebook: str | None = None
    outcome: str = "completed"
    detail: str = ""
    notes: list[str] = field(default_factory=list)
    results: dict[str, dict] = field(default_factory=dict)  # exercise -> {status, message}
    cell_errors: list[str] = field(default_factory=list)

    @property
    def graded(self) -> bool:
        return self.outcome not in NOT_GRADED

    @property
    def score(self) -> int:
        return sum(r["status"] == PASSED for r in self.results.values())

    @property
    def total(self) -> int:
        return len(self.results)


def identify(nb: nbformat.NotebookNode, path: Path) -> tuple[str | None, str, str]:
    """Which course notebook ``nb`` is, from its metadata: (number or None, why not, a note).

    The note, when not empty, says that the file name names another notebook.
    """
    meta = nb.metadata.get("fwcourse")
    if meta is None:
        return None, "no fwcourse metadata: it is not a course notebook", ""
    number = meta.get("notebook") if isinstance(meta, dict) else None
    if not isinstance(number, str) or number not in KNOWN:
        shown = repr(meta)[:80]
        return None, f'metadata fwcourse is {shown}; expected {{"notebook": "{KNOWN[0]}"}} to "{KNOWN[-1]}"', ""
    prefix = path.name[:2]
    note = ""
    if prefix.isdigit() and prefix != number:
        note = f"the file name says notebook {prefix}, its metadata says {number}: graded as notebook {number}"
    return number, "", note


def _read(path: Path) -> tuple[nbformat.NotebookNode | None, str, str]:
    """(the notebook at ``path`` or None, the outcome when None, why)."""
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return None, "corrupt", f"larger than {MAX_NOTEBOOK_BYTES >> 20} MiB: not a course notebook"
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except FileNotFoundError:
        return None, "not found", "no such file"
    except IsADirectoryError:
        return None, "not found", "a folder, not a file"
    except Exception as err:  # invalid JSON, wrong schema, binary data: all "not a notebook"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return None, "corrupt", f"not a valid notebook ({first[:200]})"
    return nb, "", ""


def _run(nb: nbformat.NotebookNode, sandbox: Sandbox, folder: Path, timeout: float,
         scale: str) -> tuple[str, str, list[str]]:
    """Run a copy of ``nb`` in ``sandbox``; (outcome, detail, cell errors) as its report says."""
    work = sandbox.make_workdir(folder)
    nbformat.write(nb, work / "submission.ipynb")
    sandbox.share(work / "submission.ipynb")
    argv = [sys.executable, "-I", "-m", "fwcourse.course.run_notebook", "submission.ipynb", "report.json",
            "--timeout", f"{timeout:g}"]
    env = {"FWCOURSE_SCALE": scale, "FWCOURSE_STATIC_PLOTS": "1", "MPLBACKEND": "Agg"}
    with sandbox.start(argv, work, env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL) as proc:
        try:
            proc.wait(timeout + _START_SECONDS)
        except subprocess.TimeoutExpired:
            return "timeout", f"stopped after {timeout:g} s", []
    return _report(work / "report.json", timeout)


def _report(path: Path, timeout: float) -> tuple[str, str, list[str]]:
    """The run's report, read as the untrusted file it is (the learner's kernel could write it)."""
    try:
        if path.stat().st_size > 2 ** 20:
            raise ValueError("too large")
        report = json.loads(path.read_text(encoding="utf-8"))
        outcome, detail, errors = report["outcome"], report["detail"], report["errors"]
        if outcome not in OUTCOMES or not isinstance(detail, str) or not isinstance(errors, list):
            raise ValueError("not a report")
    except (OSError, ValueError, KeyError, TypeError):
        return "kernel failure", "the run left no report (it crashed, or the notebook's code removed it)", []
    return outcome, detail[:300], [str(e)[:300] for e in errors[:_MAX_REPORTED_ERRORS]]


def check_exercise(exercise: Exercise, nb: nbformat.NotebookNode, sandbox: Sandbox, folder: Path) -> dict:
    """The grader's verdict on one exercise of ``nb``: ``{"status": ..., "message": ...}``."""
    extracted = extract(nb, exercise.name)
    if extracted is None:
        return {"status": NOT_ATTEMPTED, "message": f"No top-level `def {exercise.name}` in the notebook."}
    if extracted.uses_reference:
        return {"status": USES_REFERENCE,
                "message": f"{exercise.name} must be your own code, not the course's: {extracted.uses_reference}."}
    with isolated_function(extracted.chunks, exercise.name, exercise.timeout, sandbox,
                           sandbox.make_workdir(folder)) as func:
        try:
            verdict = exercise.run(func)
        except TimeLimit:  # a call an exercise makes beyond its timed trials (a probe) ran too long
            return {"status": TIMEOUT,
                    "message": f"A further check's call did not finish within {exercise.timeout:g} s."}
    return {"status": verdict.status, "message": verdict.message}


def grade_notebook(path: str | Path, sandbox: Sandbox, timeout: float = 600, scale: str = "quick") -> NotebookGrade:
    """Grade one submission (see the module's docstring); never raises for a bad submission."""
    if timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds; got {timeout}.")
    path = Path(path)
    grade = NotebookGrade(path=str(path))
    nb, outcome, detail = _read(path)
    if nb is None:
        grade.outcome, grade.detail = outcome, detail
        return grade
    grade.notebook, problem, note = identify(nb, path)
    grade.notes += [note] if note else []
    if grade.notebook is None:
        grade.outcome, grade.detail = "unknown notebook", problem
        return grade
    module = importlib.import_module(f"fwcourse.course.exercises.nb{grade.notebook}")
    with tempfile.TemporaryDirectory(prefix="fwgrade-") as tmp:
        grade.outcome, grade.detail, grade.cell_errors = _run(nb, sandbox, Path(tmp) / "run", timeout, scale)
        for exercise in module.EXERCISES:
            grade.results[exercise.name] = check_exercise(exercise, nb, sandbox, Path(tmp) / f"check-{exercise.name}")
    return grade


def _verdict(result: dict) -> str:
    """The line that says what is wrong with an exercise, whole ("" when it passed)."""
    lines = result["message"].strip().splitlines()
    return lines[-1] if result["status"] != PASSED and lines else ""


def format_grade(grade: NotebookGrade) -> str:
    """The report on one file, for the terminal: each exercise's verdict on a line, in full."""
    head = f"== {grade.path}" + (f" (notebook {grade.notebook})" if grade.notebook else "")
    lines = [head]
    lines += [f"  note: {note}" for note in grade.notes]
    if not grade.graded:
        return "\n".join(lines + [f"  not graded: {grade.outcome}: {grade.detail}"])
    lines.append(f"  run: {grade.outcome}" + (f": {grade.detail}" if grade.detail else ""))
    width = max([len(n) for n in grade.results] + [8])
    for name, r in grade.results.items():
        lines.append(f"  {name:<{width}}  {r['status']:<14} {_verdict(r)}".rstrip())
    for err in grade.cell_errors[:5]:
        lines.append(f"  error in {err}")
    lines.append(f"  score: {grade.score}/{grade.total}")
    return "\n".join(lines)


def summary_line(grade: NotebookGrade) -> str:
    """One line per student: the file and its total, or why it was not graded."""
    if not grade.graded:
        return f"{grade.path}: not graded ({grade.outcome}: {grade.detail})"
    return f"{grade.path}: {grade.score}/{grade.total} (notebook {grade.notebook})"


CSV_COLUMNS = ["file", "notebook", "outcome", "exercise", "status", "score", "total", "detail"]


def csv_rows(grade: NotebookGrade) -> list[list]:
    """One row per exercise; a file with no exercise graded gets one row with its outcome."""
    notes = "; ".join(grade.notes + ([grade.detail] if grade.detail else []))
    head = [grade.path, grade.notebook or "", grade.outcome]
    if not grade.results:
        return [head + ["", grade.outcome, grade.score, grade.total, notes]]
    rows = []
    for name, r in grade.results.items():
        rows.append(head + [name, r["status"], grade.score, grade.total, "; ".join(filter(None, [_verdict(r), notes]))])
    return rows


def _csv_problem(target: Path, inputs: list[str]) -> str:
    """Why ``--csv`` may not be ``target``, or ""."""
    if target.suffix.lower() == ".ipynb":
        return f"--csv {target}: refusing to write a CSV over a notebook (did --csv come before the notebooks?)"
    resolved = target.resolve()
    if any(Path(p).resolve() == resolved for p in inputs):
        return f"--csv {target}: refusing to overwrite one of the submissions"
    if not target.parent.is_dir():
        return f"--csv: folder {target.parent} does not exist"
    if target.is_dir():
        return f"--csv {target} is a folder; give a file name"
    return ""


def main(argv: list[str] | None = None) -> int:
    """``python -m fwcourse grade``: grade the files, print and write the record; the exit status."""
    parser = ArgumentParser(prog="python -m fwcourse grade", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK.ipynb", help="submitted notebooks")
    parser.add_argument("--csv", type=Path, help="also write the results to this CSV file, a file at a time")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to run each notebook (default 600)")
    parser.add_argument("--memory", type=float, default=DEFAULT_MEMORY_GB, metavar="GB",
                        help=f"memory each process of a submission may use, in GiB (default {DEFAULT_MEMORY_GB:g})")
    parser.add_argument("--scale", default="quick", choices=["quick", "default", "full"],
                        help="FWCOURSE_SCALE the notebooks run at (default quick)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run the submissions without bubblewrap, as you, with your files and network")
    args = parser.parse_args(argv)
    if not args.timeout > 0:
        parser.error(f"--timeout must be a positive number of seconds; got {args.timeout:g}")
    if not args.memory >= 0.25:
        parser.error(f"--memory must be at least 0.25 (GiB); got {args.memory:g}")
    if args.csv is not None and (problem := _csv_problem(args.csv, args.notebooks)):
        parser.error(problem)
    if args.no_sandbox:
        print(f"{parser.prog}: --no-sandbox: the submissions run as you, with your files and network, "
              "in memory and time limits only", file=sys.stderr)
    elif reason := sandboxes.unavailable():
        print(f"{parser.prog}: no sandbox ({reason}); refusing to run students' code unsandboxed: "
              "install bubblewrap, or pass --no-sandbox to accept the risk", file=sys.stderr)
        return 2
    inputs = [Path(p) for p in args.notebooks]
    hidden = [*inputs, *(p.parent for p in inputs), Path.cwd()] + ([args.csv.parent] if args.csv else [])
    sandbox = Sandbox(int(args.memory * 2 ** 30), hidden=hidden, isolated=not args.no_sandbox)
    grades: list[NotebookGrade] = []
    try:
        out = open(args.csv, "w", newline="", encoding="utf-8") if args.csv is not None else None
    except OSError as err:
        parser.error(f"--csv {args.csv}: {err.strerror}")
    try:
        writer = csv.writer(out) if out else None
        if writer:
            writer.writerow(CSV_COLUMNS)
        for path in args.notebooks:
            try:
                grade = grade_notebook(path, sandbox, timeout=args.timeout, scale=args.scale)
            except Exception as err:  # a bug of the grader's must not end the batch either
                grade = NotebookGrade(path=path, outcome="grader error", detail=f"{type(err).__name__}: {err}"[:300])
            print(format_grade(grade), flush=True)
            grades.append(grade)
            if writer:
                writer.writerows(csv_rows(grade))
                out.flush()
    except KeyboardInterrupt as err:  # python -m fwcourse reports it in one line, with this hint
        err.resume_hint = (f"{len(grades)} of {len(args.notebooks)} files graded"
                           + (f", in {args.csv}" if args.csv else "") + "; grade the others in a new batch")
        raise
    finally:
        if out:
            out.close()
        print(f"\nSummary ({len(grades)} of {len(args.notebooks)} files):")
        for grade in grades:
            print(f"  {summary_line(grade)}")
        if args.csv is not None:
            print(f"Wrote {args.csv}")
    return 0 if all(g.graded for g in grades) else 1


if __name__ == "__main__":
    sys.exit(main())
