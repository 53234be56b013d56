"""fwcourse.util.paths: the course checkout is found from the environment, the package or the cwd."""
from __future__ import annotations

import pytest

from fwcourse.util import paths


def test_the_checkout_is_found_and_holds_the_course(monkeypatch):
    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    root = paths.repo_root()
    assert (root / "notebooks" / "src").is_dir() and paths.data_dir() == root / "data"


def test_the_environment_variable_wins(tmp_path, monkeypatch):
    (tmp_path / "notebooks" / "src").mkdir(parents=True)
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path))
    assert paths.repo_root() == tmp_path


def test_no_checkout_is_one_clear_error(tmp_path, monkeypatch):
    # an installed package far from any checkout: the package's parent holds no notebooks/src
    monkeypatch.setattr(paths, "__file__", str(tmp_path / "site-packages" / "fwcourse" / "util" / "paths.py"))
    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no course checkout found .* FWCOURSE_ROOT"):
        paths.repo_root()


def test_results_go_outside_the_checkout_unless_the_environment_says_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.RESULTS_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.results_dir("compare-lm") == tmp_path / "home" / "fwcourse-results" / "compare-lm"
    monkeypatch.setenv(paths.RESULTS_VAR, str(tmp_path / "results"))
    assert paths.results_dir("reproduce") == tmp_path / "results" / "reproduce"
    monkeypatch.setenv(paths.RESULTS_VAR, "")  # set but empty: the default
    assert paths.results_dir("reproduce") == tmp_path / "home" / "fwcourse-results" / "reproduce"
