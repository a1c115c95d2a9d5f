"""What a measurement is: per-file numbers, and how they were obtained.

Numbers always come from coverage.py's own JSON report, produced by the
project's coverage.py under the project's configuration and plugins; we never
re-implement its analysis.  This module reads that report
(:class:`CoverageReport`) and holds the values the rest of ratchet passes on
(:class:`Measurement`, built complete, once, by whoever measured).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratchet.baseline import MAX_COUNT
from ratchet.errors import RatchetError
from ratchet.numbers import Numbers
from ratchet.paths import all_clean, check_repo_path
from ratchet.printable import safe
from ratchet.report import RunMode


@dataclass(frozen=True)
class FileResult:
    numbers: Numbers
    missing_lines: Sequence[int] = ()
    lines_known: bool = True  # False: numbers from the test map, lines not kept.


@dataclass(frozen=True)
class CoverageReport:
    """What a ``coverage json`` report says, per repository-relative path."""

    files: Mapping[str, FileResult]
    coverage_version: str
    branch: bool
    outside: tuple[str, ...] = ()  # Measured files outside the repository, ignored.
    # Measured files whose names the baseline cannot hold (control characters,
    # backslashes): named in a note, never judged or written.
    unrecordable: tuple[str, ...] = ()


@dataclass(frozen=True)
class Measurement:
    """A report and how it was made: what ``init``, ``update`` and ``check`` judge."""

    report: CoverageReport
    mode: RunMode
    how: str  # "`pytest` (3.1 s)", "report r.json", ...
    why: str = ""  # Why the whole suite ran, or what a selection ran.
    tests_run: tuple[str, ...] | None = None  # A selected run's test ids; None: all.
    warnings: tuple[str, ...] = ()  # What coverage.py warned about during the run.
    # The files a selected run measured exactly; None: all of them.
    judged: frozenset[str] | None = None
    # Why this run could record no test map (then every check runs everything).
    selection_off: str = ""
    # Blob ids of the repository's files as the tests saw them (path -> id);
    # None when not known.  What the run's record of uncovered lines is keyed by.
    content: Mapping[str, str] | None = None

    @property
    def files(self) -> Mapping[str, FileResult]:
        return self.report.files

    @property
    def coverage_version(self) -> str:
        return self.report.coverage_version

    @property
    def branch(self) -> bool:
        return self.report.branch

    @property
    def outside(self) -> tuple[str, ...]:
        return self.report.outside

    @property
    def unrecordable(self) -> tuple[str, ...]:
        return self.report.unrecordable


@dataclass(frozen=True)
class TestRun:
    """One run of the test command: its combined data file, and what it said."""

    __test__ = False  # Not a pytest test class, despite the name.
    data_file: Path
    seconds: float
    warnings: tuple[str, ...]


# -- reading coverage.py's JSON report ------------------------------------------


def from_json_report(data: Any, root: Path, source: str) -> CoverageReport:
    """A :class:`CoverageReport` from a parsed ``coverage json`` report.

    Files outside the repository are set aside (``outside``); files whose
    names the baseline cannot hold (a control character, a backslash) are
    set aside too (``unrecordable``), to be named, never written.
    """
    try:
        meta = data["meta"]
        version = str(meta["version"])
        branch = bool(meta.get("branch_coverage", False))
        files_data = data["files"]
        if not isinstance(files_data, dict):
            raise TypeError("files is not an object")
    except (KeyError, TypeError) as e:
        raise RatchetError(f"{source}: not a coverage.py JSON report ({e})") from None
    files: dict[str, FileResult] = {}
    outside: list[str] = []
    unrecordable: list[str] = []
    if all_clean(files_data):  # The common case: every key is a clean path already.
        for key, entry in files_data.items():
            files[key] = _file_result(entry, key, branch, source)
        return CoverageReport(files, version, branch)
    real_root = os.path.realpath(root)
    for key, entry in files_data.items():
        if not key or "\0" in key or key in (".", "/") or key.endswith(("/", os.sep)):
            raise RatchetError(f"{source}: {safe(repr(key))} is not the name of a file")
        path = _repo_path(key, root, real_root)
        if path is None:
            outside.append(key)
            continue
        if check_repo_path(path) is not None:
            unrecordable.append(path)
            continue
        files[path] = _file_result(entry, key, branch, source)
    return CoverageReport(files, version, branch, tuple(outside), tuple(unrecordable))


def _file_result(entry: Any, key: str, branch: bool, source: str) -> FileResult:
    try:
        s = entry["summary"]
        statements, covered = s["num_statements"], s["covered_lines"]
        branches = s.get("num_branches", 0) if branch else 0
        covered_branches = s.get("covered_branches", 0) if branch else 0
        missing = entry.get("missing_lines", [])
    except (KeyError, TypeError, AttributeError) as e:
        raise RatchetError(
            f"{source}: file {safe(repr(key))} has no usable summary ({e})"
        ) from None
    # Each count an int (not a bool) from 0 to MAX_COUNT, the covered ones at
    # most their totals; spelled out, not looped: it runs for every file.
    if not (
        type(statements) is int
        and type(covered) is int
        and type(branches) is int
        and type(covered_branches) is int
        and 0 <= covered <= statements <= MAX_COUNT
        and 0 <= covered_branches <= branches <= MAX_COUNT
        and isinstance(missing, list)
        and _line_numbers(missing)
    ):
        raise RatchetError(f"{source}: file {safe(repr(key))} has invalid counts or lines")
    return FileResult(Numbers(statements, covered, branches, covered_branches), missing)


def _line_numbers(values: list[Any]) -> bool:
    """Every value a line number (an int, not a bool, from 1 to MAX_COUNT).

    Checked in C, not a Python loop: reports of 20,000 files hold millions
    of them.  A sum of ints only is an int: a float makes it a float, any
    other value (a string, None, a list) cannot be added.  A bool can, and
    equals 0 or 1: False fails the minimum; True is looked for where a 1 is.
    With every value at least 1, a sum within range bounds the largest.
    """
    if not values:
        return True
    try:
        total = sum(values)
    except (TypeError, OverflowError):  # Not a number; an int too big for a float.
        return False
    if type(total) is not int or min(values) < 1:
        return False
    if total > MAX_COUNT and max(values) > MAX_COUNT:
        return False
    ones = values.count(1)  # True == 1 counts too.
    if ones == 1:  # Line 1, missing: often.
        return values[values.index(1)] is not True
    return not ones or id(True) not in map(id, values)  # Several 1s: look at each.


def _repo_path(key: str, root: Path, real_root: str) -> str | None:
    """``key`` as a repository-relative ``/`` path, or None if outside."""
    if check_repo_path(key) is None:
        return key  # Already clean: the common case, kept cheap.
    if os.path.isabs(key):
        rel = os.path.relpath(os.path.realpath(key), real_root)
    else:
        rel = os.path.normpath(key)
    rel = rel.replace(os.sep, "/")
    if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
        return None
    return rel


def load_json_report(path: Path, root: Path) -> CoverageReport:
    try:
        with path.open("rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise RatchetError(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise RatchetError(f"{path}: not valid JSON ({_first(e)})") from None
    except RecursionError:
        raise RatchetError(f"{path}: not a coverage.py JSON report (nested too deeply)") from None
    except OSError as e:
        raise RatchetError(f"{path}: cannot read it ({e.strerror})") from None
    return from_json_report(data, root, str(path))


def _first(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 120 else text[:117] + "..."
