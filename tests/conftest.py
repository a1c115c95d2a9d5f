"""Real git repositories with a small Python project, and ratchet run inside them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from ratchet.cli import main

# Performance is measured by the benchmarks, not by tests: a slow moment on a
# busy machine must not fail a property test.  Examples are derandomized so
# that this suite covers the same lines every run: our own ratchet compares
# our coverage across runs.  HYPOTHESIS_PROFILE=explore searches afresh.
settings.register_profile("ratchet", deadline=None, derandomize=True)
settings.register_profile("explore", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ratchet"))

MOD = """\
def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def unused(x):
    if x:
        return 1
    return 2
"""

TESTS = """\
from pkg.mod import add, sub


def test_add():
    assert add(1, 2) == 3


def test_sub():
    assert sub(3, 2) == 1
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Project:
    root: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def stage(self, rel: str, text: str) -> None:
        """Write ``rel`` and stage everything, as ``git add -A`` does."""
        self.write(rel, text)
        self.git("add", "-A")

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text()

    def git(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {args} failed: {proc.stderr}")
        return proc.stdout

    def git_commit(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``git commit ARGS`` with its hooks; a refusal is an answer, not an error."""
        return subprocess.run(
            ["git", "commit", *args], cwd=self.root, capture_output=True, text=True, check=False
        )

    def commit(self, message: str = "change") -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--no-verify", "-m", message)

    def ratchet(self, *args: str) -> Result:
        """Run ``ratchet ARGS`` in this repository, in this process."""
        self.capsys.readouterr()
        self.monkeypatch.chdir(self.root)
        code = main(list(args))
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def state(self) -> tuple[str, bytes, str]:
        """What ``check`` must never change: status, index, stash."""
        index = (self.root / ".git" / "index").read_bytes()
        return self.git("status", "--porcelain", "-uall"), index, self.git("stash", "list")


@pytest.fixture(autouse=True)
def _test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{key}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{key}_EMAIL", "test@example.invalid")
    # The toy projects need no pytest plugins; loading them costs seconds a run.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    # When this suite itself runs under coverage (our own ratchet), the toy
    # projects' coverage runs must not write into the outer run's data file.
    for name in ("COVERAGE_FILE", "COVERAGE_RCFILE", "COVERAGE_PROCESS_START"):
        monkeypatch.delenv(name, raising=False)
    # Only ratchet's own setting may keep bytecode out of the toy repositories.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    monkeypatch.delenv("PRE_COMMIT", raising=False)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)


def pyproject(extra: str = "", *, branch: bool = False) -> str:
    return (
        f"[tool.ratchet]\npython = {str(sys.executable)!r}\n{extra}\n"
        f"[tool.coverage.run]\nsource = ['pkg']\nbranch = {'true' if branch else 'false'}\n"
    )


@pytest.fixture
def project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Project:
    """A committed project: ``pkg/mod.py`` 5 of 8 statements covered, no baseline."""
    root = tmp_path / "repo"
    root.mkdir()
    p = Project(root, capsys, monkeypatch)
    p.git("init", "-q", "-b", "main")
    # __pycache__ is deliberately not ignored: check must not create it.
    p.write(".gitignore", ".venv\n")
    p.write("pkg/__init__.py", "")
    p.write("pkg/mod.py", MOD)
    p.write("tests/test_mod.py", TESTS)
    p.write("pyproject.toml", pyproject())
    p.commit("initial")
    return p


@pytest.fixture
def baselined(project: Project) -> Project:
    """``project`` with its baseline initialised and committed."""
    result = project.ratchet("init")
    assert result.code == 0, result.err
    project.commit("baseline")
    return project


def python_without_coverage(tmp_path: Path) -> Path:
    """An interpreter whose environment lacks coverage.py and pytest."""
    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv / ("Scripts" if os.name == "nt" else "bin") / "python"
