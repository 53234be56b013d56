"""The exercise checker itself, on known-wrong answers to a known exercise."""
import time

import numpy as np
import pytest

from fwcourse.course import check
from fwcourse.course.check import Exercise


def _reference(x, w):
    """A small decayed running sum: y_t = 0.5 y_{t-1} + x_t @ w (the shape of a fast-weight update)."""
    y = np.zeros((x.shape[0], w.shape[1]))
    acc = np.zeros(w.shape[1])
    for t in range(x.shape[0]):
        acc = 0.5 * acc + x[t] @ w
        y[t] = acc
    return y


def _inputs(rng, trial):
    s = check.odd_sizes(trial + 1)
    return dict(x=rng.standard_normal((s.t, s.n)), w=rng.standard_normal((s.n, s.m)))


EX = Exercise("running", _reference, _inputs, hint=["first", "second"], timeout=1.0)


def _status(func):
    return EX.run(func)


def test_reference_passes():
    result = _status(_reference)
    assert result.passed and "public checks passed" in str(result)


@pytest.mark.parametrize("func", [None, ..., "stub", "returns_none", "returns_ellipsis"])
def test_not_attempted(func):
    if func == "stub":
        def func(x, w):
            raise NotImplementedError
    elif func == "returns_none":
        def func(x, w):
            x @ w
    elif func == "returns_ellipsis":
        def func(x, w):
            return ...
    assert _status(func).status == check.NOT_ATTEMPTED


def test_exception_shows_a_short_traceback_of_the_learners_code():
    def broken(x, w):
        return x @ w.T @ w  # shapes do not line up
    result = _status(broken)
    assert result.status == check.ERROR
    assert "ValueError" in result.message and "broken" in result.message
    assert "fwcourse/course/check.py" not in result.message


def test_transposed_output_is_a_shape_error_that_says_transpose():
    result = _status(lambda x, w: _reference(x, w).T)
    assert result.status == check.WRONG_SHAPE
    assert "transpose" in result.message
    assert "Expected shape" in result.message


def test_wrong_axis_is_caught():
    result = _status(lambda x, w: _reference(x, w).sum(axis=0))
    assert result.status == check.WRONG_SHAPE
    assert "Expected shape" in result.message and "got" in result.message


def test_missing_decay_is_wrong_values_with_location_and_tolerance():
    def no_decay(x, w):
        return np.cumsum(x @ w, axis=0)
    result = _status(no_decay)
    assert result.status == check.WRONG_VALUES
    assert "Max abs error" in result.message and "at index" in result.message
    assert "tolerance" in result.message and "seed" in result.message


def test_off_by_one_in_time_is_wrong_values():
    def shifted(x, w):
        y = _reference(x, w)
        return np.concatenate([np.zeros_like(y[:1]), y[:-1]])
    result = _status(shifted)
    assert result.status == check.WRONG_VALUES
    assert "Max abs error" in result.message and "at index" in result.message


def test_integer_output_is_a_dtype_error():
    result = _status(lambda x, w: np.round(_reference(x, w)).astype(int))
    assert result.status == check.WRONG_DTYPE
    assert "float" in result.message


def test_nan_output_is_reported():
    result = _status(lambda x, w: _reference(x, w) * np.nan)
    assert result.status == check.WRONG_VALUES and "NaN" in result.message


def test_endless_loop_is_stopped_by_the_time_limit():
    def loops(x, w):
        while True:
            pass
    start = time.monotonic()
    result = _status(loops)
    assert result.status == check.TIMEOUT
    assert time.monotonic() - start < 5


def test_time_limit_cannot_be_swallowed_by_except_exception():
    def stubborn(x, w):
        while True:
            try:
                time.sleep(0.01)
            except Exception:
                pass
    assert _status(stubborn).status == check.TIMEOUT


def test_float32_answer_passes_with_float32_tolerance():
    assert _status(lambda x, w: _reference(x, w).astype(np.float32)).passed


def test_learner_mutating_inputs_does_not_change_the_reference():
    def mutates(x, w):
        out = _reference(x, w)
        x[:] = 0
        return out
    assert _status(mutates).passed


def test_tuple_outputs_are_compared_elementwise():
    ex = Exercise("pair", lambda x, w: (x @ w, x.sum()), _inputs, hint="h")
    assert ex.run(lambda x, w: (x @ w, x.sum())).passed
    wrong = ex.run(lambda x, w: (x @ w, x.sum() + 1))
    assert wrong.status == check.WRONG_VALUES and wrong.message.splitlines()[-1].startswith("Output 1")
    assert ex.run(lambda x, w: x @ w).status == check.WRONG_SHAPE


def test_check_returns_the_learners_function_or_the_reference(capsys):
    assert EX.check(_reference) is _reference

    def stub(x, w):
        raise NotImplementedError
    assert EX.check(stub) is _reference
    out = capsys.readouterr().out
    assert "not attempted" in out and "uses the reference" in out


def test_a_failure_reported_from_elsewhere_keeps_its_words():
    """The grader's stand-in for the learner's function raises what happened in its process."""
    def elsewhere(x, w):
        raise check.LearnerError(check.USES_REFERENCE, "It imports the fwcourse package.")
    result = _status(elsewhere)
    assert result.status == check.USES_REFERENCE and "uses the reference" in str(result)
    assert result.message.endswith("It imports the fwcourse package.") and "Trial 1" in result.message

    def stopped(x, w):
        raise check.TimeLimit()
    assert _status(stopped).status == check.TIMEOUT
    with pytest.raises(ValueError, match="status"):
        check.LearnerError("bad", "x")


def test_hints_step_through(capsys):
    ex = Exercise("h", _reference, _inputs, hint=["first", "second"])
    ex.hint(); ex.hint(); ex.hint()
    out = capsys.readouterr().out
    assert out.index("first") < out.index("second") and out.count("second") == 2


def test_the_notebook_comes_from_the_defining_module_and_the_solution_from_the_notebook_source(capsys):
    assert EX.module == __name__ and EX.notebook is None
    EX.solution()
    assert "No worked solution is recorded for running" in capsys.readouterr().out
    assert [check.notebook_of(m) for m in ("fwcourse.course.exercises.nb03", "nb12", "x.nb1", None)] == \
        ["03", "12", None, None]
    ex = Exercise("outer_product", np.outer, _inputs, hint="h", module="fwcourse.course.exercises.nb00")
    assert ex.notebook == "00" and ex.solution_code.startswith("def outer_product(v, k):\n")
    ex.solution()
    assert capsys.readouterr().out == f"Solution to outer_product:\n\n{ex.solution_code}\n"


def test_not_a_function_and_bad_construction():
    assert EX.run(42).status == check.ERROR
    with pytest.raises(ValueError, match="n_trials"):
        Exercise("x", _reference, _inputs, hint="h", n_trials=0)
    with pytest.raises(TypeError, match="reference"):
        Exercise("x", None, _inputs, hint="h")


def test_a_verdict_displayed_in_a_notebook_reads_as_its_message():
    from IPython.lib.pretty import pretty

    from fwcourse.course.check import CheckResult

    result = CheckResult("outer_product", "wrong_values", "Max abs error 2 at index (0, 1).")
    assert pretty(result) == str(result)
    assert "CheckResult(" not in pretty(result) and "Max abs error 2" in pretty(result)
