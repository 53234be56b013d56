"""fwcourse.course.time_budget: the counts behind a learner's time budget, and its page."""
import importlib

import pytest

from fwcourse.course import time_budget as tb
from fwcourse.course.build_notebooks import repo_root
from fwcourse.course.notebooks import NOTEBOOKS

SOURCE = '''# %% [markdown]
# # Title
#
# Two words $x^2 + y$ here.

# %%
import numpy as np

# %% [markdown]
# ### Exercise 1 (warm-up): a thing

# %%
def thing(x):
    ### BEGIN SOLUTION
    # a comment does not count
    y = x + 1

    return y
    ### END SOLUTION

thing = ex.thing.check(thing)

# %% [markdown]
# ### Exercise 2 (stretch, optional): more

# %%
more = None
'''


def test_count_reads_words_code_and_exercises():
    c = tb.count(SOURCE)
    # "Title", "Two words", "formula", "here", "Exercise 1 warm up a thing", "Exercise 2 stretch optional more"
    assert c["words"] == 1 + 2 + 1 + 1 + 6 + 5
    assert c["code_lines"] == 1 + 2 + 1  # the solution block is the learner's to write, not to read
    assert c["exercises"] == [{"level": "warm-up", "solution_lines": 2}, {"level": "stretch", "solution_lines": 0}]
    m = tb.minutes(c)
    assert m["exercise_min"] == tb.EXERCISE_BASE_MINUTES + 2 * tb.MINUTES_PER_SOLUTION_LINE  # stretch not timed
    assert m["reading_min"] == pytest.approx(c["words"] / tb.WORDS_PER_MINUTE + 4 / tb.CODE_LINES_PER_MINUTE)


@pytest.mark.parametrize("number, stem", [(n, s) for n, s, _ in NOTEBOOKS])
def test_every_notebook_exercise_is_counted_with_its_level(number, stem):
    module = importlib.import_module(f"fwcourse.course.exercises.nb{number}")
    c = tb.count((repo_root() / "notebooks" / "src" / f"{stem}.py").read_text(encoding="utf-8"))
    timed = [e for e in c["exercises"] if e["level"] != "stretch"]
    assert len(timed) == len(module.EXERCISES)
    assert sum(e["level"] == "stretch" for e in c["exercises"]) == len(getattr(module, "STRETCH", []))
    assert all(e["solution_lines"] > 0 for e in timed)


def test_page_sums_the_parts():
    rec = {"notebook": "02", "scale": "default", "words": 1200, "code_lines": 30,
           "exercises": [{"level": "core", "solution_lines": 3}, {"level": "stretch", "solution_lines": 0}],
           "reading_min": 12.0, "exercise_min": 11.0, "compute_s": 120.0, "outcome": "completed", "machine": "m"}
    page = tb.render_markdown([rec, {**rec, "notebook": "01", "compute_s": 60.0}])
    assert "| 02 | 1,200 | 30 | 0 / 1 / 1 | 12 | 11 | 2.0 | 25 |" in page
    assert page.index("| 01 |") < page.index("| 02 |")
    assert "| all | | | | 24 | 22 | 3.0 | 49 |" in page and "0.8 hours" in page


def test_a_solution_in_two_blocks_counts_whole_and_scales_are_not_mixed():
    two = SOURCE.replace("thing = ex.thing.check(thing)", "def thing2(x):\n    ### BEGIN SOLUTION\n    a = 1\n    b = 2\n    return a + b\n    ### END SOLUTION")
    assert tb.count(two)["exercises"][0]["solution_lines"] == 2 + 3
    rec = {"notebook": "02", "words": 1, "code_lines": 1, "exercises": [], "reading_min": 1.0,
           "exercise_min": 1.0, "compute_s": 60.0, "outcome": "completed", "machine": "m"}
    records = [{**rec, "scale": "quick"}, {**rec, "scale": "default", "compute_s": 120.0}]
    assert [r["scale"] for r in tb.one_scale(records)] == ["default"]
    page = tb.render_markdown(records)
    assert page.count("| 02 |") == 1 and "| 2.0 |" in page
    assert [r["compute"] for r in tb.summary(records)] == [2.0]
