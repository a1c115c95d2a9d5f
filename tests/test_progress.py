"""``report``, ``plan`` and ``history``: golden outputs, promotion and the trend.

Golden files live in ``tests/golden/``.  After an intended change of output,
regenerate them and review the diff:

    RATCHET_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_progress.py
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from ratchet import errors
from ratchet import progress_output as out
from ratchet.baseline import Baseline, Entry, dumps, loads
from ratchet.history import read_history
from ratchet.numbers import Numbers
from ratchet.progress import plan, tier_report
from testing.project import Project

GOLDEN = Path(__file__).parent / "golden"
FIFTY = Fraction(50)


def tiered(tier: str, start: Numbers, now: Numbers) -> Entry:
    return Entry(now, tier, FIFTY, start)


# Shaped like the seeds' Tier 1 push: one file above target when it joined,
# one in progress, one that met its target; a Tier 2 file; quick wins.
BASELINE = Baseline(
    "7.17.3",
    False,
    {
        "core/models.py": tiered("Tier 1", Numbers(2439, 2401), Numbers(2439, 2401)),
        "core/workflow_engine.py": tiered("Tier 1", Numbers(1163, 169), Numbers(1163, 400)),
        "core/workflow_debugger.py": tiered("Tier 1", Numbers(527, 62), Numbers(527, 264)),
        "api/byok_endpoints.py": tiered("Tier 2", Numbers(498, 100), Numbers(498, 100)),
        "util/zero.py": Entry(Numbers(212, 0)),
        "util/small zero.py": Entry(Numbers(50, 0)),  # Too small to be a quick win.
        "util/done.py": Entry(Numbers(300, 280)),
    },
    overall_target=Fraction(70),
    overall_start=Numbers(5189, 3012),
)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("RATCHET_REGENERATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs; see this module's docstring"


def test_report_text_markdown_json_and_colour() -> None:
    report = tier_report(BASELINE)
    golden("report.txt", out.render_report_text(report))
    golden("report-colour.txt", out.render_report_text(report, colour=True))
    golden("report.md", out.render_report_markdown(report))
    golden("report.json", out.render_report_json(report))


def test_report_numbers() -> None:
    tier1 = tier_report(BASELINE).tiers[0]
    engine = next(r for r in tier1.rows if r.path == "core/workflow_engine.py")
    # ceil(50% of 1163) = 582 to reach: 413 to go at the start, 182 now.
    assert (engine.start_gap, engine.gap, engine.progress) == (413, 182, Fraction(231, 413))
    assert [r.status for r in tier1.rows] == [
        "above target when it joined",
        "met",
        "in progress",
    ]
    doc = json.loads(out.render_report_json(tier_report(BASELINE)))
    assert doc["format"] == 1
    assert doc["overall"]["current"]["covered"] == 3445


def test_plan_ranks_by_gain_with_totals() -> None:
    everything = plan(BASELINE)
    assert [c.path for c in everything.candidates] == [
        "core/workflow_engine.py",
        "api/byok_endpoints.py",
        "util/zero.py",
    ]
    # 182 + 149 + 106 statements of 5189: +8.42 pp, 66.39% -> 74.81%.
    assert everything.to_cover == 437
    assert everything.gain == Fraction(100 * 437, 5189)
    golden("plan.txt", out.render_plan_text(everything))
    golden("plan.md", out.render_plan_markdown(everything))
    golden("plan.json", out.render_plan_json(everything))
    only = plan(BASELINE, kinds=["tier 1", "ZERO COVERAGE"], limit=1)
    assert [c.path for c in only.candidates] == ["core/workflow_engine.py"]
    assert only.left_out == 1
    golden("plan-limited.txt", out.render_plan_text(only))


def test_colour_only_on_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert out.use_colour(Terminal())
    assert not out.use_colour(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not out.use_colour(Terminal())


def commit_at(p: Project, when: str, baseline: Baseline) -> None:
    p.write("coverage-baseline.toml", dumps(baseline))
    p.git("add", "-A")
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(
        ["git", "commit", "-q", "--no-verify", "-m", when],
        cwd=p.root,
        env=env,
        check=True,
    )


def with_engine(covered: int) -> Baseline:
    files = dict(BASELINE.files)
    files["core/workflow_engine.py"] = tiered("Tier 1", Numbers(1163, 169), Numbers(1163, covered))
    return Baseline("7.17.3", False, files, BASELINE.overall_target, BASELINE.overall_start)


@pytest.fixture
def trend(project: Project) -> Project:
    """Three baselines two weeks apart, and one unreadable in between."""
    commit_at(project, "2026-01-01T12:00:00+00:00", with_engine(169))
    commit_at(project, "2026-01-15T12:00:00+00:00", with_engine(300))
    project.write("coverage-baseline.toml", "not [valid")
    project.git("add", "-A")
    project.git("commit", "-q", "--no-verify", "-m", "broken")
    commit_at(project, "2026-01-29T12:00:00+00:00", with_engine(400))
    return project


def test_history_velocity_projection_and_chart(trend: Project) -> None:
    history = read_history(trend.root, "coverage-baseline.toml", window_days=28)
    assert len(history.points) == 3
    assert history.skipped == 1
    # 231 more covered of 5189 over four weeks.
    assert history.velocity == Fraction(100 * 231, 5189) / 4
    last = history.points[-1].percent
    weeks = (Fraction(70) - last) / history.velocity
    expected = (history.points[-1].when + dt.timedelta(weeks=float(weeks))).date()
    assert history.projected == expected == dt.date(2026, 2, 21)
    short = [p.commit for p in history.points]
    text = out.render_history_text(history)
    json_text = out.render_history_json(history)
    # Commit ids differ per run: golden files hold them as placeholders.
    for n, commit in enumerate(short):
        text = text.replace(commit, f"commit{n}")
        json_text = json_text.replace(commit, f"commit{n}")
    golden("history.txt", text)
    golden("history.json", json_text)
    from ratchet.chart import render_svg

    golden("history.svg", render_svg(history))


def test_history_command_writes_the_svg(trend: Project) -> None:
    result = trend.ratchet("history", "--svg", "trend.svg", "--window", "14")
    assert result.code == errors.PASSED, result.err
    assert "projected for" in result.out
    svg = (trend.root / "trend.svg").read_text()
    assert svg.startswith("<svg")
    assert "overall target 70.00%" in svg
    assert trend.ratchet("history", "--window", "0").code == errors.USAGE


def test_promote_raises_ambition_and_the_guard_accepts_it(baselined: Project) -> None:
    result = baselined.ratchet("plan", "--promote", "pkg/mod.py", "--target", "80")
    assert result.code == errors.PASSED, result.err
    assert "pkg/mod.py: Tier 1, target 80.00%, 2 still to cover" in result.out
    entry = loads(baselined.read("coverage-baseline.toml")).files["pkg/mod.py"]
    assert (entry.tier, entry.target, entry.start) == ("Tier 1", Fraction(80), Numbers(8, 5))
    baselined.git("add", "-A")
    assert baselined.ratchet("check").code == errors.PASSED
    baselined.commit("promote")
    report = baselined.ratchet("report", "--format", "json")
    assert json.loads(report.out)["tiers"][0]["files"][0]["gap"] == 2
    # Never a way down: a lower target is refused, and nothing is written.
    before = baselined.read("coverage-baseline.toml")
    lower = baselined.ratchet("plan", "--promote", "pkg/mod.py", "--target", "60")
    assert lower.code == errors.USAGE
    assert "would lower it" in lower.err
    assert baselined.read("coverage-baseline.toml") == before
    unknown = baselined.ratchet("plan", "--promote", "pkg/none.py")
    assert unknown.code == errors.USAGE
    no_tier = baselined.ratchet("plan", "--promote", "pkg/mod.py", "--tier", "Tier 9")
    assert no_tier.code == errors.USAGE
    assert "no such tier" in no_tier.err
    # Hand-lowering the promoted target is what the guard refuses.
    baselined.stage("coverage-baseline.toml", before.replace("target = 80", "target = 60"))
    assert baselined.ratchet("check").code == errors.BLOCKED


def test_report_measure_shows_fresh_numbers_without_writing(baselined: Project) -> None:
    before = baselined.read("coverage-baseline.toml")
    baselined.write("tests/test_mod.py", "import pkg.mod\n\n\ndef test_nothing():\n    pass\n")
    result = baselined.ratchet("report", "--measure", "--format", "json")
    assert result.code == errors.PASSED, result.err
    assert json.loads(result.out)["overall"]["current"]["covered"] == 3  # The def lines.
    assert baselined.read("coverage-baseline.toml") == before
    plain = baselined.ratchet("plan")
    assert "No candidates" in plain.out


def test_blobs_reads_many_specs_in_one_call(baselined: Project) -> None:
    from ratchet import git

    specs = ["HEAD:coverage-baseline.toml", "HEAD:no/such.py", "HEAD:pkg", "HEAD:pkg/mod.py"]
    found = git.blobs(baselined.root, specs)
    assert found[0] == (baselined.root / "coverage-baseline.toml").read_bytes()
    assert found[1:3] == [None, None]  # Missing, and a tree rather than a file.
    assert found[3] == (baselined.root / "pkg/mod.py").read_bytes()
    assert git.blobs(baselined.root, []) == []


def test_the_chart_labels_a_date_once_and_never_on_top_of_another() -> None:
    import datetime as dt
    from fractions import Fraction

    from ratchet.chart import render_svg
    from ratchet.history import History, Point

    day = dt.datetime(2026, 3, 1, 9, tzinfo=dt.timezone.utc)
    same_day = [
        Point(day + dt.timedelta(hours=h), f"c{h}", Fraction(50 + h), {}) for h in (0, 1, 2)
    ]
    later = Point(day + dt.timedelta(days=30), "c9", Fraction(60), {})
    points = (*same_day, later)
    svg = render_svg(History(points, None, 28, None, None, 0))
    assert svg.count(">2026-03-01</text>") == 1
    assert svg.count(">2026-03-31</text>") == 1
