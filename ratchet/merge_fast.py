"""The merge driver's fast path: canonical baselines merged entry by entry.

Both sides of a merge share almost every entry.  Reading three baselines of
20,000 entries into objects and writing one back costs about a second;
here each text is cut into its entries as they are written, an entry the
two sides wrote identically is kept as written, and only entries that
differ are read, merged (:func:`ratchet.merge.better`) and written.

It answers only for baselines in the canonical layout
(:func:`ratchet.baseline.dumps`), where it gives exactly the text the
general path gives; for anything else (a user's comments, a layout it does
not know, an error to report) it returns None and the general path runs.
Tests compare both on generated baselines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from ratchet.baseline import MAX_COUNT, Baseline, Entry, _dump_entry, dumps, loads
from ratchet.errors import RatchetError
from ratchet.merge import better
from ratchet.numbers import Numbers, display_percent
from ratchet.paths import check_repo_path

_INT = r"(0|[1-9][0-9]*)"
_ESCAPED = re.compile(r'["\\\x00-\x1f\x7f]')  # Paths written with escapes: general path.
# A whole entry with numbers only, as dumps writes it, in each branch mode.
_PLAIN = {
    False: re.compile(
        rf'\n\[files\."[^"\\\x00-\x1f\x7f]*"\]\nstatements = {_INT}\ncovered = {_INT}'
        r"  # ([0-9.]+%)\n"
    ),
    True: re.compile(
        rf'\n\[files\."[^"\\\x00-\x1f\x7f]*"\]\nstatements = {_INT}\ncovered = {_INT}\n'
        rf"branches = {_INT}\ncovered_branches = {_INT}  # ([0-9.]+%)\n"
    ),
}


class _NotCanonical(Exception):
    """Not the canonical layout: the general path decides."""


def merge_texts(base: str, ours: str, theirs: str) -> str | None:
    """The merged baseline's text, or None where the general path must run."""
    try:
        return _merge(base, ours, theirs)
    except (_NotCanonical, RatchetError, ValueError):
        return None


def _merge(base_text: str, ours_text: str, theirs_text: str) -> str:
    ours_head, ours = _split(ours_text)
    theirs_head, theirs = _split(theirs_text)
    mine = _head(ours_head, canonical=True)
    other = _head(theirs_head, canonical=False)
    branch = mine.branch
    if other.branch != branch:
        raise _NotCanonical  # The general path says why.
    if base_text.strip():
        base_head, base = _split(base_text)
        _head(base_head, canonical=False)
    else:
        base = {}
    mine_entries = _entries(ours, branch)  # Kept as written: each must be canonical.
    blocks: dict[str, str] = {}
    for path, block in ours.items():
        theirs_block = theirs.get(path)
        if theirs_block is None:
            if path in base:
                _entry(path, base[path], branch)
                continue  # In the base, removed on their side: stays removed.
            blocks[path] = block
        elif theirs_block == block:
            blocks[path] = block
        else:
            entry = mine_entries(path)
            merged = better(entry, _entry(path, theirs_block, branch))
            blocks[path] = block if merged == entry else _dump_entry(path, merged, branch)
    for path, block in theirs.items():
        if path not in ours:
            _entry(path, block, branch)
            if path in base:
                _entry(path, base[path], branch)
            else:
                blocks[path] = block
    targets = [t for t in (mine.overall_target, other.overall_target) if t is not None]
    head = dumps(replace(mine, overall_target=max(targets) if targets else None))
    return head + "".join(blocks[path] for path in sorted(blocks))


def _split(text: str) -> tuple[str, dict[str, str]]:
    """The text before the first entry, and each entry's text by path."""
    pieces = text.split("\n[files.")
    blocks: dict[str, str] = {}
    for piece in pieces[1:]:
        end = piece.find('"]\n')
        path = piece[1:end]
        if end < 1 or piece[0] != '"' or _ESCAPED.search(path) or path in blocks:
            raise _NotCanonical  # Escapes, or a duplicate: the general path decides.
        blocks[path] = "\n[files." + piece
    return pieces[0], blocks


def _head(text: str, *, canonical: bool) -> Baseline:
    """The settings part of a baseline, with no entries."""
    head = loads(text)
    if head.files or (canonical and dumps(head) != text):
        raise _NotCanonical
    return head


def _entries(blocks: dict[str, str], branch: bool) -> Callable[[str], Entry]:
    """Check that every entry is exactly what dumps writes; what reads one.

    Entries with numbers only are checked by a pattern and their percentage;
    the others (tiered, lowered) are read together, in one parse."""
    plain = _PLAIN[branch]
    others: dict[str, str] = {}
    for path, block in blocks.items():
        match = plain.fullmatch(block)
        if match is None:
            others[path] = block
        else:
            _plain_counts(path, match)
    read = loads(_MINIMAL[branch] + "".join(others.values())).files if others else {}
    if read.keys() != others.keys():
        raise _NotCanonical
    for path, block in others.items():
        if _dump_entry(path, read[path], branch) != block:
            raise _NotCanonical

    def entry(path: str) -> Entry:
        found = read.get(path)
        if found is not None:
            return found
        match = plain.fullmatch(blocks[path])
        assert match is not None  # Checked above.
        return Entry(Numbers(*_plain_counts(path, match)))

    return entry


def _plain_counts(path: str, match: re.Match[str]) -> list[int]:
    """An entry with numbers only: its counts, checked as dumps would write them."""
    *digits, percent = match.groups()
    counts = [int(n) for n in digits]
    statements, covered, branches, covered_branches = [*counts, 0, 0][:4]
    units = statements + branches
    shown = display_percent(100.0 * (covered + covered_branches) / units if units else 100.0)
    if (
        covered > statements
        or covered_branches > branches
        or max(statements, branches) > MAX_COUNT
        or percent != shown
        or check_repo_path(path) is not None
    ):
        raise _NotCanonical
    return counts


def _entry(path: str, block: str, branch: bool) -> Entry:
    """One entry from its text, which must be exactly what dumps writes."""
    return _entries({path: block}, branch)(path)


_MINIMAL = {b: dumps(Baseline("", b)) for b in (False, True)}
