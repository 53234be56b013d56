"""TensorFlow's C++ start-up log, quiet unless the user asks for it.

TensorFlow greets every process on stderr: oneDNN and CPU-instruction notices, "Could not find
cuda drivers", and on a machine with CUDA libraries but no usable driver an ERROR line, "failed
call to cuInit". ``TF_CPP_MIN_LOG_LEVEL`` (0 all, 1 no INFO, 2 no WARNING, 3 no ERROR) hides only
what is logged after TensorFlow has set up its logger; the lines printed while its libraries load
(after abseil's "WARNING: All log messages before absl::InitializeLog() ...") ignore it, and the
cuInit line is an ERROR, which level 2 keeps.

:func:`install`, called when :mod:`fwcourse` is imported (before TensorFlow), sets
``TF_CPP_MIN_LOG_LEVEL=2`` unless it is set, and makes the first ``import tensorflow`` run with
the process's stderr (file descriptor 2) captured; TensorFlow's devices are listed while it is,
which is where the cuInit line comes from. The captured lines are then written to stderr less
those :func:`keep` drops: log lines below the level, the cuInit line counted as a WARNING (it only
means that no GPU driver answered: ``python -m fwcourse env`` reports "no GPU"). A level the user
sets applies to these early lines too; ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import io
import os
import re
import sys
import tempfile
from typing import Iterator

__all__ = ["LEVEL_VAR", "DEFAULT_LEVEL", "install", "keep"]

LEVEL_VAR = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LEVEL = "2"

# abseil's C++ log line: severity letter, date, time (seconds since 1970 before the logger is set
# up: "I0000 00:00:1796026386.396764"), thread id, file:line], message
_LOG_LINE = re.compile(r"([IWEF])\d{4} [\d:.]+\s+\d+ [^\s\]]+:\d+\] (.*)")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# logged as an ERROR, but on a machine without a GPU driver it is only a notice: shown up to level 1
_NO_DRIVER = "failed call to cuInit"


def install() -> None:
    """Quiet TensorFlow's C++ log unless asked otherwise (see the module docstring).

    Does nothing once TensorFlow is imported (too late to set the level). The level is read when
    TensorFlow is imported: at 0 its import is not captured at all. Cheap: TensorFlow is not
    imported here.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault(LEVEL_VAR, DEFAULT_LEVEL)
    if not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


def keep(text: str, level: int) -> str:
    """The lines of ``text`` (stderr captured while TensorFlow loaded) to show at ``level``
    (``TF_CPP_MIN_LOG_LEVEL``).

    Drops abseil log lines of a severity below ``level`` (the "failed call to cuInit" line counts
    as a WARNING) with the lines that continue them, and abseil's banner about logging before
    ``InitializeLog`` when ``level`` > 0. Everything else is kept, in order.
    """
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        match = _LOG_LINE.match(line)
        if match:
            severity = _SEVERITY["W"] if _NO_DRIVER in match[2] else _SEVERITY[match[1]]
            dropping = severity < level
        elif line.startswith(_BANNER):
            dropping = level > 0
        # any other line continues the message above it (e.g. the CPU-instruction notice's second line)
        if not dropping:
            kept.append(line)
    return "".join(kept)


def _level() -> int:
    try:
        return int(os.environ.get(LEVEL_VAR, "0"))
    except ValueError:  # TensorFlow reads an unparsable level as 0
        return 0


@contextlib.contextmanager
def _filtered_stderr() -> Iterator[None]:
    """Capture what C/C++ code writes to file descriptor 2, then write back what :func:`keep` keeps.

    Python's own ``sys.stderr`` keeps writing to the real stderr meanwhile, so that warnings and
    tracebacks are neither delayed nor filtered.
    """
    level = _level()
    if level <= 0:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):  # no usable stderr: nothing to quiet
        yield
        return
    python_stderr = sys.stderr
    failed = True
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        if _writes_to_fd2(python_stderr):
            # on a descriptor of its own, closed when the stream is collected: a logging handler made
            # during the import may keep this stream, and must keep writing to the real stderr
            sys.stderr = io.TextIOWrapper(io.FileIO(os.dup(saved), "w"), encoding=python_stderr.encoding,
                                          errors="backslashreplace", line_buffering=True)
        try:
            yield
            failed = False
        finally:
            if sys.stderr is not python_stderr:
                sys.stderr.flush()
                sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            # when the import failed, every line may help to say why
            shown = text if failed else keep(text, level)
            if shown:
                python_stderr.write(shown)
                python_stderr.flush()


def _writes_to_fd2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # e.g. Jupyter's stream objects
        return False


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` (once) with a loader that runs its import under :func:`_filtered_stderr`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)  # by the finders after this one
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's own loader, and lists its devices, with C++ stderr filtered."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        # the module keeps TensorFlow's own loader (importlib.resources and reloads use it)
        module.__loader__ = module.__spec__.loader = self.loader
        with _filtered_stderr():
            self.loader.exec_module(module)
            try:
                module.config.list_physical_devices("GPU")  # initialises CUDA: the cuInit line, if any
            except Exception:  # noqa: BLE001  (a broken device setup fails again, loudly, where it is used)
                pass
