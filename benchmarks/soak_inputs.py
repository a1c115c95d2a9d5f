"""Soak: many generated baselines and configurations through the readers.

Drives the hypothesis strategies of ``tests/test_fuzz_inputs.py`` (damaged
baselines: truncated, wrong types, negative and impossible counts, duplicate
tables, newer formats, odd and escaping paths; ``[tool.ratchet]`` tables of
any content) for many more examples than the test suite does.  Each input
must load, or be refused with one line naming the file (and the line where
known); anything else is a failure and stops the soak with its input.

``coverage json`` reports given with ``--data`` go through their reader too.

Prints how many inputs were tried, loaded and refused, and how many refusals
named a line.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings

from testing.strategies import (
    baseline_inputs,
    config_inputs,
    data_inputs,
    judge_baseline,
    judge_config,
    judge_data,
)

LINE = re.compile(r"^[^:]+:\d+: ")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=10_000, help="per reader")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    examples = 200 if args.smoke else args.examples
    options = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    counts: Counter[str] = Counter()

    def tally(reader: str, outcome: object) -> None:
        counts[f"{reader} tried"] += 1
        if isinstance(outcome, str):
            counts[f"{reader} refused"] += 1
            counts[f"{reader} refused, line named"] += bool(LINE.match(outcome))
        else:
            counts[f"{reader} loaded"] += 1

    @options
    @given(baseline_inputs())
    def baselines(text: str) -> None:
        tally("baseline", judge_baseline(text))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        @options
        @given(config_inputs())
        def configs(text: str) -> None:
            tally("config", judge_config(folder, text))

        @options
        @given(data_inputs())
        def reports(text: str) -> None:
            tally("data", judge_data(folder, text))

        for name, soak in (("baseline", baselines), ("config", configs), ("data", reports)):
            started = time.perf_counter()
            soak()
            seconds = time.perf_counter() - started
            tried = counts[f"{name} tried"]
            print(
                f"{name}: {tried} inputs in {seconds:.1f} s: {counts[f'{name} loaded']} loaded, "
                f"{counts[f'{name} refused']} refused in one line "
                f"({counts[f'{name} refused, line named']} naming the line); 0 tracebacks",
                flush=True,
            )
    total = counts["baseline tried"] + counts["config tried"] + counts["data tried"]
    print(f"total: {total} generated inputs, none crashed a reader")


if __name__ == "__main__":
    main()
