"""Where the course checkout is (its notebooks, the committed results in ``data/``, the README), and
where the long experiments write their results by default.

The package works installed anywhere; the commands that read or write the course's own files
(the notebook build, the README block) need the checkout. It is found, in this order, at
``$FWCOURSE_ROOT``, beside the package (a clone, or an editable install), or at the current folder
or one above it: the first folder that holds ``notebooks/src``.

``reproduce`` and ``compare-lm`` write to ``--out``, by default :func:`results_dir` (outside the
checkout, so that a trial run never edits the committed results); ``--out data`` updates those.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "FWCOURSE_ROOT"
RESULTS_VAR = "FWCOURSE_RESULTS"
DEFAULT_RESULTS = Path("~") / "fwcourse-results"


def repo_root() -> Path:
    """The course checkout (the folder holding ``notebooks/src``); FileNotFoundError without one."""
    here = Path.cwd().resolve()
    candidates = [Path(os.environ[ENV_VAR])] if os.environ.get(ENV_VAR) else []
    candidates += [Path(__file__).resolve().parents[2], here, *here.parents]
    for folder in candidates:
        if (folder / "notebooks" / "src").is_dir():
            return folder
    raise FileNotFoundError(
        "no course checkout found (a folder with notebooks/src): run from the fwcourse repository "
        f"or set {ENV_VAR}=/path/to/it.")


def data_dir() -> Path:
    """``data/`` of the checkout: the committed results pages."""
    return repo_root() / "data"


def results_dir(command: str) -> Path:
    """Default results folder of ``command``: ``$FWCOURSE_RESULTS/COMMAND``, else
    ``~/fwcourse-results/COMMAND``. Never the checkout's ``data/``, unless the variable says so."""
    root = os.environ.get(RESULTS_VAR) or DEFAULT_RESULTS
    return Path(root).expanduser() / command
