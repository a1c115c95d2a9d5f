"""CI: ``check --all --base REF`` and the github and markdown formats."""

from __future__ import annotations

from ratchet import errors
from testing.project import TESTS, Project

DROPPING = TESTS.replace("def test_sub", "def _not_a_test")


def lower_baseline_by_hand(p: Project) -> None:
    """What a --no-verify commit can do: edit the numbers down, no reason given."""
    text = p.read("coverage-baseline.toml").replace("covered = 5", "covered = 4")
    assert text != p.read("coverage-baseline.toml")
    p.write("coverage-baseline.toml", text)


def test_base_catches_a_drop_committed_with_a_lowered_baseline(baselined: Project) -> None:
    baselined.git("checkout", "-q", "-b", "feature")
    baselined.write("tests/test_mod.py", DROPPING)
    lower_baseline_by_hand(baselined)
    baselined.commit("drop, --no-verify")
    # Against the branch's own (lowered) baseline the drop looks fine.
    assert baselined.ratchet("check", "--all").code == errors.PASSED
    result = baselined.ratchet("check", "--all", "--base", "main")
    assert result.code == errors.BLOCKED, result.out
    assert "pkg/mod.py: 62.50% -> 50.00%" in result.out


def test_base_without_a_baseline_there_is_a_clear_error(baselined: Project) -> None:
    first = baselined.git("rev-list", "--max-parents=0", "HEAD").strip()
    result = baselined.ratchet("check", "--base", first)
    assert result.code == errors.USAGE
    assert "no coverage-baseline.toml at the merge base" in result.err


def test_github_format_annotates_the_refused_file(baselined: Project) -> None:
    baselined.stage("tests/test_mod.py", DROPPING)
    result = baselined.ratchet("check", "--format", "github")
    assert result.code == errors.BLOCKED
    lines = result.out.splitlines()
    error = next(x for x in lines if x.startswith("::error "))
    # The body of sub() (line 6) is no longer covered; % is escaped as GitHub requires.
    assert error.startswith("::error file=pkg/mod.py,line=6,title=coverage-ratchet::")
    assert "62.50%25 -> 50.00%25: a file's coverage may not drop" in error
    assert lines[-1] == "::notice title=coverage-ratchet::BLOCKED; 0 file(s) gained"


def test_markdown_format_is_a_summary_table(baselined: Project) -> None:
    baselined.stage("tests/test_mod.py", DROPPING)
    result = baselined.ratchet("check", "--format", "markdown")
    assert result.code == errors.BLOCKED
    assert result.out.startswith("### coverage-ratchet: **blocked**\n")
    assert "| `pkg/mod.py` | 62.50% | 50.00% | ❌ dropped |" in result.out
