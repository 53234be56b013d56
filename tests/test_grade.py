"""`python -m fwcourse grade` on a batch: solved, botched, endless loop, corrupt."""
import csv
import subprocess
import sys

import nbformat

from fwcourse.course.build_notebooks import repo_root

ROOT = repo_root()


def _submission(tmp_path, name, edit=None):
    nb = nbformat.read(ROOT / "notebooks" / "solutions" / "00_start_here.ipynb", as_version=4)
    if edit:
        edit(nb)
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def _replace_solution(nb, body):
    cell = next(c for c in nb.cells if "### BEGIN SOLUTION" in c.source)
    lines = cell.source.splitlines()
    start = lines.index("    ### BEGIN SOLUTION")
    end = lines.index("    ### END SOLUTION")
    cell.source = "\n".join(lines[: start + 1] + [f"    {body}"] + lines[end:])


def test_grade_a_batch(tmp_path):
    solved = _submission(tmp_path, "solved.ipynb")
    botched = _submission(tmp_path, "botched.ipynb", lambda nb: _replace_solution(nb, "return np.outer(k, v)"))

    def add_loop(nb):
        nb.cells.append(nbformat.v4.new_code_cell("while True:\n    pass"))
        nb.cells.append(nbformat.v4.new_code_cell("print('never reached')"))
    looping = _submission(tmp_path, "looping.ipynb", add_loop)
    corrupt = tmp_path / "corrupt.ipynb"
    corrupt.write_text('{"cells": [ this is not json')
    out_csv = tmp_path / "grades.csv"

    proc = subprocess.run(
        [sys.executable, "-m", "fwcourse", "grade", str(solved), str(botched), str(looping), str(corrupt),
         "--csv", str(out_csv), "--timeout", "60"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    blocks = proc.stdout.split("== ")[1:]
    by_name = {name: next(b for b in blocks if b.startswith(str(tmp_path / name)))
               for name in ("solved", "botched", "looping", "corrupt")}
    assert "score: 1/1" in by_name["solved"] and "outcome: completed" in by_name["solved"]
    assert "score: 0/1" in by_name["botched"] and "wrong_shape" in by_name["botched"]
    assert "outcome: timeout" in by_name["looping"] and "score: 1/1" in by_name["looping"]
    assert "outcome: corrupt" in by_name["corrupt"] and "not a valid notebook" in by_name["corrupt"]
    rows = list(csv.DictReader(out_csv.open()))
    assert {r["file"].rsplit("/", 1)[-1]: r["outcome"] for r in rows} == {
        "solved.ipynb": "completed", "botched.ipynb": "completed",
        "looping.ipynb": "timeout", "corrupt.ipynb": "corrupt"}


def test_grade_usage_errors_are_clear(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fwcourse", "grade", "x.ipynb", "--timeout", "-1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--timeout must be a positive" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "fwcourse", "grade", str(tmp_path / "missing.ipynb")],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "file not found" in proc.stdout
