"""The baseline is data, and paths reach the shell only quoted (see SECURITY.md)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from ratchet import errors
from ratchet.baseline import quote
from testing.baselines import baseline_text, covered_of
from testing.project import TESTS, Project, pyproject

# Run by a shell that failed to quote it, this would create files named pwned*.
SHELL_BAIT = "it's a $(touch pwned1) `touch pwned2` ; touch pwned3 dir"


def _no_bait_ran(*folders: Path) -> None:
    for folder in folders:
        assert not list(folder.rglob("pwned*")), "a path reached a shell unquoted"


@pytest.fixture
def bait_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This interpreter, as found at a path full of shell syntax."""
    folder = tmp_path / SHELL_BAIT
    folder.mkdir()
    python = folder / "python"
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(python))
    return python


def test_the_hook_quotes_an_interpreter_path_full_of_shell_syntax(
    baselined: Project, bait_python: Path, tmp_path: Path
) -> None:
    assert baselined.ratchet("install").code == errors.PASSED
    hook = (baselined.root / ".git" / "hooks" / "pre-commit").read_text()
    assert shlex.quote(str(bait_python)) in hook
    baselined.commit("attributes")
    baselined.stage("tests/test_mod.py", TESTS.replace("def test_sub", "def _not_a_test"))
    refused = baselined.git_commit("-m", "drop")
    assert refused.returncode == errors.BLOCKED, refused.stderr
    assert "pkg/mod.py: 62.50% -> 50.00%" in refused.stderr
    _no_bait_ran(baselined.root, tmp_path)


def test_the_merge_driver_quotes_its_interpreter_and_the_baselines_path(
    project: Project, bait_python: Path, tmp_path: Path
) -> None:
    name = f"coverage data/{SHELL_BAIT}.toml"
    project.stage("pyproject.toml", pyproject(f"baseline = {quote(name)}"))
    project.stage(name, baseline_text(a=1, b=1))
    project.commit("base")
    assert project.ratchet("install", "--no-hook").code == errors.PASSED
    assert shlex.quote(str(bait_python)) in project.git("config", "merge.coverage-ratchet.driver")
    project.commit("attributes")
    project.git("checkout", "-q", "-b", "side")
    project.stage(name, baseline_text(a=5, b=1))
    project.commit("side raises a")
    project.git("checkout", "-q", "main")
    project.stage(name, baseline_text(a=3, b=4))
    project.commit("main raises a and b")
    project.git("merge", "-q", "--no-edit", "side")
    assert covered_of(project.read(name)) == {"pkg/a.py": 5, "pkg/b.py": 4}
    _no_bait_ran(project.root, tmp_path)


def test_nothing_in_the_baseline_is_run_and_no_path_in_it_is_opened(
    baselined: Project, tmp_path: Path
) -> None:
    """Entries named like shell commands, and paths through a link that leads
    out of the repository, are looked up and reported, never run or opened."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.py"
    secret.write_text("TOKEN = 'do not read'\n")
    secret.chmod(0o000)  # Any attempt to open it would fail loudly.
    (baselined.root / "link").symlink_to(outside)
    text = baselined.read("coverage-baseline.toml")
    odd = {
        "link/secret.py": "statements = 1\ncovered = 1\n",
        f"{SHELL_BAIT}.py": "statements = 2\ncovered = 1\n",
        "$(touch pwned4).py": "statements = 2\ncovered = 0\n",
    }
    for path, numbers in odd.items():
        text += f"\n[files.{quote(path)}]\n{numbers}"
    baselined.write("coverage-baseline.toml", text)
    for command in (("update",), ("report",), ("plan",), ("check", "--all")):
        result = baselined.ratchet(*command)
        assert result.code in (errors.PASSED, errors.BLOCKED), result.err
        assert "Traceback" not in result.err
    # The entries of files that do not exist were dropped; the link's is kept
    # (the path exists), unmeasured; the file it leads to was never touched.
    after = baselined.read("coverage-baseline.toml")
    assert '[files."link/secret.py"]' in after
    assert quote(f"{SHELL_BAIT}.py") not in after
    secret.chmod(0o600)
    assert secret.read_text() == "TOKEN = 'do not read'\n"
    _no_bait_ran(baselined.root, tmp_path)


@pytest.mark.parametrize(
    "name", ["a b/c.toml", 'say "hi".toml', "st*r[1]?.toml", "é/x.toml", f"{SHELL_BAIT}.toml"]
)
def test_the_attributes_line_names_exactly_the_baseline(project: Project, name: str) -> None:
    from ratchet.commands.install import _attributes_line

    project.write(".gitattributes", _attributes_line(name) + "\n")
    assert project.git("check-attr", "merge", "--", name).endswith(": merge: coverage-ratchet\n")
    # A glob character in the name matches only itself.
    assert project.git("check-attr", "merge", "--", "x" + name).endswith(": unspecified\n")
