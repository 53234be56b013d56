"""The offline real-text corpus: the docstrings of the Python libraries the course installs.

No text ships with the course and nothing is downloaded. :func:`docstring_documents` reads the
source files of the standard library and of the pinned packages in ``requirements.txt`` with
:mod:`ast` (nothing is imported or executed), and joins the docstrings of each module (module,
classes, functions and methods, in source order) into one document. That is real English prose,
written by many authors, with long documents whose rare names (functions, parameters, classes)
recur through the document: the situation where a model that adapts to its document should help.

The corpus is deterministic given the installed versions: every source is read in sorted file
order, and :func:`describe` records each source's version and a sha256 of the documents.
Test suites, generated API shims and modules with fewer than ``min_words`` words are left out.
Near-duplicate modules (vendored copies, generated wrappers) are removed later by
:mod:`fwcourse.data.dedup`.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import sysconfig
import warnings
from pathlib import Path
from typing import Iterable, Sequence

from fwcourse.util import validate

Document = tuple[str, str]

# (source name, distribution whose version pins the text, or None for the standard library)
SOURCES: dict[str, str | None] = {
    "stdlib": None,
    "numpy": "numpy",
    "keras": "keras",
    "matplotlib": "matplotlib",
    "tensorflow": "tensorflow",
}
# Folders whose modules are not prose for a reader: test suites, vendored third-party code,
# bundled site-packages of the standard library, generated API namespaces.
_SKIP_DIRS = frozenset({"test", "tests", "testing", "idle_test", "site-packages", "_vendor",
                        "vendored", "_api", "api", "include", "lib2to3", "pydoc_data",
                        "turtledemo", "ensurepip", "__pycache__"})


def source_root(source: str) -> Path:
    """The folder whose ``.py`` files make up ``source`` (a key of :data:`SOURCES`)."""
    source = validate.choice(source, "source", SOURCES)
    if source == "stdlib":
        return Path(sysconfig.get_paths()["stdlib"])
    spec = importlib.util.find_spec(source)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"source {source!r} is not installed; install requirements.txt first.")
    return Path(next(iter(spec.submodule_search_locations)))


def source_version(source: str) -> str:
    """The version that pins ``source``'s text: Python's for the standard library."""
    dist = SOURCES[validate.choice(source, "source", SOURCES)]
    if dist is None:
        return sysconfig.get_python_version() + "/" + ".".join(map(str, __import__("sys").version_info[:3]))
    return importlib.metadata.version(dist)


def module_docstrings(code: str) -> str:
    """The docstrings of one module's source, in source order, joined by blank lines.

    The module's, then every class's and function's (methods and nested definitions included),
    each cleaned by :func:`inspect.cleandoc` (via :func:`ast.get_docstring`). ``""`` when the
    source does not parse or holds no docstring.
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a str of Python source; got {type(code).__name__}.")
    try:
        with warnings.catch_warnings():  # invalid escape sequences in old sources
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return ""
    nodes = [tree] + [n for n in ast.walk(tree)
                      if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    nodes.sort(key=lambda n: getattr(n, "lineno", 0))
    parts = [ast.get_docstring(n, clean=True) for n in nodes]
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def _module_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts
        if any(part in _SKIP_DIRS for part in rel[:-1]) or rel[-1].startswith("test_"):
            continue
        yield path


def docstring_documents(sources: Sequence[str] = tuple(SOURCES), min_words: int = 50) -> list[Document]:
    """One document ``(name, text)`` per module of each source with at least ``min_words`` words.

    ``name`` is ``"<source>:<path inside the source>"``, e.g. ``"numpy:linalg/_linalg.py"``.
    """
    min_words = validate.positive_int(min_words, "min_words")
    if isinstance(sources, str):
        sources = (sources,)
    docs: list[Document] = []
    for source in sources:
        root = source_root(source)
        for path in _module_files(root):
            try:
                code = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            text = module_docstrings(code)
            if len(text.split()) >= min_words:
                docs.append((f"{source}:{path.relative_to(root).as_posix()}", text))
    if not docs:
        raise ValueError(f"sources {tuple(sources)!r} hold no module with {min_words} or more words.")
    return docs


def fingerprint(docs: Sequence[Document]) -> str:
    """sha256 over the documents' names and texts: two machines with the same pins agree on it."""
    digest = hashlib.sha256()
    for name, text in docs:
        digest.update(name.encode("utf-8") + b"\0" + text.encode("utf-8") + b"\0")
    return digest.hexdigest()
