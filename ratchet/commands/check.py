"""``ratchet check``: the hook.  Judge the commit's coverage against the baseline.

A pipeline of values, each built once and passed on: the change (what git
says about the commit, :mod:`ratchet.change`), the workspace (where the
tests run, :mod:`ratchet.workspace`), the measurement (:mod:`ratchet.measure`),
the verdicts (pure, :mod:`ratchet.verdicts`), and the report, printed by
one renderer per format (:mod:`ratchet.output`), the skip path included.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ratchet import git
from ratchet.errors import BLOCKED, PASSED, TEST_RUN_FAILED
from ratchet.relevance import (
    DEFAULT_BASELINE,
    any_relevant,
    decode_pyproject,
    is_relevant,
    tool_section,
)
from ratchet.report import Report, skipped

if TYPE_CHECKING:  # Imported for real only on the slow path, to keep the skip fast.
    from ratchet.change import Change
    from ratchet.commands.record import Hook
    from ratchet.config import Config
    from ratchet.measurement import FileResult, Measurement
    from ratchet.verdicts import FileVerdict, Judged


def check(
    *,
    files: Sequence[str] = (),
    all_files: bool = False,
    base: str | None = None,
    full: bool = False,
    data: Sequence[str] = (),
    fmt: str = "text",
    confirm: bool = False,
    verify: bool = False,
    summary: str | None = None,
    propose: str | None = None,
    cwd: Path | None = None,
) -> int:
    """Judge every measured file the commit can change; the exit code.

    ``files`` are the paths the commit changes (default: what git has
    staged); when none can change coverage, nothing runs.  ``all_files``
    judges regardless, ``data`` judges given coverage data instead of running
    the tests.  ``confirm`` runs the tests of a worse file once more before
    refusing it.  ``verify`` runs the selection and then the whole suite, and
    judges by the whole suite.  ``summary`` is a file the markdown report is
    appended to (CI's job summary); ``propose`` a file to write the baseline
    ``update`` would write from this run to (never the repository's).
    """
    here = cwd or Path.cwd()
    scope = ""
    if not (all_files or full or data or files or verify):
        from ratchet.invocation import pre_commit_scope

        scope = pre_commit_scope()
        all_files = bool(scope)
    if not all_files and not full and not data and not verify:
        if files:
            from ratchet.commands.common import repo_relative

            changed = repo_relative(git.toplevel(here), files, here)
        else:
            changed = git.staged_paths(here)  # Repository-relative from anywhere in it.
        if not _may_matter(here, changed):
            return _print(skipped(), fmt)
    root = git.toplevel(here)
    # Judged by the configuration being committed: the index's, not an
    # unstaged edit of it.
    pyproject = decode_pyproject(git.index_file(root, "pyproject.toml"))
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
    # Gains go into the commit being made only from a hook judging a commit.
    # Not from --all or --base (nothing is being committed), nor for named files.
    hook = None
    if config.record_gains and not (all_files or files):
        from ratchet.commands.record import running_hook

        hook = running_hook()
    report = judge(
        root,
        config,
        data=data,
        full_reason=why,
        base=base,
        confirm=confirm,
        verify=verify,
        record=hook,
        propose=propose,
    )
    code = _print(report, fmt)
    # Kept to the process's end, which frees nothing (ratchet.cli._exit_now):
    # freeing a report on 20,000 files here took 30 ms of the hook's time.
    _KEPT[:] = [report]
    if summary is not None:
        from ratchet.output import render

        with open(summary, "a", encoding="utf-8") as out:
            out.write(render(report, "markdown"))
    if report.mismatches:
        for line in report.mismatches:
            sys.stderr.write(f"ratchet: {line}\n")
        sys.stderr.write(
            f"ratchet: error: the selection's numbers differ from the full run's in "
            f"{len(report.mismatches)} file(s): a bug in ratchet; the verdict above is "
            "the full run's (please report it, with `ratchet check --verify` output)\n"
        )
        return TEST_RUN_FAILED
    return code


_KEPT: list[Report] = []  # The last report made (one: a caller in process runs many).


def _print(report: Report, fmt: str) -> int:
    from ratchet.output import render

    sys.stdout.write(render(report, fmt))
    return PASSED if report.passed else BLOCKED


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
    pyproject = decode_pyproject(git.index_file(here, "pyproject.toml"))
    return any_relevant(changed, tool_section(pyproject))


def judge(
    root: Path,
    config: Config,
    *,
    data: Sequence[str] = (),
    full_reason: str = "",
    base: str | None = None,
    confirm: bool = False,
    verify: bool = False,
    record: Hook | None = None,
    propose: str | None = None,
) -> Report:
    """The report on the commit being made (or, with ``base``, on the branch);
    with ``record``, a passing one's gains are written into the commit."""
    from ratchet import measure
    from ratchet.workspace import for_commit

    gathered: list[Change] = []

    def gather_once() -> None:
        if not gathered:
            # Imported here: while the tests run, not on the way to starting them.
            from ratchet.change import gather
            from ratchet.invocation import amending

            gathered.append(gather(root, config, base, amending=base is None and amending()))

    # A selected run's measurement keeps the map's results for most files:
    # they are judged while the tests run, once both they and the change are
    # known; after it, only the files it measured are judged again.
    kept: list[Mapping[str, FileResult]] = []
    ahead: list[Judged] = []

    def judge_ahead() -> None:
        if gathered and kept and not ahead:
            from ratchet.verdicts import judged

            change = gathered[0]
            ahead.append(
                judged(change.judge_against, kept[0], change.exists, config.policy, change.renamed)
            )

    def meanwhile() -> None:
        gather_once()
        judge_ahead()

    def on_kept(results: Mapping[str, FileResult]) -> None:
        kept.append(results)
        judge_ahead()

    if data:
        gather_once()
        change = gathered[0]
        notes = list(change.notes)
        measurement = measure.given(root, config, data)
        verdicts = _verdicts(change, measurement)
    else:
        with for_commit(root, config) as ws:
            # What git says about the commit is read while the tests run (an
            # error there stops them), or after, when no test process ran.
            measurement = measure.run(
                ws, select=True, full_reason=full_reason, meanwhile=meanwhile, on_kept=on_kept
            )
            gather_once()
            change = gathered[0]
            notes = list(change.notes)
            if ws.left_out:
                notes.append(
                    f"measured the staged content; {ws.left_out} unstaged or untracked "
                    "file(s) left out"
                )
            notes += _version_skew(ws.probe.ratchet_version)
            mismatches: tuple[str, ...] = ()
            if verify:
                selected = measurement
                measurement = measure.run(ws, full_reason="--verify: the whole suite to compare")
                mismatches = _differences(selected, measurement)
                notes.append(
                    f"--verify: the selection ({selected.mode.value}: {selected.why}) and "
                    f"the full run {'differ' if mismatches else 'agree on every file'}"
                )
            verdicts = _verdicts(change, measurement, ahead[0] if ahead else None)
            from ratchet.verdicts import confirmed, worse

            if confirm and worse(verdicts):
                again = measure.rerun(ws, worse(verdicts), measurement.tests_run)
                verdicts = confirmed(verdicts, again, config.policy)
        report = _report(root, change, measurement, verdicts, notes)
        if record is not None and base is None and report.passed:
            from ratchet.commands.record import record_gains

            written, said = record_gains(root, config, change, measurement, verdicts, record)
            report = report._replace(recorded=said, gains_written=written)
        if propose is not None:
            report = report._replace(
                notes=(*report.notes, _propose(root, config, change, measurement, propose))
            )
        return report._replace(mismatches=mismatches)
    return _report(root, change, measurement, verdicts, notes)


def _propose(
    root: Path, config: Config, change: Change, measurement: Measurement, target: str
) -> str:
    """Write what ``ratchet update`` would write from this run to ``target``."""
    from ratchet.baseline import write_atomic
    from ratchet.commands.record import raised_baseline

    raised = raised_baseline(config, change, measurement, git.index_file(root, config.baseline))
    if raised is None:
        return "nothing to propose: `ratchet update` would change no entry"
    text, count = raised
    write_atomic(Path(target), text)
    return f"wrote the proposed baseline ({count} file(s) raised or added) to {target}"


def _version_skew(theirs: str) -> list[str]:
    """The hook and the ``ratchet`` command users run by hand should be one version."""
    from ratchet import __version__

    if not theirs or theirs == __version__:
        return []
    return [
        f"this check is ratchet {__version__}, the project's environment has ratchet "
        f"{theirs}: install both from the same revision (the hook's `rev:`)"
    ]


def _differences(selected: Measurement, full: Measurement) -> tuple[str, ...]:
    """Every file whose numbers the selection got other than the full run."""
    out = []
    for path in sorted(selected.files.keys() | full.files.keys()):
        a, b = selected.files.get(path), full.files.get(path)
        if a is None or b is None or a.numbers != b.numbers:
            out.append(f"{path}: selected {_shown(a)}, full {_shown(b)}")
    return tuple(out)


def _shown(result: FileResult | None) -> str:
    if result is None:
        return "not measured"
    n = result.numbers
    return f"{n.covered}/{n.statements} statements, {n.covered_branches}/{n.branches} branches"


def _verdicts(
    change: Change, measurement: Measurement, earlier: Judged | None = None
) -> tuple[FileVerdict, ...]:
    from ratchet.commands.common import ensure_same_mode
    from ratchet.nodata import refuse_empty
    from ratchet.verdicts import judge_files

    config = change.config
    refuse_empty(measurement, change.baseline, change.exists)
    ensure_same_mode(change.baseline, measurement, config.baseline)
    return judge_files(
        change.judge_against,
        measurement,
        change.exists,
        config.policy,
        change.renamed,
        earlier=earlier,
    )


def _report(
    root: Path,
    change: Change,
    measurement: Measurement,
    verdicts: tuple[FileVerdict, ...],
    notes: list[str],
) -> Report:
    """The verdicts explained, the guard's problems, and what to say besides."""
    from ratchet import lastrun
    from ratchet.commands.common import measurement_notes, version_note
    from ratchet.guard import guard
    from ratchet.numbers import display_percent
    from ratchet.verdicts import explained

    config, baseline, reference = change.config, change.baseline, change.reference
    notes += [n for n in [version_note(baseline, measurement)] if n]
    notes += measurement_notes(measurement)
    problems = list(change.problems)
    if reference is not None and reference != baseline:
        problems += guard(reference, baseline, change.exists, config.policy, change.renamed)
        if reference.branch != baseline.branch:
            notes.append("the baseline changed branch mode; entries were not compared to HEAD")
    if any(v.outcome.blocking for v in verdicts):
        head_missing = lastrun.missing_at_head(root, config)

        def explain(
            path: str, missing: Sequence[int], old: str | None
        ) -> tuple[set[int], set[int] | None]:
            return lastrun.newly_uncovered(root, path, missing, head_missing, old)

        verdicts = explained(verdicts, change.exists, explain)
    if measurement.judged is None:  # A selected run has lines of some files only.
        lastrun.record(root, config, measurement)
    return Report(
        measurement.mode,
        verdicts,
        tuple(problems),
        measurement.how,
        measurement.branch,
        tuple(notes),
        measurement.why,
        measurement.tests_run,
        config.baseline,
        display_percent(config.policy.new_file_minimum),
    )
