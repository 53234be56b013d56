"""The shared input checks name the argument and what was expected."""
import numpy as np
import pytest

from fwcourse.util import validate


def test_token_ids_accepts_ids_in_range_and_names_the_argument_otherwise():
    ids = np.array([[0, 4], [2, 3]])
    assert validate.token_ids(ids, "tokens", 5) is ids
    assert validate.token_ids(np.array([7]), "tokens") is not None  # no vocabulary: any id >= 0
    with pytest.raises(TypeError, match="tokens must hold integer token ids"):
        validate.token_ids(ids.astype(float), "tokens", 5)
    with pytest.raises(ValueError, match=r"targets must hold ids in \[0, 4\); got \[0, 4\]"):
        validate.token_ids(ids, "targets", 4)
    with pytest.raises(ValueError, match=r"must hold ids in \[0, None\)"):
        validate.token_ids(np.array([-1]), "tokens")
