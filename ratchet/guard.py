"""The guard on edits to the baseline file itself.

When a commit changes ``coverage-baseline.toml``, no entry may get worse
than at HEAD (in the one order of :mod:`ratchet.rules`), no entry of a file
that still exists may disappear, and no target may drop.  The one way down is
an entry carrying a new ``lowered`` record, written by
``ratchet update --allow-lower``, whose previous numbers are HEAD's.  A
renamed file's new entry is held to its old one (:mod:`ratchet.renames`).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass

from ratchet.baseline import Baseline, Entry
from ratchet.numbers import display_percent
from ratchet.renames import carry
from ratchet.rules import Policy, compare


@dataclass(frozen=True)
class GuardProblem:
    path: str | None  # None for problems with the file as a whole.
    message: str


def guard(
    head: Baseline,
    staged: Baseline,
    exists: Container[str],
    policy: Policy,
    renamed: Mapping[str, str] | None = None,
) -> list[GuardProblem]:
    """Problems with the change from ``head`` to ``staged`` (empty: accepted).

    ``exists`` holds the paths that the commit keeps in the repository;
    ``renamed`` maps the commit's renamed files' new paths to their old ones.
    """
    problems: list[GuardProblem] = []
    # Numbers measured in different branch modes cannot be compared; the
    # check of the commit's own measurement against ``staged`` still runs.
    same_mode = head.branch == staged.branch
    if head.overall_target is not None and (
        staged.overall_target is None or staged.overall_target < head.overall_target
    ):
        new = "none" if staged.overall_target is None else display_percent(staged.overall_target)
        problems.append(
            GuardProblem(
                None,
                f"overall target lowered from {display_percent(head.overall_target)} to {new}",
            )
        )
    before, _ = carry(head.files, renamed or {}, exists, staged.files)
    for path, old in before.items():
        new_entry = staged.files.get(path)
        if new_entry is None:
            if path in exists:
                problems.append(GuardProblem(path, "entry removed although the file still exists"))
            continue
        problems.extend(_entry_problems(path, old, new_entry, same_mode, policy))
    return problems


def _entry_problems(
    path: str, old: Entry, new: Entry, same_mode: bool, policy: Policy
) -> list[GuardProblem]:
    problems = []
    if old.target is not None:
        if new.target is None or new.target < old.target:
            problems.append(GuardProblem(path, f"{old.tier} target lowered or removed"))
        elif same_mode and new.start != old.start:
            problems.append(GuardProblem(path, f"{old.tier} start numbers changed"))
    if not same_mode:
        return problems
    outcome = compare(old.numbers, new.numbers, old.target, policy)
    if outcome.blocking and not _deliberate(old, new):
        problems.append(
            GuardProblem(
                path,
                f"entry lowered from {old.numbers.display()} to {new.numbers.display()} "
                f"({outcome.value}) without `ratchet update --allow-lower`",
            )
        )
    return problems


def _deliberate(old: Entry, new: Entry) -> bool:
    """Is ``new`` a lowering recorded by ``update --allow-lower`` from ``old``?"""
    low = new.lowered
    return low is not None and low != old.lowered and low.previous == old.numbers
