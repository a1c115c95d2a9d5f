"""Soak: ``kill -9`` at random moments of ``ratchet update``.

Every trial resets the committed baseline, starts ``ratchet update --data``
(a report that raises 10% of the files), kills it with SIGKILL after a
random delay, and reads the baseline back.  It must be byte for byte the
old one or the new one, never anything else, and the next trial's update
must not be blocked by the lock the killed one held.  Half of the delays are
spread over the whole run, half over its last fifth, where the write is.

Prints how many trials ended with the old baseline, the new one, and the
number of broken ones (must be 0); exits 1 on any broken one.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_scale import synthetic_report
from common import RATCHET, commit_all, git_env, git_repo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    trials, files = (10, 500) if args.smoke else (args.trials, args.files)
    rng = random.Random(args.seed)
    env = git_env()
    with tempfile.TemporaryDirectory() as tmp:
        root = git_repo(Path(tmp) / "repo")
        (root / "pyproject.toml").write_text("[tool.ratchet]\n")
        (root / ".gitignore").write_text("*.json\n")
        same, better = root / "same.json", root / "better.json"
        same.write_text(json.dumps(synthetic_report(files, seed=1)))
        better.write_text(json.dumps(synthetic_report(files, seed=1, raised=0.1)))
        baseline = root / "coverage-baseline.toml"
        update = [*RATCHET, "update", "--data", str(better)]
        init = [*RATCHET, "init", "--data", str(same)]
        subprocess.run(init, cwd=root, check=True, env=env, capture_output=True)
        commit_all(root)
        old = baseline.read_bytes()
        # The new baseline, and how long an update takes.
        durations = []
        for _ in range(3):
            baseline.write_bytes(old)
            started = time.perf_counter()
            subprocess.run(update, cwd=root, check=True, env=env, capture_output=True)
            durations.append(time.perf_counter() - started)
        new = baseline.read_bytes()
        assert new != old
        whole = statistics.median(durations)
        print(f"{files} files; an update takes {whole * 1000:.0f} ms (median of 3)", flush=True)

        outcomes = {"old": 0, "new": 0, "broken": 0}
        finished = mid_write = 0
        for trial in range(trials):
            if trial % 20 == 19:
                # The machine's load changes: time an uninterrupted update again.
                baseline.write_bytes(old)
                started = time.perf_counter()
                subprocess.run(update, cwd=root, check=True, env=env, capture_output=True)
                durations.append(time.perf_counter() - started)
                whole = statistics.median(durations[-5:])
            baseline.write_bytes(old)
            late = trial % 2 == 1
            delay = rng.uniform(0.7 * whole, 1.3 * whole) if late else rng.uniform(0, whole)
            proc = subprocess.Popen(
                update, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            else:
                finished += 1
            proc.wait()
            now = baseline.read_bytes()
            # A temporary file left beside it: killed between writing and renaming.
            mid_write += bool(list(root.glob(".coverage-baseline.toml.*.tmp")))
            kind = "old" if now == old else "new" if now == new else "broken"
            outcomes[kind] += 1
            if kind == "broken":
                print(f"trial {trial}: broken baseline after a kill at {delay * 1000:.0f} ms")
        # One more, uninterrupted: it must take the lock at once and clean up.
        baseline.write_bytes(old)
        started = time.perf_counter()
        subprocess.run(update, cwd=root, check=True, env=env, capture_output=True, timeout=120)
        after = time.perf_counter() - started
        assert baseline.read_bytes() == new
        remaining = list(root.glob(".coverage-baseline.toml.*.tmp"))
        print(
            f"{trials} kill -9 trials: {outcomes['old']} old baseline, {outcomes['new']} new, "
            f"{outcomes['broken']} broken; {finished} had finished before the kill, "
            f"{mid_write} killed between writing and renaming"
        )
        print(
            f"temporary files left after the next update: {len(remaining)}; "
            f"that update took {after * 1000:.0f} ms (not blocked by a stale lock)"
        )
        if outcomes["broken"] or remaining:
            sys.exit(1)


if __name__ == "__main__":
    main()
