"""Hypothesis's pool of local constants, as a dependency of the tests that draw from it.

Recent versions of Hypothesis read the source of every local module in
``sys.modules`` and keep the literals found there (numbers, short strings)
to generate examples with.  So what a test that draws from
Hypothesis executes depends on those modules' *constants*, not on the rest
of their code: the plugin records which files went into the pool and which
units drew from it, and the plan reruns those units when a pooled file's
constants change, or a module that could join the pool appears or goes.

Whether the constants changed is decided here, without Hypothesis (the
project's environment may not be ratchet's): :func:`signature` is a digest
of every literal of the module with what surrounds it (the node it is
part of, whether it is inside an f-string), which is all Hypothesis's
collector looks at.  Equal signatures mean an equal pool; anything that
cannot be told (a file that does not parse, one too big or too full of
literals for Hypothesis to keep whole) counts as a change.
"""

from __future__ import annotations

import ast
import hashlib

# Hypothesis skips files over 512 KiB, and keeps nothing of a file whose
# constants reach 1,024 (which ones it has seen by then depends on the walk):
# past either bound, no signature.
_MAX_BYTES = 512 * 1024
_MAX_CONSTANTS = 1024


def signature(source: bytes) -> str | None:
    """A digest of ``source``'s literals in their places; None when unknown."""
    if len(source) > _MAX_BYTES:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found: set[tuple[bool, str, str, str]] = set()
    values: set[tuple[str, str]] = set()
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_fstring = stack.pop()
        in_fstring = in_fstring or isinstance(node, ast.JoinedStr)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Constant):
                where = type(node).__name__
                if isinstance(node, ast.UnaryOp):
                    where += "." + type(node.op).__name__
                value = (type(child.value).__name__, repr(child.value))
                found.add((in_fstring, where, *value))
                values.add(value)
            else:
                stack.append((child, in_fstring))
    if len(values) >= _MAX_CONSTANTS:
        return None
    text = "\n".join(repr(c) for c in sorted(found))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def could_join(path: str) -> bool:
    """Whether Hypothesis would take constants from the module ``path``
    (repository-relative) once imported: not a test file, not under a
    ``test`` or ``tests`` folder (Hypothesis's own rule)."""
    if not path.endswith(".py"):
        return False
    parts = path.split("/")
    stem = parts[-1][:-3]
    return not (
        "test" in parts[:-1]
        or "tests" in parts[:-1]
        or stem.startswith("test_")
        or stem.endswith("_test")
    )
