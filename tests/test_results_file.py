"""fwcourse.util.results_file: the resumable JSON records of the long experiments."""
from __future__ import annotations

import json

import pytest

from fwcourse.util import results_file
from fwcourse.util.paths import data_dir


def test_load_records_of_a_missing_file_is_empty(tmp_path):
    assert results_file.load_records(tmp_path / "none.json") == []


def test_records_round_trip_one_record_a_line(tmp_path):
    path = tmp_path / "results.json"
    records = [{"model": "lstm", "seed": 0, "error": 0.25}, {"model": "fastweights", "seed": 1, "error": 0.0125,
                                                               "note": "ünïcode, \"quotes\""}]
    results_file.write_records(path, records)
    assert results_file.load_records(path) == records
    lines = path.read_text().splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == len(records) + 2
    assert [json.loads(line.rstrip(",")) for line in lines[1:-1]] == records
    results_file.write_records(path, records[:1])  # rewriting replaces, never appends
    assert results_file.load_records(path) == records[:1]


def test_an_empty_list_round_trips(tmp_path):
    path = tmp_path / "results.json"
    results_file.write_records(path, [])
    assert results_file.load_records(path) == []


def test_a_file_that_is_not_a_list_is_an_error_naming_it(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"model": "lstm"}')
    with pytest.raises(ValueError, match="results.json must hold a JSON list"):
        results_file.load_records(path)


def test_the_committed_results_load_and_each_says_where_it_was_made():
    for name in ("ba2016_results.json", "fwl_results.json"):
        records = results_file.load_records(data_dir() / name)
        assert records and all(isinstance(r, dict) for r in records), name
        for record in records:  # the machine line of fwcourse.util.envinfo.machine
            assert "CPU core(s) usable" in record["machine"] and "\n" not in record["machine"], name


def test_a_file_that_is_not_json_is_an_error_naming_it(tmp_path):
    path = tmp_path / "results.json"
    path.write_bytes(b"\xff not json")
    with pytest.raises(ValueError, match="results.json must hold a JSON list of records; it is not JSON"):
        results_file.load_records(path)
    path.write_text('[{"a": 1}, 2]')
    with pytest.raises(ValueError, match="must hold a JSON list of records"):
        results_file.load_records(path)


def test_writing_is_atomic_an_interrupted_write_keeps_the_old_records(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    results_file.write_records(path, [{"seed": 0}])

    def interrupted(src, dst):
        raise KeyboardInterrupt  # Ctrl-C just before the new file would replace the old one

    monkeypatch.setattr("os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        results_file.write_records(path, [{"seed": 0}, {"seed": 1}])
    monkeypatch.undo()
    assert results_file.load_records(path) == [{"seed": 0}]
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
