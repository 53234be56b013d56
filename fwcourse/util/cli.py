"""What the commands share: usage errors in one line, and how a stopped command says how to resume.

* :class:`ArgumentParser`: ``argparse``'s parser whose errors are one line on stderr and exit 2
  (argparse prints the whole usage first, many lines for a command with many options).
* :func:`stop_hint`: how to resume, attached to a Ctrl-C or a closed output pipe that stops a
  command; ``python -m fwcourse`` prints it in the one line that reports the stop.
"""
from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Iterator, NoReturn

from fwcourse.util.paths import DEFAULT_RESULTS, RESULTS_VAR, results_dir

__all__ = ["ArgumentParser", "add_results_out", "stop_hint"]


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose usage errors are one line: ``PROG: error: MESSAGE (see --help).``

    Its ``description`` may be a docstring's first line: the reStructuredText literal markers
    (double backquotes) are dropped, so that ``--help`` shows plain text.
    """

    def __init__(self, *args, description: str | None = None, **kwargs) -> None:
        super().__init__(*args, description=description and description.replace("``", ""), **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message.rstrip('.')} (see --help).\n")


def add_results_out(parser: argparse.ArgumentParser, command: str) -> None:
    """``--out`` and ``--overwrite`` of a command that adds runs to a results page (``reproduce``,
    ``compare-lm``): by default outside the checkout, so that only ``--out data`` edits the
    committed results."""
    parser.add_argument("--out", type=Path, default=results_dir(command),
                        help=f"folder for the results files, created if missing (default: ${RESULTS_VAR}/{command}, "
                             f"else {DEFAULT_RESULTS}/{command}: here %(default)s); --out data adds to the "
                             "committed results in the checkout's data/")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace results files in --out that this command did not write")


@contextlib.contextmanager
def stop_hint(hint: str) -> Iterator[None]:
    """Attach ``hint`` (how to resume) to a Ctrl-C or a closed output pipe that stops the block.

    ``python -m fwcourse`` reports the stop in one line that ends with the hint.
    """
    try:
        yield
    except (KeyboardInterrupt, BrokenPipeError) as err:
        err.resume_hint = hint
        raise
