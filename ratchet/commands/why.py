"""``ratchet why FILE:LINE``: which tests executed a line, from the test map.

The map keeps, per unit of the last runs, the lines (arcs in branch mode) it
executed in each file, so the answer needs no test run.  A line can also be
run by something that is not a test: a module's import, a fixture above
function scope, a test module's collection, the session; those are listed
as what they are.  When the file changed since the map saw it, line numbers
may have moved: the answer says so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ratchet import git
from ratchet.errors import PASSED, RatchetError
from ratchet.paths import check_repo_path
from ratchet.printable import echo, safe

_KINDS = {"fixture": "fixture", "import": "import of", "module": "collection of"}


def why(target: str, *, fmt: str = "text", cwd: Path | None = None) -> int:
    from ratchet.commands.common import repo_relative
    from ratchet.selection.store import (
        FIXTURE,
        IMPORT,
        MODULE,
        SESSION,
        TEST,
        StoreError,
        open_store,
    )

    here = cwd or Path.cwd()
    root = git.toplevel(here)
    name, sep, number = target.rpartition(":")
    if not sep or not number.isdigit() or int(number) < 1:
        raise RatchetError(f"{target}: give a file and a line, as FILE:LINE (pkg/mod.py:42)")
    line = int(number)
    (path,) = repo_relative(root, [name], here)
    problem = check_repo_path(path)
    if problem:
        raise RatchetError(f"{name}: the path {problem}")
    try:
        store = open_store(git.git_dir(root))
    except StoreError as e:
        raise RatchetError(
            f"{e}: ratchet knows which tests ran a line after a test run",
            hint="run `ratchet init` or `ratchet check --full` once",
        ) from None
    try:
        known = store.content().get(path)
        if known is None:
            raise RatchetError(
                f"{path}: not in the test map (not a measured file, or no run has seen it)"
            )
        units = store.executed_by([path]).get(path, set())
        ran = [
            uid
            for (uid, _), values in store.lines(units, [path]).items()
            # Lines, or flat arcs: an executed line is a positive end of some arc.
            if line in values
        ]
        keys = store.unit_keys(ran)
    finally:
        store.close()
    now = git.worktree_content_ids(root).get(path)
    stale = now != known
    tests = sorted(key for kind, key in keys.values() if kind == TEST)
    others = sorted(
        (_KINDS[kind], key) for kind, key in keys.values() if kind in (FIXTURE, IMPORT, MODULE)
    )
    session = any(kind == SESSION for kind, _ in keys.values())
    if fmt == "json":
        doc = {
            "format": 1,
            "kind": "why",
            "file": path,
            "line": line,
            "tests": tests,
            "others": [f"{what} {key}" for what, key in others]
            + (["the session"] if session else []),
            "file_changed_since_the_map": stale,
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return PASSED
    if stale:
        echo(
            f"ratchet: note: {safe(path)} changed since the test map saw it; line numbers "
            "may have moved (a commit, or `ratchet check`, brings the map up to date)"
        )
    if not (tests or others or session):
        echo(f"{safe(path)}:{line}: no test executed it in the last runs")
        return PASSED
    if tests:
        echo(f"{safe(path)}:{line}: executed by {len(tests)} test(s)")
    for test in tests:
        echo(f"  {safe(test)}")
    if others or session:
        echo("and outside any test:" if tests else f"{safe(path)}:{line}: executed outside tests:")
        for what, key in others:
            echo(f"  {what} {safe(key)}")
        if session:
            echo("  the session (outside any test, fixture or import)")
    return PASSED
