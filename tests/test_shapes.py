"""What a change to a Python file can affect: the skeleton and function bodies."""

from __future__ import annotations

from ratchet.selection.shapes import import_time_change, shape

SOURCE = b"""\
import os

LIMIT = 3


def helper(x):
    return x + 1


class Thing:
    size = helper(1)

    @property
    def area(self):
        if self.size:
            return self.size * 2
        return 0
"""


def test_a_body_change_is_not_import_time_when_the_body_did_not_run_then() -> None:
    old = shape(SOURCE)
    new = shape(SOURCE.replace(b"self.size * 2", b"self.size * 3"))
    assert old is not None
    assert new is not None
    assert old.skeleton == new.skeleton
    assert import_time_change(old, new, {1, 3, 6, 10, 11, 13, 14}) == ""


def test_a_body_that_ran_at_import_time_counts_as_import_time() -> None:
    # Thing.size = helper(1) ran helper's body (line 7) at import.
    changed = SOURCE.replace(b"return x + 1", b"return x + 2")
    assert import_time_change(shape(SOURCE), shape(changed), {1, 3, 6, 7, 10, 11}) == (
        "helper() ran at import time and changed"
    )


def test_module_level_decorator_and_default_changes_are_import_time() -> None:
    for old, new in [
        (b"LIMIT = 3", b"LIMIT = 4"),
        (b"    @property\n", b""),
        (b"def helper(x):", b"def helper(x=2):"),
        (b"    size = helper(1)", b"    size = helper(2)"),
    ]:
        assert import_time_change(shape(SOURCE), shape(SOURCE.replace(old, new)), set()) == (
            "its module-level code changed"
        ), old


def test_comments_and_blank_lines_change_nothing_and_bad_syntax_is_reported() -> None:
    moved = SOURCE.replace(b"import os\n", b"import os\n# a comment\n\n")
    assert import_time_change(shape(SOURCE), shape(moved), {1, 3}) == ""
    assert shape(b"def broken(:\n") is None
    assert import_time_change(shape(SOURCE), None, set()) == "it does not parse"
