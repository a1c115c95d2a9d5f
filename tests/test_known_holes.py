"""Every bypass, crash and weak message found by attacking the gate, each fixed.

Each test reproduces one report: it failed before the fix.  Bad input gets
one line and exit 2, a bypass is refused, and nothing of the user's changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ratchet import errors
from ratchet.baseline import loads
from testing.project import TESTS, Project, pyproject

DROPPING = TESTS.replace("def test_sub", "def _not_a_test")


def one_line(err: str) -> str:
    """The single line a user error prints (never a traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- what init and update write must read back --------------------------------


@pytest.mark.parametrize("name", ["we\nird.py", "ta\tb.py", "back\\slash.py"])
def test_a_measured_file_the_baseline_cannot_name_is_set_aside(
    project: Project, name: str
) -> None:
    project.write(f"pkg/{name}", "X = 1\n")
    project.write(
        "tests/test_odd.py",
        "import os\n\n\ndef test_odd():\n"
        f"    path = os.path.join('pkg', {name!r})\n"
        "    exec(compile(open(path).read(), os.path.abspath(path), 'exec'), {})\n",
    )
    project.commit("an odd file name")
    init = project.ratchet("init")
    assert init.code == errors.PASSED, init.err
    assert "have names the baseline cannot hold" in init.out
    assert repr(f"pkg/{name}") in init.out
    # What was written reads back, with every other file in it.
    assert set(loads(project.read("coverage-baseline.toml")).files) == {
        "pkg/__init__.py",
        "pkg/mod.py",
    }
    project.commit("baseline")
    for command in (["report"], ["update"], ["check", "--all"]):
        assert project.ratchet(*command).code == errors.PASSED, command


def _report(files: dict[str, object]) -> str:
    return json.dumps({"meta": {"version": "7.0", "branch_coverage": False}, "files": files})


def _summary(statements: int = 2, covered: int = 1, missing: object = (2,)) -> object:
    return {
        "summary": {"num_statements": statements, "covered_lines": covered},
        "missing_lines": list(missing) if isinstance(missing, tuple) else missing,
    }


@pytest.mark.parametrize("key", ["", ".", "pkg/a\0.py", "pkg/"])
def test_data_keys_that_name_no_file_are_refused(baselined: Project, key: str) -> None:
    (baselined.root / "r.json").write_text(_report({key: _summary()}))
    before = baselined.read("coverage-baseline.toml")
    for command in ("check", "update", "init"):
        args = [command, "--data", "r.json"] + (["--force"] if command == "init" else [])
        result = baselined.ratchet(*args)
        assert result.code == errors.USAGE, (command, result.err)
        assert "is not the name of a file" in one_line(result.err)
    assert baselined.read("coverage-baseline.toml") == before


def test_a_data_key_with_an_escape_is_set_aside_and_printed_safely(baselined: Project) -> None:
    (baselined.root / "r.json").write_text(
        _report({"pkg/mod.py": _summary(8, 5, (6, 10, 11)), "pkg/\x1b[2Jx.py": _summary()})
    )
    result = baselined.ratchet("update", "--data", "r.json")
    assert result.code == errors.PASSED, result.err
    assert "\x1b" not in result.out
    assert "pkg/\\x1b[2Jx.py" in result.out
    loads(baselined.read("coverage-baseline.toml"))


def _lines(statements: int, missing: list[object]) -> dict[str, object]:
    summary = {"num_statements": statements, "covered_lines": 1}
    return {"summary": summary, "missing_lines": missing}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (_lines(2, ["a"]), "lines"),
        (_lines(2, [1.5]), "lines"),
        (_lines(2, [True]), "lines"),
        (_lines(2, [0]), "lines"),
        (_lines(2, [-3]), "lines"),
        (_lines(2, [2**64]), "lines"),
        (_lines(3, [2, "3"]), "lines"),
        ({"summary": {"num_statements": 2**64, "covered_lines": 1}}, "counts"),
        ({"summary": {"num_statements": 2, "covered_lines": 3}}, "counts"),
    ],
)
def test_impossible_data_is_refused(baselined: Project, entry: object, problem: str) -> None:
    (baselined.root / "r.json").write_text(_report({"pkg/mod.py": entry}))
    result = baselined.ratchet("check", "--data", "r.json")
    assert result.code == errors.USAGE
    assert "has invalid counts or lines" in one_line(result.err)


def test_deeply_nested_data_is_refused(baselined: Project) -> None:
    (baselined.root / "deep.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    result = baselined.ratchet("check", "--data", "deep.json")
    assert result.code == errors.USAGE
    assert "nested too deeply" in one_line(result.err)


# -- hostile TOML ------------------------------------------------------------------

HOSTILE = {
    "nesting": lambda text: text + "x = " + "[" * 600 + "]" * 600 + "\n",
    "inline nesting": lambda text: text + "y = " + "{a = " * 600 + "1" + "}" * 600 + "\n",
    "long integer": lambda text: text.replace("statements = 8", "statements = " + "9" * 5000),
    "byte-order mark": lambda text: "\ufeff" + text,
}


@pytest.mark.parametrize("damage", sorted(HOSTILE))
def test_a_hostile_baseline_is_one_line_and_exit_2(baselined: Project, damage: str) -> None:
    text = HOSTILE[damage](baselined.read("coverage-baseline.toml"))
    baselined.stage("coverage-baseline.toml", text)
    for command in (["check"], ["update"], ["report"], ["plan"]):
        result = baselined.ratchet(*command)
        assert result.code == errors.USAGE, (command, result.err)
        assert one_line(result.err).startswith("ratchet: error: coverage-baseline.toml")
    assert baselined.read("coverage-baseline.toml") == text


HOSTILE_PYPROJECT = {
    "nesting": pyproject() + "x = " + "[" * 600 + "]" * 600 + "\n",
    "inline nesting": pyproject() + "y = " + "{a = " * 600 + "1" + "}" * 600 + "\n",
    "long integer": pyproject("test-timeout = " + "9" * 5000),
    "byte-order mark": "\ufeff" + pyproject(),
}


@pytest.mark.parametrize("damage", sorted(HOSTILE_PYPROJECT))
def test_a_hostile_pyproject_is_one_line_and_exit_2(baselined: Project, damage: str) -> None:
    baselined.stage("pyproject.toml", HOSTILE_PYPROJECT[damage])
    for command in (["check"], ["update"], ["report"], ["init", "--force"]):
        result = baselined.ratchet(*command)
        assert result.code == errors.USAGE, (command, result.err)
        assert one_line(result.err).startswith("ratchet: error: pyproject.toml")
    if damage == "byte-order mark":
        assert "byte-order mark" in result.err


def test_one_bad_baseline_in_history_does_not_break_history(baselined: Project) -> None:
    good = baselined.read("coverage-baseline.toml")
    baselined.stage("coverage-baseline.toml", HOSTILE["nesting"](good))
    baselined.commit("broken, past the hook")
    baselined.stage("coverage-baseline.toml", good.replace("covered = 5", "covered = 6"))
    baselined.commit("repaired")
    result = baselined.ratchet("history")
    assert result.code == errors.PASSED, result.err
    assert "1 commit(s) with an unreadable baseline skipped" in result.out


# -- writing where nothing can be written ---------------------------------------


def test_history_svg_into_a_missing_folder_or_onto_a_folder(baselined: Project) -> None:
    (baselined.root / "charts").mkdir()
    for where in ("nodir/chart.svg", "charts"):
        result = baselined.ratchet("history", "--svg", where)
        assert result.code == errors.USAGE
        assert f"cannot write {where}: " in one_line(result.err)


def test_a_projection_past_the_year_9999_is_no_date(project: Project) -> None:
    """0.1 percentage points in twenty years: 99% is reached long after 9999."""
    text = (
        'format = 1\n\n[measured-with]\ncoverage = "7.0"\nbranch = false\n\n'
        "[overall]\ntarget = 99\n\n"
        '[files."pkg/mod.py"]\nstatements = 1000\ncovered = COVERED\n'
    )
    for covered, stamp in ((1, "2000-01-01T00:00:00"), (2, "2020-01-01T00:00:00")):
        project.stage("coverage-baseline.toml", text.replace("COVERED", str(covered)))
        env = {**os.environ, "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}
        subprocess.run(
            ["git", "commit", "-q", "--no-verify", "-m", stamp],
            cwd=project.root,
            env=env,
            check=True,
        )
    for window in ("28", "99999999"):  # A window longer than the calendar, too.
        result = project.ratchet("history", "--window", window)
        assert result.code == errors.PASSED, result.err
        assert "overall target 99.00%: no projection at this pace" in result.out


def test_a_baseline_in_a_missing_folder_is_refused_before_the_test_run(
    project: Project, tmp_path: Path
) -> None:
    marker = tmp_path / "tests-ran"
    project.write("tests/conftest.py", f"open({str(marker)!r}, 'w').close()\n")
    project.stage("pyproject.toml", pyproject('baseline = "nodir/b.toml"'))
    for command in (["init"], ["update"]):
        result = project.ratchet(*command)
        assert result.code == errors.USAGE
        assert "nodir/b.toml: the folder nodir does not exist" in one_line(result.err)
    assert not marker.exists()


def test_the_merge_driver_names_a_missing_file(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "ratchet", "merge-driver", "a", "b", "c", "base.toml"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == errors.USAGE
    assert "cannot read" in one_line(result.stderr) or "no baseline" in result.stderr


@pytest.mark.parametrize("how", ["a file", "folders in the way"])
def test_state_that_cannot_be_written_changes_no_verdict(
    baselined: Project, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test map, the bytecode and the last run's lines are caches; the
    lock is only a lock."""
    monkeypatch.delenv("PYTHONPYCACHEPREFIX")  # ratchet's own bytecode cache, too.
    state = baselined.root / ".git" / "ratchet"
    if state.exists():
        import shutil

        shutil.rmtree(state)
    if how == "a file":
        state.write_text("not a folder\n")
    else:
        # Permissions do not stop root (who runs some CI); a folder in the
        # place of every file fails each write the same way.
        state.mkdir()
        for name in ("testmap.db", "baseline.lock"):
            (state / name).mkdir()
        (state / "last-run").write_text("not a folder\n")
    baselined.stage("tests/test_mod.py", DROPPING)
    refused = baselined.ratchet("check")
    assert refused.code == errors.BLOCKED, refused.err
    assert "pkg/mod.py: 62.50% -> 50.00%" in refused.out
    baselined.stage("tests/test_mod.py", TESTS + "\n# same\n")
    passed = baselined.ratchet("check")
    assert passed.code == errors.PASSED, passed.err
    update = baselined.ratchet("update")
    assert update.code == errors.PASSED, update.err
    assert "the baseline is not locked" in update.err


# -- the guard cannot be walked around -----------------------------------------------


def test_removing_the_baseline_from_the_index_is_refused(baselined: Project) -> None:
    baselined.git("rm", "-q", "--cached", "coverage-baseline.toml")
    lowered = baselined.read("coverage-baseline.toml").replace("covered = 5", "covered = 1")
    baselined.write("coverage-baseline.toml", lowered)  # Untracked now, and lowered.
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED, result.out + result.err
    assert "the commit removes or moves the baseline that HEAD has" in result.out


def test_moving_the_baseline_and_lowering_it_is_refused(baselined: Project) -> None:
    lowered = baselined.read("coverage-baseline.toml").replace("covered = 5", "covered = 4")
    baselined.git("rm", "-q", "coverage-baseline.toml")
    baselined.write("quality/coverage.toml", lowered)
    baselined.write("pyproject.toml", pyproject('baseline = "quality/coverage.toml"'))
    baselined.git("add", "-A")
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED, result.out + result.err
    assert "entry lowered from 62.50% to 50.00%" in result.out
    # Moved without lowering, it passes.
    baselined.stage("quality/coverage.toml", lowered.replace("covered = 4", "covered = 5"))
    assert baselined.ratchet("check").code == errors.PASSED


def test_an_unstaged_configuration_edit_does_not_change_the_verdict(baselined: Project) -> None:
    baselined.stage("pyproject.toml", pyproject("new-file-minimum = 50"))
    baselined.commit("a minimum for new files")
    baselined.stage("pkg/fresh.py", "def f():\n    return 1\n")
    # Unstaged: the commit keeps new-file-minimum = 50.
    baselined.write("pyproject.toml", pyproject("new-file-minimum = 0"))
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED, result.out + result.err
    assert "pkg/fresh.py: new file at 0.00%, minimum 50.00%" in result.out


def test_a_broken_baseline_at_head_can_be_repaired_through_the_hook(baselined: Project) -> None:
    good = baselined.read("coverage-baseline.toml")
    baselined.stage("coverage-baseline.toml", good.replace("covered = 5", "covered = x"))
    baselined.commit("broken, past the hook")
    baselined.stage("coverage-baseline.toml", good)
    repaired = baselined.ratchet("check")
    assert repaired.code == errors.PASSED, repaired.out + repaired.err
    assert "the baseline edit was compared with coverage-baseline.toml at" in repaired.out
    # The repair is still held to the last readable baseline.
    baselined.stage("coverage-baseline.toml", good.replace("covered = 5", "covered = 4"))
    assert baselined.ratchet("check").code == errors.BLOCKED


def test_update_stops_when_the_baseline_changes_under_it(baselined: Project) -> None:
    baselined.write(
        "tests/test_edit.py",
        "def test_edit_the_baseline():\n"
        "    with open('coverage-baseline.toml', 'a') as f:\n"
        "        f.write('# changed by a merge meanwhile\\n')\n",
    )
    baselined.write(
        "tests/test_mod.py",
        TESTS + "\n\ndef test_unused():\n    from pkg.mod import unused\n    unused(1)\n",
    )
    result = baselined.ratchet("update")
    assert result.code == errors.USAGE
    assert "changed while update ran" in one_line(result.err)
    assert baselined.read("coverage-baseline.toml").endswith("# changed by a merge meanwhile\n")


# -- installing only into this repository -------------------------------------------


def test_install_refuses_a_hooks_folder_outside_the_repository(
    baselined: Project, tmp_path: Path
) -> None:
    shared = tmp_path / "global-hooks"
    shared.mkdir()
    baselined.git("config", "core.hooksPath", str(shared))
    result = baselined.ratchet("install")
    assert result.code == errors.USAGE
    assert "outside this repository" in one_line(result.err)
    assert not list(shared.iterdir())
    assert baselined.ratchet("install", "--force").code == errors.PASSED
    assert (shared / "pre-commit").exists()
    # A hooks folder inside the repository is the repository's own.
    baselined.git("config", "core.hooksPath", ".githooks")
    assert baselined.ratchet("install").code == errors.PASSED
    assert (baselined.root / ".githooks" / "pre-commit").exists()


def test_install_writes_nothing_through_a_linked_gitattributes(
    baselined: Project, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("keep me\n")
    (baselined.root / ".gitattributes").symlink_to(outside)
    for command in ("install", "uninstall"):
        result = baselined.ratchet(command)
        assert result.code == errors.USAGE
        assert ".gitattributes is a symbolic link" in one_line(result.err)
    assert outside.read_text() == "keep me\n"
    assert not (baselined.root / ".git" / "hooks" / "pre-commit").exists()


# -- printing what others wrote ----------------------------------------------------


def test_control_characters_in_tier_names_and_reasons_are_refused(baselined: Project) -> None:
    text = baselined.read("coverage-baseline.toml")
    tiered = text.replace(
        "covered = 5  # 62.50%\n",
        'covered = 5  # 62.50%\ntier = "T\\u001b[2J"\ntarget = 80\n'
        "start = { statements = 8, covered = 5 }\n",
    )
    baselined.stage("coverage-baseline.toml", tiered)
    result = baselined.ratchet("report")
    assert result.code == errors.USAGE
    assert "without control characters" in one_line(result.err)
    baselined.stage("coverage-baseline.toml", text)
    lower = baselined.ratchet("update", "--allow-lower", "pkg/mod.py", "--reason", "a\x1b[2Jb")
    assert lower.code == errors.USAGE
    assert "without control characters" in one_line(lower.err)


def test_a_path_with_a_bidirectional_control_is_printed_escaped(baselined: Project) -> None:
    baselined.stage("pkg/evil\u202etxt.py", "X = 1\n")
    baselined.stage(
        "tests/test_evil.py", "import importlib\n\nimportlib.import_module('pkg.evil\u202etxt')\n"
    )
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED, result.err
    assert "\u202e" not in result.out
    assert "pkg/evil\\u202etxt.py" in result.out


# -- messages that say what is wrong -----------------------------------------------


def test_pytest_finding_no_tests_is_said(baselined: Project) -> None:
    baselined.stage(
        "pyproject.toml",
        pyproject("") + "\n[tool.pytest.ini_options]\npython_files = ['nothing_*.py']\n",
    )
    result = baselined.ratchet("check")
    assert result.code == errors.TEST_RUN_FAILED
    assert "found no tests (pytest exit 5)" in result.err


def test_a_shallow_clone_says_so_for_base(baselined: Project, tmp_path: Path) -> None:
    for n in range(3):
        baselined.stage(f"notes{n}.md", "x\n")
        baselined.commit(f"n{n}")
    baselined.git("branch", "old", "HEAD~2")
    clone = tmp_path / "shallow"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            f"file://{baselined.root}",
            str(clone),
        ],
        check=True,
    )
    clone_project = Project(clone, baselined.capsys, baselined.monkeypatch)
    result = clone_project.ratchet("check", "--base", "origin/old")
    assert result.code == errors.USAGE
    assert "no common commit in this shallow clone" in one_line(result.err)
    assert "fetch-depth: 0" in result.err


def test_a_python_that_is_not_python_is_named(baselined: Project) -> None:
    baselined.stage("pyproject.toml", pyproject().replace(repr(sys.executable), "'/bin/echo'"))
    result = baselined.ratchet("check")
    assert result.code == errors.USAGE
    assert "/bin/echo is not a Python interpreter" in one_line(result.err)


def test_a_python_that_does_not_answer_is_named(
    baselined: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ratchet.environment.PROBE_TIMEOUT", 1.0)
    slow = tmp_path / "slow-python"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    baselined.stage("pyproject.toml", pyproject().replace(repr(sys.executable), repr(str(slow))))
    result = baselined.ratchet("check")
    assert result.code == errors.USAGE
    assert "did not answer within 1 s" in one_line(result.err)


def test_the_allow_lower_suggestion_is_quoted_for_the_shell(project: Project) -> None:
    project.git("mv", "pkg/mod.py", "pkg/my mod.py")
    tests = (
        "import importlib\n\nm = importlib.import_module('pkg.my mod')\n\n\n"
        "def test_add():\n    assert m.add(1, 2) == 3\n\n\n"
        "def test_sub():\n    assert m.sub(3, 2) == 1\n"
    )
    project.write("tests/test_mod.py", tests)
    project.commit("a name with a space")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    project.stage("tests/test_mod.py", tests.replace("def test_sub", "def _not_a_test"))
    result = project.ratchet("check")
    assert result.code == errors.BLOCKED
    assert "ratchet update --allow-lower 'pkg/my mod.py' --reason" in result.out


def test_plan_names_an_unknown_tier(baselined: Project) -> None:
    result = baselined.ratchet("plan", "--tier", "Nope")
    assert result.code == errors.USAGE
    assert "--tier Nope: no tier or kind of candidate of that name" in one_line(result.err)
    assert "Tier 1, Tier 2, Zero coverage" in result.err
    assert baselined.ratchet("plan", "--tier", "tier 1").code == errors.PASSED


def test_update_keeps_comments_written_by_hand_and_says_which_it_could_not(
    baselined: Project,
) -> None:
    """Comments a user wrote are kept (see test_baseline_edit); one on an entry
    that update drops goes with it, and the note says so."""
    project = baselined
    project.write("pkg/other.py", "def f():\n    return 1\n")
    project.write("tests/test_other.py", "from pkg.other import f\n\n\ndef test_f():\n    f()\n")
    assert project.ratchet("update").code == errors.PASSED
    text = project.read("coverage-baseline.toml")
    project.write(
        "coverage-baseline.toml",
        "# Owned by the platform team.\n"
        + text.replace("statements = 2\n", "statements = 2  # other.py goes soon\n"),
    )
    (project.root / "pkg" / "other.py").unlink()
    (project.root / "tests" / "test_other.py").unlink()
    result = project.ratchet("update")
    assert result.code == errors.PASSED, result.err
    assert "dropped  pkg/other.py" in result.out
    assert "1 comment(s) written by hand in coverage-baseline.toml could not be kept" in result.out
    assert project.read("coverage-baseline.toml").startswith("# Owned by the platform team.\n")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            'lowered = { statements = 8, covered = 6, reason = "r", date = "2026-02-30" }',
            "YYYY-MM-DD date",
        ),
        ("branches = 1", "branch = false"),
    ],
)
def test_impossible_entries_are_refused(baselined: Project, text: str, problem: str) -> None:
    base = baselined.read("coverage-baseline.toml")
    baselined.stage(
        "coverage-baseline.toml",
        base.replace("covered = 5  # 62.50%\n", f"covered = 5  # 62.50%\n{text}\n"),
    )
    result = baselined.ratchet("report")
    assert result.code == errors.USAGE
    assert problem in one_line(result.err)


def test_a_count_beyond_64_bits_is_refused(baselined: Project) -> None:
    base = baselined.read("coverage-baseline.toml")
    baselined.stage(
        "coverage-baseline.toml", base.replace("statements = 8", f"statements = {2**64}")
    )
    result = baselined.ratchet("report")
    assert result.code == errors.USAGE
    assert "out of range" in one_line(result.err)


def test_a_tier_whose_minimum_is_above_its_maximum_is_refused(baselined: Project) -> None:
    tiers = (
        '\n[[tool.ratchet.tiers]]\nname = "Big"\ntarget = 50\nmin-statements = 600\n'
        "max-statements = 500\n"
    )
    baselined.stage("pyproject.toml", pyproject(tiers))
    result = baselined.ratchet("report")
    assert result.code == errors.USAGE
    line = one_line(result.err)
    assert "max-statements (500) is below min-statements (600)" in line
    assert line.startswith("ratchet: error: pyproject.toml:")
