import json
import shutil

import nbformat
import pytest

from fwcourse.course import build_notebooks as bn

ROOT = bn.repo_root()


def test_committed_notebooks_are_up_to_date_with_their_sources(capsys):
    assert bn.main(["--check"]) == 0, capsys.readouterr().out


def test_every_source_has_both_versions_and_nothing_is_orphaned():
    sources = {p.stem for p in (ROOT / "notebooks" / "src").glob("*.py")}
    assert sources, "no notebook sources"
    assert {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")} == sources
    assert {p.stem for p in (ROOT / "notebooks" / "solutions").glob("*.ipynb")} == sources


def test_committed_notebooks_have_no_outputs():
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path


def test_learner_versions_have_no_solutions_and_solution_versions_keep_markers():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        learner = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        solution = "\n".join(c.source for c in nbformat.read(ROOT / "notebooks" / "solutions" / path.name,
                                                                as_version=4).cells if c.cell_type == "code")
        assert bn.BEGIN not in learner and bn.END not in learner, path
        assert learner.count(bn.STUB) == solution.count(bn.BEGIN) > 0, path


def test_stub_keeps_the_indentation_and_the_rest_of_the_cell():
    source = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n\nf = check(f)"
    stripped = bn.strip_solutions(source)
    assert "return x + y" not in stripped
    assert f"    {bn.STUB}" in stripped.splitlines()
    assert stripped.startswith("def f(x):\n    y = 1\n") and stripped.endswith("f = check(f)")
    compile(stripped, "cell", "exec")


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_unbalanced_markers_are_errors(source, message):
    with pytest.raises(ValueError, match=message):
        bn.strip_solutions(source)


def test_build_detects_and_fixes_a_stale_notebook(tmp_path, capsys):
    (tmp_path / "notebooks").mkdir()
    shutil.copytree(ROOT / "notebooks" / "src", tmp_path / "notebooks" / "src",
                    ignore=lambda d, names: [n for n in names if not n.startswith("00_")])
    assert bn.main(["--root", str(tmp_path), "--check"]) == 1
    assert bn.main(["--root", str(tmp_path)]) == 0
    assert bn.main(["--root", str(tmp_path), "--check"]) == 0
    generated = (tmp_path / bn.SOLUTIONS_MODULE).read_text()
    assert "'00': {" in generated and "'def outer_product(v, k):\\n'" in generated
    learner = nbformat.read(tmp_path / "notebooks" / "00_start_here.ipynb", as_version=4)
    assert learner.metadata["fwcourse"] == {"notebook": "00", "version": "learner"}
    src = tmp_path / "notebooks" / "src" / "00_start_here.py"
    src.write_text(src.read_text() + "\n# %%\nprint('changed')\n")
    assert bn.main(["--root", str(tmp_path), "--check"]) == 1
    assert "00_start_here.ipynb" in capsys.readouterr().out


def test_bad_root_is_a_clear_error(tmp_path, capsys):
    assert bn.main(["--root", str(tmp_path)]) == 2
    assert "must be a course checkout" in capsys.readouterr().err


def test_extract_solutions_gives_the_whole_function_without_markers():
    source = ("import numpy as np\n%matplotlib inline\n\n@decorate\ndef f(x):\n    y = 1\n"
              "    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n\nf = check(f)")
    assert bn.extract_solutions(source) == {"f": "@decorate\ndef f(x):\n    y = 1\n    return x + y"}
    assert bn.extract_solutions("x = 1") == {}


def test_a_solution_block_outside_a_function_is_an_error():
    with pytest.raises(ValueError, match="inside a top-level function"):
        bn.extract_solutions("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")


def test_the_solutions_module_holds_every_source_solution_block():
    from fwcourse.course.exercises._solutions import SOLUTIONS

    for src, _, _ in bn.targets(ROOT):
        found = bn.notebook_solutions(src)
        assert SOLUTIONS[src.stem[:2]] == found, src.name
        assert len(found) == src.read_text().count(bn.BEGIN), src.name


def test_rendered_solutions_module_round_trips():
    solutions = {"07": {"g": "def g(s):\n    return 'it''s' + \"\\\\n\"", "h": "def h():\n\n    pass"}}
    namespace = {}
    exec(bn.render_solutions(solutions), namespace)
    assert namespace["SOLUTIONS"] == solutions
