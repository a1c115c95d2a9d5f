"""A fast reader for the exact layout :func:`ratchet.baseline.dumps` writes.

The standard library's TOML parser is pure Python and takes about a second
for a 20,000-file baseline.  This reader accepts only the canonical layout,
line by line, and returns the same data ``tomllib.loads`` would; on any line
it does not recognise, or anything TOML would reject (a duplicate key or
table), it returns None and the caller falls back to ``tomllib``.  Tests
check that both agree on every baseline ``dumps`` can write.
"""

from __future__ import annotations

import json
import re
from typing import Any

_INT = r"(0|[1-9][0-9]*)"
_STR = r'("(?:[^"\\\x00-\x1f\x7f]|\\["\\bfnrt]|\\u[0-9A-Fa-f]{4})*")'
_NUM = r"(0|[1-9][0-9]*(?:\.[0-9]+)?|0\.[0-9]+)"
_NUMBERS = (
    rf"statements = {_INT}, covered = {_INT}(?:, branches = {_INT}, covered_branches = {_INT})?"
)

_FILE_HEADER = re.compile(rf"\[files\.{_STR}\]")
# A whole plain entry (blank line, header, statements, covered) in one match:
# most entries look like this, and one match is much cheaper than four lines.
_PLAIN_ENTRY = re.compile(
    rf"\n\[files\.{_STR}\]\nstatements = {_INT}\ncovered = {_INT}(?:  # [^\n]*)?\n"
    r"(?=\n|\Z)"
)
_COUNT = re.compile(rf"(statements|covered|branches|covered_branches) = {_INT}(?:  # [^\n]*)?")
_START = re.compile(rf"start = \{{ {_NUMBERS} \}}")
_LOWERED = re.compile(rf"lowered = \{{ {_NUMBERS}, reason = {_STR}, date = {_STR} \}}")
_TARGET = re.compile(rf"target = {_NUM}")
_TIER = re.compile(rf"tier = {_STR}")
_COVERAGE = re.compile(rf"coverage = {_STR}")
_NUMBER_KEYS = ("statements", "covered", "branches", "covered_branches")


def _numbers(groups: tuple[str | None, ...]) -> dict[str, int]:
    return {k: int(v) for k, v in zip(_NUMBER_KEYS, groups, strict=False) if v is not None}


def _unquote(quoted: str) -> str:
    # Only strings with escapes need decoding; TOML's basic-string escapes
    # that this reader accepts are all JSON escapes too.
    return json.loads(quoted) if "\\" in quoted else quoted[1:-1]


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def fast_loads(text: str) -> dict[str, Any] | None:
    """``tomllib.loads(text)`` for canonical baselines; None for anything else."""
    data: dict[str, Any] = {}
    files: dict[str, dict[str, Any]] = {}
    table: dict[str, Any] = data
    seen_tables: set[str] = set()
    pos, end = 0, len(text)
    while pos < end:
        # A blank line followed by a plain entry: take the whole entry at once.
        plain = _PLAIN_ENTRY.match(text, pos) if text.startswith("\n[", pos) else None
        if plain is not None:
            path = _unquote(plain.group(1))
            if path in files:
                return None
            files[path] = {"statements": int(plain.group(2)), "covered": int(plain.group(3))}
            data.setdefault("files", files)
            table = files[path]
            pos = plain.end()
            continue
        newline = text.find("\n", pos)
        if newline < 0:
            newline = end
        line, pos = text[pos:newline], newline + 1
        if not line or line[0] == "#":
            continue
        if line[0] == "[":
            match = _FILE_HEADER.fullmatch(line)
            if match:
                path = _unquote(match.group(1))
                if path in files:
                    return None
                table = files[path] = {}
                if "files" not in data:
                    data["files"] = files
                continue
            if line in ("[measured-with]", "[overall]") and line not in seen_tables:
                seen_tables.add(line)
                table = data[line[1:-1]] = {}
                continue
            return None
        key = line.split(" ", 1)[0]
        if key in table:
            return None  # TOML refuses a duplicate key; let tomllib say so.
        value = _value(key, line, table is data)
        if value is None:
            return None
        table[key] = value
    return data


def _value(key: str, line: str, top_level: bool) -> Any:
    if top_level:
        match = re.fullmatch(rf"format = {_INT}", line)
        return int(match.group(1)) if match else None
    if key in _NUMBER_KEYS:
        match = _COUNT.fullmatch(line)
        return int(match.group(2)) if match else None
    if key == "start":
        match = _START.fullmatch(line)
        return _numbers(match.groups()) if match else None
    if key == "lowered":
        match = _LOWERED.fullmatch(line)
        if not match:
            return None
        value: dict[str, Any] = _numbers(match.groups()[:4])
        value["reason"] = _unquote(match.group(5))
        value["date"] = _unquote(match.group(6))
        return value
    if key == "target":
        match = _TARGET.fullmatch(line)
        return _number(match.group(1)) if match else None
    if key == "tier":
        match = _TIER.fullmatch(line)
        return _unquote(match.group(1)) if match else None
    if key == "coverage":
        match = _COVERAGE.fullmatch(line)
        return _unquote(match.group(1)) if match else None
    if key == "branch":
        return {"branch = true": True, "branch = false": False}.get(line)
    return None
