"""``ratchet history``: the baseline's git history as a trend.

Every commit that changed the baseline is a point: its date, short id,
overall percentage and each tier's progress.  Velocity is percentage points
per week over a window ending at the last point; with a positive velocity
and an overall target, the target's date is projected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ratchet import git
from ratchet.baseline import loads_bytes
from ratchet.errors import RatchetError
from ratchet.progress import tier_report

MIN_SPAN = dt.timedelta(days=1)  # The shortest history a velocity is drawn from.


@dataclass(frozen=True)
class Point:
    when: dt.datetime
    commit: str  # Short id.
    percent: Fraction
    tiers: dict[str, Fraction | None]  # Tier name -> progress (0..1).


@dataclass(frozen=True)
class History:
    points: tuple[Point, ...]
    target: Fraction | None
    window_days: int
    velocity: Fraction | None  # Percentage points per week; None: too few points.
    projected: dt.date | None  # When the overall target is reached at that pace.
    skipped: int  # Commits whose baseline could not be read.
    file: str | None = None  # One file's trend (its target: its tier's), or the whole.

    @property
    def reached(self) -> bool:
        return (
            bool(self.points)
            and self.target is not None
            and self.points[-1].percent >= self.target
        )


def read_history(
    root: Path, baseline_path: str, window_days: int = 28, file: str | None = None
) -> History:
    """The baseline at every commit that changed it, oldest first; with
    ``file``, that file's entry at every commit that changed it (its target:
    its tier's, if it has one)."""
    if git.resolve(root, "HEAD") is None:
        commits: list[tuple[str, str, int]] = []
    else:
        commits = list(reversed(git.commits_touching(root, "HEAD", baseline_path)))
    blobs = git.blobs(root, [f"{full}:{baseline_path}" for full, _, _ in commits])
    points: list[Point] = []
    skipped = 0
    target = None
    for (_, short, stamp), raw in zip(commits, blobs, strict=True):
        if raw is None:  # Deleted in this commit.
            continue
        try:
            baseline = loads_bytes(raw, f"{baseline_path} at {short}")
        except RatchetError:
            skipped += 1
            continue
        when = dt.datetime.fromtimestamp(stamp, tz=dt.timezone.utc)
        if file is not None:
            entry = baseline.files.get(file)
            if entry is None:
                continue
            if points and points[-1].percent == entry.numbers.percent:
                continue  # The entry did not move in this commit.
            points.append(Point(when, short, entry.numbers.percent, {}))
            target = entry.target
            continue
        report = tier_report(baseline)
        tiers = {t.name: t.progress for t in report.tiers}
        points.append(Point(when, short, baseline.totals.percent, tiers))
        target = baseline.overall_target
    velocity = pace(points, window_days)
    return History(
        tuple(points),
        target,
        window_days,
        velocity,
        _projection(points, target, velocity),
        skipped,
        file,
    )


def pace(points: Sequence[Point], window_days: int) -> Fraction | None:
    """Percentage points per week between the first point in the window and the last."""
    if len(points) < 2:
        return None
    last = points[-1]
    try:
        start = last.when - dt.timedelta(days=window_days)
    except OverflowError:  # A window longer than the calendar: all of it.
        start = points[0].when
    inside = [p for p in points if p.when >= start]
    first = inside[0] if len(inside) >= 2 else points[-2]
    seconds = (last.when - first.when).total_seconds()
    if seconds < MIN_SPAN.total_seconds():  # Hours say nothing about weeks.
        return None
    weeks = Fraction(int(seconds), 7 * 24 * 3600)
    return (last.percent - first.percent) / weeks


def _projection(
    points: Sequence[Point], target: Fraction | None, velocity: Fraction | None
) -> dt.date | None:
    if not points or target is None or velocity is None or velocity <= 0:
        return None
    last = points[-1]
    if last.percent >= target:
        return None
    weeks = (target - last.percent) / velocity
    try:
        return (last.when + dt.timedelta(weeks=float(weeks))).date()
    except OverflowError:  # Not before the year 9999: no date to give.
        return None
