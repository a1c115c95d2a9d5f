"""``ratchet why FILE:LINE`` and ``ratchet history FILE``: answers from what is
already recorded (the test map, the baseline's history), no test run."""

from __future__ import annotations

import json

import pytest

from testing.project import MOD, TESTS, Project, in_repo_venv, pyproject


@pytest.mark.parametrize("branch", [False, True])
def test_why_lists_the_tests_that_executed_a_line(project: Project, branch: bool) -> None:
    project.stage("pyproject.toml", pyproject(branch=branch))
    project.git("commit", "-q", "--no-verify", "--allow-empty", "-m", "mode")
    assert project.ratchet("init").code == 0
    body = project.ratchet("why", "pkg/mod.py:2")  # add()'s body
    assert body.code == 0, body.err
    assert body.out == "pkg/mod.py:2: executed by 1 test(s)\n  tests/test_mod.py::test_add\n"
    header = project.ratchet("why", "pkg/mod.py:1")  # `def add`: run by the import
    assert header.out == "pkg/mod.py:1: executed outside tests:\n  import of pkg/mod.py\n"
    never = project.ratchet("why", "pkg/mod.py:10")  # unused()'s body
    assert never.out == "pkg/mod.py:10: no test executed it in the last runs\n"
    doc = json.loads(project.ratchet("why", "--format", "json", "pkg/mod.py:6").out)
    assert doc["tests"] == ["tests/test_mod.py::test_sub"]
    assert doc["file_changed_since_the_map"] is False


def test_why_says_when_the_file_moved_on_and_refuses_what_it_cannot_answer(
    project: Project,
) -> None:
    no_map = project.ratchet("why", "pkg/mod.py:2")
    assert no_map.code == 2
    assert "no test map yet" in no_map.err
    assert project.ratchet("init").code == 0
    project.write("pkg/mod.py", "# a comment moves every line\n" + MOD)
    moved = project.ratchet("why", "pkg/mod.py:2")
    assert "pkg/mod.py changed since the test map saw it" in moved.out
    for bad in ("pkg/mod.py", "pkg/mod.py:0", "pkg/mod.py:two"):
        refused = project.ratchet("why", bad)
        assert refused.code == 2
        assert "give a file and a line, as FILE:LINE" in refused.err
    unknown = project.ratchet("why", "pkg/nothing.py:1")
    assert unknown.code == 2
    assert "pkg/nothing.py: not in the test map" in unknown.err


def test_history_of_one_file_lists_the_commits_that_moved_it(baselined: Project) -> None:
    project = baselined
    project.write(
        "tests/test_mod.py",
        TESTS
        + "\n\ndef test_unused():\n    from pkg.mod import unused\n    assert unused(0) == 2\n",
    )
    assert project.ratchet("update").code == 0
    project.commit("cover unused()")
    project.write("pkg/other.py", "X = 1\n")
    assert project.ratchet("update").code == 0
    project.commit("another file: pkg/mod.py's entry does not move")
    shown = project.ratchet("history", "pkg/mod.py")
    assert shown.code == 0, shown.err
    rows = [line.split() for line in shown.out.splitlines()[2:4]]
    assert [row[2] for row in rows] == ["62.50%", "87.50%"]
    assert shown.out.splitlines()[0].split()[2] == "pkg/mod.py"
    assert shown.out.splitlines()[4] == ""
    assert "no target: the file is in no tier" in shown.out
    doc = json.loads(project.ratchet("history", "pkg/mod.py", "--format", "json").out)
    assert doc["file"] == "pkg/mod.py"
    assert [p["overall_percent"] for p in doc["points"]] == [62.5, 87.5]
    missing = project.ratchet("history", "pkg/none.py")
    assert missing.code == 2
    assert "pkg/none.py: no entry in coverage-baseline.toml in any commit" in missing.err


def test_init_can_save_the_settings_it_found_and_keeps_the_rest(project: Project) -> None:
    import sys

    text = project.read("pyproject.toml")
    mine = (
        '# The project\'s settings.\n\n[project]\nname = "x"  # keep me\n\n'
        + "\n".join(line for line in text.splitlines() if not line.startswith("python ="))
        + "\n"
    )
    project.write("pyproject.toml", mine)
    (project.root / ".venv").symlink_to(sys.prefix)
    result = project.ratchet("init", "--save-settings")
    assert result.code == 0, result.err
    assert "ratchet: pyproject.toml: saved python = '.venv/bin/python'" in result.out
    assert "ratchet: pyproject.toml: saved test-command = 'pytest'" in result.out
    after = project.read("pyproject.toml")
    added = ['python = ".venv/bin/python"', 'test-command = "pytest"']
    assert [line for line in after.splitlines() if line not in mine.splitlines()] == added
    assert [line for line in after.splitlines() if line not in added] == mine.splitlines()
    # Saved keys are the configuration from now on, and are never overwritten.
    again = project.ratchet("init", "--force", "--save-settings")
    assert again.code == 0, again.err
    assert "saved" not in again.out
    assert project.read("pyproject.toml") == after


def test_an_interpreter_outside_the_repository_is_not_saved(project: Project) -> None:
    text = project.read("pyproject.toml")
    project.write(
        "pyproject.toml",
        "\n".join(line for line in text.splitlines() if not line.startswith("python =")) + "\n",
    )
    # The project's environment: an active virtualenv beside the repository.
    python = in_repo_venv(project, "../outside-venv")
    project.monkeypatch.setenv("VIRTUAL_ENV", str(python.parent.parent))
    result = project.ratchet("init", "--save-settings")
    assert result.code == 0, result.err
    assert "python not saved:" in result.out
    assert "is outside the repository; each clone finds its own" in result.out
    assert "python =" not in project.read("pyproject.toml")
