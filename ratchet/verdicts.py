"""What ``check`` found: a verdict per file and the guard's problems, as values.

Pure functions of the change (:mod:`ratchet.change`), the measurement and
the policy.  Nothing here is changed once built: ``--confirm`` and the
explanation of newly uncovered lines return new verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Mapping, Sequence
from typing import NamedTuple

from ratchet.baseline import Baseline, Entry
from ratchet.measurement import FileResult, Measurement
from ratchet.numbers import Numbers
from ratchet.renames import carry
from ratchet.rules import Outcome, Policy, judge


class FileVerdict(NamedTuple):
    """One file's verdict.  A tuple, not a frozen dataclass: a check makes
    one per file of the baseline (20,000 and more), and a tuple is made
    several times faster; it is as immutable."""

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


_NONE: frozenset[int] = frozenset()


class Judged(NamedTuple):
    """Verdicts judged ahead, and what they were judged by: a later
    :func:`judge_files` by the same baseline, files that exist, policy and
    renames, on results that are the same objects in most files, judges
    only the files whose result differs.  A selected check judges the map's
    results while its tests run; after, it judges the files they measured
    (at 20,000 files, 55 ms of the hook's time became a few)."""

    baseline: Baseline
    exists: Container[str]
    policy: Policy
    renamed: Mapping[str, str] | None
    files: Mapping[str, FileResult]
    verdicts: tuple[FileVerdict, ...]


def judge_files(
    baseline: Baseline,
    measurement: Measurement,
    exists: Container[str],
    policy: Policy,
    renamed: Mapping[str, str] | None = None,
    *,
    earlier: Judged | None = None,
) -> tuple[FileVerdict, ...]:
    """A verdict for every file in the baseline or the measurement, by path;
    a renamed file is judged against its old path's entry.  ``earlier``:
    verdicts judged ahead (:class:`Judged`), kept where they still hold."""
    files = measurement.files
    if earlier is not None:
        kept = _still_judged(earlier, baseline, files, exists, policy, renamed)
        if kept is not None:
            return kept
    return _judge(baseline, files, exists, policy, renamed)


def judged(
    baseline: Baseline,
    files: Mapping[str, FileResult],
    exists: Container[str],
    policy: Policy,
    renamed: Mapping[str, str] | None = None,
) -> Judged:
    """The verdicts on ``files``, kept for a later :func:`judge_files`."""
    verdicts = _judge(baseline, files, exists, policy, renamed)
    return Judged(baseline, exists, policy, renamed, files, verdicts)


def _still_judged(
    earlier: Judged,
    baseline: Baseline,
    files: Mapping[str, FileResult],
    exists: Container[str],
    policy: Policy,
    renamed: Mapping[str, str] | None,
) -> tuple[FileVerdict, ...] | None:
    """The earlier verdicts with those of the files whose result differs
    judged again; None unless judged by the very same inputs, on the same
    files (a file's verdict depends on its entry, its result and these)."""
    same_inputs = (
        earlier.baseline is baseline
        and earlier.exists is exists
        and earlier.policy == policy
        and earlier.renamed == renamed
    )
    before = earlier.files
    if not same_inputs or before.keys() != files.keys():
        return None
    differ = {path for path, result in files.items() if before[path] is not result}
    if not differ:
        return earlier.verdicts
    again = {v.path: v for v in _judge(baseline, files, exists, policy, renamed, only=differ)}
    return tuple(again.get(v.path, v) for v in earlier.verdicts)


def _judge(
    baseline: Baseline,
    files: Mapping[str, FileResult],
    exists: Container[str],
    policy: Policy,
    renamed: Mapping[str, str] | None,
    only: Collection[str] | None = None,
) -> tuple[FileVerdict, ...]:
    """The verdicts of every file (with ``only``, of those files only)."""
    renamed = renamed or {}
    entries, _ = carry(baseline.files, renamed, exists, files)
    verdicts = []
    same = Outcome.SAME
    entry_of, result_of, renamed_from = entries.get, files.get, renamed.get
    paths: Collection[str]
    if only is not None:
        paths = {p for p in only if p in entries or p in files}
    elif entries.keys() != files.keys():
        paths = entries.keys() | files.keys()
    else:
        paths = entries.keys()
    for path in sorted(paths):
        entry = entry_of(path)
        result = result_of(path)
        if entry is not None and result is not None and entry.numbers == result.numbers:
            outcome = same  # Most files, on most commits: what judge() says of them.
        else:
            outcome = judge(
                entry.numbers if entry else None,
                result.numbers if result else None,
                entry.target if entry else None,
                exists=path in exists,
                policy=policy,
            )
        # Positional: a call with a keyword argument costs more, 20,000 times.
        verdicts.append(FileVerdict(path, outcome, entry, result, _NONE, None, renamed_from(path)))
    return tuple(verdicts)


def worse(verdicts: Sequence[FileVerdict]) -> list[str]:
    """The measured files that got worse: what ``--confirm`` measures again."""
    return [v.path for v in verdicts if v.outcome.blocking and v.current is not None]


def confirmed(
    verdicts: Sequence[FileVerdict], again: Measurement, policy: Policy
) -> tuple[FileVerdict, ...]:
    """The verdicts after a second, identical run (``check --confirm``).

    Numbers equal in both runs confirm the verdict.  Numbers that differ
    mean the file's coverage depends on chance: if either run is not worse,
    the file is flaky rather than refused; if both are worse, it is refused
    all the same.  Each worse file carries the numbers of both runs.
    """
    out = []
    for v in verdicts:
        if not v.outcome.blocking or v.current is None:
            out.append(v)
            continue
        second = again.files.get(v.path)
        entry = v.entry
        outcome = judge(
            entry.numbers if entry else None,
            second.numbers if second else None,
            entry.target if entry else None,
            exists=True,
            policy=policy,
        )
        runs = (v.current.numbers,) + ((second.numbers,) if second else ())
        differs = second is None or second.numbers != v.current.numbers
        flaky = differs and not outcome.blocking
        out.append(v._replace(runs=runs, outcome=Outcome.FLAKY if flaky else v.outcome))
    return tuple(out)


# (path, uncovered lines, renamed from) -> (lines the commit adds, newly uncovered or None)
Explain = Callable[[str, Sequence[int], "str | None"], "tuple[set[int], set[int] | None]"]


def explained(
    verdicts: Sequence[FileVerdict], exists: Container[str], explain: Explain
) -> tuple[FileVerdict, ...]:
    """The verdicts with the newly uncovered lines of refused files, where
    ``explain`` can tell them (see :mod:`ratchet.lastrun`)."""
    out = []
    for v in verdicts:
        current = v.current
        if v.outcome.blocking and current is not None and current.lines_known and v.path in exists:
            added, newly = explain(v.path, current.missing_lines, v.renamed_from)
            newly_set = None if newly is None else frozenset(newly)
            v = v._replace(added=frozenset(added), newly=newly_set)
        out.append(v)
    return tuple(out)
