"""The shared input checks (fwcourse.util.validate): each accepts good input and returns it, and
rejects bad input with a message that names the argument and what was expected."""
import numpy as np
import pytest

from fwcourse.util import validate


# -- array ------------------------------------------------------------------------------------
def test_array_accepts_and_converts_array_likes():
    out = validate.array([[1.0, 2.0], [3.0, 4.0]], "W", ndim=2, shape=(2, None))
    assert isinstance(out, np.ndarray) and out.shape == (2, 2)
    assert validate.array([1, 2], "x", dtype=np.float32).dtype == np.float32
    assert validate.array(np.ones(3), "x", ndim=(1, 2)).shape == (3,)
    assert validate.array(np.array([True, False]), "mask", ndim=1).dtype == bool
    assert np.isnan(validate.array([np.nan], "x", finite=False)).all()


@pytest.mark.parametrize("value, kwargs, error, match", [
    (["a", "b"], {}, TypeError, r"W must hold numbers; got dtype <U1"),
    ([[1], [1, 2]], {}, TypeError, r"W must be array-like of numbers; got list"),
    (np.ones(3), dict(ndim=2), ValueError, r"W must have 2 dimensions; got shape \(3,\)"),
    (np.ones(3), dict(ndim=(2, 3)), ValueError, r"W must have 2 or 3 dimensions; got shape \(3,\)"),
    (np.ones((2, 3)), dict(shape=(2, 4)), ValueError, r"W must have shape \(2, 4\); got \(2, 3\)"),
    (np.ones((2, 3)), dict(shape=(None, 4)), ValueError, r"W must have shape \(any, 4\); got \(2, 3\)"),
    (np.ones((2, 3)), dict(shape=(2,)), ValueError, r"W must have shape \(2\); got \(2, 3\)"),
    (np.array([1.0, np.inf]), {}, ValueError, r"W must be finite; it contains NaN or inf"),
    (np.array([np.nan]), {}, ValueError, r"W must be finite"),
])
def test_array_rejects_with_the_argument_name(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        validate.array(value, "W", **kwargs)


# -- token_ids --------------------------------------------------------------------------------
def test_token_ids_accepts_ids_in_range_and_returns_them():
    ids = np.array([[0, 4], [2, 3]])
    assert validate.token_ids(ids, "tokens", 5) is ids
    big = np.array([7])
    assert validate.token_ids(big, "tokens") is big  # no vocabulary: any id >= 0
    empty = np.zeros((0,), dtype=np.int32)
    assert validate.token_ids(empty, "tokens", 1) is empty


@pytest.mark.parametrize("ids, vocab, error, match", [
    (np.array([[0.0, 4.0]]), 5, TypeError, r"tokens must hold integer token ids; got dtype float64"),
    (np.array([0, 4]), 4, ValueError, r"tokens must hold ids in \[0, 4\); got \[0, 4\]"),
    (np.array([-1, 2]), 4, ValueError, r"tokens must hold ids in \[0, 4\); got \[-1, 2\]"),
    (np.array([-1]), None, ValueError, r"tokens must hold ids in \[0, None\)"),
])
def test_token_ids_rejects_with_the_argument_name(ids, vocab, error, match):
    with pytest.raises(error, match=match):
        validate.token_ids(ids, "tokens", vocab)


# -- same_length ------------------------------------------------------------------------------
def test_same_length_accepts_equal_sizes_along_the_axis():
    assert validate.same_length("k", np.ones((4, 2)), "v", np.ones((4, 7))) is None
    assert validate.same_length("k", np.ones((2, 4)), "v", np.ones((3, 4)), axis=1) is None


def test_same_length_names_both_arguments_and_the_axis():
    with pytest.raises(ValueError, match=r"k and v must have the same size along axis 0; got \(4, 2\) and \(5, 2\)"):
        validate.same_length("k", np.ones((4, 2)), "v", np.ones((5, 2)))
    with pytest.raises(ValueError, match="along axis 1"):
        validate.same_length("k", np.ones((4, 2)), "v", np.ones((4, 3)), axis=1)


# -- in_range ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value, kwargs", [
    (0.5, dict(low=0, high=1)), (0, dict(low=0, high=1)), (1, dict(low=0, high=1)),
    (1.0, dict(low=0, high=1, low_open=True)), (-3, {}), (np.float32(2.0), dict(low=2)),
])
def test_in_range_accepts_and_returns_the_value(value, kwargs):
    assert validate.in_range(value, "lam", **kwargs) is value


@pytest.mark.parametrize("value, kwargs, error, match", [
    (0, dict(low=0, high=1, low_open=True), ValueError, r"lam must be in \(0, 1\]; got 0"),
    (1, dict(low=0, high=1, high_open=True), ValueError, r"lam must be in \[0, 1\); got 1"),
    (-0.5, dict(low=0), ValueError, r"lam must be in \[0, inf\); got -0.5"),
    (2, dict(high=1), ValueError, r"lam must be in \(-inf, 1\]; got 2"),
    (float("nan"), {}, ValueError, r"lam must be finite; got nan"),
    (float("inf"), dict(low=0), ValueError, r"lam must be finite"),
    ("fast", {}, TypeError, r"lam must be a number; got 'fast'"),
    (None, {}, TypeError, r"lam must be a number; got None"),
])
def test_in_range_rejects_with_the_argument_name_and_the_interval(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        validate.in_range(value, "lam", **kwargs)


# -- positive_int -----------------------------------------------------------------------------
def test_positive_int_accepts_python_and_numpy_integers_and_returns_an_int():
    assert validate.positive_int(3, "steps") == 3
    out = validate.positive_int(np.int64(5), "steps")
    assert out == 5 and type(out) is int
    assert validate.positive_int(0, "steps", minimum=0) == 0


@pytest.mark.parametrize("value, minimum, error, match", [
    (0, 1, ValueError, r"steps must be an integer >= 1; got 0"),
    (2, 3, ValueError, r"steps must be an integer >= 3; got 2"),
    (2.0, 1, TypeError, r"steps must be an integer >= 1; got 2.0"),
    (True, 1, TypeError, r"steps must be an integer >= 1; got True"),
    ("3", 1, TypeError, r"steps must be an integer >= 1; got '3'"),
])
def test_positive_int_rejects_with_the_argument_name(value, minimum, error, match):
    with pytest.raises(error, match=match):
        validate.positive_int(value, "steps", minimum=minimum)


# -- choice -----------------------------------------------------------------------------------
def test_choice_accepts_and_returns_one_of_the_choices():
    assert validate.choice("lstm", "kind", ("lstm", "conv1d")) == "lstm"
    assert validate.choice("b", "form", {"a": 1, "b": 2}) == "b"  # dict keys
    assert validate.choice(3, "n", iter([1, 2, 3])) == 3  # any iterable, read once


@pytest.mark.parametrize("value, choices, match", [
    ("gru", ("lstm", "conv1d"), r"kind must be one of 'lstm', 'conv1d'; got 'gru'"),
    (["lstm"], {"lstm": 1}, r"kind must be one of 'lstm'; got \['lstm'\]"),  # unhashable
    (None, ("a",), r"kind must be one of 'a'; got None"),
])
def test_choice_rejects_naming_the_argument_and_listing_the_choices(value, choices, match):
    with pytest.raises(ValueError, match=match):
        validate.choice(value, "kind", choices)
