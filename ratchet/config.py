"""``[tool.ratchet]`` in ``pyproject.toml``; every key has a default."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
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
from ratchet.toml import line_of


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
    # A selected check starts its test process while it plans (conftest.py
    # files load then, even when the plan needs no run).
    early_start: bool = True
    # A check of a partly staged commit keeps its copy of the index for the
    # next (ratchet.snapshot); false: a fresh copy each time, removed after.
    keep_copy: bool = True
    # Seconds a test run may take before it is stopped; 0: no limit.
    test_timeout: float = 1800.0
    # A passing commit hook writes the raised baseline into the commit.
    record_gains: bool = False

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
    "early-start",
    "keep-copy",
    "test-timeout",
    "record-gains",
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
    except _Problem as e:
        if e.tier is None:
            at = line_of(text or "", "[tool.ratchet]", e.key)
        else:
            at = line_of(text or "", "[[tool.ratchet.tiers]]", e.key, e.tier)
        raise RatchetError(f"pyproject.toml{at}: [tool.ratchet] {e}") from None


class _Problem(ValueError):
    """A bad ``[tool.ratchet]`` value, with the key (and tier table) it is in."""

    def __init__(self, message: str, key: str | None = None, tier: int | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.tier = tier


def _percent(value: object, what: str, key: str, tier: int | None = None) -> Fraction:
    try:
        return parse_percent(value, what)
    except ValueError as e:
        raise _Problem(str(e), key, tier) from None


def _config(section: Any) -> Config:
    if not isinstance(section, dict):
        raise _Problem("must be a table")
    unknown = sorted(set(section) - _KEYS)
    if unknown:
        raise _Problem(
            f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})", unknown[0]
        )
    baseline = _string(section, "baseline") or DEFAULT_BASELINE
    problem = check_repo_path(baseline)
    if problem:
        raise _Problem(f"baseline: the path {problem}", "baseline")
    python = _string(section, "python")
    command = section.get("test-command", "pytest")
    if isinstance(command, str):
        try:
            test_command = tuple(shlex.split(command))
        except ValueError as e:  # No closing quotation, ...
            raise _Problem(f"test-command: {e}", "test-command") from None
    elif isinstance(command, list) and all(isinstance(part, str) for part in command):
        test_command = tuple(command)
    else:
        raise _Problem("test-command must be a string or a list of strings", "test-command")
    if not test_command:
        raise _Problem("test-command is empty", "test-command")
    allow = section.get("allow-deletion-drops", True)
    if not isinstance(allow, bool):
        raise _Problem("allow-deletion-drops must be true or false", "allow-deletion-drops")
    minimum = _percent(section.get("new-file-minimum", 0), "new-file-minimum", "new-file-minimum")
    target = None
    if "overall-target" in section:
        target = _percent(section["overall-target"], "overall-target", "overall-target")
    watch = section.get("watch", [])
    if not isinstance(watch, list) or not all(isinstance(p, str) for p in watch):
        raise _Problem("watch must be a list of glob patterns", "watch")
    select = _flag(section, "select", True)
    early_start = _flag(section, "early-start", True)
    keep_copy = _flag(section, "keep-copy", True)
    record_gains = _flag(section, "record-gains", False)
    share = section.get("select-max-share", 0.5)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise _Problem("select-max-share must be a number from 0 to 1", "select-max-share")
    timeout = section.get("test-timeout", Config.test_timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise _Problem(
            "test-timeout must be a number of seconds >= 0 (0: no limit)", "test-timeout"
        )
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
        early_start=early_start,
        keep_copy=keep_copy,
        test_timeout=float(timeout),
        record_gains=record_gains,
    )


def _flag(section: Mapping[str, Any], key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise _Problem(f"{key} must be true or false", key)
    return value


def _tiers(raw: Any) -> tuple[TierRule, ...]:
    if not isinstance(raw, list):
        raise _Problem("tiers must be an array of tables ([[tool.ratchet.tiers]])", "tiers")
    rules = []
    for index, item in enumerate(raw, 1):
        where = f"tiers[{index}]"
        if not isinstance(item, dict):
            raise _Problem(f"{where} must be a table", None, index)
        unknown = sorted(set(item) - _TIER_KEYS)
        if unknown:
            raise _Problem(f"{where}: unknown key {unknown[0]!r}", unknown[0], index)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or has_control(name):
            raise _Problem(
                f"{where}.name must be a non-empty string without control characters",
                "name",
                index,
            )
        if "target" not in item:
            raise _Problem(f"{where}.target is missing", None, index)
        smallest = _int(item, "min-statements", index) or 0
        largest = _int(item, "max-statements", index)
        if largest is not None and largest < smallest:
            raise _Problem(
                f"{where}.max-statements ({largest}) is below min-statements ({smallest})",
                "max-statements",
                index,
            )
        rules.append(
            TierRule(
                name=name,
                target=_percent(item["target"], f"{where}.target", "target", index),
                min_statements=smallest,
                max_statements=largest,
                below_percent=(
                    _percent(
                        item["below-percent"], f"{where}.below-percent", "below-percent", index
                    )
                    if "below-percent" in item
                    else None
                ),
            )
        )
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise _Problem("tiers: two tiers have the same name", "tiers")
    return tuple(rules)


def _below(item: dict[str, Any], where: str, tier: int) -> Fraction | None:
    if "below-percent" not in item:
        return None
    return _percent(item["below-percent"], f"{where}.below-percent", "below-percent", tier)


def _int(item: dict[str, Any], key: str, tier: int) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**63 - 1:
        raise _Problem(f"tiers[{tier}].{key} must be a whole number >= 0", key, tier)
    return value


def _string(section: dict[str, Any], key: str) -> str | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Problem(f"{key} must be a string", key)
    return value
