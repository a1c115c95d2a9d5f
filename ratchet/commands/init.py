"""``ratchet init``: measure once and write the first baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from ratchet import git, lastrun
from ratchet.baseline import Baseline, Entry, dumps, write_atomic
from ratchet.commands.common import ensure_writable, measurement_notes
from ratchet.config import Config, load_config
from ratchet.errors import PASSED, RatchetError
from ratchet.lock import baseline_lock
from ratchet.measure import FileResult, measure
from ratchet.nodata import refuse_empty
from ratchet.numbers import Numbers, display_percent
from ratchet.printable import echo
from ratchet.tiers import TierRule, assign_tier


def new_entry(numbers: Numbers, tiers: Sequence[TierRule]) -> Entry:
    """An entry for a file measured for the first time, in its tier if any."""
    rule = assign_tier(numbers, tiers)
    if rule is None:
        return Entry(numbers)
    return Entry(numbers, tier=rule.name, target=rule.target, start=numbers)


def build_baseline(
    files: Mapping[str, FileResult], coverage_version: str, branch: bool, config: Config
) -> Baseline:
    entries = {path: new_entry(r.numbers, config.tiers) for path, r in files.items()}
    baseline = Baseline(coverage_version, branch, entries, config.overall_target)
    # The start of the push overall: today's totals.
    return replace(baseline, overall_start=baseline.totals)


def init(*, data: Sequence[str] = (), force: bool = False, cwd: Path | None = None) -> int:
    root = git.toplevel(cwd or Path.cwd())
    config = load_config(root)
    path = root / config.baseline
    ensure_writable(root, config.baseline)
    if path.exists() and not force:
        raise RatchetError(
            f"{config.baseline} already exists",
            hint="raise it with `ratchet update`, or start over with `ratchet init --force`",
        )
    measurement = measure(root, config, data)
    refuse_empty(measurement)
    baseline = build_baseline(
        measurement.files, measurement.coverage_version, measurement.branch, config
    )
    with baseline_lock(git.git_dir(root), path):
        write_atomic(path, dumps(baseline))
    lastrun.record(root, config, measurement)
    total = baseline.totals
    echo(
        f"ratchet: wrote {config.baseline}: {len(baseline.files)} files, overall "
        f"{total.display()} ({measurement.how})"
    )
    for note in measurement_notes(measurement):
        echo(f"ratchet: note: {note}")
    for rule in config.tiers:
        members = [p for p, e in baseline.files.items() if e.tier == rule.name]
        if members:
            target = display_percent(rule.target)
            echo(f"ratchet: {rule.name}: {len(members)} file(s), target {target}")
    echo(f"ratchet: next: git add {config.baseline} && git commit")
    return PASSED
