"""A renamed file keeps its entry.

Git's rename detection pairs a deleted path with an added one; the entry of
the old path then belongs to the new one, so a renamed-and-edited file is
judged against its old numbers (and keeps its tier and target), instead of
passing as a deletion plus a brand-new file.
"""

from __future__ import annotations

from collections.abc import Container, Mapping

from ratchet.baseline import Entry


def carry(
    files: Mapping[str, Entry],
    renamed: Mapping[str, str],
    exists: Container[str],
    present: Container[str],
) -> tuple[dict[str, Entry], dict[str, str]]:
    """``files`` with renamed files' entries under their new paths, and which
    moved (new path -> old path).

    An entry moves when its old path is gone (not in ``exists``), the new
    path has no entry of its own and is ``present`` (measured, or in the
    baseline it is compared with).  Otherwise nothing changes: a rename out
    of the measured source is a deletion.
    """
    moved = {
        new: old
        for new, old in renamed.items()
        if old in files and old not in exists and new not in files and new in present
    }
    if not moved:  # Most commits: no rename.
        return dict(files), moved
    gone = set(moved.values())
    carried = {path: entry for path, entry in files.items() if path not in gone}
    for new, old in moved.items():
        carried[new] = files[old]
    return carried, moved
