"""A learner's function called in a sandboxed process of its own, under a time limit it cannot defeat.

The grader's stand-in for the learner's function (see :mod:`fwcourse.course.grade`)::

    with isolated_function(extracted.chunks, "outer_product", 10.0, sandbox, workdir) as func:
        verdict = exercise.run(func)

The process (:mod:`fwcourse.course.call_runner`) runs in ``sandbox`` with the fwcourse package
hidden. Calling ``func`` sends it the arguments and returns the output it sends back; the expected
outputs never leave this process. A caller that measures the call's memory with ``tracemalloc``
(notebook 06's chunked-attention check) sees the function's peak: the process measures it there,
and the stand-in allocates as much here, for a moment. A call that fails raises what :meth:`Exercise.run
<fwcourse.course.check.Exercise.run>` reads: ``NotImplementedError``, :class:`~fwcourse.course.check.TimeLimit`
when no answer came within ``seconds`` (timed here, whatever the learner's code did to signals,
timers or exceptions), or :class:`~fwcourse.course.check.LearnerError`. When the block ends, the
process and everything it started are killed.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import os
import pickle
import selectors
import subprocess
import sys
import tempfile
import time
import traceback
import tracemalloc
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from fwcourse.course import call_runner
from fwcourse.course.check import ERROR, USES_REFERENCE, LearnerError, TimeLimit, short_traceback
from fwcourse.course.extract import Chunk
from fwcourse.course.sandbox import Sandbox

LOAD_SECONDS = 120.0  # to start Python and run the notebook's imports (TensorFlow takes ~10 s)
_MAX_ANSWER_BYTES = 32 * 2 ** 20  # the course's outputs are a few kB; a probe's, a few hundred
_MAX_TEXT = 2000  # characters kept of a text the process sends
_RUNNER = Path(call_runner.__file__).read_text(encoding="utf-8")


class _Garbled(ValueError):
    """The process sent something that is not an answer of the protocol."""


def _text(value: Any) -> str:
    """A string the process sent, bounded: beyond :data:`_MAX_TEXT` characters, the end is kept."""
    if not isinstance(value, str):
        raise _Garbled(f"expected text, got {type(value).__name__}")
    return value if len(value) <= _MAX_TEXT else "..." + value[-_MAX_TEXT:]


def decode(message: Any, depth: int = 0) -> Any:
    """An output as :func:`fwcourse.course.call_runner.encode` sent it; :class:`_Garbled` otherwise."""
    if not isinstance(message, dict) or depth > 8:
        raise _Garbled("not an encoded value")
    if message.get("none") is True:
        return None
    if message.get("ellipsis") is True:
        return Ellipsis
    if message.get("seq") in ("tuple", "list") and isinstance(message.get("items"), list):
        items = [decode(item, depth + 1) for item in message["items"]]
        return tuple(items) if message["seq"] == "tuple" else items
    if "npy" in message:
        try:
            data = base64.b64decode(message["npy"], validate=True)
            return np.load(io.BytesIO(data), allow_pickle=False)
        except (TypeError, ValueError, binascii.Error, OSError, EOFError) as err:
            raise _Garbled(f"unreadable array ({err})") from err
    if "object" in message:
        name = _text(message["object"])[:100]
        # an object of a class of that name: the comparison then says "got NAME of objects"
        return type(name if name.isidentifier() else "object_", (), {})()
    raise _Garbled("not an encoded value")


def failure(raised: Any) -> BaseException:
    """The exception to raise for a call the process reports as raised (RAISED of the protocol)."""
    if not isinstance(raised, dict):
        raise _Garbled("not an exception report")
    if raised.get("package") is True:
        return LearnerError(USES_REFERENCE, "It imports the fwcourse package (the reference).\n"
                            + _text(raised.get("exception", "")).rstrip())
    if raised.get("not_attempted") is True and not raised.get("loading"):
        return NotImplementedError()
    frames = raised.get("frames")
    if not isinstance(frames, list) or not all(isinstance(f, list) and len(f) == 4 for f in frames):
        raise _Garbled("unreadable traceback")
    summaries = []
    for filename, line, name, code in frames[-3:]:
        if not isinstance(line, int):
            raise _Garbled("unreadable traceback")
        summaries.append(traceback.FrameSummary(_text(filename)[:100], line, _text(name)[:100],
                                                lookup_line=False, line=_text(code)[:300]))
    detail = short_traceback(summaries, _text(raised.get("exception")))
    if raised.get("type") == "NameError":
        detail += ("\n(The grader runs your function with the notebook's imports, functions and "
                   "constants only: pass anything else in as an argument.)")
    if raised.get("loading"):
        detail = "Defining the function failed:\n" + detail
    return LearnerError(ERROR, detail)


class _Lines:
    """Lines from a pipe, each waited for with a deadline."""

    def __init__(self, pipe) -> None:
        self._fd = pipe.fileno()  # read directly: a buffered reader could hold a line the selector misses
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._fd, selectors.EVENT_READ)
        self._buffer = b""
        self._received = 0

    def next(self, seconds: float) -> bytes | None:
        """The next line; None when ``seconds`` pass first; EOFError at the end of the output."""
        deadline = time.monotonic() + seconds
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                return None
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                raise EOFError()
            self._received += len(chunk)
            if self._received > _MAX_ANSWER_BYTES:
                raise _Garbled(f"more than {_MAX_ANSWER_BYTES >> 20} MiB of answers")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line


class IsolatedFunction:
    """The learner's function, as the process it is defined in answers for it (see the module)."""

    def __init__(self, proc: subprocess.Popen, stderr: Path, seconds: float, max_bytes: int) -> None:
        self._proc, self._stderr, self._seconds, self._max_bytes = proc, stderr, seconds, max_bytes
        self._lines = _Lines(proc.stdout)
        self._broken: BaseException | None = None  # once set, every call raises it
        try:
            line = self._lines.next(LOAD_SECONDS)
            if line is None:
                self._broken = LearnerError(ERROR, f"Defining the function took more than {LOAD_SECONDS:g} s.")
                return
            message = json.loads(line)
            if isinstance(message, dict) and "raised" in message:
                self._broken = failure(message["raised"])
            elif message != {"loaded": True}:
                raise _Garbled("no word that the function is defined")
        except EOFError:
            self._broken = self._ended("while defining it")
        except (_Garbled, ValueError, RecursionError) as err:  # json's errors are ValueErrors
            self._broken = self._garbage(err)

    def __call__(self, *args: Any) -> Any:
        if self._broken is not None:
            raise self._broken
        measure = tracemalloc.is_tracing()
        try:
            self._proc.stdin.write(pickle.dumps((args, measure)))
            self._proc.stdin.flush()
            line = self._lines.next(self._seconds)
            if line is None:
                # its answer may yet come and be taken for the next call's: no next call
                self._broken = LearnerError(ERROR, "An earlier call ran past the time limit.")
                raise TimeLimit()
            message = json.loads(line)
            if not isinstance(message, dict) or not ({"value", "raised"} & message.keys()):
                raise _Garbled("neither a value nor an exception")
            if "raised" in message:
                raise failure(message["raised"])
            value = decode(message["value"])
        except (BrokenPipeError, EOFError):
            raise self._ended("during a call") from None
        except (_Garbled, ValueError, RecursionError) as err:  # json's errors are ValueErrors
            self._broken = self._garbage(err)
            raise self._broken from None
        if measure:
            peak = message.get("peak")
            if not isinstance(peak, int) or peak < 0:
                raise LearnerError(ERROR, "Your function stopped the check's measurement of its memory (tracemalloc).")
            np.empty(min(peak, self._max_bytes), dtype=np.uint8)  # never written: no page is touched
        return value

    @staticmethod
    def _garbage(err: BaseException) -> LearnerError:
        return LearnerError(ERROR, f"The process checking your function sent garbage ({str(err)[:200]}).")

    def _ended(self, during: str) -> LearnerError:
        """The error for a process that stopped answering without a word."""
        try:
            code = self._proc.wait(5)
        except subprocess.TimeoutExpired:  # alive, but it closed its end of the pipes
            code = None
        text = self._stderr.read_text(encoding="utf-8", errors="replace") if self._stderr.exists() else ""
        tail = text.strip().splitlines()[-1:]
        # killed by a signal: a negative status, or 128 + the signal as bubblewrap passes it on
        signal = None if code is None else -code if code < 0 else code - 128 if code > 128 else None
        how = ("stopped talking" if code is None else f"was killed by signal {signal}" if signal
               else f"exited (status {code})")
        return LearnerError(ERROR, f"The process checking your function {how} {during}."
                            + (f"\nIts last words: {tail[0][:300]}" if tail else ""))


@contextlib.contextmanager
def isolated_function(chunks: Sequence[Chunk], name: str, seconds: float, sandbox: Sandbox,
                      workdir: Path) -> Iterator[IsolatedFunction]:
    """Define ``name`` from ``chunks`` in a new process in ``sandbox``, with ``workdir`` (empty) as its
    folder, and yield the stand-in that calls it, each call within ``seconds``."""
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0; got {seconds}.")
    if not name.isidentifier():
        raise ValueError(f"name must be a Python identifier; got {name!r}.")
    job = pickle.dumps({"chunks": [(c.cell, c.line, c.code) for c in chunks], "name": name})
    with tempfile.TemporaryDirectory(prefix="fwcall-") as tmp:
        stderr = Path(tmp) / "stderr.txt"
        with open(stderr, "wb") as err_file, sandbox.start(
                [sys.executable, "-I", "-c", _RUNNER], workdir, hide_course=True,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err_file) as proc:
            with contextlib.suppress(BrokenPipeError):  # a process that died at once is reported by the stand-in
                proc.stdin.write(job)
                proc.stdin.flush()
            yield IsolatedFunction(proc, stderr, seconds, sandbox.memory_bytes)
