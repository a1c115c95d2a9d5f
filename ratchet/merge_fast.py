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
Every entry the general path would read is checked, each (path, text)
once: an entry written alike on two sides is checked on the first.
Tests compare both on generated baselines.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ratchet.baseline import MAX_COUNT, Baseline, Entry, _dump_entry, dumps, loads
from ratchet.errors import RatchetError
from ratchet.merge import better
from ratchet.numbers import Numbers, display_percent
from ratchet.paths import clean_lines

_INT = r"(0|[1-9][0-9]*)"
# An entry's header, where its path needs no escape; other paths stay inside
# the text before them, which then matches nothing (see _split).
_HEADER = re.compile(r'\n\[files\."([^"\\\x00-\x1f\x7f]*)"\]\n')
# An entry's text after its header with numbers only, as dumps writes it.
_PLAIN = {
    False: re.compile(rf"statements = {_INT}\ncovered = {_INT}  # ([0-9.]+%)\n"),
    True: re.compile(
        rf"statements = {_INT}\ncovered = {_INT}\nbranches = {_INT}\n"
        rf"covered_branches = {_INT}  # ([0-9.]+%)\n"
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
    entries = _Entries(branch)
    entries.check(ours)  # Kept as written: each must be canonical.
    for side in (theirs, base):  # What the general path reads of them, checked too.
        entries.check({p: b for p, b in side.items() if ours.get(p) != b})
    bodies: dict[str, str] = {}
    for path, body in ours.items():
        theirs_body = theirs.get(path)
        if theirs_body is None:
            if path not in base:
                bodies[path] = body
            # else: in the base, removed on their side: stays removed.
        elif theirs_body == body:
            bodies[path] = body
        else:
            entry = entries.entry(path, body)
            merged = better(entry, entries.entry(path, theirs_body))
            bodies[path] = body if merged == entry else _body(path, merged, branch)
    for path, body in theirs.items():
        if path not in ours and path not in base:
            bodies[path] = body
    targets = [t for t in (mine.overall_target, other.overall_target) if t is not None]
    head = dumps(replace(mine, overall_target=max(targets) if targets else None))
    return head + "".join(f'\n[files."{path}"]\n{bodies[path]}' for path in sorted(bodies))


def _split(text: str) -> tuple[str, dict[str, str]]:
    """The text before the first entry, and each entry's text after its
    header, by path."""
    pieces = _HEADER.split(text)
    bodies = dict(zip(pieces[1::2], pieces[2::2], strict=True))
    if len(bodies) != text.count("\n[files.") or len(bodies) != len(pieces) // 2:
        raise _NotCanonical  # A path with escapes, or a duplicate: the general path decides.
    return pieces[0], bodies


def _head(text: str, *, canonical: bool) -> Baseline:
    """The settings part of a baseline, with no entries."""
    head = loads(text)
    if head.files or (canonical and dumps(head) != text):
        raise _NotCanonical
    return head


def _body(path: str, entry: Entry, branch: bool) -> str:
    """An entry's text after its header."""
    return _dump_entry(path, entry, branch).split("\n", 2)[2]


class _Entries:
    """Entries checked to be exactly what dumps writes, read when asked for.

    Entries with numbers only are checked by a pattern and their percentage;
    the others (tiered, lowered) are read together, in one parse per call.
    """

    def __init__(self, branch: bool) -> None:
        self._branch = branch
        self._plain = _PLAIN[branch]
        self._read: dict[tuple[str, str], Entry] = {}
        self._checked: set[tuple[str | None, ...]] = set()  # Counts and percentages.

    def check(self, bodies: dict[str, str]) -> None:
        if not bodies:
            return
        # _HEADER let no '\\' or control character through.
        if not clean_lines("\n" + "\n".join(bodies) + "\n"):
            raise _NotCanonical  # The general path names the path.
        others: dict[str, str] = {}
        plain, checked = self._plain.fullmatch, self._checked
        for path, body in bodies.items():
            match = plain(body)
            if match is None:
                others[path] = body
            elif match.groups() not in checked:
                self._counts(match)
        if not others:
            return
        branch = self._branch
        texts = {path: f'\n[files."{path}"]\n{body}' for path, body in others.items()}
        read = loads(dumps(Baseline("", branch)) + "".join(texts.values())).files
        if read.keys() != others.keys():
            raise _NotCanonical
        for path, text in texts.items():
            if _dump_entry(path, read[path], branch) != text:
                raise _NotCanonical
            self._read[path, others[path]] = read[path]

    def entry(self, path: str, body: str) -> Entry:
        """The entry of a checked body."""
        found = self._read.get((path, body))
        if found is not None:
            return found
        match = self._plain.fullmatch(body)
        assert match is not None  # Checked: either read or plain.
        return Entry(Numbers(*self._counts(match)))

    def _counts(self, match: re.Match[str]) -> list[int]:
        """An entry with numbers only: its counts, checked as dumps writes them."""
        *digits, percent = groups = match.groups()
        counts = [int(n) for n in digits]
        if groups in self._checked:
            return counts
        statements, covered, branches, covered_branches = [*counts, 0, 0][:4]
        if covered > statements or covered_branches > branches:
            raise _NotCanonical
        if max(statements, branches) > MAX_COUNT:
            raise _NotCanonical
        units = statements + branches  # As Numbers.display computes it:
        pc = 100.0 if units == 0 else (100.0 * (covered + covered_branches)) / units
        if percent != display_percent(pc):
            raise _NotCanonical
        self._checked.add(groups)
        return counts
