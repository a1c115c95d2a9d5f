"""Helpers shared by the benchmarks: timing, and throwaway git repositories."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

RATCHET = [sys.executable, "-m", "ratchet"]


def git_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    env = git_env()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True, env=env)
    return root


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{key}_NAME"] = "bench"
        env[f"GIT_{key}_EMAIL"] = "bench@example.invalid"
    return env


def commit_all(root: Path, message: str = "bench") -> None:
    env = git_env()
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(
        ["git", "commit", "-q", "--no-verify", "-m", message], cwd=root, check=True, env=env
    )


def time_command(
    args: Sequence[str], cwd: Path, runs: int, *, expect: int | None = 0
) -> list[float]:
    """Wall-clock seconds of ``runs`` runs of ``args``; exits if one fails."""
    times = []
    env = git_env()
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(args, cwd=cwd, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - started)
        if expect is not None and proc.returncode != expect:
            output = proc.stdout.decode() + proc.stderr.decode()
            raise SystemExit(f"{' '.join(args)} exited {proc.returncode}:\n{output}")
    return times


def median_ms(times: Sequence[float]) -> float:
    return statistics.median(times) * 1000


def report(name: str, times: Sequence[float], reference: Sequence[float] | None = None) -> None:
    fastest = min(times) * 1000
    line = f"{name:<48} median {median_ms(times):9.1f} ms  (n={len(times)}, min {fastest:.1f})"
    if reference:
        line += f"  x{statistics.median(times) / statistics.median(reference):.2f}"
    print(line, flush=True)
