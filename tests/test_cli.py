"""The command line as a newcomer meets it: listings, usage, "did you mean"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ratchet.cli import main
from testing.project import Project


def _both(*args: str, cwd: Path) -> tuple[int, str, str]:
    """``ratchet ARGS`` as ``python -m ratchet``: the same as the script."""
    proc = subprocess.run(
        [sys.executable, "-m", "ratchet", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_bare_ratchet_and_help_list_the_commands(tmp_path: Path) -> None:
    code, out, _ = _both(cwd=tmp_path)
    assert code == 2
    for command in ("init", "check", "update", "install", "report", "plan", "demo", "help"):
        assert f"\n    {command} " in out
    code, listed, _ = _both("help", cwd=tmp_path)
    assert (code, listed) == (0, out)
    code, out, _ = _both("help", "check", cwd=tmp_path)
    assert code == 0
    assert out.startswith("usage: ratchet check ")


@pytest.mark.parametrize(
    ("args", "usage", "error"),
    [
        (
            ["chek"],
            "usage: ratchet [-h]",
            "ratchet: error: unknown command 'chek'; did you mean 'check'?",
        ),
        (
            ["check", "--verfy"],
            "usage: ratchet check [-h]",
            "ratchet check: error: unrecognized arguments: --verfy; did you mean '--verify'?",
        ),
        (
            ["check", "--bogus"],
            "usage: ratchet check [-h]",
            "ratchet check: error: unrecognized arguments: --bogus",
        ),
        (["install", "--no-hok"], "usage: ratchet install [-h]", "did you mean '--no-hook'?"),
        (["help", "nosuch"], "usage: ratchet [-h]", "ratchet: error: unknown command 'nosuch'"),
    ],
)
def test_a_mistake_gets_its_commands_usage_and_a_suggestion(
    tmp_path: Path, args: list[str], usage: str, error: str
) -> None:
    code, out, err = _both(*args, cwd=tmp_path)
    assert code == 2
    assert out == ""
    assert err.startswith(usage)
    assert err.rstrip("\n").splitlines()[-1].endswith(error)


def test_in_process_main_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["check", "--verfy"])
    assert stop.value.code == 2
    assert "did you mean '--verify'?" in capsys.readouterr().err


def test_a_venv_under_another_name_is_named_in_the_advice(project: Project) -> None:
    """With ``env/`` (not .venv or venv) and no ``python`` configured, the
    interpreter found lacks coverage.py: the advice names ``env/bin/python``."""
    text = project.read("pyproject.toml")
    project.write(
        "pyproject.toml",
        "\n".join(line for line in text.splitlines() if not line.startswith("python =")) + "\n",
    )
    bare = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(project.root.parent / "bare")],
        check=True,
    )
    assert bare.returncode == 0
    project.monkeypatch.setenv("PATH", f"{project.root.parent / 'bare' / 'bin'}:/usr/bin:/bin")
    project.monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    # No other virtualenv in the repository: the advice is to install coverage.py.
    plain = project.ratchet("init")
    assert plain.code == 2
    assert "-m pip install coverage, or name the right interpreter" in plain.err
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(project.root / "env")], check=True
    )
    result = project.ratchet("init")
    assert result.code == 2
    assert 'set it in pyproject.toml: [tool.ratchet] python = "env/bin/python"' in result.err


@pytest.mark.parametrize(
    ("args", "code", "start"),
    [
        ([], 2, "usage: ratchet [-h]"),
        (["help"], 0, "usage: ratchet [-h]"),
        (["help", "why"], 0, "usage: ratchet why [-h]"),
    ],
)
def test_listings_in_process(
    capsys: pytest.CaptureFixture[str], args: list[str], code: int, start: str
) -> None:
    assert main(args) == code
    assert capsys.readouterr().out.startswith(start)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["chek"], "unknown command 'chek'; did you mean 'check'?"),
        (["help", "nosuch"], "unknown command 'nosuch'"),
        (["check", "--bogus"], "unrecognized arguments: --bogus\n"),
    ],
)
def test_mistakes_in_process(
    capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    assert said in capsys.readouterr().err


def test_the_demo_refuses_a_folder_that_holds_anything_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    assert main(["demo", "--keep", str(tmp_path)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err


def test_a_command_leaves_garbage_collection_as_it_found_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Commands run with the cyclic collector off, and put it back as it was."""
    import gc

    monkeypatch.chdir(tmp_path)  # Not a repository: the command stops at once.
    assert gc.isenabled()
    assert main(["report"]) != 0
    assert gc.isenabled()
    gc.disable()
    try:
        assert main(["report"]) != 0
        assert not gc.isenabled()  # A caller that had turned it off keeps it off.
    finally:
        gc.enable()
    assert "not a git repository" in capsys.readouterr().err


def test_the_own_process_ends_once_its_output_is_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run as a command, ratchet skips the interpreter's teardown after
    flushing what it printed; with work left to that teardown (a coverage.py
    measurement to save, a thread to wait for) it ends the usual way.
    ``os._exit`` is replaced: it would end this test process."""
    import gc
    import io
    import os
    import threading
    import types

    from ratchet import cli, errors

    # Not this test process's signals: what a command does to its own at its end.
    monkeypatch.setattr(errors, "LATE_SIGNALS_IGNORED", errors.LATE_SIGNALS_IGNORED)
    monkeypatch.setattr(errors, "ignore_signals_to_exit", lambda: None)
    ended: list[int] = []
    monkeypatch.setattr(os, "_exit", ended.append)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    # As a command: the exit code, its output flushed first.
    monkeypatch.setattr(sys, "argv", ["ratchet", "help", "check"])
    monkeypatch.setitem(sys.modules, "coverage", None)
    assert main() == 0
    assert ended == [0]
    assert "--verify" in out.getvalue()
    # A command that ran: the collector is left off (enabling it would
    # first traverse everything the command built).
    monkeypatch.chdir(tmp_path)  # Not a repository: the command stops at once.
    monkeypatch.setattr(sys, "argv", ["ratchet", "report"])
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    try:
        code = main()
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert code != 0
    assert ended == [0, code]
    assert "not a git repository" in err.getvalue()
    ended.clear()
    ended.append(0)
    # Called by a program (argv given): no exit.
    assert main(["help", "check"]) == 0
    assert ended == [0]
    # A stream that cannot be flushed (a closed pipe) does not stop the exit.
    monkeypatch.setattr(sys, "stdout", types.SimpleNamespace(flush=_closed_pipe))
    cli._exit_now(1)
    assert ended == [0, 1]
    # A measurement running: coverage.py saves it at the usual exit.
    running = types.SimpleNamespace(Coverage=types.SimpleNamespace(current=lambda: object()))
    monkeypatch.setitem(sys.modules, "coverage", running)
    cli._exit_now(2)
    assert ended == [0, 1]
    # A thread the usual exit would wait for.
    monkeypatch.setitem(sys.modules, "coverage", None)
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        cli._exit_now(3)
    finally:
        release.set()
        worker.join()
    assert ended == [0, 1]
    cli._exit_now(4)
    assert ended == [0, 1, 4]


def _closed_pipe() -> None:
    raise BrokenPipeError(32, "Broken pipe")
