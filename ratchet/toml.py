"""The standard library's TOML reader, or its backport on Python 3.10."""

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["error_line", "tomllib"]


def error_line(error: Exception, text: str) -> str:
    """``:N`` for a TOML decoding error, the line it names; '' if none."""
    import re

    found = re.search(r"\(at line (\d+), column \d+\)", str(error))
    if found:
        return f":{found.group(1)}"
    if "(at end of document)" in str(error):
        return f":{text.count(chr(10)) + (not text.endswith(chr(10)))}"
    return ""
