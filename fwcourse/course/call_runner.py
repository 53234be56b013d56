"""The checking process: define a learner's function from its notebook code, call it on the grader's inputs.

:mod:`fwcourse.course.isolated_call` runs this file's text as ``python -I -c TEXT`` in the grader's
sandbox, where the fwcourse package is hidden, so it imports only the standard library and NumPy.
It never sees an expected output: it answers with the learner's outputs, and the grader compares.

Protocol. On stdin, pickles from the grader: first ``{"chunks": [(cell, line, code), ...],
"name": "outer_product"}``, read before any learner code runs; then, until stdin closes, one
``(arguments, measure)`` per call, ``measure`` asking for the call's peak memory as tracemalloc
sees it. On stdout, one JSON object a line: ``{"loaded": true}`` once the function is defined (or
``{"raised": RAISED}`` with ``"loading": true``, and nothing more), then for each call
``{"value": ENCODED, "peak": bytes or null}`` or ``{"raised": RAISED}``::

    ENCODED = {"none": true} | {"ellipsis": true} | {"npy": base64 of a .npy file, no pickles}
            | {"seq": "tuple" | "list", "items": [ENCODED, ...]} | {"object": type name}
    RAISED  = {"type": name, "exception": text, "frames": [[file, line, function, code], ...],
               "not_attempted": NotImplementedError?, "package": did it try to import fwcourse?}

Whatever the learner's code prints goes to stderr. Nothing here is trusted by the grader: the code
can write to stdout as well as this file can, so the grader reads each line as a claim about the
function's output, and only outputs that it checks itself earn a score.
"""
from __future__ import annotations

import ast
import base64
import builtins
import io
import json
import linecache
import os
import pickle
import sys
import traceback
import tracemalloc

import numpy as np

PACKAGE = "fwcourse"
_MAX_DEPTH = 4  # of nested tuples and lists in an output


class _HidePackage:
    """A meta path finder that refuses the course package: the reference is not the learner's code.
    (The sandbox hides its files too; this also covers ``--no-sandbox``.)"""

    def __init__(self) -> None:
        self.asked = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname == PACKAGE or fullname.startswith(PACKAGE + "."):
            self.asked = True
            raise ModuleNotFoundError(
                f"No module named {fullname!r} here: the {PACKAGE} package (the reference) is not "
                "available while your function is graded.", name=fullname)
        return None


def _define(chunks: list[tuple[int, int, str]], name: str) -> object:
    """Run the chunks as the notebook's cells would, each at its own cell and line (for tracebacks)."""
    cells: dict[int, list[str]] = {}
    for cell, line, code in chunks:
        lines = cells.setdefault(cell, [])
        code_lines = code.splitlines()
        lines += [""] * max(0, line - 1 + len(code_lines) - len(lines))
        lines[line - 1:line - 1 + len(code_lines)] = code_lines
    for cell, lines in cells.items():
        filename = f"<cell {cell}>"
        text = [f"{line}\n" for line in lines]
        linecache.cache[filename] = (sum(map(len, text)), None, text, filename)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    for cell, line, code in chunks:
        tree = ast.parse(code)
        ast.increment_lineno(tree, line - 1)
        exec(compile(tree, f"<cell {cell}>", "exec"), namespace)
    if not callable(namespace.get(name)):
        raise NameError(f"{name} is not a function")
    return namespace[name]


def _raised(err: BaseException, finder: _HidePackage) -> dict:
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith("<cell ")]
    return {"type": type(err).__name__,
            "exception": "".join(traceback.format_exception_only(type(err), err)),
            "frames": [[f.filename, f.lineno, f.name, f.line or ""] for f in frames],
            "not_attempted": isinstance(err, NotImplementedError), "package": finder.asked}


def encode(value, depth: int = 0) -> dict:
    """An output of the learner's function as JSON (arrays as .npy bytes, never pickles)."""
    if value is None:
        return {"none": True}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, (tuple, list)) and depth < _MAX_DEPTH:
        return {"seq": "tuple" if isinstance(value, tuple) else "list",
                "items": [encode(v, depth + 1) for v in value]}
    try:
        if hasattr(value, "numpy") and callable(value.numpy):  # a TensorFlow or Keras tensor
            value = value.numpy()
        array = np.asarray(value)
        if not array.dtype.hasobject:
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            return {"npy": base64.b64encode(buffer.getvalue()).decode("ascii")}
    except Exception:  # an object that will not be an array: say what it is
        pass
    return {"object": type(value).__name__}


def main() -> None:
    job = pickle.load(sys.stdin.buffer)
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the learner's prints go to stderr, not among the answers

    def send(message: dict) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    finder = _HidePackage()
    sys.meta_path.insert(0, finder)
    try:
        func = _define(job["chunks"], job["name"])
    except BaseException as err:  # SystemExit and KeyboardInterrupt from learner code included
        send({"raised": {**_raised(err, finder), "loading": True}})
        os._exit(0)
    send({"loaded": True})
    while True:
        try:
            args, measure = pickle.load(sys.stdin.buffer)
        except EOFError:
            break
        if measure:
            tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        try:
            value = func(*args)
        except BaseException as err:
            send({"raised": _raised(err, finder)})
            continue
        finally:
            # None when the function stopped the measurement itself
            peak = tracemalloc.get_traced_memory()[1] - before if measure and tracemalloc.is_tracing() else None
            tracemalloc.stop()
        send({"value": encode(value), "peak": peak})
    os._exit(0)  # now, without waiting for threads the learner's code may have left running


if __name__ == "__main__":
    main()
