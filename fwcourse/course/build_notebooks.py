"""One source, two notebooks: ``notebooks/src/NN_name.py`` -> learner and solution versions.

The source is a jupytext "percent" script. Solutions sit between nbgrader's markers::

    def outer_product(v, k):
        ### BEGIN SOLUTION
        return np.outer(v, k)
        ### END SOLUTION

* ``notebooks/solutions/NN_name.ipynb`` keeps the code and the markers, and tags those cells with
  nbgrader metadata, so the file works as an nbgrader source notebook too.
* ``notebooks/NN_name.ipynb`` (what a learner opens) has each marked block replaced by a stub that
  raises ``NotImplementedError``.

Both are written without outputs and with stable cell ids, so a rebuild of an unchanged source
changes nothing and ``--check`` can tell when a committed notebook is stale.

Usage: ``python -m fwcourse build-notebooks [--check] [--root DIR]``.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext
import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = 'raise NotImplementedError("Your code here: replace this line, then run the check below.")'
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
_MARKER = re.compile(r"^(\s*)### (BEGIN|END) SOLUTION\s*$")


def repo_root() -> Path:
    """The course checkout this package lives in (notebooks/ beside fwcourse/)."""
    return Path(__file__).resolve().parents[2]


def strip_solutions(source: str, where: str = "cell") -> str:
    """Replace each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block by a stub at its indentation."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), 1):
        match = _MARKER.match(line)
        if match and match.group(2) == "BEGIN":
            if inside:
                raise ValueError(f"{where}, line {number}: {BEGIN} inside another solution block.")
            inside = True
            out += [f"{match.group(1)}# YOUR CODE HERE", f"{match.group(1)}{STUB}"]
        elif match:
            if not inside:
                raise ValueError(f"{where}, line {number}: {END} without {BEGIN}.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} is never closed by {END}.")
    return "\n".join(out)


def _has_solution(cell) -> bool:
    return cell.cell_type == "code" and BEGIN in cell.source


def build(source: Path, learner: bool) -> nbformat.NotebookNode:
    """The learner (``learner=True``) or solution notebook made from one source script."""
    nb = jupytext.read(source)
    stem = source.stem
    nb.metadata = {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
        "fwcourse": {"notebook": stem.split("_", 1)[0], "version": "learner" if learner else "solution"},
    }
    for index, cell in enumerate(nb.cells):
        cell.id = f"{stem[:2]}-{index:03d}"
        cell.metadata = {}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if _has_solution(cell):
            if learner:
                cell.source = strip_solutions(cell.source, f"{source.name}, cell {index}")
            else:
                cell.metadata["nbgrader"] = {
                    "grade": False, "grade_id": f"{stem[:2]}-solution-{index:03d}",
                    "locked": False, "schema_version": 3, "solution": True,
                }
    nbformat.validate(nb)
    return nb


def targets(root: Path) -> list[tuple[Path, Path, Path]]:
    """(source, learner path, solution path) for every notebook source under ``root``."""
    sources = sorted((root / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
    return [
        (src, root / "notebooks" / f"{src.stem}.ipynb", root / "notebooks" / "solutions" / f"{src.stem}.ipynb")
        for src in sources
    ]


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fwcourse build-notebooks", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any notebook is stale")
    parser.add_argument("--root", type=Path, default=repo_root(), help="course checkout (default: this one)")
    args = parser.parse_args(argv)
    if not (args.root / "notebooks" / "src").is_dir():
        print(f"build-notebooks: {args.root / 'notebooks' / 'src'} is not a folder; --root must be a course checkout.",
              file=sys.stderr)
        return 2
    stale = []
    for src, learner_path, solution_path in targets(args.root):
        for path, learner in ((learner_path, True), (solution_path, False)):
            try:
                text = render(build(src, learner))
            except ValueError as err:
                print(f"build-notebooks: {err}", file=sys.stderr)
                return 2
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    rel = [str(p.relative_to(args.root)) for p in stale]
    if args.check:
        if stale:
            print("Stale notebooks (run `python -m fwcourse build-notebooks`):\n  " + "\n  ".join(rel))
            return 1
        print("All notebooks are up to date with notebooks/src.")
        return 0
    print("Wrote:\n  " + "\n  ".join(rel) if rel else "Nothing to do: all notebooks are up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
