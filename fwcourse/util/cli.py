"""What the commands share: usage errors in one line, and how a stopped command says how to resume.

* :class:`ArgumentParser`: ``argparse``'s parser whose errors are one line on stderr and exit 2
  (argparse prints the whole usage first, many lines for a command with many options).
* :func:`stop_hint`: how to resume, attached to a Ctrl-C or a closed output pipe that stops a
  command; ``python -m fwcourse`` prints it in the one line that reports the stop.
"""
from __future__ import annotations

import argparse
import contextlib
from typing import Iterator, NoReturn

__all__ = ["ArgumentParser", "stop_hint"]


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose usage errors are one line: ``PROG: error: MESSAGE (see --help).``

    Its ``description`` may be a docstring's first line: the reStructuredText literal markers
    (double backquotes) are dropped, so that ``--help`` shows plain text.
    """

    def __init__(self, *args, description: str | None = None, **kwargs) -> None:
        super().__init__(*args, description=description and description.replace("``", ""), **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message.rstrip('.')} (see --help).\n")


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
