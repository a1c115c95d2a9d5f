"""Bad input gets one clear line and the right exit code; nothing is written."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from ratchet import errors, snapshot
from ratchet.cli import main
from testing.project import TESTS, Project, pyproject, python_without_coverage

TESTS_COVERING_ALL = (
    TESTS + "\n\ndef test_unused():\n    from pkg.mod import unused\n\n    unused(1)\n"
)


def test_no_baseline_is_a_usage_error(project: Project) -> None:
    project.stage("pkg/mod.py", "X = 1\n")
    result = project.ratchet("check")
    assert result.code == errors.USAGE
    assert result.err == (
        "ratchet: error: no baseline at coverage-baseline.toml "
        "(create it with `ratchet init` and commit it)\n"
    )


def test_malformed_baseline_names_its_line(baselined: Project) -> None:
    text = baselined.read("coverage-baseline.toml")
    broken = text.replace("covered = 5  #", "covered = = 5  #")
    baselined.stage("coverage-baseline.toml", broken)
    result = baselined.ratchet("check")
    assert result.code == errors.USAGE
    line = text.splitlines().index("covered = 5  # 62.50%") + 1
    assert result.err.startswith(
        f"ratchet: error: coverage-baseline.toml:{line}: not valid TOML: Invalid value"
    )
    assert baselined.read("coverage-baseline.toml") == broken


def test_an_invalid_entry_names_its_line(baselined: Project) -> None:
    text = baselined.read("coverage-baseline.toml")
    baselined.write("coverage-baseline.toml", text.replace("covered = 5  #", "covered = 50  #"))
    result = baselined.ratchet("update")
    assert result.code == errors.USAGE
    line = text.splitlines().index('[files."pkg/mod.py"]') + 3  # Its covered = line.
    assert result.err.startswith(
        f'ratchet: error: coverage-baseline.toml:{line}: files."pkg/mod.py".covered: '
        "50 is more than statements (8)"
    )
    baselined.write("coverage-baseline.toml", text.replace("covered = 5 }", "covered = 9 }"))
    line = next(i for i, x in enumerate(text.splitlines(), 1) if x.startswith("start = "))
    result = baselined.ratchet("update")
    assert result.err.startswith(
        f"ratchet: error: coverage-baseline.toml:{line}: overall.start.covered: "
        "9 is more than statements (8)"
    )


def test_not_a_git_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert main(["check"]) == errors.USAGE
    assert "not a git repository" in capsys.readouterr().err


def test_init_refuses_to_overwrite_without_force(baselined: Project) -> None:
    before = baselined.read("coverage-baseline.toml")
    result = baselined.ratchet("init")
    assert result.code == errors.USAGE
    assert "already exists" in result.err
    assert baselined.read("coverage-baseline.toml") == before
    assert baselined.ratchet("init", "--force").code == errors.PASSED


def test_a_failing_suite_exits_3_with_the_tail_of_its_output(baselined: Project) -> None:
    baselined.stage("tests/test_broken.py", "def test_broken():\n    assert 1 == 2, 'BROKEN'\n")
    before = baselined.read("coverage-baseline.toml")
    result = baselined.ratchet("check")
    assert result.code == errors.TEST_RUN_FAILED
    assert "AssertionError: BROKEN" in result.err
    assert "the test run `pytest` failed (exit 1); nothing was measured" in result.err
    assert baselined.ratchet("update").code == errors.TEST_RUN_FAILED
    assert baselined.read("coverage-baseline.toml") == before


def test_a_crashing_interpreter_exits_3(baselined: Project) -> None:
    baselined.stage("tests/test_crash.py", "import os\n\n\ndef test_crash():\n    os.abort()\n")
    result = baselined.ratchet("check")
    assert result.code == errors.TEST_RUN_FAILED
    assert "killed by signal" in result.err


def test_a_test_command_the_environment_lacks_is_named(baselined: Project) -> None:
    baselined.stage("pyproject.toml", pyproject('test-command = "no_such_module_xyz"'))
    result = baselined.ratchet("check")
    assert result.code == errors.USAGE
    assert "lacks no_such_module_xyz" in result.err


def test_an_environment_without_coverage_is_named(baselined: Project, tmp_path: Path) -> None:
    bare = python_without_coverage(tmp_path)
    baselined.stage("pyproject.toml", pyproject().replace(sys.executable, str(bare)))
    result = baselined.ratchet("check")
    assert result.code == errors.USAGE
    assert "coverage.py is not installed in the project's environment" in result.err
    assert str(bare) in result.err


def test_bad_configuration_is_a_usage_error(baselined: Project) -> None:
    baselined.stage("pyproject.toml", pyproject("new-file-minimum = 'high'"))
    result = baselined.ratchet("check")
    assert result.code == errors.USAGE
    assert "new-file-minimum must be a number" in result.err


def test_a_path_outside_the_repository_is_refused(baselined: Project, tmp_path: Path) -> None:
    result = baselined.ratchet("check", str(tmp_path / "elsewhere.py"))
    assert result.code == errors.USAGE
    assert "path outside the repository" in result.err


def test_reason_is_required_with_allow_lower(baselined: Project) -> None:
    result = baselined.ratchet("update", "--allow-lower", "pkg/mod.py")
    assert result.code == errors.USAGE
    assert "--allow-lower needs --reason" in result.err


def test_branch_mode_change_is_not_compared_silently(baselined: Project) -> None:
    baselined.stage("pyproject.toml", pyproject(branch=True))
    result = baselined.ratchet("check")
    assert result.code == errors.USAGE
    assert "statement mode, this run in branch mode" in result.err


def test_ctrl_c_exits_130_and_writes_nothing(
    baselined: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imported before anything is patched: a module imported while
    # ratchet.measure.measure is patched would keep the patch for good.
    import ratchet.commands.update as update_module

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    before = baselined.read("coverage-baseline.toml")
    monkeypatch.setattr(update_module, "measure_here", interrupted)
    result = baselined.ratchet("update")
    assert result.code == errors.INTERRUPTED
    assert "interrupted; nothing was written" in result.err
    assert baselined.read("coverage-baseline.toml") == before


def test_python_dash_m_ratchet_and_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ratchet", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("ratchet ")


@pytest.mark.parametrize("command", ["init", "check", "update"])
def test_every_command_has_help(command: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ratchet", command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert f"usage: ratchet {command}" in proc.stdout


def test_an_unknown_command_is_a_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ratchet", "frobnicate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == errors.USAGE


def _report(files: Mapping[str, object], branch: bool = False) -> str:
    import json

    meta = {"format": 3, "version": "7.17.3", "branch_coverage": branch}
    return json.dumps({"meta": meta, "files": files})


def _file(statements: int, covered: int, missing: list[int] | None = None) -> dict[str, object]:
    summary = {"num_statements": statements, "covered_lines": covered}
    return {"summary": summary, "missing_lines": missing or []}


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("missing.json", None, "missing.json: no such file"),
        ("folder", "", "is a folder; name the data files"),
        ("bad.json", "{not json", "not valid JSON"),
        ("other.json", '{"a": 1}', "not a coverage.py JSON report"),
        ("nosummary.json", _report({"pkg/mod.py": {}}), "has no usable summary"),
        ("counts.json", _report({"pkg/mod.py": _file(8, 9)}), "has invalid counts"),
    ],
)
def test_bad_data_is_named(
    baselined: Project, name: str, content: str | None, problem: str
) -> None:
    if name == "folder":
        (baselined.root / name).mkdir()
    elif content is not None:
        baselined.write(name, content)
    result = baselined.ratchet("check", "--data", name)
    assert result.code == errors.USAGE
    assert problem in result.err
    assert "Traceback" not in result.err


def test_a_json_report_and_data_files_cannot_be_mixed(baselined: Project) -> None:
    baselined.write("r.json", _report({}))
    baselined.write("shard", "not sqlite")
    result = baselined.ratchet("check", "--data", "r.json", "shard")
    assert result.code == errors.USAGE
    assert "one coverage JSON report, or .coverage data files" in result.err


def test_report_paths_are_made_repository_relative(baselined: Project, tmp_path: Path) -> None:
    inside = str(baselined.root / "pkg" / "mod.py")
    outside = str(tmp_path / "elsewhere.py")
    files = {inside: _file(8, 5), "pkg/__init__.py": _file(0, 0), outside: _file(3, 0)}
    baselined.write("r.json", _report(files))
    result = baselined.ratchet("check", "--data", "r.json")
    assert result.code == errors.PASSED, result.out
    assert "1 measured files outside the repository ignored" in result.out


def test_a_coverage_version_change_is_mentioned(baselined: Project) -> None:
    files = {"pkg/mod.py": _file(8, 5), "pkg/__init__.py": _file(0, 0)}
    baselined.write("r.json", _report(files).replace("7.17.3", "6.5.0"))
    result = baselined.ratchet("check", "--data", "r.json")
    assert result.code == errors.PASSED
    assert "this run with 6.5.0; a change in coverage.py can move numbers" in result.out


def test_a_users_bytecode_prefix_is_respected(
    baselined: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = tmp_path / "pycache"
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(prefix))
    # A test added: the check runs a test process (a comment would run none).
    tests = baselined.read("tests/test_mod.py")
    baselined.stage("tests/test_mod.py", tests + "\n\ndef test_more():\n    assert True\n")
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED, result.out
    assert "ran 1 of 3 tests" in result.out
    assert list(prefix.rglob("mod*.pyc"))


def test_bytecode_is_cached_in_the_git_directory_not_the_tree(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compiled modules and pytest's rewritten test modules are kept for the
    next run in ratchet's own cache; none lands in the working tree, and a
    fresh snapshot's files (under a temporary path) are not kept."""
    monkeypatch.delenv("PYTHONPYCACHEPREFIX")  # Set for the other tests: see conftest.py.
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    baselined = project
    cache = baselined.root / ".git" / "ratchet" / "pycache"
    baselined.stage("pkg/mod.py", baselined.read("pkg/mod.py") + "\n# touched\n")
    assert baselined.ratchet("check").code == errors.PASSED
    tree = cache / baselined.root.resolve().relative_to("/")
    assert list(tree.rglob("mod.*.pyc"))
    assert list(tree.rglob("test_mod.*pytest*.pyc"))  # Assertions rewritten once.
    assert not list(baselined.root.rglob("__pycache__"))
    before = set(cache.rglob("*.pyc"))
    tests = baselined.read("tests/test_mod.py")
    baselined.stage("tests/test_mod.py", tests + "\n\ndef test_more():\n    assert True\n")
    # Not staged: the check runs on a snapshot of the index.
    baselined.write("pkg/mod.py", baselined.read("pkg/mod.py") + "# again\n")
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED, result.out
    assert "measured the staged content" in result.out
    assert "ran 1 of 3 tests" in result.out
    kept = set(cache.rglob("*.pyc")) - before
    # Only the kept copy of the index's (ratchet.snapshot), compiled once.
    assert kept
    assert all(snapshot.KEPT in str(p.relative_to(cache)) for p in kept)
    # A fresh export's are not kept: its path is never seen again.
    monkeypatch.setattr(snapshot, "_kept_base", lambda repo: None)
    baselined.stage("tests/test_mod.py", tests + "\n\ndef test_other():\n    assert True\n")
    baselined.write("pkg/mod.py", baselined.read("pkg/mod.py") + "# once more\n")
    result = baselined.ratchet("check")
    assert "ran 1 of 3 tests" in result.out, result.out
    assert set(cache.rglob("*.pyc")) - before - kept == set()


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_sigterm_and_sighup_unwind_like_ctrl_c_in_process(
    baselined: Project, monkeypatch: pytest.MonkeyPatch, name: str, code: int
) -> None:
    """The handler ratchet installs while a command runs (a subprocess test
    of each signal is in test_faults); the previous handler comes back."""
    import os
    import signal

    import ratchet.commands.update as update_module

    signum = getattr(signal, name)
    before_handler = signal.getsignal(signum)

    def signalled(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(update_module, "measure_here", signalled)
    result = baselined.ratchet("update")
    assert result.code == code
    assert result.err == f"ratchet: stopped by {name}; nothing was written\n"
    assert signal.getsignal(signum) is before_handler


def test_what_was_written_before_an_interruption_is_said(
    baselined: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ratchet.commands.update as update_module

    def written_then_interrupted(path: object, text: str) -> None:
        from ratchet.errors import WRITTEN

        WRITTEN.append("coverage-baseline.toml")
        raise KeyboardInterrupt

    monkeypatch.setattr(update_module, "write_atomic", written_then_interrupted)
    baselined.write("tests/test_mod.py", TESTS_COVERING_ALL)
    result = baselined.ratchet("update")
    assert result.code == errors.INTERRUPTED
    assert result.err.endswith(
        "ratchet: interrupted; coverage-baseline.toml had already been written\n"
    )


def test_commands_run_outside_the_main_thread_take_no_signals(baselined: Project) -> None:
    import threading

    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(main(["report"])))
    thread.start()
    thread.join()
    assert results == [errors.PASSED]


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_while_the_interpreter_shuts_down_does_not_kill_a_finished_run(
    tmp_path: Path, name: str
) -> None:
    """Shutting down, Python puts back the default action of every signal
    with a Python handler: a signal then killed a run whose verdict was out
    (exit -15).  An object destroyed with ``__main__`` holds the shutdown
    open while the signal is sent.  The shutdown happens when a command
    leaves work to it (here a thread to wait for; see the next test)."""
    import os
    import signal

    script = _LATE + (
        "import threading\n"
        "threading.Thread(target=time.sleep, args=(0.2,)).start()\n"
        "sys.exit(main())\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # The default action for Ctrl-C, as in a terminal's foreground job.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    assert proc.stderr.readline() == b"shutting down\n"
    os.kill(proc.pid, getattr(signal, name))
    assert proc.wait(timeout=30) == 0


_LATE = (
    "import os, sys, time\n"
    "class Late:\n"
    "    def __init__(self):\n"
    "        self.write, self.sleep = os.write, time.sleep\n"
    "    def __del__(self):\n"
    "        self.write(2, b'shutting down\\n')\n"
    "        self.sleep(1)\n"
    "late = Late()\n"
    "sys.argv = ['ratchet', 'help']\n"
    "from ratchet.cli import main\n"
)


def test_a_command_ends_without_the_interpreters_shutdown(tmp_path: Path) -> None:
    """With nothing left to it, the shutdown is skipped (its time was the
    hook's, 20-50 ms at 20,000 files): nothing is destroyed, the output is
    whole and the exit code the command's."""
    proc = subprocess.run(
        [sys.executable, "-c", _LATE + "sys.exit(main())\n"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stderr == b""
    assert b"usage: ratchet" in proc.stdout


def test_a_database_that_is_not_coverage_data_is_named(baselined: Project) -> None:
    with contextlib.closing(sqlite3.connect(baselined.root / "other.db")) as db:
        db.execute("CREATE TABLE x (a)")
        db.commit()
    result = baselined.ratchet("check", "--data", "other.db")
    assert result.code == errors.USAGE
    assert "isn't a coverage data file" in result.err
    assert "`coverage combine` failed" in result.err
