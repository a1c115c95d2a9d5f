"""Mapping old line numbers through a diff, checked against real ``git diff``."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.git import parse_hunks
from ratchet.lines import added_lines, map_old_lines


def test_insertions_deletions_and_rewrites() -> None:
    # Insert 3 lines after line 5; delete old lines 8-9; rewrite old line 12 as 2 lines.
    hunks = [(5, 0, 6, 3), (8, 2, 10, 0), (12, 1, 13, 2)]
    assert map_old_lines(hunks, [1, 5, 6, 7, 8, 9, 10, 11, 12, 13]) == {1, 5, 9, 10, 11, 12, 15}
    assert added_lines(hunks) == {6, 7, 8, 13, 14}


def test_changes_at_the_top_of_the_file() -> None:
    assert map_old_lines([(0, 0, 1, 2)], [1, 2]) == {3, 4}
    assert map_old_lines([(1, 2, 0, 0)], [1, 2, 3]) == {1}


def _hunks(old: list[str], new: list[str], tmp: Path) -> list[tuple[int, int, int, int]]:
    (tmp / "old").write_text("".join(f"{x}\n" for x in old))
    (tmp / "new").write_text("".join(f"{x}\n" for x in new))
    out = subprocess.run(
        ["git", "diff", "--no-index", "-U0", "--no-color", "old", "new"],
        cwd=tmp,
        capture_output=True,
        check=False,
    ).stdout
    return parse_hunks(out)


@given(
    st.integers(0, 12),
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 3), st.integers(0, 3)), max_size=3),
)
@settings(max_examples=60, deadline=None)
def test_every_surviving_line_maps_to_its_own_text(
    length: int, edits: list[tuple[int, int, int]]
) -> None:
    old = [f"old{i}" for i in range(length)]
    new = list(old)
    for n, (at, remove, add) in enumerate(edits):
        at = min(at, len(new))
        new[at : at + remove] = [f"new{n}-{k}" for k in range(add)]
    with tempfile.TemporaryDirectory() as tmp:
        hunks = _hunks(old, new, Path(tmp))
    # With unique lines the alignment is unambiguous: a line survives iff its
    # text is still there, and it must land exactly on that text.
    for number, text in enumerate(old, 1):
        expected = {new.index(text) + 1} if text in new else set()
        assert map_old_lines(hunks, [number]) == expected
    assert added_lines(hunks) == {i for i, text in enumerate(new, 1) if text not in old}
