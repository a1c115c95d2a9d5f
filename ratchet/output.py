"""How ``check`` says what it found, in every format, for every way it ends.

One renderer per format in :data:`RENDERERS`, each a function of a
:class:`~ratchet.report.Report`: ``text`` for people, ``json`` for tools,
``github`` workflow commands, ``markdown`` for a job summary.  The hook's
skip path prints through them too, so a report of nothing is rendered
before anything heavier than the report itself is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import repeat
from operator import attrgetter, is_not
from typing import TYPE_CHECKING, Any

from ratchet.report import Report, RunMode

if TYPE_CHECKING:
    from ratchet.numbers import Numbers
    from ratchet.verdicts import FileVerdict

JSON_FORMAT = 1
MAX_RANGES = 20


def line_ranges(lines: Iterable[int], limit: int = MAX_RANGES) -> str:
    """``[3, 5, 6, 7, 9]`` as ``"3, 5-7, 9"``; at most ``limit`` ranges."""
    ranges: list[list[int]] = []
    for n in sorted(set(lines)):
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in ranges[:limit]]
    if len(ranges) > limit:
        parts.append(f"... ({len(ranges) - limit} more)")
    return ", ".join(parts)


def render(report: Report, fmt: str) -> str:
    """``report`` in ``fmt``, made safe to print."""
    from ratchet.printable import safe_lines

    return safe_lines(RENDERERS[fmt](report))


def counts(n: Numbers, branch: bool) -> str:
    text = f"{n.covered}/{n.statements} statements"
    if branch:
        text += f", {n.covered_branches}/{n.branches} branches"
    return text


def _rule(outcome: Any) -> str:
    from ratchet.rules import Outcome

    return {
        Outcome.DROPPED: "a file's coverage may not drop",
        Outcome.GAP_GREW: (
            "a tiered file may not move further from its target: new code in it must be "
            "covered at least at the target rate"
        ),
        Outcome.BELOW_NEW_FILE_MINIMUM: "a new file must meet new-file-minimum",
        Outcome.UNMEASURED: "a file in the baseline must still be measured",
    }[outcome]


def render_text(report: Report) -> str:
    if report.mode is RunMode.SKIPPED:
        return f"ratchet: {report.why}; skipped\n"
    from ratchet.printable import safe
    from ratchet.rules import Outcome

    out: list[str] = []
    # One pass over the verdicts (one per file of the baseline, 20,000 and
    # more), most of them SAME; the lists keep the verdicts' order.
    verdicts = report.verdicts
    same = Outcome.SAME
    outcomes = map(attrgetter("outcome"), verdicts)
    listed = [verdicts[i] for i, o in enumerate(outcomes) if o is not same]
    blocked = [v for v in listed if v.outcome.blocking]
    gains = [v for v in listed if v.outcome is Outcome.GAIN]
    new = [v for v in listed if v.outcome is Outcome.NEW]
    drops = [v for v in listed if v.outcome is Outcome.DELETION_DROP]
    deleted = [v for v in listed if v.outcome is Outcome.DELETED]
    flaky = [v for v in listed if v.outcome is Outcome.FLAKY]
    measured = sum(map(is_not, map(attrgetter("current"), verdicts), repeat(None)))
    if report.mode is RunMode.SELECTED:
        out.append(f"ratchet: selected run: {report.why}; measured with {report.how}\n")
    else:
        run = "full run" if report.mode is RunMode.FULL else "given data"
        why = f" ({report.why})" if report.why else ""
        out.append(f"ratchet: {run}{why}, {measured} files measured with {report.how}\n")
    for note in report.notes:
        out.append(f"ratchet: note: {safe(note)}\n")
    for v in blocked:
        out.append(_refusal(v, report))
    if flaky:
        out.append(
            f"\n  flaky, not judged: worse in one run, not in an identical one ({len(flaky)}):\n"
        )
        for v in flaky:
            out.append(f"    {v.name}: baseline {_baseline_display(v)}; runs: {_runs(v)}\n")
        out.append("    next: make the tests of these files deterministic\n")
    if report.guard:
        out.append(f"\n  {safe(report.baseline)} was edited in a way the guard refuses:\n")
        for p in report.guard:
            out.append(f"    {safe(p.path) + ': ' if p.path else ''}{safe(p.message)}\n")
        out.append(
            "    next: restore it (`git checkout HEAD -- "
            f"{_shell(report.baseline)}`) and raise it with `ratchet update`\n"
        )
    if drops:
        out.append(f"\n  accepted, only covered statements were deleted ({len(drops)}):\n")
        for v in drops:
            out.append(f"    {v.name}: {_move(v)}\n")
    if gains:
        record = "recorded below" if report.gains_written else "record with `ratchet update`"
        out.append(f"\n  {len(gains)} file(s) gained coverage; {record}:\n")
        for v in gains[:MAX_RANGES]:
            out.append(f"    {v.name}: {_move(v)}{_target_met(v)}\n")
        if len(gains) > MAX_RANGES:
            out.append(f"    ... and {len(gains) - MAX_RANGES} more\n")
    if new:
        record = "recorded below" if report.gains_written else "to be recorded by `ratchet update`"
        out.append(f"\n  {len(new)} new file(s), {record}:\n")
        for v in new[:MAX_RANGES]:
            assert v.current is not None
            out.append(f"    {safe(v.path)}: {v.current.numbers.display()}\n")
        if len(new) > MAX_RANGES:
            out.append(f"    ... and {len(new) - MAX_RANGES} more\n")
    if deleted:
        out.append(f"\n  {len(deleted)} deleted file(s); `ratchet update` drops their entries\n")
    if report.passed:
        said = f"ratchet: {safe(report.recorded)}\n" if report.recorded else ""
        out.append(
            f"{said}ratchet: passed\n" if not (gains or new) else f"\n{said}ratchet: passed\n"
        )
    else:
        what = []
        if blocked:
            what.append(f"{len(blocked)} file(s) got worse")
        if report.guard:
            what.append("the baseline edit was refused")
        out.append(f"\nratchet: BLOCKED: {' and '.join(what)}\n")
    return "".join(out)


def _shell(path: str) -> str:
    """``path`` as a shell word the user can paste."""
    import shlex

    from ratchet.printable import safe

    return safe(shlex.quote(path))


def _baseline_display(v: FileVerdict) -> str:
    return v.entry.numbers.display() if v.entry else "none (a new file)"


def _runs(v: FileVerdict) -> str:
    shown = [n.display() for n in v.runs]
    if len(v.runs) < 2:
        shown.append("not measured")
    return ", then ".join(shown)


def _confirmation(v: FileVerdict) -> list[str]:
    """What ``--confirm``'s second run said about a refused file."""
    if not v.runs:
        return []
    if len(v.runs) == 2 and v.runs[0] == v.runs[1]:
        return ["    confirmed: a second, identical run gave the same numbers"]
    return [f"    its numbers differ between identical runs ({_runs(v)}); worse in both"]


def _target_met(v: FileVerdict) -> str:
    """A note when this change makes a tiered file reach its target."""
    from ratchet.numbers import display_percent
    from ratchet.printable import safe

    entry, current = v.entry, v.current
    assert entry is not None  # A gain has both a baseline entry
    assert current is not None  # and a measurement.
    if entry.target is None:
        return ""
    if entry.numbers.gap(entry.target) > 0 and current.numbers.gap(entry.target) == 0:
        return f"  ({safe(entry.tier or '')} target {display_percent(entry.target)} met)"
    return ""


def _move(v: FileVerdict) -> str:
    assert v.entry is not None
    assert v.current is not None
    return f"{v.entry.numbers.display()} -> {v.current.numbers.display()}"


def _refusal(v: FileVerdict, report: Report) -> str:
    from ratchet.numbers import display_percent
    from ratchet.printable import safe
    from ratchet.rules import Outcome

    branch = report.branch
    lines = [""]
    entry, current = v.entry, v.current
    if v.outcome is Outcome.UNMEASURED:
        assert entry is not None
        lines.append(f"  {v.name}: {entry.numbers.display()} -> not measured")
    elif entry is None:
        assert current is not None
        minimum = report.new_file_minimum
        lines.append(
            f"  {safe(v.path)}: new file at {current.numbers.display()}, minimum {minimum}"
        )
    else:
        assert current is not None
        lines.append(
            f"  {v.name}: {entry.numbers.display()} -> {current.numbers.display()}"
            f"  ({counts(entry.numbers, branch)} -> {counts(current.numbers, branch)})"
        )
        if entry.target is not None:
            before, after = entry.numbers.gap(entry.target), current.numbers.gap(entry.target)
            lines.append(
                f"    {safe(entry.tier or '')}, target {display_percent(entry.target)}: "
                f"gap {before} -> {after} still to cover"
            )
    lines.append(f"    rule: {_rule(v.outcome)}")
    lines.extend(_confirmation(v))
    if current is not None:
        lines.extend(_uncovered(v, set(current.missing_lines)))
    if v.outcome is Outcome.UNMEASURED:
        lines.append(
            "    next: make the tests import it again, or if it should no longer count:\n"
            f'      ratchet update --allow-lower {_shell(v.path)} --reason "why"'
        )
    elif entry is None:
        lines.append("    next: add tests for it, or lower new-file-minimum in [tool.ratchet]")
    else:
        lines.append(
            "    next: cover those lines with tests; to lower the baseline on purpose:\n"
            f'      ratchet update --allow-lower {_shell(v.path)} --reason "why"'
        )
    return "\n".join(lines) + "\n"


def _uncovered(v: FileVerdict, missing: set[int]) -> list[str]:
    added = f" (this commit adds {line_ranges(v.added)})" if v.added else ""
    if v.newly is not None:
        if not v.newly:
            return []
        return [f"    newly uncovered lines: {line_ranges(v.newly)}{added}"]
    lines = []
    if v.added:
        lines.append(f"    uncovered lines this commit adds: {line_ranges(v.added)}")
    others = missing - v.added
    if others:
        lines.append(
            f"    other uncovered lines: {line_ranges(others)}\n"
            "      (which of these are new is unknown: this clone has no measurement of HEAD)"
        )
    return lines


def numbers_json(n: Numbers | None) -> dict[str, Any] | None:
    if n is None:
        return None
    return {
        "statements": n.statements,
        "covered": n.covered,
        "branches": n.branches,
        "covered_branches": n.covered_branches,
        "percent": n.display(),
    }


def render_json(report: Report) -> str:
    import json

    files = []
    for v in report.verdicts:
        item: dict[str, Any] = {
            "path": v.path,
            "renamed_from": v.renamed_from,
            "verdict": v.outcome.value,
            "blocking": v.outcome.blocking,
            "baseline": numbers_json(v.entry.numbers if v.entry else None),
            "current": numbers_json(v.current.numbers if v.current else None),
        }
        if v.entry is not None and v.entry.target is not None:
            from ratchet.numbers import display_percent

            item["tier"] = v.entry.tier
            item["target"] = display_percent(v.entry.target)
            item["gap_before"] = v.entry.numbers.gap(v.entry.target)
            if v.current is not None:
                item["gap_after"] = v.current.numbers.gap(v.entry.target)
        if v.runs:
            item["runs"] = [numbers_json(n) for n in v.runs]
        if v.outcome.blocking and v.current is not None:
            item["uncovered_lines"] = sorted(v.current.missing_lines)
            item["uncovered_lines_added"] = sorted(v.added)
            item["newly_uncovered_lines"] = None if v.newly is None else sorted(v.newly)
        files.append(item)
    doc = {
        "format": JSON_FORMAT,
        "passed": report.passed,
        "mode": report.mode.value,
        "why": report.why,
        "tests_run": None if report.tests_run is None else list(report.tests_run),
        "measured_with": report.how,
        "notes": list(report.notes),
        "files": files,
        "guard": [{"path": p.path, "problem": p.message} for p in report.guard],
        "recorded": report.recorded or None,
    }
    return json.dumps(doc, indent=2) + "\n"


# -- CI formats -------------------------------------------------------------------


def _escape_data(text: str) -> str:
    """GitHub workflow-command data: %, CR and LF are escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _summary(v: FileVerdict) -> str:
    now = v.current.numbers.display() if v.current else "not measured"
    return f"new file at {now}" if v.entry is None else f"{v.entry.numbers.display()} -> {now}"


def render_github(report: Report) -> str:
    """GitHub Actions workflow commands: one annotation per refused file or edit."""
    if report.mode is RunMode.SKIPPED:
        return f"::notice title=coverage-ratchet::passed; {_escape_data(report.why)}\n"
    from ratchet.rules import Outcome

    out = []
    for v in report.verdicts:
        if not v.outcome.blocking:
            continue
        lines = sorted(v.newly or v.added or (v.current.missing_lines if v.current else []))
        where = f"file={_escape_property(v.path)}"
        if lines:
            where += f",line={lines[0]}"
        if len(lines) > 1 and lines[-1] - lines[0] < 50:  # A span, not the whole file.
            where += f",endLine={lines[-1]}"
        message = f"{_summary(v)}: {_rule(v.outcome)}"
        if lines:
            message += f"; uncovered lines: {line_ranges(lines)}"
        out.append(f"::error {where},title=coverage-ratchet::{_escape_data(message)}\n")
    for v in report.verdicts:
        if v.outcome is Outcome.FLAKY:
            message = f"flaky, not judged: baseline {_baseline_display(v)}; runs: {_runs(v)}"
            where = f"file={_escape_property(v.path)}"
            out.append(f"::warning {where},title=coverage-ratchet::{_escape_data(message)}\n")
    for problem in report.guard:
        where = f"file={_escape_property(problem.path)}," if problem.path else ""
        out.append(f"::error {where}title=coverage-ratchet::{_escape_data(problem.message)}\n")
    verdict = "passed" if report.passed else "BLOCKED"
    gains = sum(1 for v in report.verdicts if v.outcome is Outcome.GAIN)
    out.append(f"::notice title=coverage-ratchet::{verdict}; {gains} file(s) gained\n")
    return "".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    """A summary for ``$GITHUB_STEP_SUMMARY`` or a pull-request comment."""
    verdict = "passed" if report.passed else "**blocked**"
    out = [f"### coverage-ratchet: {verdict}\n\n"]
    if report.mode is RunMode.SKIPPED:
        out.append(f"{_cell(report.why[:1].upper() + report.why[1:])}: skipped.\n")
        return "".join(out)
    from ratchet.rules import Outcome

    if report.why:
        mode = "selected run" if report.mode is RunMode.SELECTED else f"{report.mode.value} run"
        out.append(f"{_cell(mode)}: {_cell(report.why)}\n\n")
    changed = [v for v in report.verdicts if v.outcome not in (Outcome.SAME, Outcome.EVEN)]
    if changed:
        out.append("| File | Baseline | Now | Verdict |\n| --- | --- | --- | --- |\n")
        for v in sorted(changed, key=lambda v: (not v.outcome.blocking, v.path)):
            before = v.entry.numbers.display() if v.entry else "new"
            now = v.current.numbers.display() if v.current else "not measured"
            mark = "❌ " if v.outcome.blocking else "⚠️ " if v.outcome is Outcome.FLAKY else ""
            out.append(f"| `{_cell(v.name)}` | {before} | {now} | {mark}{v.outcome.value} |\n")
    else:
        out.append("No file's coverage changed.\n")
    for problem in report.guard:
        where = f"`{_cell(problem.path)}`: " if problem.path else ""
        out.append(f"\n❌ {where}{_cell(problem.message)}\n")
    return "".join(out)


RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
    "markdown": render_markdown,
}
FORMATS = tuple(RENDERERS)
