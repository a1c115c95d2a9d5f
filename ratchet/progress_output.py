"""The progress reports as text (aligned, coloured on a terminal), markdown and JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from ratchet.history import History
from ratchet.numbers import display_percent
from ratchet.output import numbers_json
from ratchet.printable import safe_lines
from ratchet.progress import ABOVE_AT_START, MET, Plan, Report, Tier

# Version of the JSON documents of `report`, `plan` and `history`; bumped on
# any incompatible change (the README documents the schema).
PROGRESS_FORMAT = 1

_COLOURS = {MET: "32", ABOVE_AT_START: "36"}  # green, cyan; in progress stays plain.


def use_colour(stream: Any) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (no-color.org)."""
    return "NO_COLOR" not in os.environ and bool(getattr(stream, "isatty", lambda: False)())


def _paint(text: str, code: str | None, colour: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if colour and code else text


def _points(pp: Fraction) -> str:
    sign = "+" if pp >= 0 else "-"
    return f"{sign}{display_percent(abs(pp))[:-1]} pp"


def _progress(share: Fraction | None) -> str:
    return "-" if share is None else display_percent(share * 100, 0)


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int], indent: str = "  "
) -> list[str]:
    """Columns padded to their widest cell; ``right`` holds the right-aligned ones."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return (indent + "  ".join(padded)).rstrip()

    return [line(headers), indent + "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


TIER_HEADERS = ("File", "Statements", "Start", "Target", "Current", "Gap", "Progress", "Status")


def _tier_cells(tier: Tier) -> list[list[str]]:
    return [
        [
            r.path,
            str(r.current.statements),
            r.start.display(),
            display_percent(r.target),
            r.current.display(),
            str(r.gap),
            _progress(r.progress),
            r.status,
        ]
        for r in tier.rows
    ]


def _overall_lines(report: Report) -> list[str]:
    o = report.overall
    unit = "statements and branches" if report.branch else "statements"
    now = o.current
    lines = [f"current {now.display()} ({now.covered_units} of {now.units} {unit} covered)"]
    if o.start is not None:
        change = o.change
        assert change is not None
        lines.append(
            f"start {o.start.display()} ({o.start.covered_units} of {o.start.units}), "
            f"change {_points(change)}, "
            f"{o.current.covered_units - o.start.covered_units:+d} covered"
        )
    if o.target is not None:
        lines.append(f"target {display_percent(o.target)}, {o.gap} still to cover")
    return lines


def render_report_text(report: Report, colour: bool = False) -> str:
    out: list[str] = []
    if not report.tiers:
        out.append("No tiered files in the baseline (see [[tool.ratchet.tiers]]).\n")
    for tier in report.tiers:
        progress = _progress(tier.progress)
        out.append(
            safe_lines(
                f"{tier.name}: {len(tier.rows)} file(s), {tier.met} at target, "
                f"gap {tier.gap}, progress {progress}\n"
            )
        )
        rows = _tier_cells(tier)
        # Made safe before painting: the colour codes are the only escapes.
        lines = [safe_lines(line) for line in _table(TIER_HEADERS, rows, right={1, 2, 3, 4, 5, 6})]
        for i, line in enumerate(lines):
            if i >= 2:
                status = tier.rows[i - 2].status
                line = line[: len(line) - len(status)] + _paint(
                    status, _COLOURS.get(status), colour
                )
            out.append(line + "\n")
        out.append("\n")
    out.append("Overall: " + "; ".join(_overall_lines(report)) + "\n")
    return "".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_report_markdown(report: Report) -> str:
    out = ["## Coverage progress\n\n"]
    for tier in report.tiers:
        out.append(
            f"### {_md(tier.name)}: {tier.met} of {len(tier.rows)} at target, "
            f"progress {_progress(tier.progress)}\n\n"
        )
        out.append("| " + " | ".join(TIER_HEADERS) + " |\n")
        out.append("| --- | " + " | ".join("---:" for _ in TIER_HEADERS[1:-1]) + " | --- |\n")
        for cells in _tier_cells(tier):
            cells[0] = f"`{_md(cells[0])}`"
            out.append("| " + " | ".join(cells) + " |\n")
        out.append("\n")
    if not report.tiers:
        out.append("No tiered files in the baseline.\n\n")
    out.append("**Overall:** " + "; ".join(_overall_lines(report)) + "\n")
    return "".join(out)


def render_report_json(report: Report) -> str:
    o = report.overall
    doc = {
        "format": PROGRESS_FORMAT,
        "kind": "report",
        "branch": report.branch,
        "tiers": [
            {
                "name": t.name,
                "files": [
                    {
                        "path": r.path,
                        "start": numbers_json(r.start),
                        "target": display_percent(r.target),
                        "current": numbers_json(r.current),
                        "gap": r.gap,
                        "start_gap": r.start_gap,
                        "progress": None if r.progress is None else float(r.progress),
                        "status": r.status,
                    }
                    for r in t.rows
                ],
                "gap": t.gap,
                "met": t.met,
                "progress": None if t.progress is None else float(t.progress),
            }
            for t in report.tiers
        ],
        "overall": {
            "start": numbers_json(o.start),
            "target": None if o.target is None else display_percent(o.target),
            "current": numbers_json(o.current),
            "change_pp": None if o.change is None else float(o.change),
            "gap": o.gap,
        },
    }
    return json.dumps(doc, indent=2) + "\n"


PLAN_HEADERS = ("File", "Kind", "Statements", "Current", "Target", "To cover", "Gain")


def _plan_cells(p: Plan) -> list[list[str]]:
    return [
        [
            c.path,
            c.kind,
            str(c.current.statements),
            c.current.display(),
            display_percent(c.target),
            str(c.to_cover),
            _points(c.gain),
        ]
        for c in p.candidates
    ]


def _plan_total(p: Plan) -> str:
    more = f" ({p.left_out} more not listed)" if p.left_out else ""
    target = "" if p.target is None else f", overall target {display_percent(p.target)}"
    return (
        f"if all {len(p.candidates)} reach target: {p.to_cover} more covered, "
        f"{_points(p.gain)}, overall {display_percent(p.reached)} "
        f"(now {p.current.display()}{target}){more}"
    )


def render_plan_text(p: Plan) -> str:
    if not p.candidates:
        return "No candidates: every tiered file is at its target and no quick win is left.\n"
    lines = _table(PLAN_HEADERS, _plan_cells(p), right={2, 3, 4, 5, 6})
    return "\n".join(lines) + "\n\n" + _plan_total(p) + "\n"


def render_plan_markdown(p: Plan) -> str:
    out = ["## Next phase: candidates\n\n"]
    if p.candidates:
        out.append("| " + " | ".join(PLAN_HEADERS) + " |\n")
        out.append("| --- | --- | " + " | ".join("---:" for _ in PLAN_HEADERS[2:]) + " |\n")
        for cells in _plan_cells(p):
            cells[0] = f"`{_md(cells[0])}`"
            out.append("| " + " | ".join(cells) + " |\n")
        out.append("\n")
    out.append(f"**{_plan_total(p)}**\n" if p.candidates else "No candidates.\n")
    return "".join(out)


def render_plan_json(p: Plan) -> str:
    doc = {
        "format": PROGRESS_FORMAT,
        "kind": "plan",
        "candidates": [
            {
                "path": c.path,
                "kind": c.kind,
                "current": numbers_json(c.current),
                "target": display_percent(c.target),
                "to_cover": c.to_cover,
                "gain_pp": float(c.gain),
            }
            for c in p.candidates
        ],
        "left_out": p.left_out,
        "total": {
            "to_cover": p.to_cover,
            "gain_pp": float(p.gain),
            "overall_if_reached": display_percent(p.reached),
            "overall_now": p.current.display(),
            "overall_target": None if p.target is None else display_percent(p.target),
        },
    }
    return json.dumps(doc, indent=2) + "\n"


def _history_tier_names(h: History) -> list[str]:
    return sorted({name for p in h.points for name in p.tiers})


def _history_summary(h: History) -> list[str]:
    lines = []
    if h.velocity is None:
        lines.append("velocity: not enough history (a day at least)")
    else:
        lines.append(
            f"velocity: {_points(h.velocity)} per week over the last {h.window_days} days"
        )
    what = "target" if h.file else "overall target"
    if h.target is None:
        lines.append(
            "no target: the file is in no tier (ratchet plan --promote puts it in one)"
            if h.file
            else "no overall target set (overall-target = 80 in [tool.ratchet] sets one)"
        )
    elif h.reached:
        lines.append(f"{what} {display_percent(h.target)} reached")
    elif h.projected is None:
        lines.append(f"{what} {display_percent(h.target)}: no projection at this pace")
    else:
        lines.append(f"{what} {display_percent(h.target)} projected for {h.projected.isoformat()}")
    if h.skipped:
        lines.append(f"{h.skipped} commit(s) with an unreadable baseline skipped")
    return lines


def render_history_text(h: History) -> str:
    if not h.points:
        return "No commit has the baseline yet.\n"
    names = _history_tier_names(h)
    headers = ("Date", "Commit", h.file or "Overall", *names)
    rows = [
        [
            p.when.date().isoformat(),
            p.commit,
            display_percent(p.percent),
            *(_progress(p.tiers.get(n)) for n in names),
        ]
        for p in h.points
    ]
    lines = _table(headers, rows, right=set(range(2, len(headers))), indent="")
    return "\n".join(lines) + "\n\n" + "\n".join(_history_summary(h)) + "\n"


def render_history_json(h: History) -> str:
    doc = {
        "format": PROGRESS_FORMAT,
        "kind": "history",
        "file": h.file,  # One file's trend: its percentages and its target.
        "points": [
            {
                "date": p.when.isoformat(),
                "commit": p.commit,
                "overall_percent": float(p.percent),
                "tier_progress": {k: None if v is None else float(v) for k, v in p.tiers.items()},
            }
            for p in h.points
        ],
        "overall_target": None if h.target is None else float(h.target),
        "window_days": h.window_days,
        "velocity_pp_per_week": None if h.velocity is None else float(h.velocity),
        "projected_date": None if h.projected is None else h.projected.isoformat(),
        "skipped": h.skipped,
    }
    return json.dumps(doc, indent=2) + "\n"
