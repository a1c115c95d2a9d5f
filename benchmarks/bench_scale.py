"""Scale: ``init``, ``check --all``, ``update --all`` and the reports on a synthetic report.

Builds a ``coverage json`` report of N files (by default 20,000, then
100,000), then times each command on it with ``--data`` (medians of several
runs, each a fresh process; ``check`` also after a raised baseline is
committed, with the text before it cached too), and the merge driver on
baselines of N entries raised on both sides; prints the baseline's size and
each command's peak memory.  Goals: ``check --all --data`` at most 1 s for
20,000 files and 4 s for 100,000; ``update --all --data`` at most 3 s and 12
s; the merge driver at most 0.5 s for 20,000; peak memory at most 500 MB.
``--smoke`` runs a small, quick version for CI.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from common import RATCHET, commit_all, git_env, git_repo, peak_mb, report, time_command

from ratchet.baseline import Baseline, dumps, load, loads


def synthetic_report(
    files: int, seed: int, raised: float = 0.0, heavy: bool = False
) -> dict[str, object]:
    """A coverage.py JSON report; ``raised`` of the files gain one covered line.

    File sizes are skewed like real code: lognormal, median about 55 and mean
    about 90 statements; ``heavy`` makes them uniform up to 900 (mean 450).
    """
    rng = random.Random(seed)
    out: dict[str, object] = {}
    for i in range(files):
        lognormal = min(5000, int(rng.lognormvariate(4, 1)) + 1)
        statements = rng.randint(1, 900) if heavy else lognormal
        covered = rng.randint(0, statements)
        if covered < statements and rng.random() < raised:
            covered += 1
        missing = list(range(1, statements - covered + 1))
        out[f"src/pkg{i // 200:03d}/module_{i:06d}.py"] = {
            "executed_lines": list(range(1, covered + 1)),
            "missing_lines": missing,
            "excluded_lines": [],
            "summary": {
                "covered_lines": covered,
                "num_statements": statements,
                "percent_covered": 100.0 * covered / statements,
                "missing_lines": len(missing),
                "excluded_lines": 0,
            },
        }
    return {
        "meta": {"format": 3, "version": "7.17.3", "branch_coverage": False},
        "files": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--heavy", action="store_true", help="files of 450 statements on average")
    args = parser.parse_args()
    sizes, runs = ([500], 1) if args.smoke else (args.files, args.runs)
    for files in sizes:
        scale(files, runs, args.heavy)


def scale(files: int, runs: int, heavy: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = git_repo(Path(tmp) / "repo")
        (root / "pyproject.toml").write_text("[tool.ratchet]\n")
        commit_all(root)
        (root / ".gitignore").write_text("*.json\n")
        same = root / "same.json"
        same.write_text(json.dumps(synthetic_report(files, seed=1, heavy=heavy)))
        better = root / "better.json"
        better.write_text(json.dumps(synthetic_report(files, seed=1, raised=0.1, heavy=heavy)))
        print(f"\n{files} files; report {same.stat().st_size / 1e6:.1f} MB", flush=True)

        init_args = [*RATCHET, "init", "--force", "--data", str(same)]
        init = time_command(init_args, root, runs)
        baseline = root / "coverage-baseline.toml"
        commit_all(root, "baseline")  # As in real use: check reads it from the index and HEAD.
        size = baseline.stat().st_size
        print(f"baseline: {size / 1e6:.2f} MB, {size / files:.0f} bytes per file")
        started = time.perf_counter()
        load(baseline)
        print(f"baseline load in process: {(time.perf_counter() - started) * 1000:.0f} ms")
        bare = time_command([sys.executable, "-c", "pass"], root, runs)
        check_args = [*RATCHET, "check", "--all", "--data", str(same)]
        check = time_command(check_args, root, runs)
        # The reports read the baseline (and its history) only.
        progress = {
            "report --format json": time_command(
                [*RATCHET, "report", "--format", "json"], root, runs
            ),
            "plan --limit 20": time_command([*RATCHET, "plan", "--limit", "20"], root, runs),
            "history": time_command([*RATCHET, "history"], root, runs),
        }
        # Each update run raises 10% of the entries, then the baseline is reset.
        saved = baseline.read_bytes()
        update_args = [*RATCHET, "update", "--all", "--data", str(better)]
        update = []
        for _ in range(runs):
            baseline.write_bytes(saved)
            update += time_command(update_args, root, 1)
        ours = baseline.read_bytes()
        # A raised baseline committed, as after `update`: the check reads one
        # text, the cache holds the one before it too (kept by the check
        # that read both while the raised one was staged).
        subprocess.run(["git", "add", baseline.name], cwd=root, check=True, env=git_env())
        raised_args = [*RATCHET, "check", "--all", "--data", str(better)]
        time_command(raised_args, root, 1)
        commit_all(root, "raised")
        raised_check = time_command(raised_args, root, runs)
        # The merge driver: ours raised 10% of the files, theirs another 10%.
        base_file, ours_file, theirs_file = (root / f"{n}.toml" for n in ("b", "o", "t"))
        base_file.write_bytes(saved)
        theirs_file.write_text(dumps(raised_elsewhere(loads(saved.decode()), seed=2)))
        merge_args = [*RATCHET, "merge-driver", *map(str, (base_file, ours_file, theirs_file))]
        merge = []
        for _ in range(runs):
            ours_file.write_bytes(ours)
            merge += time_command(merge_args, root, 1)
        report("python -c pass", bare)
        report(f"init --data ({files} files)", init, bare)
        report(f"check --all --data ({files} files)", check, bare)
        report("  ... a raised baseline committed (two texts cached)", raised_check, bare)
        report(f"update --all --data ({files} files, 10% raised)", update, bare)
        report(f"merge driver ({files} entries, both sides raised)", merge, bare)
        for name, times in progress.items():
            report(f"{name} ({files} files)", times, bare)
        print(
            "peak memory: "
            + ", ".join(
                f"{name} {peak_mb(a):.0f} MB"
                for name, a in (
                    ("init", init_args),
                    ("check", check_args),
                    ("update", update_args),
                    ("merge driver", merge_args),
                    ("python -c pass", [sys.executable, "-c", "pass"]),
                )
            ),
            flush=True,
        )


def raised_elsewhere(baseline: Baseline, seed: int) -> Baseline:
    """``baseline`` with one more covered statement in a random 10% of its files."""
    rng = random.Random(seed)
    files = dict(baseline.files)
    for path, entry in files.items():
        n = entry.numbers
        if n.covered < n.statements and rng.random() < 0.1:
            files[path] = replace(entry, numbers=replace(n, covered=n.covered + 1))
    return replace(baseline, files=files)


if __name__ == "__main__":
    main()
