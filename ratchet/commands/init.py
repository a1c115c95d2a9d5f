"""``ratchet init``: measure once and write the first baseline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ratchet import git, lastrun
from ratchet.baseline import dumps, write_atomic
from ratchet.commands.common import ensure_writable, measure_here, measurement_notes
from ratchet.config import load_config
from ratchet.errors import PASSED, RatchetError
from ratchet.ledger import build_baseline
from ratchet.lock import baseline_lock
from ratchet.nodata import refuse_empty
from ratchet.numbers import display_percent
from ratchet.printable import echo


def init(
    *,
    data: Sequence[str] = (),
    force: bool = False,
    save_settings: bool = False,
    cwd: Path | None = None,
) -> int:
    root = git.toplevel(cwd or Path.cwd())
    config = load_config(root)
    path = root / config.baseline
    ensure_writable(root, config.baseline)
    if path.exists() and not force:
        raise RatchetError(
            f"{config.baseline} already exists",
            hint="raise it with `ratchet update`, or start over with `ratchet init --force`",
        )
    measurement = measure_here(root, config, data)
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
    if measurement.selection_off:
        echo(
            f"ratchet: note: test selection is off here ({measurement.selection_off}): "
            "every check runs the whole suite"
        )
    for rule in config.tiers:
        members = [p for p, e in baseline.files.items() if e.tier == rule.name]
        if members:
            target = display_percent(rule.target)
            echo(f"ratchet: {rule.name}: {len(members)} file(s), target {target}")
    if save_settings:
        from ratchet.commands.settings import save_settings as save

        for line in save(root, config):
            echo(f"ratchet: pyproject.toml: {line}")
    echo(f"ratchet: next: git add {config.baseline} && git commit")
    echo(
        "ratchet: then: `pre-commit install` with the coverage-ratchet hook, and "
        "`ratchet install --no-hook` for the baseline's merge driver; or, without "
        "pre-commit, `ratchet install` for both"
    )
    return PASSED
