"""``[tool.ratchet]`` in ``pyproject.toml``; every key has a default."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ratchet.errors import RatchetError
from ratchet.numbers import parse_percent
from ratchet.paths import check_repo_path, has_control
from ratchet.relevance import DEFAULT_BASELINE, is_relevant, read_pyproject, tool_section
from ratchet.rules import Policy
from ratchet.tiers import DEFAULT_TIERS, TierRule


@dataclass(frozen=True)
class Config:
    baseline: str = DEFAULT_BASELINE
    python: str | None = None
    test_command: tuple[str, ...] = ("pytest",)
    policy: Policy = field(default_factory=Policy)
    overall_target: Fraction | None = None
    watch: tuple[str, ...] = ()
    tiers: tuple[TierRule, ...] = DEFAULT_TIERS
    # check runs only affected tests unless more than this share of the suite is.
    select_max_share: float = 0.5
    select: bool = True
    # Seconds a test run may take before it is stopped; 0: no limit.
    test_timeout: float = 1800.0

    def is_relevant(self, path: str) -> bool:
        """Can a change to ``path`` change coverage or the verdict?"""
        return is_relevant(path, self.baseline, self.watch)


_KEYS = {
    "baseline",
    "python",
    "test-command",
    "new-file-minimum",
    "allow-deletion-drops",
    "overall-target",
    "watch",
    "tiers",
    "select",
    "select-max-share",
    "test-timeout",
}
_TIER_KEYS = {"name", "target", "min-statements", "max-statements", "below-percent"}


def load_config(root: Path, text: str | None = None, *, given: bool = False) -> Config:
    """``[tool.ratchet]`` of ``pyproject.toml`` (defaults if absent).

    From the working tree under ``root``, or with ``given`` from ``text``:
    ``check`` judges by the configuration being committed, the index's.
    """
    if not given:
        text = read_pyproject(root)
    section = tool_section(text)
    try:
        return _config(section)
    except ValueError as e:
        at = _line_of(text or "", str(e))
        raise RatchetError(f"pyproject.toml{at}: [tool.ratchet] {e}") from None


def _line_of(text: str, problem: str) -> str:
    """``:N``, the line of the key ``problem`` is about, when it can be found."""
    start = text.find("[tool.ratchet]")
    unknown = re.match(r"(?:tiers\[\d+\]: )?unknown key '([^']+)'", problem)
    key = unknown.group(1) if unknown else problem.split(" ", 1)[0].rstrip(":")
    tier = re.match(r"tiers\[(\d+)\]", problem)
    if tier:
        # The N-th [[tool.ratchet.tiers]]; the key within it, if named.
        tables = [m.start() for m in re.finditer(r"^\[\[tool\.ratchet\.tiers\]\]", text, re.M)]
        index = int(tier.group(1)) - 1
        if index >= len(tables):
            return ""
        start = tables[index]
        named = re.match(r"tiers\[\d+\]\.([\w-]+)", problem)
        key = unknown.group(1) if unknown else named.group(1) if named else ""
        if not key:
            return f":{text.count(chr(10), 0, start) + 1}"
    if start < 0 or not key:
        return ""
    found = re.compile(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*=", re.M).search(text, start)
    return f":{text.count(chr(10), 0, found.start()) + 1}" if found else ""


def _config(section: Any) -> Config:
    if not isinstance(section, dict):
        raise ValueError("must be a table")
    unknown = sorted(set(section) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    baseline = _string(section, "baseline") or DEFAULT_BASELINE
    problem = check_repo_path(baseline)
    if problem:
        raise ValueError(f"baseline: the path {problem}")
    python = _string(section, "python")
    command = section.get("test-command", "pytest")
    if isinstance(command, str):
        test_command = tuple(shlex.split(command))
    elif isinstance(command, list) and all(isinstance(part, str) for part in command):
        test_command = tuple(command)
    else:
        raise ValueError("test-command must be a string or a list of strings")
    if not test_command:
        raise ValueError("test-command is empty")
    allow = section.get("allow-deletion-drops", True)
    if not isinstance(allow, bool):
        raise ValueError("allow-deletion-drops must be true or false")
    minimum = parse_percent(section.get("new-file-minimum", 0), "new-file-minimum")
    target = None
    if "overall-target" in section:
        target = parse_percent(section["overall-target"], "overall-target")
    watch = section.get("watch", [])
    if not isinstance(watch, list) or not all(isinstance(p, str) for p in watch):
        raise ValueError("watch must be a list of glob patterns")
    select = section.get("select", True)
    if not isinstance(select, bool):
        raise ValueError("select must be true or false")
    share = section.get("select-max-share", 0.5)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ValueError("select-max-share must be a number from 0 to 1")
    timeout = section.get("test-timeout", Config.test_timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ValueError("test-timeout must be a number of seconds >= 0 (0: no limit)")
    tiers = DEFAULT_TIERS
    if "tiers" in section:
        tiers = _tiers(section["tiers"])
    return Config(
        baseline=baseline,
        python=python,
        test_command=test_command,
        policy=Policy(allow_deletion_drops=allow, new_file_minimum=minimum),
        overall_target=target,
        watch=tuple(watch),
        tiers=tiers,
        select=select,
        select_max_share=float(share),
        test_timeout=float(timeout),
    )


def _tiers(raw: Any) -> tuple[TierRule, ...]:
    if not isinstance(raw, list):
        raise ValueError("tiers must be an array of tables ([[tool.ratchet.tiers]])")
    rules = []
    for index, item in enumerate(raw, 1):
        where = f"tiers[{index}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be a table")
        unknown = sorted(set(item) - _TIER_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r}")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or has_control(name):
            raise ValueError(f"{where}.name must be a non-empty string without control characters")
        if "target" not in item:
            raise ValueError(f"{where}.target is missing")
        smallest = _int(item, "min-statements", where) or 0
        largest = _int(item, "max-statements", where)
        if largest is not None and largest < smallest:
            raise ValueError(
                f"{where}.max-statements ({largest}) is below min-statements ({smallest})"
            )
        rules.append(
            TierRule(
                name=name,
                target=parse_percent(item["target"], f"{where}.target"),
                min_statements=smallest,
                max_statements=largest,
                below_percent=(
                    parse_percent(item["below-percent"], f"{where}.below-percent")
                    if "below-percent" in item
                    else None
                ),
            )
        )
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise ValueError("tiers: two tiers have the same name")
    return tuple(rules)


def _int(item: dict[str, Any], key: str, where: str) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**63 - 1:
        raise ValueError(f"{where}.{key} must be a whole number >= 0")
    return value


def _string(section: dict[str, Any], key: str) -> str | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value
