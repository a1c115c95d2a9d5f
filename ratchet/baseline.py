"""``coverage-baseline.toml``: the committed record that only moves up.

Read with the standard library's TOML parser; written by :func:`dumps`, a
small emitter for this one schema, because it must be byte-stable (same
numbers, same bytes) and fast for tens of thousands of files.

Layout, chosen so that plain git merges raises of different files cleanly:
one table per file, sorted by path, separated by blank lines, each number on
a line of its own.  Overall totals are not stored but summed on reading;
stored totals would change in every update and make any two parallel raises
conflict.  The overall *start* and *target* are stored: they do not move.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ratchet.errors import WRITTEN, RatchetError
from ratchet.numbers import ZERO, Numbers, format_percent_value, parse_percent
from ratchet.paths import check_repo_path, has_control
from ratchet.toml import line_of, parse

FORMAT = 1


@dataclass(frozen=True)
class Lowering:
    """A deliberate lowering made with ``ratchet update --allow-lower``."""

    previous: Numbers
    reason: str
    date: str


@dataclass(frozen=True)
class Entry:
    """One file's record; tiered files also keep their target and start."""

    numbers: Numbers
    tier: str | None = None
    target: Fraction | None = None
    start: Numbers | None = None
    lowered: Lowering | None = None


@dataclass(frozen=True)
class Baseline:
    coverage_version: str
    branch: bool
    files: Mapping[str, Entry] = field(default_factory=dict)
    overall_target: Fraction | None = None
    overall_start: Numbers | None = None

    @property
    def totals(self) -> Numbers:
        total = ZERO
        for entry in self.files.values():
            total = total + entry.numbers
        return total


# -- reading ------------------------------------------------------------------


class _Invalid(Exception):
    """A schema problem; ``header`` and ``key`` locate it in the file."""

    def __init__(
        self, where: str, problem: str, header: str | None = None, key: str | None = None
    ) -> None:
        super().__init__(problem)
        self.where = where
        self.problem = problem
        if header is None:
            # ``overall.start.covered`` lives in [overall]; ``format`` at the top.
            top, _, rest = where.partition(".")
            if top in ("overall", "measured-with"):
                header, key = f"[{top}]", rest.split(".")[0] or None
            else:
                key = top
        self.header = header
        self.key = key


def loads(text: str, source: str = "coverage-baseline.toml") -> Baseline:
    """Parse and validate a baseline; bad input raises :class:`RatchetError`."""
    from ratchet.baseline_fast import fast_loads

    hint = "fix the file, or restore it with `git checkout -- <file>`"
    try:
        data = fast_loads(text)
    except ValueError:  # A number too long for int(): let the parser say where.
        data = None
    if data is None:
        data = parse(text, source, hint)
    try:
        return _from_data(data)
    except _Invalid as e:
        raise RatchetError(
            f"{source}{line_of(text, e.header, e.key)}: {e.where}: {e.problem}",
            hint="fix the file, or restore it with `git checkout -- <file>`",
        ) from None


def read_bytes(path: Path, source: str) -> bytes:
    """The baseline file's bytes; a clear error when there is none."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RatchetError(
            f"no baseline at {source}",
            hint="create it with `ratchet init` and commit it",
        ) from None
    except OSError as e:
        raise RatchetError(f"{source}: cannot read it ({e.strerror or e})") from None


def load(path: Path, source: str | None = None) -> Baseline:
    name = source or path.name
    return loads_bytes(read_bytes(path, name), name)


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RatchetError(f"{source}: not UTF-8 text (byte {e.start})") from None


def loads_bytes(raw: bytes, source: str) -> Baseline:
    return loads(_decode(raw, source), source)


def _from_data(data: dict[str, Any]) -> Baseline:
    fmt = data.get("format")
    if isinstance(fmt, bool) or not isinstance(fmt, int):
        raise _Invalid("format", "missing or not an integer (expected format = 1)")
    if fmt > FORMAT:
        raise _Invalid(
            "format",
            f"format {fmt} is newer than this coverage-ratchet reads ({FORMAT}); "
            "upgrade coverage-ratchet",
        )
    if fmt < 1:
        raise _Invalid("format", f"unknown format {fmt}")
    _no_extra(data, {"format", "measured-with", "overall", "files"}, "top level")

    measured = _table(data, "measured-with", "measured-with")
    _no_extra(measured, {"coverage", "branch"}, "measured-with")
    version = measured.get("coverage")
    if not isinstance(version, str):
        raise _Invalid("measured-with.coverage", "missing or not a string")
    branch = measured.get("branch")
    if not isinstance(branch, bool):
        raise _Invalid("measured-with.branch", "missing or not true/false")

    overall = _table(data, "overall", "overall", required=False)
    _no_extra(overall, {"target", "start"}, "overall")
    target = _percent(overall, "target", "overall.target")
    start = None
    if "start" in overall:
        start = _numbers_table(overall["start"], "overall.start", branch)

    files: dict[str, Entry] = {}
    for path, raw in _table(data, "files", "files", required=False).items():
        problem = check_repo_path(path)
        if problem is not None:
            raise _Invalid(f"files.{quote(path)}", f"path {problem}", _header(path))
        if not isinstance(raw, dict):
            raise _Invalid(f"files.{quote(path)}", "must be a table", _header(path))
        files[path] = _entry(raw, path, branch)
    return Baseline(version, branch, files, target, start)


def _header(path: str) -> str:
    return f"[files.{quote(path)}]"


_NUMBER_KEYS = {"statements", "covered", "branches", "covered_branches"}
_PLAIN_KEYS = {"statements", "covered"}


def _entry(raw: dict[str, Any], path: str, branch: bool) -> Entry:
    plain = _plain_numbers(raw, branch)
    if plain is not None:
        return Entry(plain)
    # Validate with a placeholder name; the real, quoted one is only needed
    # for the error message, and quoting 20,000 paths costs real time.
    where = "\0"
    try:
        _no_extra(raw, _NUMBER_KEYS | {"tier", "target", "start", "lowered"}, where)
        numbers = _numbers_table(raw, where, branch)
        tiered = [key for key in ("tier", "target", "start") if key in raw]
        if tiered and len(tiered) != 3:
            raise _Invalid(where, "a tiered file needs tier, target and start together")
        tier = raw.get("tier")
        if tier is not None and not _is_text(tier):
            raise _Invalid(
                f"{where}.tier", "must be a non-empty string without control characters"
            )
        target = _percent(raw, "target", f"{where}.target")
        start = _numbers_table(raw["start"], f"{where}.start", branch) if tiered else None
        lowered = None
        if "lowered" in raw:
            lowered = _lowering(raw["lowered"], f"{where}.lowered", branch)
    except _Invalid as e:
        named = e.where.replace(where, f"files.{quote(path)}")
        key = e.where[len(where) + 1 :].split(".")[0]
        raise _Invalid(named, e.problem, _header(path), key) from None
    return Entry(numbers, tier, target, start, lowered)


def _plain_numbers(raw: dict[str, Any], branch: bool) -> Numbers | None:
    """The numbers of an entry that has nothing else, if they are valid.

    Most entries are like this; checking them directly saves the general
    validation below, which still runs (and explains) anything else.
    """
    if branch:
        if raw.keys() != _NUMBER_KEYS:
            return None
        s, c, b, cb = raw["statements"], raw["covered"], raw["branches"], raw["covered_branches"]
        ok = type(s) is type(c) is type(b) is type(cb) is int and 0 <= c <= s and 0 <= cb <= b
        return Numbers(s, c, b, cb) if ok else None
    if raw.keys() != _PLAIN_KEYS:
        return None
    s, c = raw["statements"], raw["covered"]
    return Numbers(s, c) if type(s) is type(c) is int and 0 <= c <= s else None


def _lowering(raw: object, where: str, branch: bool) -> Lowering:
    if not isinstance(raw, dict):
        raise _Invalid(where, "must be a table")
    _no_extra(raw, _NUMBER_KEYS | {"reason", "date"}, where)
    reason, date = raw.get("reason"), raw.get("date")
    if not isinstance(reason, str) or not _is_text(reason):
        raise _Invalid(f"{where}.reason", "missing, empty, or with control characters")
    if not isinstance(date, str) or not _is_date(date):
        raise _Invalid(f"{where}.date", "missing or not a YYYY-MM-DD date")
    return Lowering(_numbers_table(raw, where, branch), reason, date)


def _is_text(value: object) -> bool:
    """A tier name or a reason: words for people, printed as they are."""
    return isinstance(value, str) and bool(value.strip()) and not has_control(value)


def _is_date(text: str) -> bool:
    import datetime

    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _numbers_table(raw: object, where: str, branch: bool) -> Numbers:
    if not isinstance(raw, dict):
        raise _Invalid(where, "must be a table")
    statements = _count(raw, "statements", where)
    covered = _count(raw, "covered", where)
    if covered > statements:
        raise _Invalid(f"{where}.covered", f"{covered} is more than statements ({statements})")
    if not branch:
        for key in ("branches", "covered_branches"):
            if key in raw:
                raise _Invalid(f"{where}.{key}", "present, but the baseline has branch = false")
        return Numbers(statements, covered)
    branches = _count(raw, "branches", where)
    covered_branches = _count(raw, "covered_branches", where)
    if covered_branches > branches:
        raise _Invalid(
            f"{where}.covered_branches",
            f"{covered_branches} is more than branches ({branches})",
        )
    return Numbers(statements, covered, branches, covered_branches)


# TOML's integers are 64-bit; no file has more statements than that anyway.
MAX_COUNT = 2**63 - 1


def _count(raw: Mapping[str, Any], key: str, where: str) -> int:
    value = raw.get(key)
    if value is None:
        raise _Invalid(f"{where}.{key}", "missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"{where}.{key}", f"must be a whole number, not {_short(value)}")
    if value < 0:
        raise _Invalid(f"{where}.{key}", f"must not be negative ({_short(value)})")
    if value > MAX_COUNT:
        raise _Invalid(f"{where}.{key}", f"out of range ({_short(value)})")
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _percent(raw: Mapping[str, Any], key: str, where: str) -> Fraction | None:
    if key not in raw:
        return None
    try:
        return parse_percent(raw[key], where)
    except ValueError as e:
        raise _Invalid(where, str(e)) from None


def _table(
    data: Mapping[str, Any], key: str, where: str, *, required: bool = True
) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        if required:
            raise _Invalid(where, "missing table")
        return {}
    if not isinstance(value, dict):
        raise _Invalid(where, "must be a table")
    return value


def _no_extra(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise _Invalid(where, f"unknown key {extra[0]!r}")


# -- writing ------------------------------------------------------------------

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    return _ESCAPES.get(ch) or f"\\u{ord(ch):04X}"


def quote(text: str) -> str:
    """A TOML basic string."""
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _inline_numbers(n: Numbers, branch: bool) -> str:
    parts = [f"statements = {n.statements}", f"covered = {n.covered}"]
    if branch:
        parts += [f"branches = {n.branches}", f"covered_branches = {n.covered_branches}"]
    return ", ".join(parts)


HEADER = (
    "# Coverage baseline written by coverage-ratchet; it only moves up.\n"
    "# `ratchet update` raises it, `ratchet check` refuses commits that lower it.\n"
)


def writable(baseline: Baseline) -> None:
    """Refuse to write what :func:`loads` would refuse to read back.

    Raises :class:`RatchetError` naming the first entry that could not be
    read back: a path that is not a clean repository path, an empty tier or
    reason, a date that is no date, impossible counts.
    """

    def numbers_ok(n: Numbers) -> bool:
        counts = (n.statements, n.covered, n.branches, n.covered_branches)
        return (
            all(0 <= c <= MAX_COUNT for c in counts)
            and n.covered <= n.statements
            and n.covered_branches <= n.branches
            and (baseline.branch or not (n.branches or n.covered_branches))
        )

    def refuse(path: str, problem: str) -> None:
        from ratchet.printable import safe

        raise RatchetError(f"cannot record {safe(path)!r} in the baseline: {problem}")

    if baseline.overall_start is not None and not numbers_ok(baseline.overall_start):
        refuse("overall", "impossible start numbers")
    for path, entry in baseline.files.items():
        problem = check_repo_path(path)
        if problem is not None:
            refuse(path, f"the path {problem}")
        previous = entry.lowered.previous if entry.lowered else None
        for n in (entry.numbers, entry.start, previous):
            if n is not None and not numbers_ok(n):
                refuse(path, "impossible numbers")
        if entry.tier is not None and not _is_text(entry.tier):
            refuse(path, "a tier name that is empty or has control characters")
        low = entry.lowered
        if low is not None and (not _is_text(low.reason) or not _is_date(low.date)):
            refuse(path, "a lowering needs a reason without control characters, and a date")


def dumps(baseline: Baseline) -> str:
    """The canonical text of ``baseline``: same numbers, same bytes.  Only
    what :func:`loads` reads back is written (:func:`writable`)."""
    writable(baseline)
    branch = baseline.branch
    out = [HEADER, f"format = {FORMAT}\n\n"]
    out.append("[measured-with]\n")
    out.append(f"coverage = {quote(baseline.coverage_version)}\n")
    out.append(f"branch = {'true' if branch else 'false'}\n")
    if baseline.overall_target is not None or baseline.overall_start is not None:
        out.append("\n[overall]\n")
        if baseline.overall_target is not None:
            out.append(f"target = {format_percent_value(baseline.overall_target)}\n")
        if baseline.overall_start is not None:
            out.append(f"start = {{ {_inline_numbers(baseline.overall_start, branch)} }}\n")
    for path in sorted(baseline.files):
        out.append(_dump_entry(path, baseline.files[path], branch))
    return "".join(out)


def _dump_entry(path: str, entry: Entry, branch: bool) -> str:
    n = entry.numbers
    lines = [f"\n[files.{quote(path)}]\n", f"statements = {n.statements}\n"]
    if branch:
        lines.append(f"covered = {n.covered}\n")
        lines.append(f"branches = {n.branches}\n")
        lines.append(f"covered_branches = {n.covered_branches}  # {n.display()}\n")
    else:
        lines.append(f"covered = {n.covered}  # {n.display()}\n")
    if entry.tier is not None and entry.target is not None and entry.start is not None:
        lines.append(f"tier = {quote(entry.tier)}\n")
        lines.append(f"target = {format_percent_value(entry.target)}\n")
        lines.append(f"start = {{ {_inline_numbers(entry.start, branch)} }}\n")
    if entry.lowered is not None:
        low = entry.lowered
        lines.append(
            f"lowered = {{ {_inline_numbers(low.previous, branch)}, "
            f"reason = {quote(low.reason)}, date = {quote(low.date)} }}\n"
        )
    return "".join(lines)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see old or new, never half.

    The new content goes to a temporary file in the same folder, is flushed
    to disk, and is renamed over the old one.  On any failure, including
    Ctrl-C, the temporary file is removed and the old file is untouched; a
    failure of the system (no such folder, a folder in the way, no space,
    no permission) is a :class:`RatchetError` naming the file.
    """
    import tempfile

    data = text.encode("utf-8")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise RatchetError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        except FileNotFoundError:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        WRITTEN.append(path.name)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise RatchetError(f"cannot write {path}: {e.strerror or e}") from None
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
