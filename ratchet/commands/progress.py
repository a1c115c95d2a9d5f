"""``ratchet report`` and ``ratchet plan``: the push at a glance, from the baseline alone."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from ratchet import git
from ratchet.baseline import Baseline, dumps, load, write_atomic
from ratchet.commands.common import repo_relative
from ratchet.config import Config, load_config
from ratchet.errors import PASSED, RatchetError
from ratchet.lock import baseline_lock
from ratchet.numbers import display_percent
from ratchet.printable import echo, safe, safe_lines


def _baseline(root: Path, config: Config, measure_now: bool) -> Baseline:
    """The committed baseline, or with ``measure_now`` its entries at a fresh
    measurement's numbers (nothing is written)."""
    baseline = load(root / config.baseline, config.baseline)
    if not measure_now:
        return baseline
    from ratchet.commands.common import measure_here
    from ratchet.nodata import refuse_empty

    measurement = measure_here(root, config)
    refuse_empty(measurement, baseline, {p for p in baseline.files if (root / p).exists()})
    files = {
        path: replace(entry, numbers=measurement.files[path].numbers)
        if path in measurement.files
        else entry
        for path, entry in baseline.files.items()
    }
    return replace(baseline, files=files)


def report(*, fmt: str = "text", measure_now: bool = False, cwd: Path | None = None) -> int:
    from ratchet import progress_output as out
    from ratchet.progress import tier_report

    root = git.toplevel(cwd or Path.cwd())
    config = load_config(root)
    model = tier_report(_baseline(root, config, measure_now))
    if fmt == "json":
        sys.stdout.write(safe_lines(out.render_report_json(model)))
    elif fmt == "markdown":
        sys.stdout.write(safe_lines(out.render_report_markdown(model)))
    else:
        # Made safe inside: only its colour codes are escape sequences.
        sys.stdout.write(out.render_report_text(model, out.use_colour(sys.stdout)))
    return PASSED


def plan(
    *,
    fmt: str = "text",
    tiers: Sequence[str] = (),
    limit: int | None = None,
    target: float | None = None,
    promote: Sequence[str] = (),
    measure_now: bool = False,
    cwd: Path | None = None,
) -> int:
    from ratchet import progress_output as out
    from ratchet.progress import QUICK_WIN_TARGET, ZERO_COVERAGE
    from ratchet.progress import plan as make_plan

    here = cwd or Path.cwd()
    root = git.toplevel(here)
    config = load_config(root)
    goal = None if target is None else _percent(target)
    if promote:
        return _promote(root, config, repo_relative(root, promote, here), tiers, goal)
    baseline = _baseline(root, config, measure_now)
    known = [r.name for r in config.tiers]
    known += sorted({e.tier for e in baseline.files.values() if e.tier} - set(known))
    known.append(ZERO_COVERAGE)
    for kind in tiers:
        if kind.casefold() not in {k.casefold() for k in known}:
            raise RatchetError(
                f"--tier {safe(kind)}: no tier or kind of candidate of that name",
                hint=f"known: {', '.join(safe(k) for k in known)}",
            )
    model = make_plan(
        baseline,
        kinds=tiers,
        limit=limit,
        quick_win_target=goal if goal is not None else QUICK_WIN_TARGET,
    )
    if fmt == "json":
        sys.stdout.write(safe_lines(out.render_plan_json(model)))
    elif fmt == "markdown":
        sys.stdout.write(safe_lines(out.render_plan_markdown(model)))
    else:
        sys.stdout.write(safe_lines(out.render_plan_text(model)))
    return PASSED


def _percent(value: float) -> Fraction:
    if not 0 < value <= 100:
        raise RatchetError(f"--target {value}: a percentage above 0 and at most 100")
    return Fraction(str(value))


def _promote(
    root: Path, config: Config, paths: list[str], tiers: Sequence[str], target: Fraction | None
) -> int:
    """Put ``paths`` into a tier with a target: more ambition, never less.

    A file already in a tier may only have its target raised (its start
    stays, as the guard requires); a file joins with its current numbers as
    its start.
    """
    if len(tiers) > 1:
        raise RatchetError("--promote takes one --tier")
    wanted = tiers[0] if tiers else (config.tiers[0].name if config.tiers else "Tier 1")
    rule = next((r for r in config.tiers if r.name.casefold() == wanted.casefold()), None)
    name = rule.name if rule else wanted
    goal = target if target is not None else (rule.target if rule else None)
    if goal is None:
        known = ", ".join(r.name for r in config.tiers) or "none"
        raise RatchetError(
            f"--tier {name}: no such tier in [tool.ratchet]; give --target N",
            hint=f"tiers: {known}",
        )
    from ratchet.ledger import promote

    with baseline_lock(git.git_dir(root), root / config.baseline):
        path = root / config.baseline
        promoted = promote(load(path, config.baseline), paths, name, goal, config.baseline)
        for p in paths:
            gap = promoted.files[p].numbers.gap(goal)
            echo(f"ratchet: {p}: {name}, target {display_percent(goal)}, {gap} still to cover")
        write_atomic(path, dumps(promoted))
    echo(f"ratchet: wrote {config.baseline}; commit it")
    return PASSED


def history(
    *,
    fmt: str = "text",
    svg: str | None = None,
    window: int = 28,
    file: str | None = None,
    cwd: Path | None = None,
) -> int:
    from ratchet import progress_output as out
    from ratchet.history import read_history

    if window < 1:
        raise RatchetError("--window: at least 1 day")
    here = cwd or Path.cwd()
    root = git.toplevel(here)
    config = load_config(root)
    path = None
    if file is not None:
        from ratchet.commands.common import repo_relative

        (path,) = repo_relative(root, [file], here)
    trend = read_history(root, config.baseline, window, path)
    if path is not None and not trend.points:
        raise RatchetError(f"{path}: no entry in {config.baseline} in any commit")
    if svg is not None:
        from ratchet.chart import render_svg

        write_atomic(Path(svg), render_svg(trend))
    if fmt == "json":
        sys.stdout.write(safe_lines(out.render_history_json(trend)))
    else:
        sys.stdout.write(safe_lines(out.render_history_text(trend)))
    if svg is not None and fmt != "json":
        echo(f"ratchet: wrote {svg}")
    return PASSED
