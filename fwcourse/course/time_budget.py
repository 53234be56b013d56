"""``python -m fwcourse time-budget``: how long each notebook takes a learner, measured.

Three parts per notebook, each from something counted or timed:

* **compute**: the learner notebook run top to bottom, headless, at the chosen scale (default:
  ``default``), timed on this machine (:func:`fwcourse.course.run_notebook.execute`);
* **reading**: the words of its Markdown cells at :data:`WORDS_PER_MINUTE`, and the lines of its
  code cells (exercise stubs left out) at :data:`CODE_LINES_PER_MINUTE`;
* **exercises**: per warm-up or core exercise, :data:`EXERCISE_BASE_MINUTES` plus
  :data:`MINUTES_PER_SOLUTION_LINE` for each line of its worked solution (the code the learner
  writes, from ``notebooks/src``). Stretch exercises are open-ended and optional: counted, not timed.

The rates are the course's stated assumptions (technical reading with equations is slower than
the 238 words a minute of ordinary non-fiction, Brysbaert 2019), shown on the page beside the
counts, so a teacher can redo the sums with other rates. Records go to ``OUT/time_budget.json``
and the page to ``OUT/time_budget.md``, resumably; notebook 00 shows ``data/time_budget.json``.
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import nbformat

from fwcourse.course import config
from fwcourse.course.build_notebooks import repo_root
from fwcourse.course.notebooks import NOTEBOOKS
from fwcourse.util.cli import ArgumentParser, add_results_out, stop_hint
from fwcourse.util.envinfo import machine
from fwcourse.util.outdir import OutputError

RESULTS_NAME = "time_budget"
WORDS_PER_MINUTE = 120
CODE_LINES_PER_MINUTE = 15
EXERCISE_BASE_MINUTES = 5
MINUTES_PER_SOLUTION_LINE = 2
TARGET_HOURS = 8
LEVELS = ("warm-up", "core", "stretch")
_HEADING = re.compile(r"^#+\s*Exercise\s+\d+\s*\((warm-up|core|stretch)[^)]*\)", re.MULTILINE)


def _source_cells(text: str) -> list[tuple[str, str]]:
    """(kind, text) of each cell of a notebook source (jupytext percent format), kind "markdown" or "code"."""
    cells = []
    for block in re.split(r"^# %%", text, flags=re.MULTILINE)[1:]:
        header, _, body = block.partition("\n")
        if "[markdown]" in header:
            cells.append(("markdown", re.sub(r"^# ?", "", body, flags=re.MULTILINE)))
        else:
            cells.append(("code", body))
    return cells


def _solution_lines(code: str) -> list[int]:
    """Lines of each ``### BEGIN SOLUTION`` block of a code cell (blank lines and comments not counted)."""
    blocks = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", code, flags=re.DOTALL)
    return [sum(1 for line in b.splitlines() if line.strip() and not line.strip().startswith("#")) for b in blocks]


def count(source: str) -> dict:
    """Words, code lines and exercises (level and solution lines) of a notebook source's text."""
    words = code_lines = 0
    exercises: list[dict] = []
    for kind, text in _source_cells(source):
        if kind == "markdown":
            words += len(re.findall(r"[A-Za-z0-9]+", re.sub(r"\$[^$]*\$", " formula ", text)))
            exercises += [{"level": level, "solution_lines": 0} for level in _HEADING.findall(text)]
            continue
        without = re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION\n?", "", text, flags=re.DOTALL)
        code_lines += sum(1 for line in without.splitlines() if line.strip())
        # a solution belongs to the last exercise heading before it (all its blocks, in any cells)
        if exercises and exercises[-1]["level"] != "stretch":
            exercises[-1]["solution_lines"] += sum(_solution_lines(text))
    return {"words": words, "code_lines": code_lines, "exercises": exercises}


def minutes(counts: dict) -> dict:
    """Reading and exercise minutes from :func:`count`'s numbers, at the module's stated rates."""
    timed = [e for e in counts["exercises"] if e["level"] != "stretch"]
    return {
        "reading_min": counts["words"] / WORDS_PER_MINUTE + counts["code_lines"] / CODE_LINES_PER_MINUTE,
        "exercise_min": sum(EXERCISE_BASE_MINUTES + MINUTES_PER_SOLUTION_LINE * e["solution_lines"] for e in timed),
    }


def time_notebook(stem: str, scale: str, timeout_s: float = 3600, save_to: Path | None = None) -> tuple[float, str]:
    """Seconds to run the learner notebook top to bottom at ``scale``, and how the run ended; with
    ``save_to`` (a folder) the executed notebook, outputs and all, is written there too."""
    from fwcourse.course.run_notebook import cell_errors, execute

    nb = nbformat.read(repo_root() / "notebooks" / f"{stem}.ipynb", as_version=4)
    previous = config.scale()
    config.set_scale(scale)  # the kernel inherits the environment
    try:
        start = time.perf_counter()  # in its own folder, as a learner runs it (it reads ../data)
        outcome, _ = execute(nb, repo_root() / "notebooks", timeout_s)
        seconds = time.perf_counter() - start
    finally:
        config.set_scale(previous)
    if save_to is not None:
        Path(save_to).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, Path(save_to) / f"{stem}.ipynb")
    errors = cell_errors(nb)
    return seconds, outcome if not errors else f"{outcome}, {len(errors)} cell error(s): {errors[0]}"


def record(number: str, stem: str, scale: str, save_to: Path | None = None) -> dict:
    counts = count((repo_root() / "notebooks" / "src" / f"{stem}.py").read_text(encoding="utf-8"))
    seconds, outcome = time_notebook(stem, scale, save_to=save_to)
    return {"notebook": number, "stem": stem, "scale": scale, **counts, **minutes(counts),
            "compute_s": round(seconds, 1), "outcome": outcome, "machine": machine()}


def one_scale(records: list[dict]) -> list[dict]:
    """The records of one scale, ``default`` if it was timed, else the first one's: a page or a
    total that mixed scales would add minutes that no learner spends together."""
    scales = [r["scale"] for r in records]
    chosen = "default" if "default" in scales else scales[0] if scales else None
    return [r for r in records if r["scale"] == chosen]


def render_markdown(records: list[dict]) -> str:
    """The time-budget page: one row per notebook (of :func:`one_scale`) and a total against
    :data:`TARGET_HOURS`."""
    rows = sorted(one_scale(records), key=lambda r: r["notebook"])
    scale = rows[0]["scale"]
    out = [
        "# A learner's time budget, per notebook",
        "",
        "Generated by `python -m fwcourse time-budget --out data` (fwcourse/course/time_budget.py); do not edit by hand.",
        "",
        f"Compute: the learner notebook run top to bottom at the `{scale}` scale, timed on: {rows[0]['machine']}.",
        f"Reading: words of the Markdown cells at {WORDS_PER_MINUTE} a minute, plus lines of code at "
        f"{CODE_LINES_PER_MINUTE} a minute. Exercises: {EXERCISE_BASE_MINUTES} min each plus "
        f"{MINUTES_PER_SOLUTION_LINE} min per line of the worked solution (warm-up and core); the stretch "
        "exercises are optional and open-ended, so they are counted, not timed.",
        "",
        "| notebook | words | code lines | exercises (warm-up / core / stretch) | reading (min) | exercises (min) "
        f"| compute at `{scale}` (min) | total (min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    totals = [0.0, 0.0, 0.0]
    for r in rows:
        levels = " / ".join(str(sum(e["level"] == lv for e in r["exercises"])) for lv in LEVELS)
        parts = [r["reading_min"], r["exercise_min"], r["compute_s"] / 60]
        totals = [a + b for a, b in zip(totals, parts)]
        note = "" if r["outcome"] == "completed" else f" ({r['outcome']})"
        out.append(f"| {r['notebook']} | {r['words']:,} | {r['code_lines']} | {levels} | {parts[0]:.0f} | "
                   f"{parts[1]:.0f} | {parts[2]:.1f}{note} | {sum(parts):.0f} |")
    hours = sum(totals) / 60
    out += [f"| all | | | | {totals[0]:.0f} | {totals[1]:.0f} | {totals[2]:.1f} | {sum(totals):.0f} |", "",
            f"In all: {hours:.1f} hours at the `{scale}` scale, against the course's target of about "
            f"{TARGET_HOURS} hours for a learner who knows Python and NumPy."]
    return "\n".join(out) + "\n"


def summary(records: list[dict]) -> list[dict]:
    """Per notebook (of :func:`one_scale`): reading, exercise and compute minutes and their total."""
    out = []
    for r in sorted(one_scale(records), key=lambda r: r["notebook"]):
        compute = r["compute_s"] / 60
        out.append({"notebook": r["notebook"], "reading": r["reading_min"], "exercises": r["exercise_min"],
                    "compute": compute, "total": r["reading_min"] + r["exercise_min"] + compute, "scale": r["scale"]})
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m fwcourse time-budget``."""
    from fwcourse.experiments.runner import ResumableResults

    parser = ArgumentParser(prog="python -m fwcourse time-budget", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=config.SCALES, default="default", help="scale to time the notebooks at")
    parser.add_argument("--notebooks", default=",".join(n for n, _, _ in NOTEBOOKS),
                        help="comma-separated notebook numbers (default: all)")
    add_results_out(parser, "time-budget")
    parser.add_argument("--save-executed", type=Path, default=None,
                        help="also write each executed notebook, with its outputs, to this folder")
    args = parser.parse_args([] if argv is None else list(argv))
    chosen = [n.strip() for n in args.notebooks.split(",") if n.strip()]
    known = {n: stem for n, stem, _ in NOTEBOOKS}
    if not chosen or any(n not in known for n in chosen):
        parser.error(f"--notebooks must be a comma-separated subset of {','.join(known)}; got {args.notebooks!r}")
    try:
        results = ResumableResults(args.out, RESULTS_NAME, lambda r: (r["notebook"], r["scale"]),
                                   render_markdown, overwrite=args.overwrite)
    except OutputError as err:
        print(f"time-budget: {err}", file=sys.stderr)
        return 2
    jobs = [((n, args.scale), lambda n=n: record(n, known[n], args.scale, args.save_executed)) for n in chosen]

    def report(r: dict) -> None:
        print(f"notebook {r['notebook']}: compute {r['compute_s'] / 60:.1f} min ({r['outcome']}), "
              f"reading {r['reading_min']:.0f} min, exercises {r['exercise_min']:.0f} min", flush=True)

    with stop_hint(f"the timed notebooks are in {results.json_path}; run the same command again to continue"):
        results.run(jobs, None, report)
    print(f"results: {results.md_path}")
    return 0
