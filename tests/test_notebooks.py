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


def test_numbers_are_the_stems_prefixes_in_order_and_each_has_sizes_minutes_and_exercises():
    numbers = [number for number, _, _ in NOTEBOOKS]
    assert numbers == [f"{i:02d}" for i in range(len(NOTEBOOKS))]
    for number, stem, topic in NOTEBOOKS:
        assert stem.startswith(number + "_") and topic.strip()
        assert set(config.MINUTES[number]) == set(config.SCALES)
        assert number in config.SIZES
        assert importlib.import_module(f"fwcourse.course.exercises.nb{number}").EXERCISES


def test_course_map_has_one_row_per_notebook_with_its_minutes():
    rows = course_map().splitlines()[2:]
    assert len(rows) == len(NOTEBOOKS)
    for row, (number, stem, topic) in zip(rows, NOTEBOOKS):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells == [f"`{stem}.ipynb`", topic] + [config.MINUTES[number][s] for s in config.SCALES]


def test_the_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for _, stem, _ in NOTEBOOKS:
        assert f"`{stem}`" in readme, stem
