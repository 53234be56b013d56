"""The resumable loop of the long experiments (``reproduce ba2016``, ``compare-lm``).

An experiment is a list of runs, each named by a key (what makes it a different run: the model,
the seed, the sizes, ...). :class:`ResumableResults` keeps their records in ``NAME.json`` and the
page rendered from them in ``NAME.md`` (:mod:`fwcourse.util.results_file`), writes both after
every run, and skips the runs whose key is already in the file: a command that is stopped, or
run again with more seeds, does only what is missing.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Hashable, Iterable

from fwcourse.util.results_file import load_records, write_records

__all__ = ["ResumableResults"]

Job = tuple[Hashable, Callable[[], dict]]


class ResumableResults:
    """The records of one experiment in ``out_dir/NAME.json`` and their page in ``out_dir/NAME.md``.

    ``key(record)`` names the run a record came from; ``render(records)`` is the page's Markdown.
    """

    def __init__(self, out_dir: Path | str, name: str, key: Callable[[dict], Hashable],
                 render: Callable[[list[dict]], str]) -> None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.json_path, self.md_path = out / f"{name}.json", out / f"{name}.md"
        self.key, self.render = key, render
        self.records = load_records(self.json_path)
        self._done = {key(r) for r in self.records}

    def done(self, key: Hashable) -> bool:
        """Whether a run with this key is already recorded."""
        return key in self._done

    def add(self, record: dict) -> None:
        """Record one finished run: the JSON file and the page are written at once."""
        self.records.append(record)
        self._done.add(self.key(record))
        write_records(self.json_path, self.records)
        self.write_page()

    def write_page(self) -> None:
        """Render the page from every record (nothing to write while there are none)."""
        if self.records:
            self.md_path.write_text(self.render(self.records))

    def run(self, jobs: Iterable[Job], budget_s: float | None = None,
            report: Callable[[dict], None] | None = None) -> bool:
        """Run each job ``(key, make_record)`` whose key is not recorded yet, in order, adding its record
        and then calling ``report(record)`` (e.g. to print a line).

        No job starts after ``budget_s`` seconds: then it returns ``False`` (run the command again
        to continue). Otherwise it returns ``True`` after rendering the page once more, so that a
        call with every run already done still refreshes it. An exception in a job propagates;
        the runs finished before it stay written.
        """
        start = time.perf_counter()
        for key, make_record in jobs:
            if self.done(key):
                continue
            if budget_s is not None and time.perf_counter() - start > budget_s:
                return False
            record = make_record()
            self.add(record)
            if report is not None:
                report(record)
        self.write_page()
        return True
