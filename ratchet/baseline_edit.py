"""Writing a new baseline over one a user edited, keeping what they wrote.

A baseline exactly in ratchet's canonical form (what :func:`dumps` writes)
is simply rewritten: byte-stable and fast, which is what a 20,000-entry
update needs.  Otherwise the user added comments or blank lines; then the
old text is edited in place with tomlkit, changing only the values that
changed, so their comments and layout stay.  What is written must load as
exactly the new baseline; if tomlkit's edit does not, the canonical form is
written and the caller says the comments were not kept.
"""

from __future__ import annotations

import re
from typing import Any

from ratchet.baseline import Baseline, dumps, loads
from ratchet.errors import RatchetError


def rewrite(
    before: str, old: Baseline, new: Baseline, *, canonical_old: str | None = None
) -> tuple[str, int]:
    """The text of ``new`` written over ``before`` (the text ``old`` was read
    from), and how many of the user's comments it could not keep."""
    canonical_new = dumps(new)
    canonical_old = canonical_old if canonical_old is not None else dumps(old)
    if before == canonical_old:
        return canonical_new, 0
    import tomlkit

    theirs = _comments(before) - _comments(canonical_old)
    try:
        doc = tomlkit.parse(before)
        _sync(doc, tomlkit.parse(canonical_new))
        text = tomlkit.dumps(doc)
        if loads(text) != new:
            raise ValueError("the edited text does not hold the new baseline")
    except (tomlkit.exceptions.TOMLKitError, RatchetError, ValueError):
        return canonical_new, len(theirs)
    return text, len(theirs - _comments(text))


def _comments(text: str) -> set[str]:
    """Every comment's text (a ``#`` outside strings to the end of its line)."""
    found = set()
    for line in text.split("\n"):
        quote, escaped = "", False
        for i, c in enumerate(line):
            if quote:
                if escaped:
                    escaped = False
                elif c == "\\" and quote == '"':
                    escaped = True
                elif c == quote:
                    quote = ""
            elif c in "\"'":
                quote = c
            elif c == "#":
                found.add(line[i + 1 :].strip())
                break
    return found - {""}


_PERCENT = re.compile(r"# \d+\.\d\d%")  # The canonical form's own comment on an entry.


def _sync(mine: Any, fresh: Any, outer: Any = None) -> None:
    """Make the table ``mine`` hold ``fresh``'s values, touching only what differs.

    ``outer``: the table the text shows before ``mine``'s first table, where
    comments about what follows a removed first table go."""
    keys = list(mine)
    for key in [k for k in keys if k not in fresh]:
        _keep_trailing_comments(mine[key], _previous_table(mine, keys, key) or outer)
        del mine[key]
    for key, value in fresh.items():
        if key not in mine:
            mine[key] = value
        elif _is_table(mine[key]) and _is_table(value):
            _sync(mine[key], value, _previous_table(mine, keys, key) or outer)
        elif _plain(mine[key]) != _plain(value) or _stale_percent(mine[key], value):
            _keep_own_comment(mine[key], value)
            mine[key] = value


def _previous_table(mine: Any, keys: list[str], key: str) -> Any:
    """The last table still in ``mine`` before ``key`` (None: none)."""
    for k in reversed(keys[: keys.index(key)]):
        if k in mine and _is_table(mine[k]):
            return mine[k]
    return None


def _keep_trailing_comments(gone: Any, before: Any) -> None:
    """Comments after a removed table's last value are about what follows it:
    move them to the end of the table before it."""
    import tomlkit.items

    if not _is_table(gone) or before is None:
        return
    body = gone.value.body
    last = max((i for i, (k, _) in enumerate(body) if k is not None), default=-1)
    trailing = [item for _, item in body[last + 1 :]]
    first = next(
        (i for i, item in enumerate(trailing) if isinstance(item, tomlkit.items.Comment)), None
    )
    if first is not None:  # From the first comment on: the blank line before it is there.
        for item in trailing[first:]:
            before.value.body.append((None, item))


def _keep_own_comment(mine: Any, fresh: Any) -> None:
    """A value's new number keeps the comment the user wrote after it."""
    trivia = getattr(mine, "trivia", None)
    if trivia is not None and trivia.comment and not _PERCENT.fullmatch(trivia.comment):
        fresh.trivia.comment = trivia.comment
        fresh.trivia.comment_ws = trivia.comment_ws


def _stale_percent(mine: Any, fresh: Any) -> bool:
    """The canonical percentage comment, where the entry's numbers changed."""
    trivia = getattr(mine, "trivia", None)
    comment = trivia.comment if trivia is not None else ""
    return bool(_PERCENT.fullmatch(comment)) and comment != fresh.trivia.comment


def _is_table(item: Any) -> bool:
    import tomlkit.items

    return isinstance(item, tomlkit.items.Table)


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item
