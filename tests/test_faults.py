"""Test runs that hang, crash or leave no data; concurrent and interrupted updates.

Each fault gets one clear line and its exit code, and the baseline is never
half written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ratchet import errors
from ratchet.baseline import loads
from ratchet.numbers import Numbers
from testing.project import Project, pyproject

RATCHET = [sys.executable, "-m", "ratchet"]
TESTS_WITHOUT_SUB = "from pkg.mod import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has ended; only its parent's wait is missing.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def test_a_hanging_suite_is_stopped_at_the_timeout(
    baselined: Project,
) -> None:
    baselined.stage("pyproject.toml", pyproject("test-timeout = 3"))
    baselined.stage(
        "tests/test_hang.py",
        "import time\n\n\ndef test_hang():\n    time.sleep(600)\n",
    )
    before = baselined.state()
    started = time.monotonic()
    result = baselined.ratchet("check", "--full")
    assert time.monotonic() - started < 60
    assert result.code == errors.TEST_RUN_FAILED
    assert "did not finish in 3 s and was stopped; nothing was measured" in result.err
    assert "test-timeout" in result.err
    # The tail of its output shows where it stopped.
    assert result.err.splitlines()[-2].startswith("tests/test_hang.py")
    assert baselined.state() == before


def test_a_process_the_suite_started_does_not_outlive_the_timeout(
    baselined: Project, tmp_path: Path
) -> None:
    # Baselined first: the first run in a clone also fills the bytecode
    # cache, which on a busy machine can take most of a 3 s limit by itself.
    project = baselined
    before = project.read("coverage-baseline.toml")
    pid_file = tmp_path / "child.pid"
    project.write("pyproject.toml", pyproject("test-timeout = 3"))
    project.write(
        "tests/test_hang.py",
        "import os, subprocess, sys, time\n\n\ndef test_hang():\n"
        "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"    open({str(pid_file) + '.tmp'!r}, 'w').write(str(child.pid))\n"
        f"    os.replace({str(pid_file) + '.tmp'!r}, {str(pid_file)!r})\n"
        "    time.sleep(600)\n",
    )
    project.git("add", "-A")
    result = project.ratchet("update", "--all")
    assert result.code == errors.TEST_RUN_FAILED
    assert project.read("coverage-baseline.toml") == before
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


@pytest.mark.parametrize("value", ["-1", "'soon'", "true", "nan"])
def test_a_bad_timeout_is_a_usage_error(baselined: Project, value: str) -> None:
    baselined.stage("pyproject.toml", pyproject(f"test-timeout = {value}"))
    result = baselined.ratchet("check")
    assert result.code == errors.USAGE
    assert "test-timeout must be a number of seconds >= 0" in result.err


def test_a_suite_that_exits_without_saving_data_is_named(baselined: Project) -> None:
    # os._exit skips coverage.py's atexit save: the run "passes" with no data.
    baselined.stage("tests/test_exit.py", "import os\n\n\ndef test_exit():\n    os._exit(0)\n")
    result = baselined.ratchet("check", "--full")
    assert result.code == errors.TEST_RUN_FAILED
    assert "wrote no coverage data" in result.err


def test_a_test_script_that_does_not_exist_is_named(baselined: Project) -> None:
    baselined.stage("pyproject.toml", pyproject('test-command = "tests/no_such_runner.py"'))
    result = baselined.ratchet("check")
    assert result.code == errors.TEST_RUN_FAILED
    assert "the test run `tests/no_such_runner.py` failed" in result.err
    assert "no_such_runner.py" in result.err.splitlines()[0] or "No file" in result.err


def test_corrupt_coverage_data_is_named(baselined: Project) -> None:
    baselined.write("shard.coverage", "this is not an SQLite database\n" * 40)
    before = baselined.read("coverage-baseline.toml")
    for command in ("check", "update"):
        result = baselined.ratchet(command, "--data", "shard.coverage")
        assert result.code == errors.USAGE
        assert "`coverage combine` failed" in result.err
        assert "Traceback" not in result.err.splitlines()[-1]
    assert baselined.read("coverage-baseline.toml") == before


# -- updates at the same time, and interrupted ones --------------------------------


def _slow_suite(project: Project, seconds: float) -> None:
    """A suite that raises pkg/mod.py (tests `unused`) after sleeping."""
    project.write(
        "tests/test_slow.py",
        "import time\n\nfrom pkg.mod import unused\n\n\n"
        f"def test_slow():\n    time.sleep({seconds})\n    assert unused(1) == 1\n",
    )


def _spawn(project: Project, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*RATCHET, *args],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_from_a_terminal,
    )


def _as_from_a_terminal() -> None:
    """Ctrl-C's default action, as a shell gives a foreground command: a
    process started in the background inherits SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _holding_the_lock(project: Project, update: subprocess.Popen[str]) -> None:
    """Wait until ``update`` holds the baseline's lock."""
    lock = project.root / ".git" / "ratchet" / "baseline.lock"
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text().strip() == str(update.pid)):
        assert time.monotonic() < deadline, "the update never took the lock"
        time.sleep(0.05)


def test_two_updates_at_once_are_serialized_and_no_raise_is_lost(baselined: Project) -> None:
    baselined.write("pkg/extra.py", "X = 1\nY = 2\n")
    _slow_suite(baselined, 2)
    first = _spawn(baselined, "update")
    _holding_the_lock(baselined, first)
    # The second raises another file, from data; it must start from the
    # first's result, or the first's raise of pkg/mod.py would be lost.
    meta = {"version": "7.17.3", "branch_coverage": False}
    files = {
        "pkg/mod.py": {"summary": {"num_statements": 8, "covered_lines": 5}},
        "pkg/extra.py": {"summary": {"num_statements": 2, "covered_lines": 2}},
    }
    baselined.write("report.json", json.dumps({"meta": meta, "files": files}))
    second = _spawn(baselined, "update", "--data", "report.json")
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == second.returncode == errors.PASSED, err1 + err2
    assert f"waiting for another command writing the baseline (pid {first.pid})" in err2
    assert "raised   pkg/mod.py: 62.50% -> 87.50%" in out1
    assert "raised   pkg/extra.py: 0.00% -> 100.00%" in out2
    assert "kept     pkg/mod.py: 87.50%, now 62.50%" in out2
    baseline = loads(baselined.read("coverage-baseline.toml"))
    assert baseline.files["pkg/mod.py"].numbers == Numbers(8, 7)
    assert baseline.files["pkg/extra.py"].numbers == Numbers(2, 2)


def test_a_lock_left_by_a_killed_update_does_not_block(baselined: Project) -> None:
    _slow_suite(baselined, 60)
    victim = _spawn(baselined, "update")
    _holding_the_lock(baselined, victim)
    victim.kill()
    victim.wait()
    _slow_suite(baselined, 0)
    result = baselined.ratchet("update")
    assert result.code == errors.PASSED
    assert "waiting" not in result.err
    assert "raised   pkg/mod.py" in result.out


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [
        (signal.SIGINT, errors.INTERRUPTED, "ratchet: interrupted; nothing was written"),
        (signal.SIGTERM, 143, "ratchet: stopped by SIGTERM; nothing was written"),
        (signal.SIGHUP, 129, "ratchet: stopped by SIGHUP; nothing was written"),
    ],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
@pytest.mark.parametrize("command", ["update", "check"])
def test_a_signal_during_the_test_run_stops_everything_and_writes_nothing(
    baselined: Project, tmp_path: Path, signum: int, code: int, said: str, command: str
) -> None:
    """Ctrl-C, CI cancelling a job (SIGTERM), a closed terminal (SIGHUP): the
    test run's whole process group stops, nothing is written, nothing is left."""
    pid_file = tmp_path / "test.pid"
    baselined.write(
        "tests/test_slow.py",
        "import os, time\n\nfrom pkg.mod import unused\n\n\ndef test_slow():\n"
        f"    open({str(pid_file) + '.tmp'!r}, 'w').write(str(os.getpid()))\n"
        f"    os.replace({str(pid_file) + '.tmp'!r}, {str(pid_file)!r})\n"
        "    time.sleep(600)\n    assert unused(1) == 1\n",
    )
    baselined.write("tests/test_mod.py", TESTS_WITHOUT_SUB)  # Unstaged: a snapshot.
    baselined.git("add", "tests/test_slow.py")
    before = baselined.read("coverage-baseline.toml")
    state = baselined.state()
    process = _spawn(baselined, command)
    deadline = time.monotonic() + 60
    while not pid_file.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert err.strip().splitlines()[-1] == said
    assert baselined.read("coverage-baseline.toml") == before
    assert baselined.state() == state
    # The test process went with it, and so did every temporary folder.
    test_pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(test_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(test_pid)
    assert not list(baselined.root.glob(".coverage-baseline.toml.*"))
    assert not _scratch_of(process.pid)


def _scratch_of(pid: int) -> list[Path]:
    """Temporary folders a ratchet process made (see ratchet.scratch)."""
    import tempfile

    parent = Path(tempfile.gettempdir()) / f"ratchet-{os.getuid()}"
    return list(parent.glob(f"*-{pid}-*")) if parent.is_dir() else []


def test_the_next_run_sweeps_what_a_killed_run_left(
    baselined: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A temporary folder of its own: a ratchet run in another test process
    # would sweep the killed run's folders before this test looks.
    import tempfile

    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    pid_file = tmp_path / "test.pid"
    baselined.stage(
        "tests/test_slow.py",
        "import os, time\n\n\ndef test_slow():\n"
        f"    open({str(pid_file) + '.tmp'!r}, 'w').write(str(os.getpid()))\n"
        f"    os.replace({str(pid_file) + '.tmp'!r}, {str(pid_file)!r})\n    time.sleep(600)\n",
    )
    baselined.write("tests/test_mod.py", TESTS_WITHOUT_SUB)  # Unstaged: a snapshot.
    process = _spawn(baselined, "check")
    deadline = time.monotonic() + 60
    while not pid_file.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    left = _scratch_of(process.pid)
    assert left  # Its data folder and the snapshot.
    process.kill()
    process.wait()
    os.kill(int(pid_file.read_text()), signal.SIGKILL)  # A kill -9 stops nothing else.
    assert all(p.exists() for p in left)
    (baselined.root / "tests" / "test_slow.py").unlink()
    baselined.git("add", "-A")
    baselined.ratchet("report")  # Any command that makes a folder sweeps first.
    assert all(p.exists() for p in left)
    assert baselined.ratchet("check").code == errors.BLOCKED
    assert not any(p.exists() for p in left)


# -- check --confirm: a second run before refusing -----------------------------------


def _flaky_test(counter: Path) -> str:
    """A test that calls ``unused`` on every other run: its coverage is chance."""
    counter.write_text("0")
    return (
        "from pkg.mod import unused\n\n\ndef test_sometimes():\n"
        f"    n = int(open({str(counter)!r}).read())\n"
        f"    open({str(counter)!r}, 'w').write(str(n + 1))\n"
        "    if n % 2 == 0:\n        assert unused(1) == 1\n"
    )


def test_confirm_reports_a_file_worse_in_one_run_only_as_flaky(
    project: Project, tmp_path: Path
) -> None:
    project.write("tests/test_flaky.py", _flaky_test(tmp_path / "counter"))
    assert project.ratchet("init").code == errors.PASSED  # Run 0: 7 of 8 covered.
    project.commit("baseline")
    project.stage("pkg/mod.py", project.read("pkg/mod.py") + "\n# a comment\n")

    confirmed = project.ratchet("check", "--confirm", "--full")  # Runs 1 and 2.
    assert confirmed.code == errors.PASSED, confirmed.out
    assert "flaky, not judged: worse in one run, not in an identical one (1):" in confirmed.out
    assert "pkg/mod.py: baseline 87.50%; runs: 62.50%, then 87.50%" in confirmed.out

    as_json = project.ratchet("check", "--confirm", "--full", "--format", "json")  # 3 and 4.
    (verdict,) = [f for f in json.loads(as_json.out)["files"] if f["path"] == "pkg/mod.py"]
    assert verdict["verdict"] == "flaky"
    assert verdict["blocking"] is False
    assert [run["covered"] for run in verdict["runs"]] == [5, 7]

    unconfirmed = project.ratchet("check", "--full")  # Run 5: the unlucky one, refused.
    assert unconfirmed.code == errors.BLOCKED
    assert "flaky" not in unconfirmed.out


def test_confirm_refuses_a_drop_both_runs_agree_on(baselined: Project) -> None:
    baselined.stage("tests/test_mod.py", TESTS_WITHOUT_SUB)
    result = baselined.ratchet("check", "--confirm")
    assert result.code == errors.BLOCKED
    assert "pkg/mod.py: 62.50% -> 50.00%" in result.out
    assert "confirmed: a second, identical run gave the same numbers" in result.out


def test_confirm_with_a_test_script_repeats_the_whole_run(baselined: Project) -> None:
    baselined.write(
        "run_tests.py", "import sys\nimport pytest\nsys.exit(pytest.main(['-q', 'tests']))\n"
    )
    baselined.stage("pyproject.toml", pyproject('test-command = "run_tests.py"'))
    assert baselined.ratchet("check", "--confirm").code == errors.PASSED  # Nothing worse.
    baselined.stage("tests/test_mod.py", TESTS_WITHOUT_SUB)
    result = baselined.ratchet("check", "--confirm")
    assert result.code == errors.BLOCKED
    assert "confirmed: a second, identical run gave the same numbers" in result.out


def test_a_second_writer_waits_for_the_lock_and_says_for_whom(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import fcntl
    import threading

    from ratchet import state
    from ratchet.lock import NAME, baseline_lock

    path = state.path(tmp_path, NAME)
    path.parent.mkdir()
    path.write_text("4242")
    holder = os.open(path, os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)
    leftover = tmp_path / ".coverage-baseline.toml.abc.tmp"
    leftover.write_text("half")
    threading.Timer(0.5, os.close, [holder]).start()  # Closing releases it.
    started = time.monotonic()
    with baseline_lock(tmp_path, tmp_path / "coverage-baseline.toml"):
        waited = time.monotonic() - started
        assert path.read_text() == str(os.getpid())
    assert waited >= 0.4
    assert "waiting for another command writing the baseline (pid 4242)" in capsys.readouterr().err
    assert not leftover.exists()
