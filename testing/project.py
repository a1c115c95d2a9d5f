"""A small Python project in a real git repository, and ratchet run inside it.

Shared by the tests (``tests/conftest.py`` makes fixtures of it) and the
benchmarks and soaks that drive the same projects.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from ratchet.cli import main

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


def pyproject(extra: str = "", *, branch: bool = False) -> str:
    return (
        f"[tool.ratchet]\npython = {str(sys.executable)!r}\n{extra}\n"
        f"[tool.coverage.run]\nsource = ['pkg']\nbranch = {'true' if branch else 'false'}\n"
    )


def python_without_coverage(tmp_path: Path) -> Path:
    """An interpreter whose environment lacks coverage.py and pytest."""
    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv / ("Scripts" if os.name == "nt" else "bin") / "python"


def in_repo_venv(project: Project, name: str = ".venv") -> Path:
    """A real virtualenv inside the repository, as ``python -m venv .venv``
    makes it: coverage.py and pytest come from this interpreter's packages (a
    .pth file), and one dependency is installed in the venv itself."""
    venv = project.root / name
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    own = sysconfig.get_paths()["purelib"]
    (purelib / "outer.pth").write_text(f"{own}\n")
    (purelib / "depmod.py").write_text("SCALE = 1\n")
    return python
