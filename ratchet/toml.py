"""Reading TOML: the standard library's parser (or its backport on Python 3.10),
behind one function that turns every way a file can be unreadable into one
line naming the file and, where there is one, the line."""

from __future__ import annotations

import re
import sys
from typing import Any

from ratchet.errors import RatchetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["error_line", "line_of", "parse", "tomllib"]

BOM = "\ufeff"


def parse(text: str, source: str, hint: str = "") -> dict[str, Any]:
    """``text`` as TOML; a :class:`RatchetError` naming ``source`` when it is not.

    Besides syntax errors, Python's parser fails in ways of its own on
    hostile input: nesting deeper than the recursion limit, and integers
    longer than Python converts (4,300 digits); each gets its line too.
    """
    if text.startswith(BOM):
        raise RatchetError(
            f"{source}:1: starts with a byte-order mark (BOM), which TOML does not allow",
            hint="save it as UTF-8 without a BOM",
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RatchetError(
            f"{source}{error_line(e, text)}: not valid TOML: {e}", hint=hint
        ) from None
    except RecursionError:
        raise RatchetError(f"{source}: arrays or tables nested too deeply", hint=hint) from None
    except ValueError as e:  # An integer beyond Python's conversion limit.
        found = re.search(r"\d{100,}", text)
        at = f":{text.count(chr(10), 0, found.start()) + 1}" if found else ""
        raise RatchetError(f"{source}{at}: a number too long to read ({e})", hint=hint) from None


def error_line(error: Exception, text: str) -> str:
    """``:N`` for a TOML decoding error, the line it names; '' if none."""
    found = re.search(r"\(at line (\d+), column \d+\)", str(error))
    if found:
        return f":{found.group(1)}"
    if "(at end of document)" in str(error):
        return f":{text.count(chr(10)) + (not text.endswith(chr(10)))}"
    return ""


def line_of(text: str, header: str | None, key: str | None = None, occurrence: int = 1) -> str:
    """``:N``, the line where ``key`` is set, for an error message ('' if none).

    The one way every reader names the line of a bad key.  ``header`` is the
    table's header line as written (``[tool.ratchet]``,
    ``[[tool.ratchet.tiers]]``, ``[files."a.py"]``; None: the top level, before
    any header), in its ``occurrence``-th appearance.  Without ``key``, or
    when the key is not in that table, the header's own line.
    """
    lines = text.splitlines()
    start, seen = 0, 0
    if header is not None:
        for n, line in enumerate(lines):
            if line.strip().startswith(header):
                seen += 1
                if seen == occurrence:
                    start = n
                    break
        else:
            return ""
    if key:
        assign = re.compile(rf"""^[ \t]*["']?{re.escape(key)}["']?[ \t]*=""")
        for n in range(start + (header is not None), len(lines)):
            if lines[n].lstrip().startswith("["):
                break  # The next table.
            if assign.match(lines[n]):
                return f":{n + 1}"
    return f":{start + 1}" if header is not None else ""
