"""Every exercise of every notebook: its reference and its worked solution pass their own check,
and an untouched stub is reported as "not attempted". (Each notebook's test file adds the
known-wrong answers its checks must catch.)"""
from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import fwcourse.course.exercises
from fwcourse.course import check

MODULES = sorted(m.name for m in pkgutil.iter_modules(fwcourse.course.exercises.__path__) if m.name.startswith("nb"))
EXERCISES = [(name, ex) for name in MODULES for ex in importlib.import_module(f"fwcourse.course.exercises.{name}").EXERCISES]


def _stub(*args):
    raise NotImplementedError("Your code here")


def _solution(exercise):
    """The learner-facing solution text, defined the way a notebook cell would define it."""
    namespace = {"np": np}
    exec(exercise._solution, namespace)
    return namespace[exercise.name]


@pytest.mark.parametrize("module, exercise", EXERCISES, ids=lambda v: v if isinstance(v, str) else v.name)
def test_reference_and_solution_pass_and_a_stub_is_not_attempted(module, exercise):
    assert exercise.notebook == module[2:]
    assert exercise.run(exercise.reference, seed=0).status == check.PASSED
    assert exercise.run(_solution(exercise), seed=1).status == check.PASSED
    assert exercise.run(_stub, seed=2).status == check.NOT_ATTEMPTED
