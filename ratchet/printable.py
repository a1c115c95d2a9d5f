"""Untrusted text made safe to print on a terminal.

File names, tier names and lowering reasons come from the repository and the
baseline, which anyone can write to.  Printed raw, an escape sequence in one
of them could rewrite what the terminal shows (hide a refusal, fake a pass);
a bidirectional control could reorder it.  Each such character is shown as
its Python escape instead.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode bidirectional controls.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str) -> str:
    """``text`` with every control character escaped (``\\x1b``, ``\\u202e``)."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


_UNSAFE_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def safe_lines(text: str) -> str:
    """A whole report made safe: every control character but the line breaks
    between its lines escaped.  (Fields that could hold a line break of
    their own, such as paths and tier names, go through :func:`safe` first.)"""
    return _UNSAFE_BUT_NEWLINE.sub(_escape, text)


def echo(text: str) -> None:
    """Print a line of a command's report, made safe (:func:`safe_lines`)."""
    print(safe_lines(text))
