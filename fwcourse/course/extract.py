"""An exercise's function from a submitted notebook, with what it needs, as code that runs on its own.

The grader checks a learner's function away from the kernel that ran the notebook (see
:mod:`fwcourse.course.grade`), so it needs the function's source, not its value. :func:`extract`
reads it from the notebook's code cells, without running anything:

* the function is the notebook's last top-level ``def NAME``;
* with it come, transitively, the top-level statements that bind the global names it uses:
  imports, the notebook's other functions and classes, and assignments of literal constants
  (``EPS = 1e-5``), each the last of its name in the notebook. Nothing else the notebook computes at
  top level is run: a function that needs it fails with a ``NameError``.

It also says whether the function **uses the reference**: it (or a function it calls) names
anything imported from the ``fwcourse`` package (``ex.outer_product.reference``,
``ex.outer_product.solution()``, ``fc.fast_weight_update``), imports from it, or mentions it in a
string (``importlib.import_module("fwcourse...")``). The checking process hides the package as
well, so a disguise this reading misses fails there instead.
"""
from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass

import nbformat

PACKAGE = "fwcourse"


@dataclass(frozen=True)
class Chunk:
    """One top-level statement of the notebook: ``code`` starts at line ``line`` of cell ``cell``."""

    cell: int
    line: int
    code: str


@dataclass(frozen=True)
class Extracted:
    """An exercise's function with what it needs, in notebook order (the function among them)."""

    chunks: tuple[Chunk, ...]
    uses_reference: str = ""  # why the function counts as using the reference; "" when it does not


@dataclass(frozen=True)
class _Binding:
    name: str
    order: int  # position in the notebook: later bindings win
    chunk: Chunk
    node: ast.stmt
    module: str = ""  # for an import: the module it imports from


def _is_course(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def _bound_names(node: ast.stmt) -> list[tuple[str, str]]:
    """(name, imported module or "") for each name ``node`` binds, when the grader may run it."""
    if isinstance(node, ast.Import):
        return [(a.asname or a.name.split(".")[0], a.name) for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level or node.module is None:  # a relative import means nothing outside a package
            return []
        return [(a.asname or a.name, node.module) for a in node.names if a.name != "*"]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [(node.name, "")]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    value = getattr(node, "value", None)
    if not targets or value is None or not all(isinstance(t, ast.Name) for t in targets):
        return []
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return []
    return [(t.id, "") for t in targets]


def _global_names(code: str) -> set[str]:
    """The global names a top-level statement reads, in its body, decorators and defaults alike."""
    names: set[str] = set()
    tables = [symtable.symtable(code, "<cell>", "exec")]
    while tables:
        table = tables.pop()
        names |= {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.is_global()}
        tables += table.get_children()
    return names


def _mentions_package(node: ast.AST) -> str:
    """Why ``node`` reaches the course package by itself (an import, a string), or ""."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import) and any(_is_course(a.name) for a in sub.names):
            return f"it imports {next(a.name for a in sub.names if _is_course(a.name))}"
        if isinstance(sub, ast.ImportFrom) and _is_course(sub.module or ""):
            return f"it imports from {sub.module}"
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and PACKAGE in sub.value:
            return f"it names the {PACKAGE} package in a string"
    return ""


def _root(value: ast.expr) -> str:
    """The name an attribute chain starts from (``ex`` for ``ex.NAME.reference``); "" for anything
    else, a call included (``S = config.sizes("01")`` is a value, not a function of the package)."""
    while isinstance(value, ast.Attribute):
        value = value.value
    return value.id if isinstance(value, ast.Name) else ""


def _statements(nb: nbformat.NotebookNode) -> tuple[list[_Binding], dict[str, list[ast.expr]]]:
    """The notebook's top-level statements the grader may run, and the values of the other
    top-level assignments, by name (to tell a function that calls ``ref = ex.NAME.reference``)."""
    bindings: list[_Binding] = []
    others: dict[str, list[ast.expr]] = {}
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or not isinstance(cell.get("source"), str):
            continue
        # IPython magics and shell escapes are not Python: blank them out, keeping line numbers.
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines()]
        try:
            tree = ast.parse("\n".join(lines))
            compile(tree, "<cell>", "exec")  # some mistakes (a stray nonlocal) only compiling finds
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # the kernel cannot run it either
            continue
        for node in tree.body:
            bound = _bound_names(node)
            if not bound:
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            others.setdefault(target.id, []).append(node.value)
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                chunk = Chunk(index, first, "\n".join(lines[first - 1:node.end_lineno]))
            else:  # an import or a constant: only the statement, not what shares its line
                chunk = Chunk(index, node.lineno, ast.unparse(node))
            for name, module in bound:
                bindings.append(_Binding(name, len(bindings), chunk, node, module))
    return bindings, others


def extract(nb: nbformat.NotebookNode, name: str) -> Extracted | None:
    """Exercise ``name``'s function in ``nb`` with what it needs; None when the notebook has no
    top-level ``def name``."""
    if not name.isidentifier():
        raise ValueError(f"name must be a Python identifier; got {name!r}.")
    bindings, others = _statements(nb)
    last = {b.name: b for b in bindings}  # later bindings overwrite earlier ones
    functions = [b for b in bindings
                 if b.name == name and isinstance(b.node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not functions:
        return None
    course = {b.name for b in bindings if _is_course(b.module)}
    included: dict[int, _Binding] = {}
    reasons: list[str] = []
    pending = [functions[-1]]
    while pending:
        binding = pending.pop()
        if binding.order in included:
            continue
        included[binding.order] = binding
        if isinstance(binding.node, (ast.Import, ast.ImportFrom)):
            continue
        reasons.append(_mentions_package(binding.node))
        for used in sorted(_global_names(binding.chunk.code)):
            source = last.get(used)
            if source is None:
                if any(_root(value) in course for value in others.get(used, [])):
                    reasons.append(f"it uses {used}, which the notebook takes from the {PACKAGE} package")
            elif _is_course(source.module):
                reasons.append(f"it uses {used}, imported from {source.module}")
            else:
                pending.append(source)
    chunks = tuple(b.chunk for _, b in sorted(included.items()))
    return Extracted(tuple(dict.fromkeys(chunks)), next((r for r in reasons if r), ""))
