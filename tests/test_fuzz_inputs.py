"""Fuzzing the readers of what users write: the baseline and ``[tool.ratchet]``.

Any input either loads or is refused with one line that names the file, the
line where it is known, and the problem; never a traceback.  The strategies
(``testing.strategies``) are also driven by ``benchmarks/soak_inputs.py``
for many more examples.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet import errors
from ratchet.baseline import MAX_COUNT, Baseline, Entry, dumps, loads, quote
from ratchet.measurement import _line_numbers
from ratchet.numbers import Numbers
from testing.project import Project
from testing.strategies import (
    bad_path,
    baseline_inputs,
    baselines,
    config_inputs,
    data_inputs,
    judge_baseline,
    judge_config,
    judge_data,
    odd_path,
)


@given(baseline_inputs())
@settings(max_examples=400)
def test_a_damaged_baseline_loads_or_is_refused_in_one_line(text: str) -> None:
    judge_baseline(text)


@given(baselines(), odd_path)
@settings(max_examples=100)
def test_odd_but_clean_paths_round_trip(baseline: Baseline, path: str) -> None:
    baseline = replace(baseline, files={**baseline.files, path: Entry(numbers_for(baseline))})
    assert loads(dumps(baseline)) == baseline


def numbers_for(baseline: Baseline) -> Numbers:
    return Numbers(5, 3, 2, 1) if baseline.branch else Numbers(5, 3)


@given(bad_path)
def test_a_path_that_could_leave_the_repository_is_refused_at_its_line(path: str) -> None:
    text = dumps(Baseline("7.17.3", False, {"a.py": Entry(numbers_for(Baseline("", False)))}))
    text += f"\n[files.{quote(path)}]\nstatements = 1\ncovered = 1\n"
    message = judge_baseline(text)
    assert isinstance(message, str)
    line = text.count("\n", 0, text.index(f"[files.{quote(path)}]")) + 1
    assert message.startswith(f"coverage-baseline.toml:{line}: files.{quote(path)}: path ")


@pytest.mark.parametrize(
    ("edit", "line", "problem"),
    [
        (
            ("format = 1", "format = 7"),
            3,
            "format 7 is newer than this coverage-ratchet reads (1); upgrade coverage-ratchet",
        ),
        (("covered = 2", "covered = -2"), 11, "must not be negative (-2)"),
        (("covered = 2", "covered = 9"), 11, "9 is more than statements (4)"),
        (("covered = 2", 'covered = "2"'), 11, "must be a whole number, not '2'"),
        (("statements = 4\n", ""), 9, "statements: missing"),
    ],
)
def test_each_problem_names_its_line(edit: tuple[str, str], line: int, problem: str) -> None:
    text = dumps(Baseline("7.17.3", False, {"a.py": Entry(numbers_for(Baseline("", False)))}))
    text = text.replace("covered = 3  # 60.00%", "covered = 2").replace(
        "statements = 5", "statements = 4"
    )
    message = judge_baseline(text.replace(*edit))
    assert isinstance(message, str)
    assert message.startswith(f"coverage-baseline.toml:{line}: ")
    assert problem in message


# -- [tool.ratchet] ---------------------------------------------------------------


@given(config_inputs())
@settings(max_examples=300)
def test_any_configuration_loads_or_is_refused_in_one_line(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    judge_config(tmp_path_factory.mktemp("config"), text)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[tool.ratchet]\nselect = true\ntest-timeout = -5\n", 3),
        ("[tool.ratchet]\n\n\ncolour = 'red'\n", 4),
        (
            "[tool.ratchet]\n[[tool.ratchet.tiers]]\nname = 'A'\ntarget = 5\n"
            "[[tool.ratchet.tiers]]\nname = 'B'\ntarget = 500\n",
            7,
        ),
        ("[tool.ratchet]\nbaseline = '../elsewhere.toml'\n", 2),
        ("[tool.ratchet]\nselect = tru\n", 2),
    ],
)
def test_configuration_problems_name_their_line(tmp_path: Path, text: str, line: int) -> None:
    message = judge_config(tmp_path, text)
    assert isinstance(message, str)
    assert message.startswith(f"pyproject.toml:{line}: ")


# -- through the command line: exit 2, nothing written -------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        lambda t: t[: len(t) // 2],
        lambda t: t.replace("format = 1", "format = 2"),
        lambda t: t.replace('[files."pkg/mod.py"]', '[files."../pkg/mod.py"]'),
        lambda t: t + '\n[files."pkg/mod.py"]\nstatements = 1\ncovered = 1\n',
        lambda t: t.replace("covered = 5", "covered = 50"),
    ],
    ids=["truncated", "newer format", "outside the repository", "duplicate table", "over"],
)
@pytest.mark.parametrize(
    "command", [("check",), ("update",), ("report",), ("plan", "--promote", "pkg/mod.py")]
)
def test_a_damaged_baseline_stops_every_command_and_nothing_is_written(
    baselined: Project, damage: object, command: tuple[str, ...]
) -> None:
    assert callable(damage)
    damaged = damage(baselined.read("coverage-baseline.toml"))
    # Staged, so that check (which reads the index) sees it too.
    baselined.stage("coverage-baseline.toml", damaged)
    before = _state(baselined)
    result = baselined.ratchet(*command)
    assert result.code == errors.USAGE
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ratchet: error: coverage-baseline.toml:"), lines
    assert _state(baselined) == before


def _state(project: Project) -> tuple[str, str, str]:
    """The baseline's bytes, the working tree's status and the staged content."""
    status = project.git("status", "--porcelain", "-uall")
    return project.read("coverage-baseline.toml"), status, project.git("ls-files", "-s")


# -- coverage.py JSON reports given with --data --------------------------------------


@given(data_inputs())
@settings(max_examples=300)
def test_any_data_report_loads_or_is_refused_in_one_line(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    judge_data(tmp_path_factory.mktemp("data"), text)


_VALUE = (
    st.integers(-2, 2**64)
    | st.integers(1, 300)
    | st.booleans()
    | st.floats(allow_nan=True)
    | st.text(max_size=2)
    | st.none()
    | st.lists(st.integers(), max_size=1)
    | st.just(10**400)
)


@settings(max_examples=1000)
@given(st.lists(_VALUE, max_size=6) | st.lists(st.integers(MAX_COUNT - 2, MAX_COUNT + 2)))
def test_missing_lines_are_checked_as_a_loop_checks_each(values: list[Any]) -> None:
    """A report's missing lines are checked in C, a few passes over each
    list (measurement._line_numbers); the answer is a loop's."""
    expected = all(type(v) is int and 1 <= v <= MAX_COUNT for v in values)
    assert _line_numbers(values) == expected
