"""fwcourse.experiments.runner: the resumable loop shared by ``reproduce ba2016`` and ``compare-lm``."""
from __future__ import annotations

import json

import pytest

from fwcourse.experiments.runner import ResumableResults


def _results(tmp_path):
    return ResumableResults(tmp_path / "out", "demo", key=lambda r: r["n"],
                            render=lambda records: f"{len(records)} runs\n")


def _jobs(ns, ran):
    def make(n):
        ran.append(n)
        return {"n": n, "square": n * n}
    return ((n, lambda n=n: make(n)) for n in ns)


def test_each_record_is_written_with_its_page_and_done_runs_are_skipped(tmp_path):
    ran, reported = [], []
    results = _results(tmp_path)
    assert results.run(_jobs([1, 2], ran), report=lambda r: reported.append(
        (r["n"], len(json.loads(results.json_path.read_text())))))
    assert reported == [(1, 1), (2, 2)]  # the file already holds the record when it is reported
    assert results.md_path.read_text() == "2 runs\n"
    again = _results(tmp_path)  # a new command on the same folder
    assert again.done(1) and not again.done(3)
    assert again.run(_jobs([1, 2, 3], ran))
    assert ran == [1, 2, 3] and [r["n"] for r in again.records] == [1, 2, 3]
    assert json.loads(again.json_path.read_text())[:2] == results.records


def test_a_run_with_everything_done_refreshes_the_page_and_an_empty_one_writes_nothing(tmp_path):
    _results(tmp_path).run(_jobs([1], []))
    results = _results(tmp_path)
    results.md_path.write_text("stale")
    assert results.run(_jobs([1], [])) and results.md_path.read_text() == "1 runs\n"
    empty = ResumableResults(tmp_path / "empty", "demo", key=lambda r: r["n"], render=str)
    assert empty.run([]) and not empty.md_path.exists() and not empty.json_path.exists()


def test_no_job_starts_after_the_budget_and_a_failing_job_keeps_what_was_done(tmp_path, monkeypatch):
    from fwcourse.experiments import runner

    clock = iter([0.0, 0.0, 61.0])  # the start, before job 1, before job 2
    monkeypatch.setattr(runner.time, "perf_counter", lambda: next(clock))
    ran = []
    results = _results(tmp_path)
    assert results.run(_jobs([1, 2], ran), budget_s=60.0) is False
    assert ran == [1]
    monkeypatch.undo()

    def boom():
        raise RuntimeError("bad corpus")

    with pytest.raises(RuntimeError, match="bad corpus"):
        results.run([(5, boom)])
    assert [r["n"] for r in _results(tmp_path).records] == [1]


def test_the_folder_is_checked_before_any_run(tmp_path):
    from fwcourse.util.outdir import OutputError

    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="--out '.*file' is a file"):
        ResumableResults(tmp_path / "file", "demo", key=lambda r: r["n"], render=str)
    with pytest.raises(OutputError, match="--results '.*sub' cannot be written"):
        ResumableResults(tmp_path / "file" / "sub", "demo", key=lambda r: r["n"], render=str, option="--results")


def test_files_of_its_names_it_did_not_write_are_refused_unless_overwrite(tmp_path):
    from fwcourse.util.outdir import OutputError

    out = tmp_path / "out"
    out.mkdir()
    (out / "demo.md").write_text("my page")
    with pytest.raises(OutputError, match="already holds demo.md without its records demo.json"):
        _results(tmp_path)
    assert (out / "demo.md").read_text() == "my page"
    for foreign, why in (("{}", "must hold a JSON list"), ("not json", "it is not JSON"),
                         ('[{"m": 1}]', "a record lacks 'n'")):
        (out / "demo.json").write_text(foreign)
        with pytest.raises(OutputError, match=f"demo.json is not a results file of this command .*{why}"):
            _results(tmp_path)
        assert (out / "demo.json").read_text() == foreign
    results = ResumableResults(out, "demo", key=lambda r: r["n"], render=lambda rs: "page\n", overwrite=True)
    assert results.run(_jobs([1], []))
    assert [r["n"] for r in json.loads((out / "demo.json").read_text())] == [1]


def test_overwrite_keeps_the_experiments_own_records(tmp_path):
    _results(tmp_path).run(_jobs([1], []))
    again = ResumableResults(tmp_path / "out", "demo", key=lambda r: r["n"], render=str, overwrite=True)
    assert again.done(1) and again.records == [{"n": 1, "square": 1}]
