"""What recording the test map costs: a whole-suite run with and without it.

On a real project from PyPI (its source distribution and its own tests,
baselined with ``ratchet init``), ``--runs`` rounds each time, in turn:

- ``coverage run -m pytest`` + ``coverage json``: the plain measurement;
- ``ratchet check --all``: the whole suite under coverage with the
  recording plugin, the report, and the new map written (what ``init`` and
  every fallback to a full run cost).

The order alternates between rounds, so neither always runs on a warm
cache.  Printed: the medians, their ratio, and the median of the rounds'
own ratios (the goal is at most 1.15).

    python benchmarks/bench_recording.py --project marshmallow --runs 5

Needs PyPI.  ``--smoke`` runs one round on marshmallow.  ``--keep DIR``
prepares the project in DIR, or reuses what an earlier run prepared there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench_real_project import PROJECTS, REPO, prepare
from common import RATCHET, time_command


def _prepared(folder: Path, name: str) -> tuple[Path, Path]:
    """A project ``prepare`` left in ``folder`` earlier, or a new one."""
    python = folder / "venv" / "bin" / "python"
    sources = folder / "src"
    if python.exists() and sources.is_dir():
        (root,) = sources.iterdir()
        return root, python
    folder.mkdir(parents=True, exist_ok=True)
    return prepare(folder, PROJECTS[name])


def measure(root: Path, python: Path, args: tuple[str, ...], runs: int) -> None:
    coverage = [str(python), "-m", "coverage"]
    plain_run = [*coverage, "run", "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    plain_json = [*coverage, "json", "-q", "-o", "cov.json"]
    check = [*RATCHET, "check", "--all", "--format", "json"]
    plain: list[float] = []
    recorded: list[float] = []

    def one_plain() -> None:
        plain.append(
            time_command(plain_run, root, 1, expect=None)[0] + time_command(plain_json, root, 1)[0]
        )

    def one_recorded() -> None:
        recorded.append(time_command(check, root, 1)[0])

    for i in range(runs):
        for step in (one_plain, one_recorded) if i % 2 == 0 else (one_recorded, one_plain):
            step()
        print(
            f"round {i + 1}: plain {plain[-1]:.2f} s, recorded {recorded[-1]:.2f} s"
            f" ({recorded[-1] / plain[-1]:.2f}x)",
            flush=True,
        )
    p, r = statistics.median(plain), statistics.median(recorded)
    rounds = statistics.median(b / a for a, b in zip(plain, recorded, strict=True))
    print(f"coverage run -m pytest + coverage json: median {p:.2f} s of {runs}")
    print(f"ratchet check --all (records the map):  median {r:.2f} s of {runs}")
    print(f"ratio of medians {r / p:.2f}x; median of the rounds' ratios {rounds:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", choices=sorted(PROJECTS), default="marshmallow")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="prepare in, or reuse, this folder")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    name, runs = ("marshmallow", 1) if args.smoke else (args.project, args.runs)
    sys.path.insert(0, str(REPO))
    if args.keep is not None:
        root, python = _prepared(args.keep.resolve(), name)
        measure(root, python, PROJECTS[name].test_args, runs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root, python = _prepared(Path(tmp), name)
        measure(root, python, PROJECTS[name].test_args, runs)


if __name__ == "__main__":
    main()
