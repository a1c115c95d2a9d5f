"""``ratchet check``: the hook.  Judge the commit's coverage against the baseline."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ratchet import git
from ratchet.config import Config, load_config
from ratchet.errors import BLOCKED, PASSED

if TYPE_CHECKING:  # Imported for real only on the slow path.
    from ratchet.baseline import Baseline, Entry
    from ratchet.guard import GuardProblem
    from ratchet.measure import FileResult, Measurement
    from ratchet.rules import Outcome


def check(
    *,
    files: Sequence[str] = (),
    all_files: bool = False,
    data: Sequence[str] = (),
    fmt: str = "text",
    cwd: Path | None = None,
) -> int:
    """Judge every measured file the commit can change; the exit code.

    ``files`` are the paths the commit changes (default: what git has
    staged); when none can change coverage, nothing runs.  ``all_files``
    judges regardless, ``data`` judges given coverage data instead of running
    the tests.
    """
    here = cwd or Path.cwd()
    root = git.toplevel(here)
    config = load_config(root)
    if not all_files and not data:
        if files:
            from ratchet.commands.common import repo_relative

            changed = repo_relative(root, files, here)
        else:
            changed = git.staged_paths(root)
        if not any(config.is_relevant(path) for path in changed):
            if fmt == "text":
                print("ratchet: nothing staged can change coverage; skipped")
            else:
                print('{"format": 1, "passed": true, "mode": "skipped", "files": [], "guard": []}')
            return PASSED
    # Everything below is the slow path: imports are deferred to here so the
    # skip above stays fast.
    return _judge(root, config, data, fmt)


@dataclass
class Judged:
    """What ``check`` found, ready to print."""

    verdicts: list[FileVerdict]
    guard: list[GuardProblem]
    how: str
    branch: bool
    mode: str  # "full" (we ran the whole suite) or "data" (given coverage data)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.guard and not any(v.outcome.blocking for v in self.verdicts)


def _judge(root: Path, config: Config, data: Sequence[str], fmt: str) -> int:
    from ratchet.commands.common import ensure_same_mode, version_note
    from ratchet.commands.init import record_missing
    from ratchet.guard import guard
    from ratchet.measure import measure
    from ratchet.output import render_json, render_text

    baseline, source = _staged_baseline(root, config)
    measurement = measure(root, config, data)
    ensure_same_mode(baseline, measurement, source)
    exists = git.index_paths(root)
    verdicts = judge_measurement(baseline, measurement, exists, config)
    notes = [n for n in [version_note(baseline, measurement)] if n]
    if measurement.outside:
        notes.append(f"{len(measurement.outside)} measured files outside the repository ignored")
    problems = []
    head_raw = git.read_blob(root, f"HEAD:{config.baseline}")
    if head_raw is not None:
        from ratchet.baseline import loads_bytes

        head = loads_bytes(head_raw, f"{config.baseline} at HEAD")
        if head != baseline:
            problems = guard(head, baseline, exists, config.policy)
            if head.branch != baseline.branch:
                notes.append("the baseline changed branch mode; entries were not compared to HEAD")
    _explain_lines(root, config, verdicts, exists)
    record_missing(root, config, measurement)
    mode = "full" if measurement.ran_tests else "data"
    judged = Judged(verdicts, problems, measurement.how, measurement.branch, mode, notes)
    out = render_json(judged) if fmt == "json" else render_text(judged, config)
    sys.stdout.write(out)
    return PASSED if judged.passed else BLOCKED


def _explain_lines(
    root: Path, config: Config, verdicts: list[FileVerdict], exists: set[str]
) -> None:
    """Find the uncovered lines of refused files that are new, where we can."""
    from ratchet import lastrun

    refused = [
        v for v in verdicts if v.outcome.blocking and v.current is not None and v.path in exists
    ]
    if not refused:
        return
    head_missing = lastrun.missing_at_head(root, config.is_relevant, config.baseline)
    for v in refused:
        assert v.current is not None
        added, newly = lastrun.newly_uncovered(root, v.path, v.current.missing_lines, head_missing)
        v.added = frozenset(added)
        v.newly = None if newly is None else frozenset(newly)


def _staged_baseline(root: Path, config: Config) -> tuple[Baseline, str]:
    """The baseline being committed: the index's copy, else the working tree's."""
    from ratchet.baseline import load, loads_bytes

    raw = git.read_blob(root, f":{config.baseline}")
    if raw is not None:
        return loads_bytes(raw, config.baseline), config.baseline
    return load(root / config.baseline, config.baseline), config.baseline


def judge_measurement(
    baseline: Baseline, measurement: Measurement, exists: set[str], config: Config
) -> list[FileVerdict]:
    """A verdict for every file in the baseline or the measurement, by path."""
    from ratchet.rules import judge

    verdicts = []
    for path in sorted(set(baseline.files) | set(measurement.files)):
        entry = baseline.files.get(path)
        result = measurement.files.get(path)
        outcome = judge(
            entry.numbers if entry else None,
            result.numbers if result else None,
            entry.target if entry else None,
            exists=path in exists,
            policy=config.policy,
        )
        verdicts.append(FileVerdict(path, outcome, entry, result))
    return verdicts


@dataclass
class FileVerdict:
    path: str
    outcome: Outcome
    entry: Entry | None
    current: FileResult | None
    added: frozenset[int] = frozenset()  # Uncovered lines this commit adds.
    newly: frozenset[int] | None = None  # All newly uncovered lines; None: unknown.
