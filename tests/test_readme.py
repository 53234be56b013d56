"""The README's results come from data/*.json: its generated block must match a fresh rendering."""
from __future__ import annotations

from fwcourse.course import readme
from fwcourse.course.build_notebooks import repo_root


def test_readme_results_are_rendered_from_the_data_files():
    text = (repo_root() / "README.md").read_text("utf-8")
    assert readme.updated(text) == text, "README.md is stale: run python -m fwcourse readme"


def test_updated_replaces_only_the_block():
    doc = f"intro\n{readme.BEGIN}\nold numbers 1.0\n{readme.END}\nrest\n"
    new = readme.updated(doc)
    assert new.startswith(f"intro\n{readme.BEGIN}\n") and new.endswith(f"{readme.END}\nrest\n")
    assert "old numbers" not in new and "Fast Weight Layers" in new
