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
