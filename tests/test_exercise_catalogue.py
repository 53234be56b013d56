"""Every exercise of every notebook: its reference and its worked solution (the notebook source's
solution block, as ``ex.NAME.solution()`` shows it) pass their own check, and an untouched stub is
reported as "not attempted". (Each notebook's test file adds the known-wrong answers its checks
must catch.)"""
from __future__ import annotations

import importlib
import pkgutil

import keras
import numpy as np
import pytest

import fwcourse.course.exercises
from fwcourse.course import check
from fwcourse.course.exercises._solutions import SOLUTIONS

MODULES = sorted(m.name for m in pkgutil.iter_modules(fwcourse.course.exercises.__path__) if m.name.startswith("nb"))
EXERCISES = [(name, ex) for name in MODULES for ex in importlib.import_module(f"fwcourse.course.exercises.{name}").EXERCISES]


def _stub(*args):
    raise NotImplementedError("Your code here")


def _notebook_namespace(notebook: str) -> dict:
    """The worked solutions of one notebook, defined in order in one namespace, as its cells do
    (a later solution may call an earlier exercise's function), beside the modules the notebooks
    import for them: NumPy, and keras.ops for the Keras layers' calls."""
    namespace = {"np": np, "ops": keras.ops}
    for code in SOLUTIONS[notebook].values():
        exec(code, namespace)
    return namespace


def test_every_exercise_has_exactly_one_worked_solution_and_every_solution_an_exercise():
    by_notebook = {module[2:]: [ex.name for m, ex in EXERCISES if m == module] for module in MODULES}
    assert {nb: sorted(names) for nb, names in by_notebook.items()} == \
        {nb: sorted(found) for nb, found in SOLUTIONS.items()}
    for names in by_notebook.values():
        assert len(names) == len(set(names)), names


@pytest.mark.parametrize("module, exercise", EXERCISES, ids=lambda v: v if isinstance(v, str) else v.name)
def test_reference_and_solution_pass_and_a_stub_is_not_attempted(module, exercise):
    solution = _notebook_namespace(exercise.notebook)[exercise.name]
    assert exercise.run(exercise.reference, seed=0).status == check.PASSED
    assert exercise.run(solution, seed=1).status == check.PASSED
    assert exercise.run(_stub, seed=2).status == check.NOT_ATTEMPTED


@pytest.mark.parametrize("module, exercise", EXERCISES[:1] + EXERCISES[-1:], ids=lambda v: v if isinstance(v, str) else v.name)
def test_solution_prints_the_code_of_the_notebook_source(module, exercise, capsys):
    exercise.solution()
    out = capsys.readouterr().out
    assert out == f"Solution to {exercise.name}:\n\n{SOLUTIONS[module[2:]][exercise.name]}\n"
    assert out.count(f"def {exercise.name}(") == 1 and "### BEGIN" not in out
