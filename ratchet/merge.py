"""Merging two baselines: per file, the better entry.

Used by the git merge driver (``ratchet merge-driver``): both branches only
ever raised the baseline, so the merge keeps, for each file, whichever
entry the one order of :mod:`ratchet.rules` ranks higher.
"""

from __future__ import annotations

from dataclasses import replace

from ratchet.baseline import Baseline, Entry
from ratchet.errors import RatchetError
from ratchet.rules import Outcome, Policy, compare


def better(ours: Entry, theirs: Entry) -> Entry:
    """The two branches' entries for one file, merged field by field.

    The target is the higher one, with the tier and start that came with it
    (one branch may have promoted the file while the other raised it); the
    numbers are ``theirs`` if they are a gain over ``ours`` against that
    target (the order check uses), else ``ours``, each with its own lowering
    record.
    """
    tiered = ours
    if theirs.target is not None and (ours.target is None or theirs.target > ours.target):
        tiered = theirs
    numbers = ours
    if compare(ours.numbers, theirs.numbers, tiered.target, Policy()) is Outcome.GAIN:
        numbers = theirs
    # A start, once a file has a target, never changes: keep ours where we had one.
    start = ours.start if ours.target is not None else tiered.start
    if (numbers.tier, numbers.target, numbers.start) == (tiered.tier, tiered.target, start):
        return numbers  # Most merges: no target on either side.
    return replace(numbers, tier=tiered.tier, target=tiered.target, start=start)


def merge(base: Baseline | None, ours: Baseline, theirs: Baseline) -> Baseline:
    """The merged baseline.  A file one side dropped (deleted) stays dropped."""
    if ours.branch != theirs.branch:
        raise RatchetError("the two baselines differ in branch mode; merge them by hand")
    before = base.files if base is not None else {}
    files: dict[str, Entry] = {}
    for path in sorted(ours.files.keys() | theirs.files.keys()):
        mine, other = ours.files.get(path), theirs.files.get(path)
        if mine is not None and other is not None:
            files[path] = better(mine, other)
        elif path not in before:  # Added on one side.
            added = mine or other
            assert added is not None  # The path came from one of the two.
            files[path] = added
        # else: in the base, removed on one side: it stays removed.
    targets = [t for t in (ours.overall_target, theirs.overall_target) if t is not None]
    return replace(ours, files=files, overall_target=max(targets) if targets else None)
