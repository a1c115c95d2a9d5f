"""Every way a commit happens, through the installed hook and real git commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ratchet import errors
from testing.project import MOD, TESTS, Project, pyproject

DROPPING = TESTS.replace("def test_sub", "def _not_a_test")
COVER_TRUE = "\n\ndef test_unused_true():\n    from pkg.mod import unused\n\n    unused(1)\n"
COVER_FALSE = "\n\ndef test_unused_false():\n    from pkg.mod import unused\n\n    unused(0)\n"


def out(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr  # git sends a hook's output to stderr.


@pytest.fixture
def hooked(baselined: Project) -> Project:
    """``baselined`` with ``ratchet install``'s hook and merge driver, committed."""
    assert baselined.ratchet("install").code == errors.PASSED
    baselined.commit("install the hook")
    return baselined


def uncommitted(p: Project, module: str, tests: str) -> Project:
    """A new repository at ``p.root`` with ``module`` (MOD) and ``tests``
    importing it, its baseline initialised and the hook installed; no commit."""
    p.root.mkdir()
    p.git("init", "-q", "-b", "main")
    p.write("pkg/__init__.py", "")
    p.write(module, MOD)
    name = module.removesuffix(".py").replace("/", ".")
    p.write(tests, TESTS.replace("pkg.mod", name))
    p.write("pyproject.toml", pyproject())
    assert p.ratchet("init").code == errors.PASSED
    assert p.ratchet("install").code == errors.PASSED
    return p


def test_the_first_commit_has_no_head_to_compare_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    p = Project(tmp_path / "fresh", capsys, monkeypatch)
    uncommitted(p, "pkg/mod.py", "tests/test_mod.py")
    p.stage("tests/test_mod.py", DROPPING)
    refused = p.git_commit("-m", "first")
    assert refused.returncode == errors.BLOCKED, out(refused)
    assert "pkg/mod.py: 62.50% -> 50.00%" in out(refused)
    assert p.git("rev-parse", "--verify", "-q", "HEAD", check=False) == ""
    p.stage("tests/test_mod.py", TESTS)
    passed = p.git_commit("-m", "first")
    assert passed.returncode == 0, out(passed)
    assert p.git("log", "--format=%s") == "first\n"


def test_amend_is_judged_against_the_amended_commits_parent(hooked: Project) -> None:
    before = hooked.read("coverage-baseline.toml")
    hooked.write("tests/test_mod.py", TESTS + COVER_TRUE)
    assert hooked.ratchet("update").code == errors.PASSED
    hooked.git("add", "-A")
    assert hooked.git_commit("-m", "cover unused").returncode == 0
    # Taking that raise back in a new commit lowers the baseline: refused ...
    hooked.stage("coverage-baseline.toml", before)
    hooked.stage("tests/test_mod.py", TESTS)
    refused = hooked.git_commit("-m", "undo")
    assert refused.returncode == errors.BLOCKED, out(refused)
    assert "entry lowered from 87.50% to 62.50%" in out(refused)
    # ... but amending the raise away only replaces HEAD: the parent had 62.50%.
    hooked.stage("NOTES.md", "covering unused can wait\n")
    amended = hooked.git_commit("--amend", "-m", "nothing after all")
    assert amended.returncode == 0, out(amended)
    assert hooked.git("log", "--format=%s") == (
        "nothing after all\ninstall the hook\nbaseline\ninitial\n"
    )
    # An amend that drops below the parent is refused like any commit.
    hooked.stage("tests/test_mod.py", DROPPING)
    refused = hooked.git_commit("--amend", "--no-edit")
    assert refused.returncode == errors.BLOCKED, out(refused)
    assert "pkg/mod.py: 62.50% -> 50.00%" in out(refused)


def test_a_merge_commit_after_a_conflict_is_judged_on_its_resolution(hooked: Project) -> None:
    """Both branches cover more of one file and record it; their tests conflict."""
    hooked.git("checkout", "-q", "-b", "side")
    hooked.write("tests/test_mod.py", TESTS + COVER_FALSE)
    hooked.ratchet("update")
    hooked.git("add", "-A")
    assert hooked.git_commit("-m", "side covers unused(0)").returncode == 0
    hooked.git("checkout", "-q", "main")
    hooked.write("tests/test_mod.py", TESTS + COVER_TRUE)
    hooked.ratchet("update")
    hooked.git("add", "-A")
    assert hooked.git_commit("-m", "main covers unused(1)").returncode == 0
    merge = subprocess.run(
        ["git", "merge", "side"], cwd=hooked.root, capture_output=True, text=True, check=False
    )
    assert "CONFLICT (content): Merge conflict in tests/test_mod.py" in merge.stdout
    # The driver merged the baseline: both sides are at 7 of 8.
    assert "covered = 7" in hooked.read("coverage-baseline.toml")
    # Resolving by dropping both sides' tests is a drop from 7 of 8.
    hooked.stage("tests/test_mod.py", TESTS)
    refused = hooked.git_commit("--no-edit")
    assert refused.returncode == errors.BLOCKED, out(refused)
    assert "pkg/mod.py: 87.50% -> 62.50%" in out(refused)
    hooked.stage("tests/test_mod.py", TESTS + COVER_TRUE + COVER_FALSE)
    passed = hooked.git_commit("--no-edit")
    assert passed.returncode == 0, out(passed)
    assert "pkg/mod.py: 87.50% -> 100.00%" in out(passed)
    assert len(hooked.git("log", "-1", "--format=%P").split()) == 2


def conflicting_drop_on_side(p: Project) -> None:
    """A commit on ``side``, made with --no-verify, that drops a test and
    edits the line main also edits."""
    p.git("checkout", "-q", "-b", "side")
    p.stage("tests/test_mod.py", DROPPING.replace("add(1, 2) == 3", "add(2, 2) == 4"))
    p.git("commit", "-q", "--no-verify", "-m", "side drops test_sub")
    p.git("checkout", "-q", "main")
    p.stage("tests/test_mod.py", TESTS.replace("add(1, 2) == 3", "add(0, 3) == 3"))
    assert p.git_commit("-m", "main edits test_add").returncode == 0


def test_cherry_pick_continue_runs_the_hook_on_the_resolution(hooked: Project) -> None:
    conflicting_drop_on_side(hooked)
    picked = subprocess.run(
        ["git", "cherry-pick", "side"], cwd=hooked.root, capture_output=True, check=False
    )
    assert picked.returncode != 0  # The conflict.
    hooked.stage("tests/test_mod.py", DROPPING)
    resumed = subprocess.run(
        ["git", "cherry-pick", "--continue"],
        cwd=hooked.root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_EDITOR": "true"},
    )
    assert resumed.returncode != 0, out(resumed)
    assert "pkg/mod.py: 62.50% -> 50.00%" in out(resumed)
    assert hooked.git("log", "-1", "--format=%s") == "main edits test_add\n"


def test_a_commit_made_during_a_rebase_stop_is_judged(hooked: Project) -> None:
    """git replays a rebase's commits without the hook; a commit the user
    makes while the rebase stopped runs it, on a detached HEAD."""
    conflicting_drop_on_side(hooked)
    hooked.git("checkout", "-q", "side")
    rebase = subprocess.run(
        ["git", "rebase", "main"], cwd=hooked.root, capture_output=True, check=False
    )
    assert rebase.returncode != 0
    assert hooked.git("symbolic-ref", "-q", "HEAD", check=False) == ""  # Detached.
    hooked.stage("tests/test_mod.py", DROPPING)
    refused = hooked.git_commit("-m", "resolved")
    assert refused.returncode == errors.BLOCKED, out(refused)
    hooked.stage("tests/test_mod.py", TESTS)
    passed = hooked.git_commit("-m", "resolved")
    assert passed.returncode == 0, out(passed)


def test_a_submodule_is_neither_measured_nor_in_the_way(hooked: Project, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", *args], cwd=lib, check=True, capture_output=True)
    (lib / "helper.py").write_text("def h():\n    return 1\n")
    subprocess.run(["git", "add", "-A"], cwd=lib, check=True)
    subprocess.run(["git", "commit", "-qm", "helper"], cwd=lib, check=True)
    hooked.git(
        "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib"
    )
    passed = hooked.git_commit("-m", "add a submodule")
    assert passed.returncode == 0, out(passed)
    # A dirty submodule and a partial stage (so the snapshot is used).
    (hooked.root / "vendor/lib/helper.py").write_text("def h():\n    return 2\n")
    hooked.stage("tests/test_mod.py", TESTS + COVER_TRUE)
    hooked.write("tests/test_mod.py", TESTS)
    result = hooked.ratchet("check", "--format", "json")
    assert result.code == errors.PASSED, result.out + result.err
    assert "vendor" not in result.out
    assert "87.50%" in result.out


ODD_DIR = 'tests/odd "dir" ü'


def test_paths_with_spaces_quotes_and_non_ascii_letters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    p = Project(tmp_path / "re po 'q' ü", capsys, monkeypatch)
    uncommitted(p, "pkg/módulo.py", f"{ODD_DIR}/test_módulo.py")
    p.commit("initial")
    # Partially staged, so the snapshot copies these paths too.
    p.stage(f"{ODD_DIR}/test_módulo.py", DROPPING.replace("pkg.mod", "pkg.módulo"))
    p.write(f"{ODD_DIR}/test_módulo.py", TESTS.replace("pkg.mod", "pkg.módulo"))
    refused = p.git_commit("-m", "drop")
    assert refused.returncode == errors.BLOCKED, out(refused)
    assert "pkg/módulo.py: 62.50% -> 50.00%" in out(refused)
    assert "measured the staged content" in out(refused)
    # A rename between odd names keeps its entry.
    p.git("checkout", "-q", "--", ".")
    p.git("reset", "-q")
    p.git("mv", "pkg/módulo.py", "pkg/otro módulo.py")
    p.git("mv", "pkg/otro módulo.py", "pkg/otro_módulo.py")
    p.stage(f"{ODD_DIR}/test_módulo.py", TESTS.replace("pkg.mod", "pkg.otro_módulo"))
    assert p.ratchet("update").code == errors.PASSED
    assert '[files."pkg/otro_módulo.py"]' in p.read("coverage-baseline.toml")
    p.git("add", "-A")
    passed = p.git_commit("-m", "rename")
    assert passed.returncode == 0, out(passed)
    assert sys.getfilesystemencoding() == "utf-8"


@pytest.mark.parametrize(
    ("argv", "amend"),
    [
        (["git", "commit", "--amend"], True),
        (["/usr/bin/git", "-c", "a=b", "commit", "-q", "--am", "-m", "x"], True),
        (["git", "commit", "-m", "x", "--", "--amend"], False),  # A path, not the option.
        (["git", "commit", "--all"], False),
        (["python", "commit", "--amend"], False),
        (["git", "merge", "--amend"], False),
        # A message that reads like the option is a message (-m takes a value).
        (["git", "commit", "-m", "--amend"], False),
        (["git", "commit", "-am", "--amend"], False),
        (["git", "commit", "--message", "--amend"], False),
        (["git", "commit", "--mess", "--amend"], False),
        (["git", "commit", "-F", "--amend"], False),
        (["git", "commit", "-m--amend"], False),
        (["git", "commit", "--message=--amend", "--amend"], True),
        (["git", "commit", "-qam", "x", "--amend"], True),
        (["git", "commit", "--amend", "--no-amend"], False),
        (["git", "commit", "--no-amend", "--amend"], True),
        (["git", "-C", "commit", "status", "--amend"], False),  # -C takes a folder.
        (["git", "--git-dir", "x", "commit", "--ame"], True),
        (["git", "commit", "--author", "--amend <a@b>", "-m", "x"], False),
    ],
)
def test_amend_is_read_from_git_commits_command_line(argv: list[str], amend: bool) -> None:
    from ratchet.invocation import is_amend

    assert is_amend(argv) is amend


def test_an_amend_compares_with_the_parent_or_with_nothing_on_a_root_commit(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The baseline chosen for an amend, in process (the hook's own process
    tree is exercised above): the root commit has no parent at all."""
    monkeypatch.setattr("ratchet.invocation.amending", lambda: True)
    assert project.ratchet("init").code == errors.PASSED
    project.git("add", "-A")
    # Amending the root commit: nothing to compare the new baseline with.
    assert project.ratchet("check").code == errors.PASSED
    project.git("commit", "-q", "--amend", "--no-edit", "--no-verify")
    project.write("NOTES.md", "x\n")
    project.commit("second")
    lowered = project.read("coverage-baseline.toml").replace("covered = 5", "covered = 4")
    project.stage("coverage-baseline.toml", lowered)
    # Amending "second": its parent holds the baseline, and the guard compares with it.
    result = project.ratchet("check")
    assert result.code == errors.BLOCKED
    assert "entry lowered from 62.50% to 50.00%" in result.out
