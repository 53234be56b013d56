import numpy as np

from fwcourse.course import check
from fwcourse.associative_memory import outer_product, read, write_sequence
from fwcourse.course.exercises import nb00


def test_outer_product_matches_the_definition():
    rng = np.random.default_rng(1)
    v, k = rng.standard_normal(5), rng.standard_normal(3)
    expected = np.array([[v[i] * k[j] for j in range(3)] for i in range(5)])
    np.testing.assert_allclose(outer_product(v, k), expected)


def test_memory_written_by_outer_products_reads_back_orthonormal_keys_exactly():
    rng = np.random.default_rng(2)
    keys = np.linalg.qr(rng.standard_normal((7, 7)))[0][:5]
    values = rng.standard_normal((5, 4))
    W = write_sequence(keys, values)
    np.testing.assert_allclose(W[2], sum(np.outer(values[s], keys[s]) for s in range(3)))
    np.testing.assert_allclose(read(W[-1], keys), values, atol=1e-12)


def test_checker_catches_known_wrong_answers():
    ex = nb00.outer_product
    assert ex.run(lambda v, k: np.outer(v, k)).passed
    assert ex.run(lambda v, k: np.outer(k, v)).status == check.WRONG_SHAPE
    assert ex.run(lambda v, k: v * k.sum()).status == check.WRONG_SHAPE
    assert ex.run(lambda v, k: np.outer(v, k) + 1).status == check.WRONG_VALUES
    assert ex.run(lambda v, k: np.outer(v, k).astype(int)).status == check.WRONG_DTYPE
    assert ex.run(lambda v, k: None).status == check.NOT_ATTEMPTED
