"""The hook as users run it: ``pre-commit install`` and real ``git commit``s."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing.project import TESTS, Project, in_repo_venv

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This repository's working tree as a committed hook repository, and its commit."""
    dest = tmp_path_factory.mktemp("hook-repo")
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml", "README.md"):
        shutil.copy(REPO / name, dest / name)
    shutil.copytree(
        REPO / "ratchet", dest / "ratchet", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t.invalid",
    }
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "hook"]):
        subprocess.run(["git", *args], cwd=dest, env=env, check=True)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=dest, capture_output=True, text=True, check=True
    ).stdout.strip()
    return dest, sha


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache per session, so the hook's environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def user_project(
    baselined: Project, pre_commit_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Project:
    """``baselined`` as pre-commit users have it: the shared pre-commit cache,
    and the project's environment found as a .venv in the repository."""
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pre_commit_home))
    use_project_venv(baselined)
    return baselined


def use_project_venv(project: Project) -> None:
    """Let the hook find the project's environment as users have it: a .venv."""
    (project.root / ".venv").symlink_to(sys.prefix)
    text = project.read("pyproject.toml")
    project.write(
        "pyproject.toml",
        "\n".join(line for line in text.splitlines() if not line.startswith("python =")) + "\n",
    )


def test_a_real_commit_is_refused_when_coverage_drops_and_passes_when_it_rises(
    user_project: Project, hook_repo: tuple[Path, str]
) -> None:
    project = user_project
    repo, rev = hook_repo
    project.write(
        ".pre-commit-config.yaml",
        f"""\
        repos:
        - repo: {repo}
          rev: {rev}
          hooks:
          - id: coverage-ratchet
        """,
    )
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=project.root,
        check=True,
        capture_output=True,
    )
    project.git("add", "-A")
    first = project.git_commit("-m", "use the hook")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "ratchet: passed" in first.stdout + first.stderr
    head = project.git("rev-parse", "HEAD")

    project.stage("tests/test_mod.py", TESTS.replace("def test_sub", "def _not_a_test"))
    refused = project.git_commit("-m", "drop a test")
    assert refused.returncode != 0, refused.stdout + refused.stderr
    output = refused.stdout + refused.stderr
    assert "pkg/mod.py: 62.50% -> 50.00%" in output
    assert "newly uncovered lines: 6" in output
    assert project.git("rev-parse", "HEAD") == head
    # The user's staged change is still staged, untouched.
    assert project.git("diff", "--cached", "--name-only") == "tests/test_mod.py\n"

    project.write(
        "tests/test_mod.py",
        TESTS
        + ("\n\ndef test_unused():\n    from pkg.mod import unused\n    assert unused(0) == 2\n"),
    )
    project.git("add", "-A")
    passed = project.git_commit("-m", "more tests")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "pkg/mod.py: 62.50% -> 87.50%" in passed.stdout + passed.stderr
    assert project.git("rev-parse", "HEAD") != head

    # A commit with nothing that can change coverage skips the test run.
    project.write("NOTES.md", "notes\n")
    project.git("add", "NOTES.md")
    skipped = project.git_commit("-m", "notes")
    assert skipped.returncode == 0
    assert "nothing staged can change coverage" in skipped.stdout + skipped.stderr


def test_pre_commit_try_repo_runs_the_hook_on_whats_staged(
    user_project: Project, hook_repo: tuple[Path, str]
) -> None:
    """``pre-commit try-repo``: how hook authors and users try a hook out."""
    baselined = user_project
    baselined.commit("use the project's venv")
    repo, _ = hook_repo

    def try_repo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(repo), "coverage-ratchet"],
            cwd=baselined.root,
            capture_output=True,
            text=True,
            check=False,
        )

    baselined.stage("tests/test_mod.py", TESTS.replace("def test_sub", "def _not_a_test"))
    refused = try_repo()
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert "pkg/mod.py: 62.50% -> 50.00%" in refused.stdout
    assert "Failed" in refused.stdout
    baselined.stage("tests/test_mod.py", TESTS)
    baselined.stage("pkg/fresh.py", "X = 1\n")
    passed = try_repo()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout


def _config(project: Project, repo: Path, rev: str) -> None:
    project.write(
        ".pre-commit-config.yaml",
        f"""\
        repos:
        - repo: {repo}
          rev: {rev}
          hooks:
          - id: coverage-ratchet
        """,
    )


def _pre_commit(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
    )


def test_pre_commit_run_all_files_judges_every_file(
    user_project: Project, hook_repo: tuple[Path, str]
) -> None:
    """CI runs `pre-commit run --all-files` on a clean checkout: nothing is
    staged, and a drop committed earlier (here with --no-verify, by deleting
    a test module) must still be refused.  Without --all-files, nothing staged
    still skips."""
    project = user_project
    repo, rev = hook_repo
    _config(project, repo, rev)
    project.commit("use the hook")
    (project.root / "tests" / "test_mod.py").unlink()
    project.write("tests/test_other.py", TESTS.replace("def test_sub", "def _not_a_test"))
    project.commit("drop a test, past the hook")

    skipped = _pre_commit(project, "run")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "nothing staged can change coverage" in skipped.stdout

    for args in (
        ["run", "--all-files"],
        ["run", "-a", "coverage-ratchet"],
        ["run", "--all"],  # argparse takes an unambiguous prefix.
        ["run", "--files", "NOTES.md"],
        ["try-repo", str(repo), "coverage-ratchet", "--all-files"],
    ):
        refused = _pre_commit(project, *args)
        output = refused.stdout + refused.stderr
        assert refused.returncode == 1, (args, output)
        assert "pre-commit runs on all files: every file is judged" in output, args
        assert "pkg/mod.py: 62.50% -> 50.00%" in output, args
        assert "Failed" in output


def test_an_in_repository_venv_with_an_untracked_file_through_pre_commit(
    baselined: Project,
    pre_commit_home: Path,
    hook_repo: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's own setup: the project's .venv inside the repository.  An
    untracked file makes the working tree differ from the index (pre-commit
    stashes unstaged changes, not untracked files), so the tests run on a
    snapshot; the packages they import from .venv are not the project's."""
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pre_commit_home))
    project = baselined
    in_repo_venv(project)
    text = project.read("pyproject.toml")
    project.write(
        "pyproject.toml",
        "\n".join(line for line in text.splitlines() if not line.startswith("python =")) + "\n",
    )
    project.write("tests/conftest.py", "import depmod\n\nassert depmod.SCALE == 1\n")
    repo, rev = hook_repo
    _config(project, repo, rev)
    project.commit("the hook, with the project's .venv")
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=project.root, check=True)
    project.write("scratch.py", "print('not staged, not ignored')\n")

    project.stage("tests/test_mod.py", TESTS.replace("def test_sub", "def _not_a_test"))
    project.git("reset", "-q", "scratch.py")
    refused = project.git_commit("-m", "drop a test")
    output = refused.stdout + refused.stderr
    assert refused.returncode == 1, output
    assert "pkg/mod.py: 62.50% -> 50.00%" in output
    assert "measured the staged content; 1 unstaged or untracked file(s) left out" in output

    project.stage("tests/test_mod.py", TESTS + "\n# same tests\n")
    project.git("reset", "-q", "scratch.py")
    passed = project.git_commit("-m", "same tests")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert (project.root / "scratch.py").exists()


_TEST_UNUSED = (
    "\n\ndef test_unused():\n    from pkg.mod import unused\n    assert unused(0) == 2\n"
)


def test_record_gains_under_pre_commit_stops_the_commit_once_then_it_goes_in(
    user_project: Project, hook_repo: tuple[Path, str]
) -> None:
    """As after a formatter: the hook writes the raised baseline, pre-commit
    stops the commit, the user adds the file and commits again."""
    project = user_project
    text = project.read("pyproject.toml").replace(
        "[tool.ratchet]\n", "[tool.ratchet]\nrecord-gains = true\n"
    )
    project.write("pyproject.toml", text)
    _config(project, *hook_repo)
    project.commit("use the hook")
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=project.root,
        check=True,
        capture_output=True,
    )
    head = project.git("rev-parse", "HEAD")
    project.stage("tests/test_mod.py", TESTS + _TEST_UNUSED)
    first = project.git_commit("-m", "test unused()")
    out = first.stdout + first.stderr
    assert first.returncode != 0, out
    assert "files were modified by this hook" in out
    assert "`git add coverage-baseline.toml` and commit again" in out
    assert project.git("rev-parse", "HEAD") == head
    project.git("add", "coverage-baseline.toml")
    second = project.git_commit("-m", "test unused()")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "covered = 7" in project.git("show", "HEAD:coverage-baseline.toml")
    assert project.git("status", "--porcelain") == ""
