"""What ``check`` says: one value for every way a check can end, skipped included.

Kept light (no dataclasses, no fractions): the hook's skip path builds and
prints a :class:`Report` too, through the same renderers
(:mod:`ratchet.output`) as a refused commit.
"""

from __future__ import annotations

import enum
from operator import attrgetter
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ratchet.guard import GuardProblem
    from ratchet.verdicts import FileVerdict


class RunMode(enum.Enum):
    """How the numbers of a check were obtained."""

    FULL = "full"  # The whole suite ran.
    SELECTED = "selected"  # Only the tests a change affects ran; the map gave the rest.
    DATA = "data"  # Coverage data was given (--data).
    SKIPPED = "skipped"  # Nothing that can change coverage changed: nothing ran.

    @property
    def ran_tests(self) -> bool:
        return self in (RunMode.FULL, RunMode.SELECTED)


class Report(NamedTuple):
    """The verdicts, the guard's problems, and how the numbers were obtained."""

    mode: RunMode
    verdicts: tuple[FileVerdict, ...] = ()
    guard: tuple[GuardProblem, ...] = ()
    how: str = ""  # What measured: "`pytest` (3.1 s)", "report r.json".
    branch: bool = False
    notes: tuple[str, ...] = ()
    why: str = ""  # Why a full run, what a selected run ran, why nothing ran.
    tests_run: tuple[str, ...] | None = None  # None: the whole suite.
    baseline: str = "coverage-baseline.toml"  # Its path, for the advice printed.
    new_file_minimum: str = "0.00%"  # As displayed, for the advice printed.
    # ``check --verify``: where the selection's numbers differ from a full run's.
    mismatches: tuple[str, ...] = ()
    # ``record-gains``: what was written into the commit (or why not), and whether it was.
    recorded: str = ""
    gains_written: bool = False

    @property
    def passed(self) -> bool:
        from ratchet.rules import Outcome

        if self.guard:
            return False
        # The distinct outcomes, found in C: a check has a verdict per file.
        outcomes = set(map(attrgetter("outcome._value_"), self.verdicts))
        return not any(Outcome(value).blocking for value in outcomes)


def skipped(why: str = "nothing staged can change coverage") -> Report:
    """The report of a check that found nothing to measure."""
    return Report(RunMode.SKIPPED, why=why, tests_run=())
