"""The README's results come from data/*.json: its generated block must match a fresh rendering."""
from __future__ import annotations

import pytest

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


def test_fwrnn_cost_line_reads_the_benchmark_and_skips_a_quick_run(tmp_path, monkeypatch):
    import json

    monkeypatch.setattr(readme, "repo_root", lambda: tmp_path)
    assert "not measured yet" in readme._fwrnn_cost_line()
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    records = [{"backend": b, "table": "training", "R": R, "ratio": ratio, "flop_ratio": 0.3 + R / 1000}
               for b, ratios in (("jax", (0.9, 0.8)), ("tensorflow", (1.2, 1.1))) for R, ratio in zip((50, 20), ratios)]
    records.append({"backend": "tensorflow", "table": "loop", "T": 3})
    (results / "fwrnn.json").write_text(json.dumps({"machine": "m", "quick": False, "records": records}))
    line = readme._fwrnn_cost_line()
    assert "at R = 20, 50: JAX 0.80/0.90; TensorFlow, model without XLA (the layer compiles its own loop) 1.10/1.20." in line
    assert line.endswith("The FLOP counts predict 0.32/0.35.")
    (results / "fwrnn.json").write_text(json.dumps({"machine": "m", "quick": True, "records": records}))
    assert "not measured yet" in readme._fwrnn_cost_line()


def test_markdown_tables_keep_each_tables_caption_and_drop_bold_marks():
    page = ("Intro.\n\nB = 2 (small,\nwrapped):\n\n| method | T=1 |\n|---|---|\n| a | **1.0** ms |\n| - | - |\n"
            "\n| method | T=1 |\n|---|---|\n| c | 4.0 ms |\n\n```\nB = 64 in a fence\n| x | y |\n```\n\n"
            "B = 64 (large):\n| method | T=1 |\n|:--|--:|\n| a | 2.0 ms |\n| b | 3.0 ms |")
    assert readme.markdown_tables(page) == [
        ("B = 2 (small, wrapped):", [{"method": "a", "T=1": "1.0 ms"}, {"method": "-", "T=1": "-"}]),
        ("", [{"method": "c", "T=1": "4.0 ms"}]),  # no prose since the last table: no caption
        ("B = 64 (large):", [{"method": "a", "T=1": "2.0 ms"}, {"method": "b", "T=1": "3.0 ms"}])]


GPU_PAGE = (
    "Device: one GPU X, Keras 3\n\n| model | T | measured ratio | measured / predicted |\n|---|---|---|---|\n"
    "| course | 1024 | 2.00 | 0.50 |\n| body-dominated (d=512) | 256 | 1.10 | 0.90 |\n"
    "| body-dominated (d=512) | 1024 | **1.30** | **1.10** |\n\nB = 2:\n\n| method | T=1024 | T=4096 |\n|---|---|---|\n"
    "| quadratic | 1.0 ms (1x) | 2.0 ms (2x) |\n\nB = 64 (full):\n\n| method | T=1024 | T=4096 |\n|---|---|---|\n"
    "| quadratic | 1.00 ms (1.0x) | 16.00 ms (16.0x) |\n| mixed chunk, C = 64 | 0.50 ms (1.0x) | 2.00 ms (4.0x) |\n"
    "| mixed chunk, G = 16 | 0.50 ms (1.0x) | 1.00 ms (2.0x) |\n")


def test_fwl_cost_line_reads_the_gpu_page(tmp_path, monkeypatch):
    monkeypatch.setattr(readme, "repo_root", lambda: tmp_path)
    assert "not measured on a GPU yet" in readme._fwl_cost_line()
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "fwl_gpu.md").write_text(GPU_PAGE)
    line = readme._fwl_cost_line()
    assert "`benchmarks/bench_fwl.py`; GPU X)" in line
    assert "step is 1.30x the base model's at T = 1024" in line and "(1.10x its FLOP prediction)" in line
    assert "mixed chunks takes 4.0x (64-token chunks) and 2.0x (16 chunks) as long, the quadratic form 16.0x." in line
    (results / "fwl_gpu.md").write_text(GPU_PAGE.replace("B = 64 (full)", "Large batch"))
    with pytest.raises(ValueError, match="fwl_gpu.md has no table captioned 'B = 64'"):
        readme._fwl_cost_line()


def test_readme_command_says_in_one_line_what_it_cannot_render(tmp_path, monkeypatch, capsys):
    (tmp_path / "README.md").write_text("no markers here\n")
    monkeypatch.setattr(readme, "repo_root", lambda: tmp_path)
    assert readme.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("readme: README.md must hold the two marker lines") and err.count("\n") == 1
