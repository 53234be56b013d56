"""The grader reads each exercise's function from the submitted file: what it takes, and when the
function counts as using the reference."""
import importlib

import nbformat
import pytest

from fwcourse.course.build_notebooks import repo_root
from fwcourse.course.extract import extract

ROOT = repo_root()


def _notebook(*cells, number="00"):
    nb = nbformat.v4.new_notebook(metadata={"fwcourse": {"notebook": number}})
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


IMPORTS = "import numpy as np\nfrom fwcourse.course.exercises import nb00 as ex"


def _code(extracted):
    return "\n".join(c.code for c in extracted.chunks)


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.name[:2])
def test_every_worked_solution_is_found_whole_and_its_own(path):
    nb = nbformat.read(path, as_version=4)
    number = nb.metadata["fwcourse"]["notebook"]
    solutions = importlib.import_module("fwcourse.course.exercises._solutions").SOLUTIONS[number]
    for name, code in solutions.items():
        extracted = extract(nb, name)
        assert extracted is not None and extracted.uses_reference == "", name
        body = [line for line in code.splitlines() if "SOLUTION" not in line]
        assert all(line in _code(extracted) for line in body), name


def test_helpers_come_along_with_the_imports_and_constants_they_need():
    nb = nbformat.read(ROOT / "notebooks" / "solutions" / "01_fast_weight_controller.ipynb", as_version=4)
    code = _code(extract(nb, "controller_step"))
    assert "def fast_weight_update(" in code and "import numpy as np" in code
    assert "ex.fast_weight_update.check" not in code and "config.sizes" not in code

    nb = _notebook(IMPORTS, "EPS = 1e-5\nSCALE = np.sqrt(2)\n%matplotlib inline",
                   "def helper(v):\n    return np.asarray(v) * EPS\n\ndef unused():\n    pass",
                   "def outer_product(v, k):\n    return helper(v)[:, None] * k[None, :] * SCALE")
    extracted = extract(nb, "outer_product")
    code = _code(extracted)
    assert "EPS = 1e-05" in code and "def helper(" in code and "import numpy as np" in code
    assert "SCALE" not in code.split("def outer_product")[0]  # computed, not a constant: not run
    assert "unused" not in code and "import fwcourse" not in code and "from fwcourse" not in code
    assert [c.cell for c in extracted.chunks] == [0, 1, 2, 3]


def test_the_last_definition_counts_and_broken_cells_are_skipped():
    nb = _notebook(IMPORTS, "def outer_product(v, k):\n    return 1",
                   "def outer_product(v, k):\n    return 2", "def outer_product(v, k) oops",
                   "def outer_product(v, k):\n    nonlocal v\n    return 3",
                   "outer_product = ex.outer_product.check(outer_product)")
    extracted = extract(nb, "outer_product")
    assert "return 2" in _code(extracted) and extracted.uses_reference == ""
    assert extract(_notebook(IMPORTS, "outer_product = lambda v, k: v"), "outer_product") is None
    with pytest.raises(ValueError, match="name"):
        extract(nb, "not a name")


@pytest.mark.parametrize("cells, why", [
    (["def outer_product(v, k):\n    return ex.outer_product.reference(v, k)"], "it uses ex, imported from"),
    (["def outer_product(v, k):\n    ex.outer_product.solution()\n    return v"], "it uses ex"),
    (["from fwcourse.associative_memory import outer_product as op",
      "def outer_product(v, k):\n    return op(v, k)"], "it uses op, imported from fwcourse.associative_memory"),
    (["def outer_product(v, k):\n    from fwcourse import associative_memory\n    return v"],
     "it imports from fwcourse"),
    (["def outer_product(v, k):\n    import fwcourse.associative_memory as m\n    return v"], "it imports fwcourse"),
    (["def outer_product(v, k):\n    import importlib\n    return importlib.import_module('fwcourse.x')"],
     "names the fwcourse package in a string"),
    (["ref = ex.outer_product.reference", "def outer_product(v, k):\n    return ref(v, k)"],
     "it uses ref, which the notebook takes from the fwcourse package"),
    (["def helper(v, k):\n    return ex.outer_product.reference(v, k)",
      "def outer_product(v, k):\n    return helper(v, k)"], "it uses ex"),
])
def test_a_function_that_reaches_the_reference_is_caught(cells, why):
    extracted = extract(_notebook(IMPORTS, *cells), "outer_product")
    assert why in extracted.uses_reference


def test_course_values_that_are_not_the_reference_are_not_held_against_the_learner():
    nb = _notebook(IMPORTS, "from fwcourse.course import config\nS = config.sizes('00')",
                   "def outer_product(v, k):\n    return v[:, None] * k[None, :] * S.matrix_size",
                   "outer_product = ex.outer_product.check(outer_product)")
    assert extract(nb, "outer_product").uses_reference == ""
