"""Helpers shared by the benchmarks: timing, and throwaway git repositories."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RATCHET = [sys.executable, "-m", "ratchet"]


def git_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    env = git_env()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True, env=env)
    return root


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    # Every command runs as it would for a user: writing bytecode (pytest
    # keeps its rewritten test modules there too), as peers do by default.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for key in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{key}_NAME"] = "bench"
        env[f"GIT_{key}_EMAIL"] = "bench@example.invalid"
    return env


def selected_check(root: Path) -> tuple[float, dict[str, Any]]:
    """``ratchet check --format json`` on the staged change: its seconds and
    its report.  Exits unless it passed with a selected run."""
    started = time.perf_counter()
    proc = subprocess.run(
        [*RATCHET, "check", "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        env=git_env(),
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"check exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    doc: dict[str, Any] = json.loads(proc.stdout)
    if doc["mode"] != "selected":
        raise SystemExit(f"check ran {doc['mode']}: {doc['why']}")
    return seconds, doc


def hook_check(root: Path) -> tuple[float, int, float]:
    """``ratchet check`` as the hook runs it (text out) on the staged change:
    its seconds, the tests it ran and its test run's seconds (as it prints
    them).  Exits unless it passed with a selected run.  The JSON report is
    not asked for: at 20,000 files writing it is most of a second the hook
    never spends."""
    started = time.perf_counter()
    proc = subprocess.run(
        [*RATCHET, "check"], cwd=root, capture_output=True, text=True, env=git_env()
    )
    seconds = time.perf_counter() - started
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"check exited {proc.returncode}:\n{out}")
    found = re.search(r"selected run: ran (\d+) of \d+ tests", out)
    if found is None:
        raise SystemExit(f"check did not select:\n{out}")
    test_run = re.search(r"measured with `[^`]*` \(([\d.]+) s\)", out)
    return seconds, int(found.group(1)), float(test_run.group(1)) if test_run else 0.0


def commit_all(root: Path, message: str = "bench") -> None:
    env = git_env()
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(
        ["git", "commit", "-q", "--no-verify", "-m", message], cwd=root, check=True, env=env
    )


PEAK_KB: dict[str, int] = {}  # The largest resident size seen per command, in KiB.

# Runs the command and reports its seconds, peak resident size and exit code.
# Started from a small process: Linux carries a parent's resident size at
# fork into the child's peak, so measuring from this (large) process would
# count its memory, not the command's.
_LAUNCH = """
import os, subprocess, sys, time
out, args = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - started
with open(out, "w") as f:
    f.write(f"{seconds} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def time_command(
    args: Sequence[str],
    cwd: Path,
    runs: int,
    *,
    expect: int | None = 0,
    extra_env: dict[str, str] | None = None,
) -> list[float]:
    """Wall-clock seconds of ``runs`` runs of ``args``; exits if one fails.

    The peak resident memory of each run is kept in :data:`PEAK_KB` under
    the command line.
    """
    import tempfile

    times = []
    env = {**git_env(), **(extra_env or {})}
    key = " ".join(args)
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result"
        for _ in range(runs):
            launcher = [sys.executable, "-c", _LAUNCH, str(result), *args]
            subprocess.run(launcher, cwd=cwd, env=env, check=True)
            seconds, peak, code = result.read_text().split()
            times.append(float(seconds))
            PEAK_KB[key] = max(PEAK_KB.get(key, 0), int(peak))
            if expect is not None and int(code) != expect:
                proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, check=False)
                output = proc.stdout.decode() + proc.stderr.decode()
                raise SystemExit(f"{key} exited {code}:\n{output}")
    return times


def peak_mb(args: Sequence[str]) -> float:
    return PEAK_KB.get(" ".join(args), 0) / 1024


def median_ms(times: Sequence[float]) -> float:
    return statistics.median(times) * 1000


def report(name: str, times: Sequence[float], reference: Sequence[float] | None = None) -> None:
    fastest = min(times) * 1000
    line = f"{name:<48} median {median_ms(times):9.1f} ms  (n={len(times)}, min {fastest:.1f})"
    if reference:
        line += f"  x{statistics.median(times) / statistics.median(reference):.2f}"
    print(line, flush=True)
