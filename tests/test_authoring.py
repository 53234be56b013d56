"""docs/authoring.md is true: its example exercise is built and checked, its layout table names
paths that exist, and the options it lists are the checker's."""
from __future__ import annotations

import inspect
import re
import sys
import types

import pytest

import fwcourse.course.exercises
from fwcourse.course import build_notebooks as bn
from fwcourse.course import check
from fwcourse.course.exercises import _solutions

ROOT = bn.repo_root()
DOC = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)


def _section(title: str) -> str:
    return DOC.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _one_block(marker: str) -> str:
    found = [b for b in BLOCKS if marker in b]
    assert len(found) == 1, f"expected one python block with {marker!r} in docs/authoring.md"
    return found[0]


@pytest.fixture
def example(monkeypatch):
    """The doc's exercise module, loaded as the module it says it is, and its notebook cell."""
    name = "fwcourse.course.exercises.nb01"
    module = types.ModuleType(name)
    exec(compile(_one_block("EXERCISES = "), "docs/authoring.md", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(fwcourse.course.exercises, "nb01", module, raising=False)
    return module, _one_block(bn.BEGIN)


def test_the_example_exercise_module_defines_checked_exercises(example):
    module, _ = example
    assert module.EXERCISES and all(isinstance(e, check.Exercise) for e in module.EXERCISES)
    for exercise in module.EXERCISES:
        assert exercise.notebook == "01"  # derived from the module name
        assert exercise.run(exercise.reference, seed=0).passed


def test_the_example_notebook_cell_builds_and_its_solution_passes_its_check(example, tmp_path, monkeypatch, capsys):
    module, cell = example
    source = tmp_path / "01_example.py"
    source.write_text("# %% [markdown]\n# An example\n\n" + cell, encoding="utf-8")
    solutions = bn.notebook_solutions(source)
    assert list(solutions) == [e.name for e in module.EXERCISES]

    [code] = [c.source for c in bn.build(source, learner=False).cells if c.cell_type == "code"]
    namespace: dict = {}
    exec(code, namespace)
    out = capsys.readouterr().out
    assert all(f"[ok] {e.name}: public checks passed" in out for e in module.EXERCISES), out

    [learner] = [c.source for c in bn.build(source, learner=True).cells if c.cell_type == "code"]
    exec(learner, namespace := {})
    out = capsys.readouterr().out
    assert all(f"[--] {e.name}: not attempted" in out for e in module.EXERCISES), out
    assert namespace[module.EXERCISES[0].name] is module.EXERCISES[0].reference

    monkeypatch.setitem(_solutions.SOLUTIONS, "01", solutions)
    module.EXERCISES[0].solution()
    shown = capsys.readouterr().out
    assert shown.endswith(solutions[module.EXERCISES[0].name] + "\n") and bn.BEGIN not in shown


def test_the_layout_table_names_paths_that_exist():
    rows = re.findall(r"^\| `([^`]+)` \|", _section("Layout"), flags=re.M)
    assert len(rows) >= 8
    for path in rows:
        pattern = path.replace("NN_name", "[0-9][0-9]_*").replace("nbNN", "nb[0-9][0-9]")
        assert list(ROOT.glob(pattern.rstrip("/"))), f"docs/authoring.md names {path}, which does not exist"
    for top in ("fwcourse/data/", "fwcourse/experiments/", "fwcourse/course/", "fwcourse/util/"):
        assert top in rows


def test_each_package_row_lists_exactly_the_modules_of_its_folder():
    rows = re.findall(r"^\| `(fwcourse/[a-z]+/|fwcourse/\*\.py)` \| (.*) \|$", _section("Layout"), flags=re.M)
    assert len(rows) == 5
    for path, what in rows:
        folder = ROOT / path.replace("*.py", "")
        listed = {name for name in re.findall(r"`([a-z_0-9]+)`", what)}
        present = {p.stem for p in folder.glob("*.py") if not p.name.startswith("_")}
        if path != "fwcourse/*.py":  # the top level's subpackages have rows of their own
            present |= {p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
        present -= {"exercises"}  # listed as exercises/nbNN.py
        assert listed == present, f"docs/authoring.md, row {path}: lists {sorted(listed)}, folder has {sorted(present)}"


def test_the_optional_arguments_it_lists_are_the_checkers():
    optional = re.search(r"^Optional: (.*)$", _section("Writing an exercise"), flags=re.M).group(1)
    names = re.findall(r"`([a-z_]+)`", optional)
    parameters = inspect.signature(check.Exercise).parameters
    assert names and all(n in parameters and parameters[n].default is not inspect.Parameter.empty for n in names)
