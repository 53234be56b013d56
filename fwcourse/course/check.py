"""Exercise checks: run a learner's function and the reference on fresh random inputs, say what is wrong.

Every exercise of the course is an :class:`Exercise`, defined in
``fwcourse/course/exercises/nbNN.py`` for notebook NN. In a notebook::

    from fwcourse.course.exercises import nb00 as ex
    outer_product = ex.outer_product.check(outer_product)

prints one of these verdicts, in plain words:

* ``not attempted``: the function raises ``NotImplementedError``, is ``None`` or ``...``, or returns
  ``None``/``...``;
* ``raised an exception``: with a short traceback of the learner's own code;
* ``wrong shape`` / ``wrong dtype``: expected against got;
* ``wrong values``: the largest absolute error, where it is, and the tolerance;
* ``timed out``: the call ran past the exercise's time limit (an endless loop, say);
* ``public checks passed``.

``check`` returns the function to use from then on: the learner's when it passed, otherwise the
reference, so that later cells still run (and it says so).

This check runs in the learner's kernel, for the learner: nothing it prints or returns counts for
a grade. ``python -m fwcourse grade`` runs the same :meth:`Exercise.run` in its own process on a
stand-in for the learner's function that calls it in a sandboxed process of its own (see
:mod:`fwcourse.course.grade`); the stand-in reports that process's failures as
:class:`LearnerError` and :class:`TimeLimit`.
"""
from __future__ import annotations

import copy
import importlib
import re
import secrets
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

PASSED = "passed"
NOT_ATTEMPTED = "not_attempted"
ERROR = "error"
WRONG_SHAPE = "wrong_shape"
WRONG_DTYPE = "wrong_dtype"
WRONG_VALUES = "wrong_values"
TIMEOUT = "timeout"
USES_REFERENCE = "uses_reference"  # found by the grader only: the function calls the reference
STATUSES = (PASSED, NOT_ATTEMPTED, ERROR, WRONG_SHAPE, WRONG_DTYPE, WRONG_VALUES, TIMEOUT, USES_REFERENCE)

_HEADLINES = {
    PASSED: "public checks passed",
    NOT_ATTEMPTED: "not attempted",
    ERROR: "raised an exception",
    WRONG_SHAPE: "wrong shape",
    WRONG_DTYPE: "wrong dtype",
    WRONG_VALUES: "wrong values",
    TIMEOUT: "timed out",
    USES_REFERENCE: "uses the reference",
}

# A few size sets for trials: the first is tiny (sizes of 1 catch many axis mistakes), the others
# are odd and unequal so that a transposed or mis-broadcast answer cannot pass by accident.
_TRIAL_SIZES = [
    dict(n=1, m=3, t=1, d=2, b=1),
    dict(n=3, m=5, t=7, d=4, b=2),
    dict(n=7, m=2, t=5, d=3, b=3),
    dict(n=4, m=9, t=11, d=5, b=1),
    dict(n=6, m=1, t=3, d=7, b=5),
]


def odd_sizes(trial: int) -> SimpleNamespace:
    """Sizes for trial ``trial``: ``n``, ``m`` (generic), ``t`` (time), ``d`` (features), ``b`` (batch)."""
    return SimpleNamespace(**_TRIAL_SIZES[trial % len(_TRIAL_SIZES)])


class TimeLimit(BaseException):
    """Raised inside a learner's function when it runs too long (a BaseException, so that a bare
    ``except Exception`` in learner code cannot swallow it), or by the grader's stand-in for it."""


class LearnerError(Exception):
    """The learner's function failed in another process (the grader's): ``status`` (:data:`ERROR`,
    :data:`USES_REFERENCE`) and ``detail``, the text to show (a short traceback)."""

    def __init__(self, status: str, detail: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {status!r}.")
        super().__init__((detail.strip().splitlines() or [status])[-1])
        self.status, self.detail = status, detail


@dataclass
class CheckResult:
    """The verdict on one exercise: ``status`` is one of :data:`STATUSES`, ``message`` explains it."""

    exercise: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def headline(self) -> str:
        return _HEADLINES[self.status]

    def __str__(self) -> str:
        mark = "[ok]" if self.passed else "[--]" if self.status == NOT_ATTEMPTED else "[x]"
        text = f"{mark} {self.exercise}: {self.headline}"
        return text + (f"\n{self.message}" if self.message else "")

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        # a verdict left as a cell's last value reads as the learner's message, not a dataclass repr
        printer.text(str(self))


def _call_with_time_limit(func: Callable, args: tuple, seconds: float):
    """Call ``func(*args)``; raise :class:`TimeLimit` after ``seconds``.

    On POSIX in the main thread (a Jupyter cell, a script) an interval timer interrupts the call
    itself. Elsewhere the call runs in a daemon thread that is abandoned at the limit.
    """
    use_signal = (
        hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    )
    if use_signal:
        def _alarm(signum, frame):
            raise TimeLimit()

        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return func(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box: dict[str, Any] = {}

    def _run():
        try:
            box["value"] = func(*args)
        except BaseException as err:  # handed back to the caller's thread below
            box["error"] = err

    worker = threading.Thread(target=_run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeLimit()
    if "error" in box:
        raise box["error"]
    return box["value"]


def short_traceback(frames: list[traceback.FrameSummary], exception: str) -> str:
    """How an error in the learner's code is shown: its last three frames, then the exception."""
    return "".join(traceback.format_list(frames[-3:]) + [exception]).rstrip()


def _short_traceback(err: BaseException) -> str:
    """:func:`short_traceback` of ``err``, without the frames of this module."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename != __file__]
    return short_traceback(frames, "".join(traceback.format_exception_only(type(err), err)))


def _as_array(value) -> np.ndarray:
    """NumPy view of an output (NumPy, TensorFlow, JAX or a Python number)."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    return np.asarray(value)


def _kind(dtype: np.dtype) -> str:
    if np.issubdtype(dtype, np.bool_):
        return "bool"
    if np.issubdtype(dtype, np.integer):
        return "integer"
    if np.issubdtype(dtype, np.complexfloating):
        return "complex"
    if np.issubdtype(dtype, np.floating):
        return "float"
    return str(dtype)


def _describe_inputs(kwargs: dict) -> str:
    parts = []
    for key, value in kwargs.items():
        arr = np.asarray(value) if isinstance(value, (np.ndarray, list, tuple)) else None
        if arr is not None and arr.dtype != object:
            parts.append(f"{key}: shape {arr.shape}")
        elif isinstance(value, (int, float, np.number)):
            parts.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
        else:
            parts.append(f"{key}: {type(value).__name__}")
    return ", ".join(parts)


_EXERCISE_MODULE = re.compile(r"(?:^|\.)nb(\d\d)$")


def notebook_of(module: str | None) -> str | None:
    """The notebook ("01") whose exercises module ``module`` is (``...exercises.nb01``), else None."""
    match = _EXERCISE_MODULE.search(module or "")
    return match.group(1) if match else None


def worked_solution(notebook: str | None, name: str) -> str | None:
    """The worked solution of exercise ``name`` of ``notebook``, as written in the notebook source.

    ``python -m fwcourse build-notebooks`` extracts it from the source's ``### BEGIN SOLUTION``
    block into the generated module :mod:`fwcourse.course.exercises._solutions`.
    """
    if notebook is None:
        return None
    solutions = importlib.import_module("fwcourse.course.exercises._solutions").SOLUTIONS
    return solutions.get(notebook, {}).get(name)


class Exercise:
    """One exercise: a reference, a way to make random inputs and hints.

    The worked solution is not written here: it is the function around the ``### BEGIN SOLUTION``
    block of the notebook source, extracted by the build (see :func:`worked_solution`). The
    notebook is the one of the module that creates the exercise (``fwcourse/course/exercises/nbNN.py``).

    Args:
        name: the function's name in the notebook.
        reference: the tested reference implementation; called with the same arguments.
        make_inputs: ``make_inputs(rng, trial) -> dict`` of arguments for one trial, in the order
            of the function's parameters (they are passed positionally, so a learner may rename them).
        hint: one hint, or a list of increasingly specific hints.
        rtol, atol: tolerance for float outputs (loosened automatically for float32 outputs).
        n_trials: how many random inputs to try.
        timeout: seconds one call of the learner's function may take.
        compare: optional ``compare(got, expected) -> str | None`` that replaces the array
            comparison; it returns a message when ``got`` is wrong.
        module: the module that defines the exercise; by default the caller's (as
            :func:`collections.namedtuple` finds its ``__module__``). Its name ``...nbNN`` gives
            :attr:`notebook`.
    """

    def __init__(
        self,
        name: str,
        reference: Callable,
        make_inputs: Callable[[np.random.Generator, int], dict],
        hint: str | list[str],
        rtol: float = 1e-6,
        atol: float = 1e-8,
        n_trials: int = 4,
        timeout: float = 10.0,
        compare: Callable[[Any, Any], str | None] | None = None,
        module: str | None = None,
    ) -> None:
        if not callable(reference):
            raise TypeError(f"reference must be callable; got {type(reference).__name__}.")
        if not callable(make_inputs):
            raise TypeError(f"make_inputs must be callable; got {type(make_inputs).__name__}.")
        if n_trials < 1:
            raise ValueError(f"n_trials must be >= 1; got {n_trials}.")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds; got {timeout}.")
        self.name = name
        self.reference = reference
        self.make_inputs = make_inputs
        self.hints = [hint] if isinstance(hint, str) else list(hint)
        self.rtol, self.atol = rtol, atol
        self.n_trials = n_trials
        self.timeout = timeout
        self.compare = compare
        self.module = sys._getframe(1).f_globals.get("__name__") if module is None else module
        self.notebook = notebook_of(self.module)
        self._hints_shown = 0

    def __repr__(self) -> str:
        return f"Exercise({self.name!r}: .check(fn), .hint(), .solution())"

    @property
    def reference_name(self) -> str:
        ref = self.reference
        return f"{getattr(ref, '__module__', '?')}.{getattr(ref, '__qualname__', repr(ref))}"

    # -- help on request ----------------------------------------------------------------------
    def hint(self) -> None:
        """Print the next hint (each call reveals one more, then repeats the last)."""
        index = min(self._hints_shown, len(self.hints) - 1)
        self._hints_shown += 1
        more = f" ({index + 1} of {len(self.hints)})" if len(self.hints) > 1 else ""
        print(f"Hint{more}: {self.hints[index]}")

    @property
    def solution_code(self) -> str | None:
        """The worked solution from the notebook source (None for an exercise outside the course)."""
        return worked_solution(self.notebook, self.name)

    def solution(self) -> None:
        """Print the worked solution, as the notebook source writes it."""
        code = self.solution_code
        if code is None:
            print(f"No worked solution is recorded for {self.name}: it is not an exercise of a course notebook.")
        else:
            print(f"Solution to {self.name}:\n\n{code}")

    # -- checking -----------------------------------------------------------------------------
    def run(self, func: Callable | None, seed: int | None = None) -> CheckResult:
        """Check ``func`` and return the verdict without printing it."""
        if func is None or func is Ellipsis:
            return self._result(NOT_ATTEMPTED, f"Define {self.name} in the cell above and run it.")
        if not callable(func):
            return self._result(
                ERROR, f"{self.name} must be a function; got {type(func).__name__}."
            )
        seed = secrets.randbits(32) if seed is None else seed
        rng = np.random.default_rng(seed)
        for trial in range(self.n_trials):
            kwargs = self.make_inputs(rng, trial)
            expected = self.reference(*copy.deepcopy(list(kwargs.values())))
            where = f"Trial {trial + 1} of {self.n_trials} (seed {seed}), inputs {_describe_inputs(kwargs)}."
            try:
                got = _call_with_time_limit(func, tuple(copy.deepcopy(list(kwargs.values()))), self.timeout)
            except NotImplementedError:
                return self._result(
                    NOT_ATTEMPTED, f"Replace the `raise NotImplementedError` in {self.name} with your code."
                )
            except TimeLimit:
                return self._result(
                    TIMEOUT,
                    f"{where}\nThe call did not finish within {self.timeout:g} s: look for a loop that never ends.",
                )
            except LearnerError as err:  # already worded for the learner, where it happened
                return self._result(err.status, f"{where}\n{err.detail}")
            except Exception as err:  # the learner's mistake, reported, not re-raised
                return self._result(ERROR, f"{where}\n{_short_traceback(err)}")
            if (got is None or got is Ellipsis) and expected is not None:
                return self._result(
                    NOT_ATTEMPTED, f"{self.name} returned {got!r}: did you forget `return`?"
                )
            problem = self._compare(got, expected)
            if problem is not None:
                status, message = problem
                return self._result(status, f"{where}\n{message}")
        return self._result(PASSED, f"{self.n_trials} random trials agree with the reference.")

    def check(self, func: Callable | None) -> Callable:
        """Check ``func``, print the verdict, and return the function later cells should use."""
        result = self.run(func)
        print(result)
        if result.passed:
            return func
        if result.status != NOT_ATTEMPTED:
            print("Need help? Call .hint() or .solution() on this exercise.")
        print(
            f"The rest of this notebook uses the reference {self.reference_name} "
            f"so that later cells still run."
        )
        return self.reference

    # -- comparison ---------------------------------------------------------------------------
    def _result(self, status: str, message: str) -> CheckResult:
        return CheckResult(self.name, status, message)

    def _compare(self, got, expected) -> tuple[str, str] | None:
        if self.compare is not None:
            message = self.compare(got, expected)
            return None if message is None else (WRONG_VALUES, message)
        if isinstance(expected, (tuple, list)):
            if not isinstance(got, (tuple, list)) or len(got) != len(expected):
                count = len(got) if isinstance(got, (tuple, list)) else "1 value"
                return WRONG_SHAPE, f"Expected {len(expected)} outputs (a tuple); got {count}."
            for i, (g, e) in enumerate(zip(got, expected)):
                problem = self._compare_arrays(g, e)
                if problem is not None:
                    return problem[0], f"Output {i}: {problem[1]}"
            return None
        return self._compare_arrays(got, expected)

    def _compare_arrays(self, got, expected) -> tuple[str, str] | None:
        exp = _as_array(expected)
        try:
            arr = _as_array(got)
        except Exception:
            return WRONG_DTYPE, f"Expected an array; got {type(got).__name__}."
        if arr.dtype == object:
            return WRONG_DTYPE, f"Expected an array of numbers; got {type(got).__name__} of objects."
        if arr.shape != exp.shape:
            hint = ""
            if arr.shape == exp.shape[::-1] and arr.ndim > 1:
                hint = " (the axes are reversed: a transpose?)"
            elif sorted(arr.shape) == sorted(exp.shape):
                hint = " (same sizes in another order: axes swapped?)"
            return WRONG_SHAPE, f"Expected shape {exp.shape}; got {arr.shape}{hint}."
        if _kind(arr.dtype) != _kind(exp.dtype) and not (
            _kind(exp.dtype) == "float" and _kind(arr.dtype) == "complex"
        ):
            return WRONG_DTYPE, f"Expected {_kind(exp.dtype)} values ({exp.dtype}); got {arr.dtype}."
        if _kind(exp.dtype) in ("bool", "integer"):
            mismatch = np.argwhere(arr != exp)
            if mismatch.size:
                idx = tuple(int(i) for i in mismatch[0])
                return WRONG_VALUES, (
                    f"{len(mismatch)} of {exp.size} entries differ; first at index {idx}: "
                    f"expected {exp[idx]}, got {arr[idx]}."
                )
            return None
        rtol, atol = self.rtol, self.atol
        if np.float32 in (arr.dtype, exp.dtype) or np.float16 in (arr.dtype, exp.dtype):
            rtol, atol = max(rtol, 1e-4), max(atol, 1e-5)
        arr64, exp64 = arr.astype(np.complex128 if arr.dtype.kind == "c" else np.float64), exp.astype(np.float64)
        if not np.all(np.isfinite(arr64)):
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr64))[0])
            return WRONG_VALUES, f"The output contains NaN or inf, first at index {idx}."
        err = np.abs(arr64 - exp64)
        bad = err > atol + rtol * np.abs(exp64)
        if np.any(bad):
            idx = np.unravel_index(int(np.argmax(np.where(bad, err, -1))), err.shape) if err.ndim else ()
            idx = tuple(int(i) for i in idx)
            at = f" at index {idx}" if idx else ""
            return WRONG_VALUES, (
                f"Max abs error {float(err[idx]):.3g}{at} (expected {float(exp64[idx]):.6g}, "
                f"got {complex(arr64[idx]).real:.6g}); {int(bad.sum())} of {exp.size} entries "
                f"outside tolerance |error| <= {atol:g} + {rtol:g}*|expected|."
            )
        return None

