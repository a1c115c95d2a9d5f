"""A Python file as blocks: its module level, and one block per function body.

The unit of dependency.  A test depends on a block when it executed a line
of it; an edit changes blocks.  Each block has a digest of its code that
does not depend on line numbers, so a block that moved (an edit above it)
is the same block, and the lines executed in it before the edit can be
carried to their new numbers (:func:`line_map`) instead of being measured
again.

The *module level* is everything that runs when the module is imported:
imports, class bodies, decorators, signatures and default values,
constants, with each function body left out.  It is kept as a sequence of
items (top-level statements; a class's own items nested), so that adding a
function or an import of an installed module can be told apart from a
change that can change behaviour (:func:`module_level_change`).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

MODULE = ""  # The name of the module-level block.
DIGEST_HEX = 16  # A block digest's length in hex (see _digest).


@dataclass(frozen=True)
class Function:
    """One function or method body: its digest and the lines it spans."""

    digest: str
    first: int  # First line of the body.
    last: int  # Last line of the function.
    # The lines of the body's nodes, in a fixed walk order: two bodies with
    # the same digest pair up node by node (see :func:`line_map`).
    positions: tuple[int, ...] = ()
    # Its statements that change state outside the call (:func:`state_lines`).
    state: tuple[int, ...] = ()


@dataclass(frozen=True)
class Item:
    """A module-level statement (a class's body items nested in ``members``)."""

    digest: str  # Of the statement with function bodies left out.
    kind: str  # "def" (a plain function), "import", "class" or "other".
    names: tuple[str, ...] = ()  # What it imports (for "import" items).
    members: tuple[Item, ...] = ()  # A class's items.
    head: str = ""  # A class statement without its body: name, bases, decorators.
    positions: tuple[int, ...] = ()  # Its own nodes' lines (a class's: its header's).


@dataclass(frozen=True)
class Shape:
    """The blocks of one file."""

    module: str  # Digest of the whole module level.
    items: tuple[Item, ...]
    functions: Mapping[str, Function] = field(default_factory=dict)
    # Its module level changes other modules' state when imported (assigns
    # to attributes or items, calls a function as a statement, ...).
    mutates: bool = False
    # A def or class (its decorators included) starts on line 1: an arc that
    # names line 1 (-1) may be its code's, not the module's.
    def_at_one: bool = False
    # Its attribute_probe_lines; None: not recorded (a map written before).
    probes: frozenset[int] | None = None

    def block_of(self, line: int) -> str:
        """The block a line belongs to: the innermost function body holding
        it, else the module level."""
        best = MODULE
        best_span = None
        for name, f in self.functions.items():
            if f.first <= line <= f.last:
                span = f.last - f.first
                if best_span is None or span < best_span:
                    best, best_span = name, span
        return best


def _digest(node: ast.AST | list[ast.stmt]) -> str:
    # 64 bits: a digest is only ever compared with the same block's digest in
    # another version of the file (an unseen change is a 2**-64 chance), and
    # digests are most of a shape's bytes, which the map keeps for every file.
    if isinstance(node, list):
        node = ast.Module(body=node, type_ignores=[])
    return hashlib.blake2b(ast.dump(node).encode(), digest_size=DIGEST_HEX // 2).hexdigest()


_PASS = ast.Pass()  # The body every stubbed function gets; it has no position.
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _defs(nodes: Sequence[ast.AST]) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The function definitions in ``nodes`` (themselves included) that are
    not inside another one's body.  Statements hold statements; expressions
    never hold a definition, so they are not entered."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, _DEFS):
            found.append(node)
            continue
        stack.extend(c for c in ast.iter_child_nodes(node) if not isinstance(c, ast.expr))
    return found


@contextmanager
def _stubbed(nodes: Sequence[ast.AST]) -> Iterator[None]:
    """Every function body in ``nodes`` replaced by ``pass`` while inside.

    The tree is changed in place and restored, not copied: copying every
    subtree once per block made shapes quadratic in nesting and slow.
    """
    defs = _defs(nodes)
    bodies = [d.body for d in defs]
    for d in defs:
        d.body = [_PASS]
    try:
        yield
    finally:
        for d, body in zip(defs, bodies, strict=True):
            d.body = body


def _positions(nodes: Sequence[ast.AST]) -> tuple[int, ...]:
    """The first and last line of every node, in a fixed walk order.  A
    definition's last line is its body's, which is another block: only its
    first line is its own (and a stub's ``pass`` has none)."""
    out: list[int] = []
    for top in nodes:
        for node in ast.walk(top):
            lineno = getattr(node, "lineno", None)
            if lineno is None:
                continue
            own_end = not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            end = getattr(node, "end_lineno", None) if own_end else None
            out += (lineno, end or lineno)
    return tuple(out)


def _has_call(nodes: Sequence[ast.AST | None]) -> bool:
    return any(
        isinstance(n, ast.Call) for node in nodes if node is not None for n in ast.walk(node)
    )


def _plain_def(node: ast.AST) -> bool:
    """A function definition whose definition runs nothing: no decorators, no
    calls in its defaults or annotations."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    if node.decorator_list:
        return False
    a = node.args
    parts: list[ast.AST | None] = [*a.defaults, *a.kw_defaults, node.returns]
    parts += [arg.annotation for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs]]
    parts += [a.vararg.annotation if a.vararg else None, a.kwarg.annotation if a.kwarg else None]
    return not _has_call(parts)


def _item(node: ast.stmt) -> Item:
    with _stubbed([node]):
        digest = _digest(node)
        positions = _positions([node])
    if isinstance(node, ast.ClassDef):
        body, node.body = node.body, []
        try:
            head = _digest(node)
        finally:
            node.body = body
        members = tuple(_item(s) for s in body)
        header = [*node.decorator_list, *node.bases, *node.keywords]
        positions = (node.lineno, node.lineno, *_positions(header))
        return Item(digest, "class", members=members, head=head, positions=positions)
    if _plain_def(node):
        return Item(digest, "def", positions=positions)
    if isinstance(node, ast.Import):
        return Item(digest, "import", tuple(a.name for a in node.names), positions=positions)
    if isinstance(node, ast.ImportFrom) and not node.level and node.module:
        return Item(digest, "import", (node.module,), positions=positions)
    return Item(digest, "other", positions=positions)


def _mutates(statements: Sequence[ast.stmt]) -> bool:
    """Can these module-level statements change other modules' state?

    Assignments to attributes or items (``policy.MODE["x"] = 1``), ``del``,
    ``global``, and calls made as statements (``sys.path.insert(...)``,
    ``setup()``) can; definitions, imports and assignments to the module's
    own names cannot by themselves (what a call they make runs is seen as the
    lines it executes).
    """
    for node in statements:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                outward = (ast.Attribute, ast.Subscript)
                if any(isinstance(t, outward) for target in targets for t in ast.walk(target)):
                    return True
            elif isinstance(sub, (ast.Delete, ast.Global, ast.Nonlocal)) or (
                isinstance(sub, ast.Expr) and isinstance(sub.value, (ast.Call, ast.Await))
            ):
                return True
    return False


class _Functions:
    """Every function body of a module, by qualified name, in the order a
    full walk of the tree meets them (redefinitions are numbered by it).
    Only statements are entered: an expression never holds a definition."""

    def __init__(self) -> None:
        self.functions: dict[str, Function] = {}
        self.prefix: list[str] = []

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, _DEFS):
            self._fn(node)
            return
        named = isinstance(node, ast.ClassDef)
        if named:
            self.prefix.append(node.name)  # type: ignore[attr-defined]
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.expr):
                self.visit(child)
        if named:
            self.prefix.pop()

    def _fn(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        qualname = ".".join([*self.prefix, node.name])
        n = 1
        while qualname in self.functions:  # Redefinitions: keep each one.
            n += 1
            qualname = f"{'.'.join([*self.prefix, node.name])}#{n}"
        body = node.body
        state = state_lines(node)
        with _stubbed(body):
            self.functions[qualname] = Function(
                _digest(body),
                body[0].lineno,
                node.end_lineno or body[-1].lineno,
                _positions(body),
                state,
            )
        self.prefix.append(node.name)
        for child in body:
            self.visit(child)
        self.prefix.pop()


# -- state outside a call -------------------------------------------------------------

# Methods that change the container they are called on.
_MUTATORS = frozenset(
    {"append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "clear"}
    | {"remove", "discard", "appendleft", "extendleft", "__setitem__", "__delitem__"}
)
# Parameters that name a class: what is set on them outlives the call.
_CLASS_PARAMETERS = frozenset({"cls", "mcs", "mcls", "metacls", "klass"})


def state_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, ...]:
    """The lines of statements of this body (nested definitions are their
    own) that change state the call leaves behind: module-level names
    declared ``global`` and assigned, and items or attributes of names the
    function does not bind itself (a module-level cache, a registry, a
    class through ``cls``), set, deleted, or changed by a container method
    (``_CACHE.append(...)``).

    Such a statement runs or not depending on what earlier tests left
    there (a cache filled by one test is found filled by the next), so a
    test's lines through it can depend on the order tests run in.  Not
    every such dependence is visible this way (a flag only read is not).
    """
    args = node.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    statements = list(_own_statements(node.body))
    declared = {n for st in statements if isinstance(st, ast.Global) for n in st.names}
    bound = set(params - _CLASS_PARAMETERS)
    for st in statements:
        for sub in _own_nodes(st):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                bound.add(sub.id)
            elif isinstance(sub, ast.alias):
                bound.add((sub.asname or sub.name).split(".")[0])
            elif isinstance(sub, ast.ExceptHandler) and sub.name:
                bound.add(sub.name)
    bound -= declared

    def outside(target: ast.expr) -> bool:
        """Does changing ``target`` change state outside the call?"""
        if isinstance(target, ast.Name):
            return target.id in declared
        base = target
        while isinstance(base, (ast.Attribute, ast.Subscript)):
            if isinstance(base, ast.Attribute) and base.attr == "__class__":
                return True
            base = base.value
        if isinstance(base, ast.Call):  # type(self).x = ...
            return isinstance(base.func, ast.Name) and base.func.id == "type"
        return isinstance(base, ast.Name) and base.id not in bound and target is not base

    lines = set()
    for st in statements:
        if _changes_outside(st, outside):
            lines.add(st.lineno)
    return tuple(sorted(lines))


def _changes_outside(st: ast.stmt, outside: Callable[[ast.expr], bool]) -> bool:
    targets: list[ast.expr] = []
    if isinstance(st, ast.Assign):
        targets = [t for target in st.targets for t in _unpacked(target)]
    elif isinstance(st, (ast.AugAssign, ast.AnnAssign)) and (
        isinstance(st, ast.AugAssign) or st.value is not None
    ):
        targets = [st.target]
    elif isinstance(st, ast.Delete):
        targets = list(st.targets)
    if any(outside(t) for t in targets):
        return True
    if isinstance(st, (*_DEFS, ast.ClassDef)) or not isinstance(
        st, (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Delete)
    ):
        return False  # Compound statements: their own statements are listed.
    for sub in _own_nodes(st):
        if not isinstance(sub, ast.Call):
            continue
        func = sub.func
        if isinstance(func, ast.Attribute) and func.attr in _MUTATORS and outside(func):
            # The receiver (``_CACHE`` in ``_CACHE.append``): outside(func)
            # tests the attribute's base, which is the receiver's root.
            return True
        if (
            isinstance(func, ast.Name)
            and func.id in ("setattr", "delattr")
            and sub.args
            and outside(ast.Attribute(value=sub.args[0], attr="_", ctx=ast.Store()))
        ):
            return True
    return False


def _unpacked(target: ast.expr) -> Iterator[ast.expr]:
    if isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _unpacked(elt.value if isinstance(elt, ast.Starred) else elt)
    else:
        yield target


def _own_statements(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of a body, nested blocks' too, not nested definitions'."""
    for st in body:
        yield st
        if isinstance(st, (*_DEFS, ast.ClassDef)):
            continue
        for field_name in ("body", "orelse", "finalbody"):
            yield from _own_statements(getattr(st, field_name, ()))
        for handler in getattr(st, "handlers", ()):
            yield from _own_statements(handler.body)
        for case in getattr(st, "cases", ()):
            yield from _own_statements(case.body)


def _own_nodes(st: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of one statement, without its nested statements, lambdas,
    comprehensions' own scopes kept (their names are not the function's)."""
    stack: list[ast.AST] = [st]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.stmt, ast.Lambda)):
                continue
            stack.append(child)


def parse(source: bytes) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def shape(source: bytes) -> Shape | None:
    """The blocks of ``source``; None when it does not parse."""
    tree = parse(source)
    if tree is None:
        return None
    finder = _Functions()
    finder.visit(tree)
    items = tuple(_item(s) for s in tree.body)
    # The module level: the statements that run at import, bodies left out.
    def_at_one = any(
        isinstance(st, (*_DEFS, ast.ClassDef))
        and min([st.lineno, *(d.lineno for d in st.decorator_list)]) == 1
        for st in tree.body
    )
    probes = _probes(tree) if b"__getattr__" in source else frozenset()
    with _stubbed(tree.body):
        mutates = _mutates(tree.body)
        return Shape(_digest(tree.body), items, finder.functions, mutates, def_at_one, probes)


# -- storing shapes -------------------------------------------------------------------------


def to_json(s: Shape) -> str:
    """The shape as compact JSON.  Node lines are written as offsets (from a
    body's first line, or an item's first node), so that alike bodies write
    alike text and compress to little (see ``store.set_shape``).  Digests are
    written once, all together, as the last field (``"d"``, in the order the
    rest of the document names them with a 0): random hex compresses badly
    inline, and the map keeps them as raw bytes."""
    import json

    digests: list[str] = [s.module]

    def item(i: Item) -> list[object]:
        digests.append(i.digest)
        if i.head:
            digests.append(i.head)
        members = [item(m) for m in i.members]
        return [0, i.kind, list(i.names), members, 0 if i.head else "", _offsets(i.positions)]

    doc = {
        "m": 0,
        "i": [item(i) for i in s.items],
        "f": {
            n: [0, f.first, f.last, [p - f.first for p in f.positions], list(f.state)]
            for n, f in s.functions.items()
        },
        "x": s.mutates,
        "o": s.def_at_one,
    }
    digests += [f.digest for f in s.functions.values()]
    if s.probes is not None:
        doc["p"] = sorted(s.probes)
    doc["d"] = "".join(digests)
    return json.dumps(doc, separators=(",", ":"))


def _offsets(lines: Sequence[int]) -> list[int]:
    return [lines[0], *(n - lines[0] for n in lines[1:])] if lines else []


def _lines(offsets: Sequence[int]) -> tuple[int, ...]:
    return (offsets[0], *(offsets[0] + n for n in offsets[1:])) if offsets else ()


def from_json(text: str) -> Shape:
    """A shape :func:`to_json` wrote (ValueError, KeyError or TypeError if damaged)."""
    import json
    from typing import Any

    doc = json.loads(text)
    hexes = doc["d"]
    if not isinstance(hexes, str) or len(hexes) % DIGEST_HEX:
        raise ValueError("digests damaged")
    digests = iter([hexes[n : n + DIGEST_HEX] for n in range(0, len(hexes), DIGEST_HEX)])

    def item(raw: Any) -> Item:
        _, kind, names, members, head, positions = raw
        digest = next(digests)
        head = next(digests) if head != "" else ""
        inner = tuple([item(m) for m in members])
        return Item(digest, str(kind), tuple(names), inner, head, _lines(positions))

    try:  # The digests, named in to_json's order.
        module = next(digests)
        items = tuple([item(i) for i in doc["i"]])
        functions = {
            n: Function(next(digests), a, b, tuple(a + p for p in ps), tuple(x))
            for n, (_, a, b, ps, x) in doc["f"].items()
        }
    except StopIteration:
        raise ValueError("digests damaged") from None
    if next(digests, None) is not None:
        raise ValueError("digests damaged")
    probes = frozenset(int(n) for n in doc["p"]) if "p" in doc else None
    return Shape(module, items, functions, bool(doc["x"]), bool(doc["o"]), probes)


def probes_of(text: str) -> frozenset[int] | None:
    """The attribute probe lines a shape's JSON records, without building
    the shape; None when it records none (or is damaged)."""
    import json

    try:
        raw = json.loads(text).get("p")
        return None if raw is None else frozenset(int(n) for n in raw)
    except (ValueError, TypeError, AttributeError):
        return None


# -- what changed ------------------------------------------------------------------


def changed_functions(old: Shape, new: Shape) -> set[str]:
    """Function bodies that differ or are gone (their tests must run again)."""
    return {
        name
        for name, f in old.functions.items()
        if name not in new.functions or new.functions[name].digest != f.digest
    }


def module_level_change(old: Shape, new: Shape, installed: Callable[[str], bool]) -> str:
    """Why the module level changed in a way that can change behaviour ('' if not).

    Accepted without a reason: function definitions added (plain ones: no
    decorator, nothing called by their defaults or annotations) and imports of
    installed modules added (``installed(name)``); anything else (a constant,
    a decorator, a default, a class attribute, a removed import) is a change.
    """
    if old.module == new.module:
        return ""
    return _items_change(old.items, new.items, installed)


def _items_change(
    old: Sequence[Item], new: Sequence[Item], installed: Callable[[str], bool]
) -> str:
    i = 0
    for item in new:
        if i < len(old) and old[i].digest == item.digest:
            i += 1
            continue
        if i < len(old) and item.kind == old[i].kind == "class" and item.head == old[i].head:
            why = _items_change(old[i].members, item.members, installed)
            if why:
                return why
            i += 1
            continue
        if item.kind == "def":
            continue  # A function added.
        if item.kind == "import" and all(installed(name) for name in item.names):
            continue  # An installed module imported.
        return "its module-level code changed"
    if i < len(old) and not all(item.kind == "def" for item in old[i:]):
        return "its module-level code changed"
    # What is left was plain functions, removed: their tests run again anyway.
    return ""


# -- carrying lines to their new numbers ---------------------------------------------


def line_map(old: Shape, new: Shape) -> dict[int, int]:
    """Where lines of unchanged blocks of the old text are in the new one.

    Function bodies with equal digests, and module-level statements matched
    by digest (in order; a class's members too), pair up node by node: each
    node's line in the old text maps to the same node's line in the new one.
    A line that two nodes would map to different places (a reformatted
    block), and every line of a changed block, is left out: its tests run
    again.
    """
    mapping: dict[int, int] = {}
    conflicts: set[int] = set()

    def add(a: Sequence[int], b: Sequence[int]) -> None:
        if len(a) != len(b):
            return
        for x, y in zip(a, b, strict=True):
            if mapping.setdefault(x, y) != y:
                conflicts.add(x)

    for name, f in old.functions.items():
        other = new.functions.get(name)
        if other is not None and other.digest == f.digest:
            add(f.positions, other.positions)
    _map_items(old.items, new.items, add)
    for line in conflicts:
        del mapping[line]
    if not _holds_line_one(old.items):
        # A module's code starts at line 1 whatever is there (a licence
        # comment): its entry and exit arcs (-1) name that line in both texts.
        mapping[1] = 1
    return mapping


def _holds_line_one(items: Sequence[Item]) -> bool:
    """Does a statement of the text start or run on its line 1?"""
    return any(1 in i.positions or _holds_line_one(i.members) for i in items)


def _map_items(
    old: Sequence[Item], new: Sequence[Item], add: Callable[[Sequence[int], Sequence[int]], None]
) -> None:
    import difflib

    matcher = difflib.SequenceMatcher(
        a=[i.digest for i in old], b=[i.digest for i in new], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for a, b in zip(old[i1:i2], new[j1:j2], strict=True):
                add(a.positions, b.positions)
                if a.kind == "class":
                    _map_items(a.members, b.members, add)
        elif tag == "replace" and i2 - i1 == j2 - j1:
            for a, b in zip(old[i1:i2], new[j1:j2], strict=True):
                if a.kind == b.kind == "class" and a.head == b.head:
                    add(a.positions, b.positions)
                    _map_items(a.members, b.members, add)


# -- attribute probes -----------------------------------------------------------------

# Modules pytest has imported before it collects anything: importing them
# again only binds a name.
_LOADED = frozenset({"sys", "os", "warnings", "types", "typing", "inspect", "functools"})


def attribute_probe_lines(source: bytes) -> frozenset[int]:
    """The lines of a module-level ``__getattr__`` (PEP 562) that a lookup of
    a name it does not provide runs, when those lines cannot change any state.

    Collecting a test module, pytest looks up attributes such as
    ``__test__`` or ``_fixture_function_marker`` on every object in it,
    modules too; a package's ``__getattr__`` for deprecated names then runs
    its ``if name == "...":`` tests and ends in ``raise AttributeError``.
    Such a collection runs code of another file, yet changes nothing other
    tests can see.  Recognised, and nothing else: the ``def`` line, imports
    of modules pytest has loaded already, ``if``/``elif`` tests that compare
    the name with constants, and ``raise AttributeError(...)`` of names,
    constants and f-strings of those (``AttributeError`` not rebound).
    """
    if b"__getattr__" not in source:
        return frozenset()  # Most modules: no parse needed.
    tree = parse(source)
    if tree is None:
        return frozenset()
    return _probes(tree)


def _probes(tree: ast.Module) -> frozenset[int]:
    rebound = any(
        (isinstance(n, ast.Name) and n.id == "AttributeError" and not isinstance(n.ctx, ast.Load))
        or (isinstance(n, ast.alias) and (n.asname or n.name) == "AttributeError")
        or (isinstance(n, (*_DEFS, ast.ClassDef)) and n.name == "AttributeError")
        for n in ast.walk(tree)
    )
    lines: set[int] = set()
    for node in tree.body:
        if not (
            isinstance(node, ast.FunctionDef)
            and node.name == "__getattr__"
            and not node.decorator_list
            and len(node.args.args) == 1
            and not (node.args.posonlyargs or node.args.kwonlyargs)
            and not (node.args.vararg or node.args.kwarg)
        ):
            continue
        name = node.args.args[0].arg
        found: set[int] = {node.lineno}
        _probe_statements(node.body, name, not rebound, found)
        lines |= found
    return frozenset(lines)


def _probe_statements(body: Sequence[ast.stmt], name: str, raise_ok: bool, out: set[int]) -> None:
    for stmt in body:
        span = range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1)
        if isinstance(stmt, ast.Import) and all(a.name in _LOADED for a in stmt.names):
            out.update(span)
        elif isinstance(stmt, ast.If) and _compares_name(stmt.test, name):
            out.update(range(stmt.test.lineno, (stmt.test.end_lineno or stmt.lineno) + 1))
            out.add(stmt.lineno)
            _probe_statements(stmt.orelse, name, raise_ok, out)  # elif / else
        elif (
            raise_ok
            and isinstance(stmt, ast.Raise)
            and stmt.cause is None
            and isinstance(stmt.exc, ast.Call)
            and isinstance(stmt.exc.func, ast.Name)
            and stmt.exc.func.id == "AttributeError"
            and not stmt.exc.keywords
            and all(_plain_value(a, name) for a in stmt.exc.args)
        ):
            out.update(span)


def _compares_name(test: ast.expr, name: str) -> bool:
    """``name == "x"``, ``name in ("a", "b")``, and ``and``/``or`` of those."""
    if isinstance(test, ast.BoolOp):
        return all(_compares_name(v, name) for v in test.values)
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == name
        and all(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in test.ops)
        and all(_constant(c) for c in test.comparators)
    )


def _constant(node: ast.expr) -> bool:
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(isinstance(e, ast.Constant) for e in node.elts)
    return isinstance(node, ast.Constant)


def _plain_value(node: ast.expr, name: str) -> bool:
    """The looked-up name, the module's ``__name__``, a constant, or an
    f-string of those: all strings, so building it runs no other code."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in (name, "__name__")
    if isinstance(node, ast.JoinedStr):
        return all(
            isinstance(v, ast.Constant)
            or (
                isinstance(v, ast.FormattedValue)
                and _plain_value(v.value, name)
                and v.format_spec is None
            )
            for v in node.values
        )
    return False
