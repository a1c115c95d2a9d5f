"""The baseline's algebra: how measurements become entries.

Pure functions on plain values, beside the guard (:mod:`ratchet.guard`) and
the merge (:mod:`ratchet.merge`), which hold edits and merges to the same
order (:mod:`ratchet.rules`):

- :func:`build_baseline` (``init``): the first entries, tiers assigned;
- :func:`raise_baseline` (``update``): gains recorded, nothing lowered
  unless asked, renamed entries moved, deleted ones dropped;
- :func:`promote` (``plan --promote``): files into a tier, ambition only up.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from ratchet.baseline import Baseline, Entry, Lowering
from ratchet.config import Config
from ratchet.errors import RatchetError
from ratchet.measurement import FileResult
from ratchet.numbers import Numbers, display_percent
from ratchet.renames import carry
from ratchet.rules import Outcome, compare
from ratchet.tiers import TierRule, assign_tier


def new_entry(numbers: Numbers, tiers: Sequence[TierRule]) -> Entry:
    """An entry for a file measured for the first time, in its tier if any."""
    rule = assign_tier(numbers, tiers)
    if rule is None:
        return Entry(numbers)
    return Entry(numbers, tier=rule.name, target=rule.target, start=numbers)


def build_baseline(
    files: Mapping[str, FileResult], coverage_version: str, branch: bool, config: Config
) -> Baseline:
    entries = {path: new_entry(r.numbers, config.tiers) for path, r in files.items()}
    baseline = Baseline(coverage_version, branch, entries, config.overall_target)
    # The start of the push overall: today's totals.
    return replace(baseline, overall_start=baseline.totals)


@dataclass
class Changes:
    raised: list[tuple[str, Numbers, Numbers]] = field(default_factory=list)
    deletion_drops: list[tuple[str, Numbers, Numbers]] = field(default_factory=list)
    added: list[tuple[str, Entry]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old, new)
    lowered: list[tuple[str, Numbers, Numbers]] = field(default_factory=list)
    kept: list[tuple[str, Numbers, Numbers, Outcome]] = field(default_factory=list)
    unmeasured: list[str] = field(default_factory=list)


def raise_baseline(
    baseline: Baseline,
    measured: Mapping[str, Numbers],
    exists: Container[str],
    config: Config,
    *,
    allow_lower: Mapping[str, str] | None = None,
    renamed: Mapping[str, str] | None = None,
    today: str,
) -> tuple[Baseline, Changes]:
    """The baseline after recording ``measured``; pure.

    Entries that are not worse (in the one order) take the new numbers; worse
    ones are kept unless named in ``allow_lower`` (path -> reason), which
    records the lowering with its reason and date.  New files are added;
    entries of files that no longer exist are dropped.  A renamed file's
    entry (``renamed``: new path -> old path) moves to the new path first.
    """
    allow_lower = allow_lower or {}
    changes = Changes()
    entries, moved = carry(baseline.files, renamed or {}, exists, measured)
    changes.renamed = sorted((old, new) for new, old in moved.items())
    files: dict[str, Entry] = {}
    for path, entry in entries.items():
        current = measured.get(path)
        if current is None:
            if path not in exists:
                changes.dropped.append(path)
            elif path in allow_lower:
                # Not measured counts as not covered: record it at 0%.
                zero = replace(entry.numbers, covered=0, covered_branches=0)
                lowering = Lowering(entry.numbers, allow_lower[path], today)
                files[path] = replace(entry, numbers=zero, lowered=lowering)
                changes.lowered.append((path, entry.numbers, zero))
            else:
                files[path] = entry
                changes.unmeasured.append(path)
            continue
        outcome = compare(entry.numbers, current, entry.target, config.policy)
        if outcome is Outcome.SAME:
            files[path] = entry
        elif not outcome.blocking:
            lowered = entry.lowered
            if lowered is not None and current.percent >= lowered.previous.percent:
                lowered = None  # Back where it was before the lowering.
            files[path] = replace(entry, numbers=current, lowered=lowered)
            kind = changes.deletion_drops if outcome is Outcome.DELETION_DROP else changes.raised
            kind.append((path, entry.numbers, current))
        elif path in allow_lower:
            files[path] = replace(
                entry,
                numbers=current,
                lowered=Lowering(entry.numbers, allow_lower[path], today),
            )
            changes.lowered.append((path, entry.numbers, current))
        else:
            files[path] = entry
            changes.kept.append((path, entry.numbers, current, outcome))
    for path in sorted(set(measured) - set(entries)):
        # A file joins a tier only when tiers are evaluated (init), not here.
        files[path] = Entry(measured[path])
        changes.added.append((path, files[path]))
    target = baseline.overall_target
    if config.overall_target is not None and (target is None or config.overall_target > target):
        target = config.overall_target
    return replace(baseline, files=files, overall_target=target), changes


def promote(
    baseline: Baseline, paths: Sequence[str], tier: str, target: Fraction, source: str
) -> Baseline:
    """``paths`` put into ``tier`` with ``target``: more ambition, never less.

    A file already in a tier may only have its target raised (its start
    stays, as the guard requires); a file joins with its current numbers as
    its start.  ``source`` names the baseline in errors.
    """
    files = dict(baseline.files)
    for p in paths:
        entry = files.get(p)
        if entry is None:
            raise RatchetError(f"--promote {p}: not in {source}")
        if entry.target is not None and target < entry.target:
            raise RatchetError(
                f"--promote {p}: its {entry.tier} target is {display_percent(entry.target)}; "
                f"{display_percent(target)} would lower it",
                hint="a promotion only raises ambition",
            )
        start = entry.start if entry.target else entry.numbers
        files[p] = replace(entry, tier=tier, target=target, start=start)
    return replace(baseline, files=files)
