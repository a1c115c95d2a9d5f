"""What a change to a Python file can affect: import-time code or function bodies.

A module's *skeleton* is everything that runs when it is imported: module
and class bodies, decorators, default values and annotations, with each
function's body left out.  When only function bodies change, only the tests
that called those functions can behave differently; when the skeleton
changes, any test that reads the module's state can, and we know no such
list.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Function:
    digest: str
    first: int  # First and last line of the body.
    last: int


@dataclass(frozen=True)
class Shape:
    skeleton: str
    functions: dict[str, Function]


def _digest(node: ast.AST | list[ast.stmt]) -> str:
    if isinstance(node, list):
        node = ast.Module(body=node, type_ignores=[])
    return hashlib.blake2b(ast.dump(node).encode(), digest_size=12).hexdigest()


class _Skeleton(ast.NodeTransformer):
    def __init__(self) -> None:
        self.functions: dict[str, Function] = {}
        self.prefix: list[str] = []

    def _name(self, name: str) -> str:
        qualname = ".".join([*self.prefix, name])
        n = 1
        while qualname in self.functions:  # Redefinitions: keep each one.
            n += 1
            qualname = f"{'.'.join([*self.prefix, name])}#{n}"
        return qualname

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        body = node.body
        first = body[0].lineno
        last = node.end_lineno or body[-1].lineno
        self.functions[self._name(node.name)] = Function(_digest(body), first, last)
        node.body = [ast.Pass()]
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._function(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.prefix.append(node.name)
        try:
            self.generic_visit(node)
        finally:
            self.prefix.pop()
        return node


def shape(source: bytes) -> Shape | None:
    """The shape of ``source``; None when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    skeleton = _Skeleton()
    tree = skeleton.visit(tree)
    return Shape(_digest(tree), skeleton.functions)


def import_time_change(old: Shape | None, new: Shape | None, ran_at_import: set[int]) -> str:
    """Why the change from ``old`` to ``new`` can affect import-time code ('' if not).

    ``ran_at_import`` are the old content's lines that ran while modules were
    being imported: a function called then (by a module-level statement or a
    decorator) feeds module state, so its body counts as import-time code.
    """
    if old is None or new is None:
        return "it does not parse"
    if old.skeleton != new.skeleton:
        return "its module-level code changed"
    for name, before in old.functions.items():
        after = new.functions.get(name)
        if after is not None and after.digest == before.digest:
            continue
        if any(before.first <= line <= before.last for line in ran_at_import):
            return f"{name}() ran at import time and changed"
    return ""
