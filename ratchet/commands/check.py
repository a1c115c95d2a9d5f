"""``ratchet check``: the hook.  Judge the commit's coverage against the baseline."""

from __future__ import annotations

import sys
from collections.abc import Container, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ratchet import git
from ratchet.errors import BLOCKED, PASSED
from ratchet.relevance import (
    DEFAULT_BASELINE,
    any_relevant,
    decode_pyproject,
    is_relevant,
    tool_section,
)

if TYPE_CHECKING:  # Imported for real only on the slow path, to keep the skip fast.
    from ratchet.baseline import Baseline
    from ratchet.config import Config
    from ratchet.measure import Measurement
    from ratchet.verdicts import FileVerdict


def check(
    *,
    files: Sequence[str] = (),
    all_files: bool = False,
    base: str | None = None,
    full: bool = False,
    data: Sequence[str] = (),
    fmt: str = "text",
    confirm: bool = False,
    cwd: Path | None = None,
) -> int:
    """Judge every measured file the commit can change; the exit code.

    ``files`` are the paths the commit changes (default: what git has
    staged); when none can change coverage, nothing runs.  ``all_files``
    judges regardless, ``data`` judges given coverage data instead of running
    the tests.  ``confirm`` runs the tests of a worse file once more before
    refusing it.
    """
    here = cwd or Path.cwd()
    scope = ""
    if not (all_files or full or data or files):
        from ratchet.invocation import pre_commit_scope

        scope = pre_commit_scope()
        all_files = bool(scope)
    if not all_files and not full and not data:
        if files:
            from ratchet.commands.common import repo_relative

            changed = repo_relative(git.toplevel(here), files, here)
        else:
            changed = git.staged_paths(here)  # Repository-relative from anywhere in it.
        if not _may_matter(here, changed):
            if fmt == "json":
                print('{"format": 1, "passed": true, "mode": "skipped", "files": [], "guard": []}')
            elif fmt == "markdown":
                print("### coverage-ratchet: passed\n\nNothing staged can change coverage.")
            elif fmt == "text":
                print("ratchet: nothing staged can change coverage; skipped")
            return PASSED
    root = git.toplevel(here)
    # Judged by the configuration being committed: the index's, not an
    # unstaged edit of it.
    pyproject = decode_pyproject(git.read_blob(root, ":pyproject.toml"))
    # Everything below is the slow path: imports are deferred to here so the
    # skip above stays fast.
    from ratchet.config import load_config

    config = load_config(root, pyproject, given=True)
    if scope:
        why = scope
    elif all_files:
        why = "--all judges every file"
    elif full:
        why = "--full was given"
    else:
        why = "" if config.select else "select = false in [tool.ratchet]"
    return _judge(root, config, data, fmt, why, base, confirm)


def _may_matter(here: Path, changed: list[str]) -> bool:
    """Can any of ``changed`` change coverage or the verdict?  The hook's first
    question, answered with as little as possible: nothing staged is nothing;
    a Python, configuration or baseline file matters whatever the
    configuration says; only otherwise is the committed configuration read
    (its ``watch`` patterns and baseline path)."""
    if not changed:
        return False
    if any(is_relevant(p, DEFAULT_BASELINE, ()) for p in changed):
        return True
    pyproject = decode_pyproject(git.read_blob(here, ":pyproject.toml"))
    return any_relevant(changed, tool_section(pyproject))


def _judge(
    root: Path,
    config: Config,
    data: Sequence[str],
    fmt: str,
    full_reason: str,
    base: str | None = None,
    confirm: bool = False,
) -> int:
    from ratchet import lastrun
    from ratchet.change import gather
    from ratchet.commands.common import ensure_same_mode, measurement_notes, version_note
    from ratchet.guard import guard
    from ratchet.invocation import amending
    from ratchet.measure import measure
    from ratchet.nodata import refuse_empty
    from ratchet.output import render_github, render_json, render_markdown, render_text
    from ratchet.printable import safe_lines
    from ratchet.snapshot import workspace
    from ratchet.verdicts import Judged

    change = gather(root, config, base, amending=base is None and amending())
    baseline, exists, renamed = change.baseline, change.exists, change.renamed
    reference, judge_against = change.reference, change.judge_against
    notes = list(change.notes)
    with workspace(root, config, bool(data)) as (test_root, left_out):
        if left_out:
            notes.append(
                f"measured the staged content; {left_out} unstaged or untracked file(s) left out"
            )
        test_config = config  # A snapshot holds the same, committed, configuration.
        repo = root if test_root != root else None
        measurement = measure(
            test_root, test_config, data, select=True, full_reason=full_reason, repo=repo
        )
        refuse_empty(measurement, baseline, exists)
        ensure_same_mode(baseline, measurement, config.baseline)
        verdicts = judge_measurement(judge_against, measurement, exists, config, renamed)
        if confirm and not data:
            _confirm(test_root, test_config, repo, verdicts, config, measurement.tests_run)
    notes += [n for n in [version_note(baseline, measurement)] if n]
    notes += measurement_notes(measurement)
    problems = list(change.problems)
    if reference is not None and reference != baseline:
        problems += guard(reference, baseline, exists, config.policy, renamed)
        if reference.branch != baseline.branch:
            notes.append("the baseline changed branch mode; entries were not compared to HEAD")
    _explain_lines(root, config, verdicts, exists)
    if measurement.judged is None:  # A selected run has lines of some files only.
        lastrun.record(root, config, measurement)
    judged = Judged(
        verdicts,
        problems,
        measurement.how,
        measurement.branch,
        measurement.mode,
        notes,
        measurement.why,
        measurement.tests_run,
    )
    if fmt == "json":
        out = render_json(judged)
    elif fmt == "github":
        out = render_github(judged)
    elif fmt == "markdown":
        out = render_markdown(judged)
    else:
        out = render_text(judged, config)
    sys.stdout.write(safe_lines(out))
    return PASSED if judged.passed else BLOCKED


def _confirm(
    test_root: Path,
    test_config: Config,
    repo: Path | None,
    verdicts: list[FileVerdict],
    config: Config,
    tests: Sequence[str] | None,
) -> None:
    """Repeat the run (``tests``; None: the whole suite) when a file is worse;
    a file worse in only one of the two runs is flaky.

    Numbers equal in both runs confirm the verdict.  Numbers that differ
    mean the file's coverage depends on chance: if either run is not worse,
    the file is reported as flaky rather than refused; if both are worse, it
    is refused all the same.
    """
    from ratchet.measure import remeasure
    from ratchet.rules import Outcome, judge

    worse = {v.path: v for v in verdicts if v.outcome.blocking and v.current is not None}
    if not worse:
        return
    again = remeasure(test_root, test_config, worse, tests, repo=repo)
    for path, v in worse.items():
        assert v.current is not None
        second = again.files.get(path)
        entry = v.entry
        outcome = judge(
            entry.numbers if entry else None,
            second.numbers if second else None,
            entry.target if entry else None,
            exists=True,
            policy=config.policy,
        )
        v.runs = (v.current.numbers,) + ((second.numbers,) if second else ())
        differs = second is None or second.numbers != v.current.numbers
        if differs and not outcome.blocking:
            v.outcome = Outcome.FLAKY


def _explain_lines(
    root: Path, config: Config, verdicts: list[FileVerdict], exists: Container[str]
) -> None:
    """Find the uncovered lines of refused files that are new, where we can."""
    from ratchet import lastrun

    refused = [
        v
        for v in verdicts
        if v.outcome.blocking
        and v.current is not None
        and v.current.lines_known
        and v.path in exists
    ]
    if not refused:
        return
    head_missing = lastrun.missing_at_head(root, config)
    for v in refused:
        assert v.current is not None
        added, newly = lastrun.newly_uncovered(
            root, v.path, v.current.missing_lines, head_missing, v.renamed_from
        )
        v.added = frozenset(added)
        v.newly = None if newly is None else frozenset(newly)


def judge_measurement(
    baseline: Baseline,
    measurement: Measurement,
    exists: Container[str],
    config: Config,
    renamed: Mapping[str, str] | None = None,
) -> list[FileVerdict]:
    """A verdict for every file in the baseline or the measurement, by path;
    a renamed file is judged against its old path's entry."""
    from ratchet.renames import carry
    from ratchet.rules import judge
    from ratchet.verdicts import FileVerdict

    renamed = renamed or {}
    entries, _ = carry(baseline.files, renamed, exists, measurement.files)
    verdicts = []
    for path in sorted(set(entries) | set(measurement.files)):
        entry = entries.get(path)
        result = measurement.files.get(path)
        outcome = judge(
            entry.numbers if entry else None,
            result.numbers if result else None,
            entry.target if entry else None,
            exists=path in exists,
            policy=config.policy,
        )
        verdicts.append(FileVerdict(path, outcome, entry, result, renamed_from=renamed.get(path)))
    return verdicts
