"""Can a change to this path change coverage?  The hook's first question.

Kept apart from :mod:`ratchet.config` so that a commit with nothing relevant
staged is decided without building (and importing) the full configuration.
"""

from __future__ import annotations

import os
from typing import Any

from ratchet.errors import RatchetError

DEFAULT_BASELINE = "coverage-baseline.toml"

# Files whose change can change coverage besides Python source: the coverage
# and pytest configuration.  The baseline itself counts too.
CONFIG_FILES = frozenset(
    {"pyproject.toml", "setup.cfg", "tox.ini", ".coveragerc", "pytest.ini", "conftest.py"}
)


def is_relevant(path: str, baseline: str, watch: tuple[str, ...]) -> bool:
    name = path.rsplit("/", 1)[-1]
    if path.endswith(".py") or name in CONFIG_FILES or path == baseline:
        return True
    if name.startswith(".coveragerc"):
        return True
    if watch:
        from fnmatch import fnmatchcase

        return any(fnmatchcase(path, pattern) for pattern in watch)
    return False


def read_pyproject(root: str | os.PathLike[str]) -> str | None:
    """The working tree's ``pyproject.toml`` as text (None if there is none)."""
    try:
        with open(os.path.join(root, "pyproject.toml"), "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise RatchetError(f"pyproject.toml: cannot read it ({e.strerror})") from None
    return decode_pyproject(raw)


def decode_pyproject(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RatchetError(f"pyproject.toml: not UTF-8 text (byte {e.start})") from None


def tool_section(text: str | None) -> Any:
    """``[tool.ratchet]`` of a ``pyproject.toml`` text, unvalidated ({} if none)."""
    if text is None:
        return {}
    from ratchet.toml import parse

    data = parse(text, "pyproject.toml")
    tool = data.get("tool", {})
    return tool.get("ratchet", {}) if isinstance(tool, dict) else {}


def any_relevant(paths: list[str], section: Any) -> bool:
    """Does any of ``paths`` matter?  True when the section is malformed, so
    that the full configuration is loaded and reports the problem."""
    if not isinstance(section, dict):
        return True
    baseline = section.get("baseline", DEFAULT_BASELINE)
    watch = section.get("watch", [])
    if not isinstance(baseline, str) or not isinstance(watch, list):
        return True
    if not all(isinstance(p, str) for p in watch):
        return True
    return any(is_relevant(path, baseline, tuple(watch)) for path in paths)
