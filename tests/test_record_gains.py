"""``record-gains = true``: a passing commit records its gains in itself.

Real ``ratchet install`` hooks and real ``git commit``s (pre-commit's way is
in ``test_pre_commit_hook.py``, beside its fixtures).
"""

from __future__ import annotations

from testing.project import MOD, TESTS, Project, pyproject

MORE_TESTS = TESTS + (
    "\n\ndef test_unused():\n    from pkg.mod import unused\n    assert unused(0) == 2\n"
)


def _recording(project: Project) -> None:
    project.write("pyproject.toml", pyproject("record-gains = true"))
    assert project.ratchet("install").code == 0
    project.commit("record gains")


def _entry(text: str, path: str) -> str:
    return text.split(f'[files."{path}"]')[1].split("\n\n")[0]


def test_a_gain_goes_into_the_commit_being_made(baselined: Project) -> None:
    project = baselined
    _recording(project)
    before = project.read("coverage-baseline.toml")
    project.stage("tests/test_mod.py", MORE_TESTS)
    done = project.git_commit("-m", "test unused()")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "pkg/mod.py: 62.50% -> 87.50%" in out
    assert "recorded the new numbers of 1 file(s) in coverage-baseline.toml" in out
    committed = project.git("show", "HEAD:coverage-baseline.toml")
    assert committed != before
    assert "covered = 7" in _entry(committed, "pkg/mod.py")
    # Nothing is left behind: the working tree, the index and HEAD agree.
    assert project.git("status", "--porcelain") == ""
    assert "coverage-baseline.toml" in project.git("show", "--name-only", "--format=", "HEAD")


def test_commit_a_uses_gits_temporary_index(baselined: Project) -> None:
    project = baselined
    _recording(project)
    project.write("tests/test_mod.py", MORE_TESTS)
    done = project.git_commit("-am", "test unused()")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "covered = 7" in _entry(
        project.git("show", "HEAD:coverage-baseline.toml"), "pkg/mod.py"
    )
    assert project.git("status", "--porcelain") == ""


def test_nothing_is_recorded_on_a_refusal_or_by_default(baselined: Project) -> None:
    project = baselined
    assert project.ratchet("install").code == 0  # record-gains is off by default.
    project.commit("hook")
    before = project.read("coverage-baseline.toml")
    project.stage("tests/test_mod.py", MORE_TESTS)
    done = project.git_commit("-m", "test unused()")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "record with `ratchet update`" in done.stdout + done.stderr
    assert project.read("coverage-baseline.toml") == before

    _recording(project)
    raised = project.read("coverage-baseline.toml")
    # A gain in one file and a drop in another: refused, nothing written.
    project.write("pkg/other.py", "def f():\n    return 1\n")
    project.write(
        "tests/test_other.py", "from pkg.other import f\n\ndef test_f():\n    assert f() == 1\n"
    )
    project.commit("other")
    assert project.ratchet("update").code == 0
    project.commit("baseline with other")
    raised = project.read("coverage-baseline.toml")
    project.write("tests/test_other.py", "def test_nothing():\n    pass\n")
    project.write("pkg/mod.py", MOD + "\n\ndef more(x):\n    return x\n")
    project.git("add", "-A")
    refused = project.git_commit("-m", "drop other's test")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "recorded" not in refused.stdout + refused.stderr
    assert project.read("coverage-baseline.toml") == raised


def test_unstaged_baseline_edits_are_never_overwritten(baselined: Project) -> None:
    project = baselined
    _recording(project)
    mine = project.read("coverage-baseline.toml") + "# a note of mine, not staged\n"
    project.write("coverage-baseline.toml", mine)
    project.write("tests/test_mod.py", MORE_TESTS)
    project.git("add", "tests/test_mod.py")
    done = project.git_commit("-m", "test unused()")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "gains not recorded: coverage-baseline.toml has unstaged changes" in out
    assert project.read("coverage-baseline.toml") == mine


def test_only_a_check_of_a_commit_records(baselined: Project) -> None:
    """--all (a push, CI) and named files are not a commit being made."""
    project = baselined
    project.write("pyproject.toml", pyproject("record-gains = true"))
    project.commit("record gains")
    before = project.read("coverage-baseline.toml")
    project.stage("tests/test_mod.py", MORE_TESTS)
    project.monkeypatch.setenv("PRE_COMMIT", "1")
    for args in (["--all"], ["tests/test_mod.py"]):
        result = project.ratchet("check", *args)
        assert result.code == 0, result.err
        assert "record with `ratchet update`" in result.out
        assert project.read("coverage-baseline.toml") == before
    result = project.ratchet("check")
    assert result.code == 0, result.err
    assert "`git add coverage-baseline.toml` and commit again" in result.out
    assert "covered = 7" in project.read("coverage-baseline.toml")
