"""The resumable loop of the long experiments (``reproduce ba2016``, ``compare-lm``).

An experiment is a list of runs, each named by a key (what makes it a different run: the model,
the seed, the sizes, ...). :class:`ResumableResults` keeps their records in ``NAME.json`` and the
page rendered from them in ``NAME.md`` (:mod:`fwcourse.util.results_file`), writes both after
every run (atomically), and skips the runs whose key is already in the file: a command that is
stopped, or run again with more seeds, does only what is missing. The folder is checked before any
run starts (:func:`fwcourse.util.outdir.prepare`), and files of those names that the experiment did
not write are refused unless ``overwrite``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Hashable, Iterable

from fwcourse.util import atomic
from fwcourse.util.outdir import OutputError, prepare
from fwcourse.util.results_file import load_records, write_records

__all__ = ["ResumableResults"]

Job = tuple[Hashable, Callable[[], dict]]


class ResumableResults:
    """The records of one experiment in ``out_dir/NAME.json`` and their page in ``out_dir/NAME.md``.

    ``key(record)`` names the run a record came from; ``render(records)`` is the page's Markdown.
    :class:`fwcourse.util.outdir.OutputError` (naming ``option``) when the folder cannot be written,
    when ``NAME.json`` is not a list of this experiment's records, or when ``NAME.md`` exists without
    it (a page this experiment did not write). ``overwrite`` replaces such files; records of this
    experiment are always kept.
    """

    def __init__(self, out_dir: Path | str, name: str, key: Callable[[dict], Hashable],
                 render: Callable[[list[dict]], str], overwrite: bool = False, option: str = "--out") -> None:
        out = prepare(out_dir, option)
        self.json_path, self.md_path = out / f"{name}.json", out / f"{name}.md"
        self.key, self.render = key, render
        advice = f"choose another {option}, or add --overwrite to replace it."
        if self.md_path.exists() and not self.json_path.exists() and not overwrite:
            raise OutputError(f"{option} {str(out)!r} already holds {self.md_path.name} without its records "
                              f"{self.json_path.name}, so this command did not write it; {advice}")
        try:
            self.records = load_records(self.json_path)
            self._done = {key(r) for r in self.records}
        except (ValueError, KeyError, TypeError) as err:
            if not overwrite:
                detail = err if isinstance(err, ValueError) else f"a record lacks {err}"
                raise OutputError(f"{option} {str(out)!r}: {self.json_path.name} is not a results file of "
                                  f"this command ({detail}); {advice}") from None
            self.records, self._done = [], set()

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
            atomic.write_text(self.md_path, self.render(self.records))

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
