"""What ``check`` found about each file and about the baseline edit."""

from __future__ import annotations

from dataclasses import dataclass, field

from ratchet.baseline import Entry
from ratchet.guard import GuardProblem
from ratchet.measure import FileResult
from ratchet.numbers import Numbers
from ratchet.rules import Outcome


@dataclass
class FileVerdict:
    path: str
    outcome: Outcome
    entry: Entry | None
    current: FileResult | None
    added: frozenset[int] = frozenset()  # Uncovered lines this commit adds.
    newly: frozenset[int] | None = None  # All newly uncovered lines; None: unknown.
    renamed_from: str | None = None  # The old path whose entry this file took.
    # With check --confirm, a worse file's numbers in each of two identical runs.
    runs: tuple[Numbers, ...] = ()

    @property
    def name(self) -> str:
        """The path, as shown to people (made safe to print)."""
        from ratchet.printable import safe

        if self.renamed_from is None:
            return safe(self.path)
        return f"{safe(self.path)} (renamed from {safe(self.renamed_from)})"


@dataclass
class Judged:
    """What ``check`` found, ready to print."""

    verdicts: list[FileVerdict]
    guard: list[GuardProblem]
    how: str
    branch: bool
    mode: str  # "full" (the whole suite), "selected" (affected tests) or "data" (given)
    notes: list[str] = field(default_factory=list)
    why: str = ""  # Why a full run, or what a selected run ran.
    tests_run: tuple[str, ...] | None = None  # None: the whole suite, or no run.

    @property
    def passed(self) -> bool:
        return not self.guard and not any(v.outcome.blocking for v in self.verdicts)
