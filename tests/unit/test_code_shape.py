"""The lint gate's shape check finds what it is meant to find."""

import ast
from pathlib import Path

import pytest

from tests.code_shape import cycles, imported_modules, long_functions

pytestmark = pytest.mark.unit


def test_a_function_over_sixty_lines_is_reported_with_its_qualified_name() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    tree = ast.parse(f"class Reader:\n  def read(self):\n{body}\n    return 1\n  def short(self):\n    return 2\n")
    found = list(long_functions(Path("m.py"), tree))
    assert [(f.where, f.lines) for f in found] == [("m.py::Reader.read", 62)]


def test_import_cycles_are_found_and_type_checking_imports_are_not_counted() -> None:
    known = {"pkg.a", "pkg.b", "pkg.c"}
    a = imported_modules(ast.parse("from pkg import b\n"), known, "pkg")
    b = imported_modules(ast.parse("from . import a\n"), known, "pkg")
    c = imported_modules(
        ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"), known, "pkg"
    )
    assert (a, b, c) == ({"pkg.b"}, {"pkg.a"}, set())
    assert cycles({"pkg.a": a, "pkg.b": b, "pkg.c": c}) == [["pkg.a", "pkg.b"]]
    assert cycles({"pkg.a": {"pkg.b"}, "pkg.b": set()}) == []


def test_importing_a_module_from_its_package_depends_on_the_module_not_on_the_package() -> None:
    known = {"pkg", "pkg.a", "pkg.b"}
    package = imported_modules(ast.parse("from pkg import a\n"), known, "pkg")
    module_b = imported_modules(ast.parse("from pkg import a\n"), known, "pkg")
    by_name = imported_modules(ast.parse("from pkg import helper\n"), known, "pkg")
    assert (package, module_b, by_name) == ({"pkg.a"}, {"pkg.a"}, {"pkg"})
    assert cycles({"pkg": package, "pkg.a": set(), "pkg.b": module_b}) == []
    assert cycles({"pkg": {"pkg.a"}, "pkg.a": by_name, "pkg.b": set()}) == [["pkg", "pkg.a"]]


def test_importing_a_module_from_outside_its_package_runs_the_package_init_first() -> None:
    # svc.repository -> svc.cases.messages runs svc/cases/__init__.py, which imports svc.cases.service, which
    # imports svc.metrics, which imports svc.repository: a cycle that breaks only when the repository is imported
    # first (make bench did; the services never did).
    known = {"svc", "svc.repository", "svc.metrics", "svc.cases", "svc.cases.messages", "svc.cases.service"}
    graph = {
        "svc": set(),
        "svc.repository": imported_modules(ast.parse("from svc.cases.messages import Query\n"), known, "svc"),
        "svc.cases": imported_modules(ast.parse("from svc.cases.service import Service\n"), known, "svc.cases"),
        "svc.cases.messages": set(),
        "svc.cases.service": imported_modules(ast.parse("from svc import metrics\n"), known, "svc.cases"),
        "svc.metrics": imported_modules(ast.parse("from svc.repository import Repo\n"), known, "svc"),
    }
    assert graph["svc.repository"] == {"svc.cases", "svc.cases.messages"}
    assert graph["svc.cases"] == {"svc.cases.service"}  # its own package is already being initialised
    assert cycles(graph) == [["svc.cases", "svc.cases.service", "svc.metrics", "svc.repository"]]
