"""Soak: SIGINT, SIGTERM and SIGHUP at random moments of ``check`` and ``update``.

A small project whose suite takes a second or two, and starts a subprocess
of its own, is checked (on a snapshot of the index: a staged change and an
untracked file) and updated, and each run is sent one of the three signals
after a random delay.  After each trial:

- the exit code is the run's own (0, 1) when it finished first, else 130,
  143 or 129 with the line ``ratchet: interrupted; ...`` or ``ratchet:
  stopped by SIG...; ...`` last;
- the baseline is byte for byte the old one or the new one;
- ``check`` left the index and the working tree's status as they were;
- no process the suite started is alive, and no temporary folder of the
  run is left.

Prints the trials per signal, how many stopped and how many finished first,
and the number of bad ones (must be 0); exits 1 on any bad one.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import RATCHET, commit_all, git_env, git_repo

SIGNALS = {"SIGINT": (signal.SIGINT, 130), "SIGTERM": (signal.SIGTERM, 143)}
SIGNALS["SIGHUP"] = (signal.SIGHUP, 129)

MOD = "def f(x):\n    if x:\n        return 1\n    return 2\n\n\ndef g(x):\n    return x * 2\n"


def suite(pids: Path, tests: int, both: bool = False) -> str:
    """Tests that take a while, and one that starts a process of its own; with
    ``both``, they cover both of ``f``'s branches."""
    lines = [
        "import os, subprocess, sys, time",
        "from pkg.mod import f, g",
        f"PIDS = {str(pids)!r}",
        "",
        "def _note(pid):",
        "    open(os.path.join(PIDS, str(pid)), 'w').close()",
        "",
        "def test_child():",
        "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(0.5)'])",
        "    _note(child.pid)",
        "    _note(os.getpid())",
        "    child.wait()",
    ]
    for n in range(tests):
        lines += [
            "",
            f"def test_{n}():",
            "    time.sleep(0.05)",
            f"    assert f({n % 2 if both else 1}) + g(1)",
        ]
    return "\n".join(lines) + "\n"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def scratch_of(pid: int) -> list[Path]:
    parent = Path(tempfile.gettempdir()) / f"ratchet-{os.getuid()}"
    return list(parent.glob(f"*-{pid}-*")) if parent.is_dir() else []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=90)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    trials = 3 if args.smoke else args.trials
    rng = random.Random(args.seed)
    env = git_env()
    with tempfile.TemporaryDirectory() as tmp:
        root = git_repo(Path(tmp) / "repo")
        pids = Path(tmp) / "pids"
        pids.mkdir()
        (root / "pkg").mkdir()
        (root / "pkg" / "__init__.py").write_text("")
        (root / "pkg" / "mod.py").write_text(MOD)
        (root / "tests").mkdir()
        (root / "tests" / "test_mod.py").write_text(suite(pids, args.tests))
        (root / "pyproject.toml").write_text(
            f"[tool.ratchet]\npython = {sys.executable!r}\nselect = false\n\n"
            "[tool.coverage.run]\nsource = ['pkg']\n"
        )
        subprocess.run([*RATCHET, "init"], cwd=root, check=True, env=env, capture_output=True)
        commit_all(root)
        baseline = root / "coverage-baseline.toml"
        old = baseline.read_bytes()
        # A gain, staged, with an untracked file beside it: check runs on a
        # snapshot of the index; update records the gain.
        (root / "tests" / "test_mod.py").write_text(suite(pids, args.tests, both=True))
        subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
        (root / "scratch.py").write_text("x = 1\n")
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, env=env, check=True
        ).stdout
        staged = ["git", "ls-files", "-s"]
        index = subprocess.run(staged, cwd=root, capture_output=True, env=env).stdout

        durations = []
        for command in ("check", "update"):
            for _ in range(2):
                baseline.write_bytes(old)
                started = time.perf_counter()
                subprocess.run([*RATCHET, command], cwd=root, env=env, capture_output=True)
                durations.append(time.perf_counter() - started)
        new = baseline.read_bytes()
        assert new != old, "update must change the baseline for the soak to mean anything"
        whole = statistics.median(durations)
        print(f"a run takes {whole * 1000:.0f} ms (median of 4)", flush=True)

        # Until ratchet's handlers are in place (about as long as
        # `ratchet --version` takes), a signal gets its default action.
        starts = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([*RATCHET, "--version"], cwd=root, env=env, capture_output=True)
            starts.append(time.perf_counter() - started)
        startup = statistics.median(starts)

        counts: Counter[str] = Counter()
        bad = 0
        for trial in range(trials):
            # Each signal in turn (the smoke's three trials send each once).
            name = sorted(SIGNALS)[trial % len(SIGNALS)]
            signum, code = SIGNALS[name]
            command = rng.choice(["check", "update"])
            baseline.write_bytes(old)
            for pid_file in pids.iterdir():
                pid_file.unlink()
            delay = rng.uniform(0, 1.1 * whole)
            proc = subprocess.Popen(
                [*RATCHET, command],
                cwd=root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                # Ctrl-C's default action, as from a terminal (a job started
                # in the background inherits SIGINT ignored).
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
            time.sleep(delay)
            finished_first = proc.poll() is not None
            if not finished_first:
                proc.send_signal(signum)
            _, err = proc.communicate(timeout=120)
            problems = []
            if finished_first or proc.returncode in (0, 1):
                counts[f"{name} finished first"] += 1
            elif proc.returncode == -signum and delay < startup:
                # Python itself was still starting: no handler of ours yet,
                # nothing written; the default action is the right one.
                counts[f"{name} before start-up"] += 1
            elif proc.returncode == code:
                counts[f"{name} stopped"] += 1
                last = err.strip().splitlines()[-1] if err.strip() else ""
                said = "interrupted" if name == "SIGINT" else f"stopped by {name}"
                if not last.startswith(f"ratchet: {said}; "):
                    problems.append(f"last line {last!r}")
            else:
                problems.append(f"exit {proc.returncode}: {err.strip()[-300:]}")
            if baseline.read_bytes() not in (old, new):
                problems.append("a broken baseline")
            if command == "check" and (baseline.read_bytes() != old):
                problems.append("check wrote the baseline")
            now = subprocess.run(
                ["git", "status", "--porcelain"], cwd=root, capture_output=True, env=env
            ).stdout
            if command == "check" and (
                now != status
                or subprocess.run(staged, cwd=root, capture_output=True, env=env).stdout != index
            ):
                problems.append("check changed the index or the working tree")
            deadline = time.monotonic() + 10
            left = [int(p.name) for p in pids.iterdir()]
            while any(alive(p) for p in left) and time.monotonic() < deadline:
                time.sleep(0.05)
            if any(alive(p) for p in left):
                problems.append("a process the suite started is still running")
            if scratch_of(proc.pid):
                problems.append("a temporary folder was left")
            if problems:
                bad += 1
                print(f"trial {trial} ({command}, {name} at {delay * 1000:.0f} ms): {problems}")
        for name in sorted(SIGNALS):
            print(
                f"{name}: {counts[f'{name} stopped']} stopped, "
                f"{counts[f'{name} finished first']} finished before the signal, "
                f"{counts[f'{name} before start-up']} sent during interpreter start-up"
            )
        print(
            f"{trials} trials, {bad} bad (leftover processes or folders, a broken baseline, "
            "a changed index, a wrong exit or message)"
        )
        if bad:
            sys.exit(1)


if __name__ == "__main__":
    main()
