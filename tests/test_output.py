"""What ``check`` prints, from constructed verdicts (no runs needed)."""

from __future__ import annotations

import json
from fractions import Fraction

from ratchet.baseline import Entry
from ratchet.guard import GuardProblem
from ratchet.measurement import FileResult
from ratchet.numbers import Numbers
from ratchet.output import FORMATS, counts, line_ranges, render, render_json, render_text
from ratchet.report import Report, RunMode, skipped
from ratchet.rules import Outcome
from ratchet.verdicts import FileVerdict

N = Numbers
TIERED = Entry(N(600, 60), "Tier 1", Fraction(50), N(600, 60))


def judged(
    *verdicts: FileVerdict, guard: list[GuardProblem] | None = None, minimum: str = "0.00%"
) -> Report:
    return Report(
        RunMode.FULL,
        verdicts,
        tuple(guard or ()),
        "`pytest` (1.0 s)",
        False,
        new_file_minimum=minimum,
    )


def test_line_ranges() -> None:
    assert line_ranges([9, 3, 5, 6, 7]) == "3, 5-7, 9"
    assert line_ranges(range(1, 100, 2), limit=3) == "1, 3, 5, ... (47 more)"
    assert line_ranges([]) == ""


def test_counts_name_branches_only_in_branch_mode() -> None:
    assert counts(N(10, 8, 4, 3), branch=False) == "8/10 statements"
    assert counts(N(10, 8, 4, 3), branch=True) == "8/10 statements, 3/4 branches"


def test_a_refused_unmeasured_file_says_how_to_let_it_go() -> None:
    v = FileVerdict("a.py", Outcome.UNMEASURED, Entry(N(10, 5)), None)
    out = render_text(judged(v))
    assert "  a.py: 50.00% -> not measured\n" in out
    assert "rule: a file in the baseline must still be measured" in out
    assert 'ratchet update --allow-lower a.py --reason "why"' in out
    assert out.endswith("ratchet: BLOCKED: 1 file(s) got worse\n")


def test_a_new_file_below_the_minimum() -> None:
    v = FileVerdict("new.py", Outcome.BELOW_NEW_FILE_MINIMUM, None, FileResult(N(4, 1), [2, 3, 4]))
    out = render_text(judged(v, minimum="80.00%"))
    assert "  new.py: new file at 25.00%, minimum 80.00%\n" in out
    assert "lower new-file-minimum" in out
    assert "other uncovered lines: 2-4" in out


def test_a_refusal_whose_new_lines_are_known_but_none_is_new() -> None:
    v = FileVerdict(
        "big.py", Outcome.GAP_GREW, TIERED, FileResult(N(700, 80), [1, 2]), newly=frozenset()
    )
    out = render_text(judged(v))
    assert "Tier 1, target 50.00%: gap 240 -> 270 still to cover" in out
    assert "uncovered lines" not in out


def test_guard_problems_and_the_quieter_lists() -> None:
    gains = [
        FileVerdict(f"g{i:02}.py", Outcome.GAIN, Entry(N(4, 1)), FileResult(N(4, 2)))
        for i in range(23)
    ]
    news = [FileVerdict(f"n{i:02}.py", Outcome.NEW, None, FileResult(N(1, 1))) for i in range(21)]
    drop = FileVerdict("d.py", Outcome.DELETION_DROP, Entry(N(10, 8)), FileResult(N(6, 4)))
    gone = FileVerdict("x.py", Outcome.DELETED, Entry(N(1, 1)), None)
    tier = FileVerdict("t.py", Outcome.GAIN, TIERED, FileResult(N(600, 61)))
    problem = GuardProblem("g00.py", "entry lowered")
    whole = GuardProblem(None, "overall target lowered")
    out = render_text(judged(drop, gone, tier, *gains, *news, guard=[problem, whole]))
    assert "    g00.py: entry lowered\n    overall target lowered\n" in out
    assert "git checkout HEAD -- coverage-baseline.toml" in out
    assert "accepted, only covered statements were deleted (1):\n    d.py: 80.00% -> 66.67%" in out
    assert "24 file(s) gained coverage" in out
    assert "    t.py: 10.00% -> 10.17%\n" in out  # Closer, but not at the target yet.
    assert "... and 4 more\n" in out
    assert "21 new file(s)" in out
    assert "... and 1 more\n" in out
    assert "1 deleted file(s)" in out
    assert out.endswith("ratchet: BLOCKED: the baseline edit was refused\n")


def test_json_carries_tiers_gaps_and_lines() -> None:
    v = FileVerdict(
        "big.py",
        Outcome.GAP_GREW,
        TIERED,
        FileResult(N(700, 80), [5, 6, 7]),
        added=frozenset({7}),
        newly=frozenset({6, 7}),
    )
    doc = json.loads(render_json(judged(v, guard=[GuardProblem(None, "x")])))
    (item,) = doc["files"]
    assert item["tier"] == "Tier 1"
    assert (item["gap_before"], item["gap_after"]) == (240, 270)
    assert item["uncovered_lines"] == [5, 6, 7]
    assert item["uncovered_lines_added"] == [7]
    assert item["newly_uncovered_lines"] == [6, 7]
    assert doc["guard"] == [{"path": None, "problem": "x"}]
    assert doc["passed"] is False


def test_flaky_and_twice_worse_files_in_every_format() -> None:
    from ratchet.output import render_github, render_markdown

    flaky = FileVerdict(
        "f.py", Outcome.FLAKY, Entry(N(8, 7)), FileResult(N(8, 5)), runs=(N(8, 5), N(8, 7))
    )
    # Not measured at all by the second run.
    gone = FileVerdict("g.py", Outcome.FLAKY, Entry(N(8, 7)), FileResult(N(8, 5)), runs=(N(8, 5),))
    worse = FileVerdict(
        "w.py", Outcome.DROPPED, Entry(N(8, 7)), FileResult(N(8, 5)), runs=(N(8, 5), N(8, 6))
    )
    result = judged(flaky, gone, worse)
    text = render_text(result)
    assert "    f.py: baseline 87.50%; runs: 62.50%, then 87.50%\n" in text
    assert "    g.py: baseline 87.50%; runs: 62.50%, then not measured\n" in text
    assert "its numbers differ between identical runs (62.50%, then 75.00%); worse in both" in text
    assert "ratchet: BLOCKED: 1 file(s) got worse" in text
    github = render_github(result)
    assert "::warning file=f.py,title=coverage-ratchet::flaky, not judged" in github
    assert "::error file=w.py" in github
    markdown = render_markdown(result)
    assert "| `f.py` | 87.50% | 62.50% | ⚠️ flaky |" in markdown
    doc = json.loads(render_json(result))
    assert [len(f["runs"]) for f in doc["files"]] == [2, 1, 2]
    assert doc["passed"] is False


def test_a_skipped_check_is_rendered_by_every_format() -> None:
    """The skip path prints through the same renderers, with the same fields."""
    report = skipped()
    outputs = {fmt: render(report, fmt) for fmt in FORMATS}
    assert outputs["text"] == "ratchet: nothing staged can change coverage; skipped\n"
    doc = json.loads(outputs["json"])
    assert doc == {
        "format": 1,
        "passed": True,
        "mode": "skipped",
        "why": "nothing staged can change coverage",
        "tests_run": [],
        "measured_with": "",
        "notes": [],
        "files": [],
        "guard": [],
        "recorded": None,
    }
    assert outputs["github"] == (
        "::notice title=coverage-ratchet::passed; nothing staged can change coverage\n"
    )
    assert outputs["markdown"] == (
        "### coverage-ratchet: passed\n\nNothing staged can change coverage: skipped.\n"
    )


def test_every_report_is_printed_safely() -> None:
    v = FileVerdict("a\u202eb.py", Outcome.NEW, None, FileResult(N(1, 1)))
    for fmt in FORMATS:
        assert "\u202e" not in render(judged(v), fmt), fmt
