"""Where the push stands: tier progress and the next phase's candidates.

Pure functions of a baseline: the reports read nothing else, so they are
instant.  Counts are coverage units (statements, plus branches in branch
mode), the same units every percentage here is made of.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from ratchet.baseline import Baseline, Entry
from ratchet.numbers import HUNDRED, Numbers

MET = "met"
IN_PROGRESS = "in progress"
ABOVE_AT_START = "above target when it joined"

ZERO_COVERAGE = "Zero coverage"
QUICK_WIN_STATEMENTS = 100  # The seeds' quick wins: 0% and over 100 statements.
QUICK_WIN_TARGET = Fraction(50)


@dataclass(frozen=True)
class TierRow:
    path: str
    start: Numbers  # When the file joined the tier.
    target: Fraction
    current: Numbers
    gap: int  # Units still to cover to reach the target.
    start_gap: int

    @property
    def status(self) -> str:
        if self.start_gap == 0:
            return ABOVE_AT_START
        return MET if self.gap == 0 else IN_PROGRESS

    @property
    def progress(self) -> Fraction | None:
        """Share of the way from the start to the target (None: nothing to go)."""
        if self.start_gap == 0:
            return None
        return max(Fraction(0), Fraction(self.start_gap - self.gap, self.start_gap))


@dataclass(frozen=True)
class Tier:
    name: str
    rows: tuple[TierRow, ...]

    @property
    def gap(self) -> int:
        return sum(r.gap for r in self.rows)

    @property
    def start_gap(self) -> int:
        return sum(r.start_gap for r in self.rows)

    @property
    def progress(self) -> Fraction | None:
        if self.start_gap == 0:
            return None
        return max(Fraction(0), Fraction(self.start_gap - self.gap, self.start_gap))

    @property
    def met(self) -> int:
        return sum(1 for r in self.rows if r.gap == 0)


@dataclass(frozen=True)
class Overall:
    start: Numbers | None
    target: Fraction | None
    current: Numbers

    @property
    def change(self) -> Fraction | None:
        """Percentage points since the start."""
        return None if self.start is None else self.current.percent - self.start.percent

    @property
    def gap(self) -> int | None:
        return None if self.target is None else self.current.gap(self.target)


@dataclass(frozen=True)
class Report:
    tiers: tuple[Tier, ...]
    overall: Overall
    branch: bool


def tier_report(baseline: Baseline) -> Report:
    """Every tiered file, grouped by tier in name order, and the overall line."""
    groups: dict[str, list[TierRow]] = {}
    for path, entry in sorted(baseline.files.items()):
        if entry.target is None:
            continue
        start = entry.start or entry.numbers
        row = TierRow(
            path,
            start,
            entry.target,
            entry.numbers,
            entry.numbers.gap(entry.target),
            start.gap(entry.target),
        )
        groups.setdefault(entry.tier or "Tiered", []).append(row)
    tiers = tuple(Tier(name, tuple(rows)) for name, rows in sorted(groups.items()))
    overall = Overall(baseline.overall_start, baseline.overall_target, baseline.totals)
    return Report(tiers, overall, baseline.branch)


@dataclass(frozen=True)
class Candidate:
    path: str
    kind: str  # The tier's name, or ZERO_COVERAGE.
    current: Numbers
    target: Fraction
    to_cover: int
    gain: Fraction  # Overall percentage points if it reaches its target.


@dataclass(frozen=True)
class Plan:
    candidates: tuple[Candidate, ...]  # Best gain first.
    left_out: int  # Matching candidates beyond the limit.
    current: Numbers  # The whole baseline's totals.
    target: Fraction | None

    @property
    def to_cover(self) -> int:
        return sum(c.to_cover for c in self.candidates)

    @property
    def gain(self) -> Fraction:
        return sum((c.gain for c in self.candidates), Fraction(0))

    @property
    def reached(self) -> Fraction:
        """The overall percentage if every listed candidate reaches its target."""
        return self.current.percent + self.gain


def candidates(
    baseline: Baseline, quick_win_target: Fraction = QUICK_WIN_TARGET
) -> list[Candidate]:
    """Files still short of a target, and untiered quick wins, best gain first."""
    total = baseline.totals.units
    found = []
    for path, entry in baseline.files.items():
        kind, target = _goal(entry, quick_win_target)
        if target is None:
            continue
        to_cover = entry.numbers.gap(target)
        if to_cover == 0:
            continue
        gain = HUNDRED * Fraction(to_cover, total) if total else Fraction(0)
        found.append(Candidate(path, kind, entry.numbers, target, to_cover, gain))
    # Best gain first; equal gains in path order, so the output is stable.
    found.sort(key=lambda c: (-c.gain, c.path))
    return found


def _goal(entry: Entry, quick_win_target: Fraction) -> tuple[str, Fraction | None]:
    if entry.target is not None:
        return entry.tier or "Tiered", entry.target
    n = entry.numbers
    if n.covered_units == 0 and n.statements > QUICK_WIN_STATEMENTS:
        return ZERO_COVERAGE, quick_win_target
    return "", None


def plan(
    baseline: Baseline,
    *,
    kinds: Iterable[str] = (),
    limit: int | None = None,
    quick_win_target: Fraction = QUICK_WIN_TARGET,
) -> Plan:
    """The candidates of ``kinds`` (all when empty; names match case-blind)."""
    wanted = {k.casefold() for k in kinds}
    found = [
        c
        for c in candidates(baseline, quick_win_target)
        if not wanted or c.kind.casefold() in wanted
    ]
    shown = found if limit is None else found[:limit]
    return Plan(tuple(shown), len(found) - len(shown), baseline.totals, baseline.overall_target)
