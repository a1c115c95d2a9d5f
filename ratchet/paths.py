"""Repository-relative paths as the baseline and configuration spell them."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Segments of anything but '/', '\', control characters; not starting "X:".
_PLAIN = re.compile(r"(?![A-Za-z]:)[^/\\\x00-\x1f\x7f]+(?:/[^/\\\x00-\x1f\x7f]+)*")


def check_repo_path(path: str) -> str | None:
    """Why ``path`` is not a clean repository-relative path, or None if it is.

    Clean means: ``/`` separators, relative, no ``.``, ``..`` or empty
    segments, no control characters.  Such a path can never name a file
    outside the repository.
    """
    if _PLAIN.fullmatch(path):
        wrapped = f"/{path}/"
        if "/./" not in wrapped and "/../" not in wrapped:
            return None  # The common case, decided by one regular expression.
    if not path:
        return "empty path"
    if "\\" in path:
        return "uses '\\' (paths use '/')"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":" and path[0].isalpha()):
        return "is absolute (paths are relative to the repository root)"
    segments = path.split("/")
    if ".." in segments:
        return "has a '..' segment (it would point outside the repository)"
    if any(segment in ("", ".") for segment in segments):
        return "is not in normal form (no '.', empty or trailing segments)"
    if _CONTROL.search(path):
        return "has a control character"
    return None


def has_control(text: str) -> bool:
    """Does ``text`` hold a control character (a line break, an escape, ...)?"""
    return _CONTROL.search(text) is not None
