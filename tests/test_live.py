"""The live progress line: on a terminal only, never in captured or JSON output."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testing.project import Project

SLOW_TEST = "\n\ndef test_slow():\n    import time\n\n    time.sleep(1.5)\n"


def _in_terminal(root: Path, *args: str) -> tuple[int, str]:
    """``ratchet ARGS`` with a pseudo-terminal for stdout and stderr."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_PROGRESS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ratchet", *args],
        cwd=root,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    out = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # The terminal closed: the process ended.
            break
        if not data:
            break
        out += data
    os.close(leader)
    return proc.wait(timeout=120), out.decode("utf-8", "replace")


def test_a_terminal_sees_tests_done_and_the_longest_running_test(baselined: Project) -> None:
    project = baselined
    project.write("tests/test_mod.py", project.read("tests/test_mod.py") + SLOW_TEST)
    project.commit("a slow test")
    code, out = _in_terminal(project.root, "check", "--full")
    assert code == 0, out
    # Tests done of the total (how many, depends on when the line was drawn).
    assert re.search(r"\r\x1b\[Kratchet: [0-3]/3 tests, 0:0\d", out), out
    assert "running longest: tests/test_mod.py::test_slow (1 s)" in out
    # The line is cleared before the report.
    assert "\r\x1b[Kratchet: full run (--full was given)" in out


def test_json_and_captured_output_have_no_progress(baselined: Project) -> None:
    code, out = _in_terminal(baselined.root, "check", "--full", "--format", "json")
    assert code == 0, out
    assert "\r" not in out.replace("\r\n", "\n")
    assert json.loads(out)["passed"] is True
    captured = subprocess.run(
        [sys.executable, "-m", "ratchet", "check", "--full"],
        cwd=baselined.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert captured.returncode == 0
    assert "tests, " not in captured.stderr
    assert "\r" not in captured.stderr


@pytest.mark.parametrize("xdist", [False, True])
def test_the_plugin_counts_tests_in_one_process_and_under_xdist(
    tmp_path: Path, xdist: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin in-process, as the project's pytest loads it."""
    (tmp_path / "test_a.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('n', range(5))\ndef test_n(n):\n    pass\n"
    )
    state = tmp_path / "progress.json"
    monkeypatch.setenv("RATCHET_LIVE_FILE", str(state))
    args = ["-q", "-p", "ratchet.live_plugin", "-p", "no:cacheprovider", str(tmp_path)]
    if xdist:
        args += ["-p", "xdist.plugin", "-n", "2"]
    monkeypatch.setattr(sys, "modules", dict(sys.modules))  # Import the plugin afresh.
    sys.modules.pop("ratchet.live_plugin", None)
    assert pytest.main(args) == 0
    assert json.loads(state.read_text()) == {
        "total": 5,
        "done": 5,
        "running": None,
        "since": None,
    }


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_is_drawn_and_cleared_in_process(
    baselined: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same, with ratchet in this process and a terminal for stderr."""
    project = baselined
    project.write("tests/test_mod.py", project.read("tests/test_mod.py") + SLOW_TEST)
    project.commit("a slow test")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.delenv("NO_PROGRESS", raising=False)
    from ratchet import live

    try:
        result = project.ratchet("check", "--full")
    finally:
        live.enable("json")  # Off again for the tests that follow in this process.
    assert result.code == 0, result.err
    drawn = terminal.getvalue()
    assert "running longest: tests/test_mod.py::test_slow" in drawn
    assert drawn.endswith("\r\x1b[K")


def test_each_state_of_the_run_reads_as_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every state the plugin's file can be in (the real runs above reach them
    depending on timing; here each one for sure)."""
    from ratchet.live import Ticker

    state = tmp_path / "progress.json"
    ticker = Ticker(state)
    assert ticker.line(0).startswith("ratchet: starting the tests, 0:0")
    state.write_text("{not json")
    assert ticker.line(0).startswith("ratchet: starting the tests, ")
    state.write_text(json.dumps({"total": None, "done": 0}))
    assert ticker.line(0).startswith("ratchet: collecting tests, ")
    state.write_text(json.dumps({"total": 9, "done": 4, "running": None, "since": None}))
    assert re.fullmatch(r"ratchet: 4/9 tests, 0:0\d", ticker.line(0))
    state.write_text(json.dumps({"total": 9, "done": 4, "running": "t::a", "since": 100.0}))
    assert ticker.line(112.4).endswith("; running longest: t::a (12 s)")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    ticker.started = time.monotonic()  # Both ticks within the same second.
    ticker.tick()
    ticker.tick()  # The same line: not drawn again.
    assert terminal.getvalue().count("\r\x1b[K") == 1
    ticker.close()
    assert terminal.getvalue().endswith("\r\x1b[K")
    quiet = Ticker(state)
    quiet.close()  # Nothing drawn, nothing to clear.
    assert terminal.getvalue().count("\r\x1b[K") == 2
