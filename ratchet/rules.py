"""The one better/worse order, as pure functions on plain values.

``check``, ``update`` and the guard on edits to the baseline all judge with
:func:`compare`, so a file can never pass one and fail another.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction

from ratchet.numbers import Numbers


class Outcome(enum.Enum):
    """How a file's current numbers stand against its baseline entry."""

    GAIN = "gain"  # The percentage rose (and any tier gap did not grow).
    SAME = "same"  # Identical numbers.
    EVEN = "even"  # Different numbers, the same percentage.
    DELETION_DROP = "deletion-drop"  # Lower, but only covered code went away.
    NEW = "new"  # Not in the baseline yet.
    DELETED = "deleted"  # In the baseline, gone from the repository.
    DROPPED = "dropped"  # The percentage fell.
    GAP_GREW = "gap-grew"  # A tiered file moved further from its target.
    BELOW_NEW_FILE_MINIMUM = "below-new-file-minimum"
    UNMEASURED = "unmeasured"  # Still exists, but coverage no longer measures it.
    # Worse in one run, not in an identical one (check --confirm): not a drop.
    FLAKY = "flaky"

    @property
    def blocking(self) -> bool:
        # By value: an enum member's own hash runs Python, and a check asks
        # this of every file's verdict several times.
        return self._value_ in _BLOCKING


_BLOCKING = frozenset(
    o.value
    for o in (
        Outcome.DROPPED,
        Outcome.GAP_GREW,
        Outcome.BELOW_NEW_FILE_MINIMUM,
        Outcome.UNMEASURED,
    )
)


@dataclass(frozen=True)
class Policy:
    """The configurable parts of the order."""

    allow_deletion_drops: bool = True
    new_file_minimum: Fraction = Fraction(0)


def compare(base: Numbers, current: Numbers, target: Fraction | None, policy: Policy) -> Outcome:
    """Judge ``current`` against ``base`` exactly, on integers.

    A drop is excused as deletion-only when the number of uncovered units
    did not grow: nothing new went untested, covered code was removed.  For a
    tiered file (``target`` set) the gap to the target may not grow either,
    even when the percentage rose: new code there must be covered at least at
    the target rate.
    """
    if current == base:  # Most files, on most commits; the rules below agree.
        return Outcome.SAME
    if current.percent_below(base):
        return Outcome.DELETION_DROP if _deletion_only(base, current, policy) else Outcome.DROPPED
    if target is not None and current.gap(target) > base.gap(target):
        return Outcome.DELETION_DROP if _deletion_only(base, current, policy) else Outcome.GAP_GREW
    if base.percent_below(current):
        return Outcome.GAIN
    return Outcome.EVEN


def _deletion_only(base: Numbers, current: Numbers, policy: Policy) -> bool:
    return policy.allow_deletion_drops and current.missing_units <= base.missing_units


def is_not_worse(base: Numbers, current: Numbers, target: Fraction | None, policy: Policy) -> bool:
    return not compare(base, current, target, policy).blocking


def judge_new(current: Numbers, policy: Policy) -> Outcome:
    if current.percent < policy.new_file_minimum:
        return Outcome.BELOW_NEW_FILE_MINIMUM
    return Outcome.NEW


def judge(
    base: Numbers | None,
    current: Numbers | None,
    target: Fraction | None,
    *,
    exists: bool,
    policy: Policy,
) -> Outcome:
    """The outcome for one file given what the baseline and the run say."""
    if base is None:
        assert current is not None, "a judged file is in the baseline or measured"
        return judge_new(current, policy)
    if current is None:
        if not exists:
            return Outcome.DELETED
        # A file no longer measured counts as not covered; at 0% it lost nothing.
        return Outcome.UNMEASURED if base.covered_units else Outcome.SAME
    return compare(base, current, target, policy)
