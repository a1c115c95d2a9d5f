"""What is committed is what is measured: check runs the tests on the index's content."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ratchet import errors
from testing.project import MOD, TESTS, Project, in_repo_venv, pyproject

# Covers every line of mod.py: the commit would raise coverage.
FULL_TESTS = (
    TESTS + "\n\ndef test_unused():\n"
    "    from pkg.mod import unused\n"
    "    assert unused(0) == 2\n    assert unused(1) == 1\n"
)
# test_sub gone: sub() is no longer covered.
DROPPING_TESTS = TESTS.replace("def test_sub", "def _not_a_test")


def test_a_drop_that_is_staged_is_refused_though_the_working_tree_restores_it(
    baselined: Project,
) -> None:
    baselined.stage("tests/test_mod.py", DROPPING_TESTS)
    baselined.write("tests/test_mod.py", TESTS)  # Unstaged: not in the commit.
    before = baselined.state()
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED, result.out
    assert "pkg/mod.py" in result.out
    assert "measured the staged content; 1 unstaged or untracked file(s) left out" in result.out
    assert baselined.state() == before


def test_a_drop_only_in_the_working_tree_is_not_the_commits(baselined: Project) -> None:
    baselined.stage("tests/test_mod.py", FULL_TESTS)
    baselined.write("tests/test_mod.py", DROPPING_TESTS)
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED, result.out
    assert "pkg/mod.py" in result.out


def test_an_untracked_test_file_is_not_in_the_commit(baselined: Project) -> None:
    baselined.stage("tests/test_mod.py", DROPPING_TESTS)
    baselined.write(
        "tests/test_more.py", "from pkg.mod import sub\n\n\ndef test_s():\n    sub(1, 1)\n"
    )
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED, result.out
    assert (baselined.root / "tests" / "test_more.py").exists()


def test_git_commit_path_measures_only_what_it_commits(baselined: Project) -> None:
    """``git commit PATH`` commits a temporary index: the hook sees that one."""
    hook = baselined.root / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\nexec {sys.executable} -m ratchet check\n")
    hook.chmod(0o755)
    baselined.write("tests/test_mod.py", DROPPING_TESTS)
    baselined.write("pkg/other.py", "X = 1\n")
    baselined.git("add", "pkg/other.py")
    # The staged file is fine; the edit of the test file is committed by path.
    commit = subprocess.run(
        ["git", "commit", "-m", "drop", "tests/test_mod.py"],
        cwd=baselined.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert commit.returncode != 0, commit.stdout
    assert "pkg/mod.py" in commit.stdout + commit.stderr
    assert baselined.git("log", "--oneline").count("\n") == 2  # Nothing committed.
    # The index still stages pkg/other.py: git restored it untouched.
    assert baselined.git("diff", "--cached", "--name-only").split() == ["pkg/other.py"]


def _venv_with_path_to(tmp_path: Path, folder: Path) -> Path:
    """A virtualenv that sees this interpreter's packages and imports from ``folder``,
    as an editable install of a src layout does (a .pth file)."""
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
    )
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert purelib != sysconfig.get_paths()["purelib"]
    # This interpreter's packages (coverage.py, pytest), then the project.
    own = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "project.pth").write_text(f"{own}\n{folder}\n")
    return python


def test_an_editable_src_layout_is_imported_from_the_snapshot(
    project: Project, tmp_path: Path
) -> None:
    root = project.root
    project.git("mv", "pkg", "src")
    (root / "src" / "pkg").mkdir()
    for name in ("__init__.py", "mod.py"):
        (root / "src" / name).rename(root / "src" / "pkg" / name)
    python = _venv_with_path_to(tmp_path, root / "src")
    project.write(
        "pyproject.toml",
        pyproject().replace(repr(sys.executable), repr(str(python))),
    )
    project.commit("src layout")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    # Staged: the drop.  Working tree: a mod.py the staged tests would not
    # notice, so numbers from it would differ.
    project.stage("tests/test_mod.py", DROPPING_TESTS)
    project.write("src/pkg/mod.py", MOD + "\n\ndef extra():\n    return 0\n")
    result = project.ratchet("check", "--format", "json")
    assert result.code == errors.BLOCKED, result.out
    assert '"path": "src/pkg/mod.py"' in result.out
    assert '"statements": 8' in result.out  # The staged mod.py, not the edited one.


def test_tests_that_import_the_working_tree_are_refused(baselined: Project) -> None:
    root = baselined.root
    baselined.stage("tests/conftest.py", f"import sys\n\nsys.path.insert(0, {str(root)!r})\n")
    baselined.write("tests/test_mod.py", FULL_TESTS)  # Unstaged: forces a snapshot.
    result = baselined.ratchet("check")
    assert result.code == errors.USAGE, result.out
    assert "imported pkg/" in result.err
    assert "not from the staged snapshot" in result.err


@pytest.mark.parametrize(
    ("name", "ignore"), [("venv", False), ("env", True), ("tools/env", False)]
)
def test_packages_of_a_venv_inside_the_repository_are_not_the_projects(
    baselined: Project, name: str, ignore: bool
) -> None:
    """Any folder holding pyvenv.cfg, ignored or not, holds installed packages."""
    python = in_repo_venv(baselined, name)
    text = baselined.read("pyproject.toml").replace(repr(sys.executable), repr(str(python)))
    baselined.write("pyproject.toml", text)
    baselined.write("tests/conftest.py", "import depmod\n")
    if ignore:
        baselined.write(".gitignore", f".venv\n{name}/\n")
    baselined.commit("venv")
    baselined.stage("tests/test_mod.py", DROPPING_TESTS)
    baselined.write("scratch.py", "x = 1\n")  # Untracked: the tests run on a snapshot.
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED, result.out + result.err
    assert "pkg/mod.py: 62.50% -> 50.00%" in result.out


def test_an_ignored_module_imported_from_the_working_tree_is_not_the_projects(
    baselined: Project,
) -> None:
    baselined.write(".gitignore", ".venv\nbuild/\n")
    baselined.write("build/lib/generated.py", "VALUE = 2\n")
    baselined.stage(
        "tests/conftest.py",
        f"import sys\n\nsys.path.insert(0, {str(baselined.root / 'build' / 'lib')!r})\n"
        "import generated\n",
    )
    baselined.write("tests/test_mod.py", FULL_TESTS)  # Unstaged: forces a snapshot.
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED, result.out + result.err


def test_a_submodule_is_in_the_snapshot_at_its_recorded_commit(
    baselined: Project, tmp_path: Path
) -> None:
    """Partial staging runs the tests on a snapshot: a suite that imports from
    a submodule finds it there, at the commit the index records."""
    lib = tmp_path / "lib"
    lib.mkdir()
    run = {"cwd": lib, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **run)  # type: ignore[call-overload]
    (lib / "helper.py").write_text("def h():\n    return 1\n")
    subprocess.run(["git", "add", "-A"], **run)  # type: ignore[call-overload]
    subprocess.run(["git", "commit", "-qm", "helper"], **run)  # type: ignore[call-overload]
    baselined.git(
        "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib"
    )
    baselined.write(
        "tests/conftest.py",
        "import sys\nfrom pathlib import Path\n\n"
        "sys.path.insert(0, str(Path(__file__).parent.parent / 'vendor' / 'lib'))\n",
    )
    baselined.write(
        "tests/test_helper.py", "from helper import h\n\n\ndef test_h():\n    assert h() == 1\n"
    )
    baselined.commit("a submodule the tests import")
    # The submodule's working tree moves on; the commit still records the old one.
    (baselined.root / "vendor/lib/helper.py").write_text("def h():\n    return 2\n")
    baselined.stage("tests/test_mod.py", DROPPING_TESTS)
    baselined.write("tests/test_mod.py", TESTS)
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED, result.out + result.err
    assert "pkg/mod.py: 62.50% -> 50.00%" in result.out
