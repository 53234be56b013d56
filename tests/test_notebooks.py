"""fwcourse.course.notebooks, the notebook list: it matches the notebooks that exist, in order."""
from __future__ import annotations

import importlib

from fwcourse.course import config
from fwcourse.course.build_notebooks import repo_root
from fwcourse.course.notebooks import NOTEBOOKS, course_map

ROOT = repo_root()


def test_every_listed_notebook_has_a_source_and_both_built_versions_and_vice_versa():
    stems = [stem for _, stem, _ in NOTEBOOKS]
    assert sorted((ROOT / "notebooks" / "src").glob("*.py")) == [ROOT / "notebooks" / "src" / f"{s}.py" for s in stems]
    assert sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")) == stems
    assert sorted(p.stem for p in (ROOT / "notebooks" / "solutions").glob("*.ipynb")) == stems


def test_numbers_are_the_stems_prefixes_in_order_and_each_has_sizes_and_exercises():
    numbers = [number for number, _, _ in NOTEBOOKS]
    assert numbers == [f"{i:02d}" for i in range(len(NOTEBOOKS))]
    for number, stem, topic in NOTEBOOKS:
        assert stem.startswith(number + "_") and topic.strip()
        assert number in config.SIZES
        assert importlib.import_module(f"fwcourse.course.exercises.nb{number}").EXERCISES


def test_course_map_has_one_row_per_notebook_with_its_measured_minutes(tmp_path):
    from fwcourse.course import time_budget
    from fwcourse.util.results_file import write_records

    timed = [{"notebook": "01", "scale": "default", "reading_min": 20.4, "exercise_min": 31.0, "compute_s": 90.0},
             {"notebook": "03", "scale": "default", "reading_min": 10.0, "exercise_min": 5.0, "compute_s": 600.0}]
    write_records(tmp_path / f"{time_budget.RESULTS_NAME}.json", timed)
    lines = course_map(tmp_path / f"{time_budget.RESULTS_NAME}.json").splitlines()
    rows = lines[2:2 + len(NOTEBOOKS)]
    for row, (number, stem, topic) in zip(rows, NOTEBOOKS):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[:2] == [f"`{stem}.ipynb`", topic]
        expected = {"01": ["20", "31", "1.5", "53"], "03": ["10", "5", "10.0", "25"]}.get(number, ["?"] * 4)
        assert cells[2:] == expected
    assert "**1.3 h**" in lines[-1]  # (53 + 25) / 60


def test_the_committed_time_budget_covers_every_notebook():
    assert "?" not in course_map()


def test_the_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for _, stem, _ in NOTEBOOKS:
        assert f"`{stem}`" in readme, stem
