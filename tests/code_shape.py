"""The code's shape, checked by `make lint`: no function longer than 60 lines (except the few listed with their
reason) and no import cycle between the project's modules.

    python -m tests.code_shape shared services
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_FUNCTION_LINES = 60
# At most three, each with its reason (issue #16). Keys are "path::qualified name".
LONG_FUNCTIONS_ALLOWED: dict[str, str] = {}


@dataclass(frozen=True)
class LongFunction:
    where: str
    lines: int


def python_files(roots: list[str]) -> Iterator[Path]:
    for root in roots:
        yield from sorted(Path(root).rglob("*.py"))


def long_functions(path: Path, tree: ast.Module) -> Iterator[LongFunction]:
    def visit(node: ast.AST, prefix: str) -> Iterator[LongFunction]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    yield LongFunction(f"{path}::{name}", lines)
                yield from visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.")

    yield from visit(tree, "")


def module_name(path: Path) -> str:
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _under_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(tree: ast.Module, known: set[str], package: str) -> set[str]:
    """The project modules this module imports when it runs (imports only for type checkers are left out)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _under_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from package import module` depends on the module, not on the package's __init__ (which
                # may itself import its modules: that is no cycle).
                submodules = {f"{base}.{alias.name}" for alias in child.names} & known
                found.update(submodules)
                if len(submodules) < len(child.names):
                    found.add(base)
            else:
                visit(child)

    visit(tree)
    # Importing `a.b.c` from outside the package `a.b` runs `a/b/__init__.py` first: a dependency on the package
    # (a cycle through an __init__ that imports its modules shows only when a module is imported before it).
    own = _ancestors(package) | {package}
    found |= {ancestor for name in found for ancestor in _ancestors(name)} - own
    return {name for name in found if name in known}


def _ancestors(name: str) -> set[str]:
    """The packages `name` lives in: `a.b.c` → {`a`, `a.b`}."""
    parts = name.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts))}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each a cycle to break."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def main(roots: list[str]) -> int:
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in python_files(roots)}
    problems = []
    for path, tree in trees.items():
        for function in long_functions(path, tree):
            if function.where not in LONG_FUNCTIONS_ALLOWED:
                problems.append(f"{function.where}: {function.lines} lines (at most {MAX_FUNCTION_LINES})")
    modules = {module_name(path): path for path in trees}
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = imported_modules(trees[path], known, package) - {name}
    problems += [f"import cycle: {' -> '.join(component)}" for component in cycles(graph)]
    for problem in problems:
        print(problem)
    print(f"code shape: {len(trees)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["shared", "services"]))
