"""Which uncovered lines are new: line arithmetic over ``-U0`` diff hunks.

A hunk is ``(old_start, old_count, new_start, new_count)`` as in
``@@ -old_start,old_count +new_start,new_count @@``.  When a count is 0, git
names the line *before* the change, so the first line after the hunk is
``start + 1`` rather than ``start + count``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ratchet.git import Hunk


def added_lines(hunks: Sequence[Hunk]) -> set[int]:
    """New-side line numbers the diff adds or changes."""
    lines: set[int] = set()
    for _, _, new_start, new_count in hunks:
        lines.update(range(new_start, new_start + new_count))
    return lines


def _after(start: int, count: int) -> int:
    return start + count if count else start + 1


def map_old_lines(hunks: Sequence[Hunk], old_lines: Iterable[int]) -> set[int]:
    """Where ``old_lines`` are after the diff; lines it removed or rewrote are gone."""
    mapped: set[int] = set()
    for line in old_lines:
        shift = 0
        for old_start, old_count, new_start, new_count in hunks:
            if old_count and old_start <= line < old_start + old_count:
                break  # Removed or rewritten.
            if line < _after(old_start, old_count):
                mapped.add(line + shift)
                break
            shift = _after(new_start, new_count) - _after(old_start, old_count)
        else:
            mapped.add(line + shift)
    return mapped
