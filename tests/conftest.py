"""Fixtures: real git repositories with a small Python project (``testing.project``)."""

from __future__ import annotations

# First, before anything imports ratchet: CI measures this suite's own run here
# (a no-op unless RATCHET_SELF_COVERAGE is set; see testing/self_coverage.py).
from testing.self_coverage import pytest_unconfigure  # isort: skip  # noqa: F401

import os
from pathlib import Path

import pytest
from hypothesis import settings

from testing.project import MOD, TESTS, Project, pyproject

# Performance is measured by the benchmarks, not by tests: a slow moment on a
# busy machine must not fail a property test.  Examples are derandomized so
# that this suite covers the same lines every run: our own ratchet compares
# our coverage across runs.  HYPOTHESIS_PROFILE=explore searches afresh.
settings.register_profile("ratchet", deadline=None, derandomize=True)
settings.register_profile("explore", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ratchet"))


@pytest.fixture(scope="session")
def _bytecode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bytecode cache for the toy projects' test runs (per worker).

    ratchet keeps a run's bytecode in the repository's git directory; every
    test's repository is new, so each first run compiled pytest, coverage.py
    and the standard library again (429 modules, 3 to 4 s).  A user's own
    ``PYTHONPYCACHEPREFIX`` is kept instead (what the toy runs share here);
    test_bytecode_is_cached_in_the_git_directory_not_the_tree tests the
    default."""
    return tmp_path_factory.mktemp("pycache")


@pytest.fixture(autouse=True)
def _test_env(monkeypatch: pytest.MonkeyPatch, _bytecode: Path) -> None:
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(_bytecode))
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
