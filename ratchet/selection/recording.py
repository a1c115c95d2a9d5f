"""What one pytest run recorded, merged over its processes (pytest-xdist workers).

The plugin (:mod:`ratchet.selection.plugin`) writes one JSON document per
process; :func:`from_outputs` merges them into a :class:`Recording`.  A
fixture instance or a module imported in several workers keeps the union of
what each executed.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ratchet.encoded import Lines, canonical
from ratchet.selection.store import UnitData


class RecordingError(Exception):
    """A test process could not record; the message says why."""


@dataclass
class Recording:
    core: str
    branch: bool
    tests: dict[str, UnitData] = field(default_factory=dict)  # Test id -> what it ran.
    fixtures: dict[str, UnitData] = field(default_factory=dict)  # Fixture instance key.
    imports: dict[str, UnitData] = field(default_factory=dict)  # Module file -> its import.
    modules: dict[str, UnitData] = field(default_factory=dict)  # Test module -> collection.
    session: UnitData = field(default_factory=UnitData)
    collected: dict[str, list[str]] = field(default_factory=dict)  # Test module -> test ids.
    import_order: list[tuple[str, str]] = field(default_factory=list)  # (name, file)
    foreign: set[str] = field(default_factory=set)  # Snapshot runs: working-tree imports.
    failed_imports: set[str] = field(default_factory=set)  # Module files whose import raised.
    preload_failures: dict[str, str] = field(default_factory=dict)  # Module name -> error.
    preloaded: set[str] = field(default_factory=set)  # Module files the preload imported.
    # Files Hypothesis took local constants from (ratchet/selection/pool.py).
    pool: set[str] = field(default_factory=set)


def _unit(raw: Mapping[str, Any], known: dict[str, Lines]) -> UnitData:
    return UnitData(
        {path: _lines(text, known) for path, text in raw["lines"].items()},
        set(raw["opened"]),
        set(raw["imports"]),
        bool(raw["opaque"]),
        list(raw.get("fixtures", ())),
        drew=bool(raw.get("drew")),
    )


def _lines(text: str, known: dict[str, Lines]) -> Lines:
    """A unit's lines in a file, as the plugin packed them (see its
    ``pack_lines``); decoded only if read.  Units share most of theirs, so
    each distinct text becomes one value (which callers must not change)."""
    found = known.get(text)
    if found is None:
        try:
            found = known[text] = Lines(canonical(b64decode(text, validate=True)))
        except (binascii.Error, ValueError, TypeError):
            raise RecordingError("a test process wrote lines that cannot be read") from None
    return found


def merge(into: UnitData, other: UnitData, branch: bool) -> None:
    """``other`` into ``into``: the union of what both executed."""
    for path, values in other.lines.items():
        mine = into.lines.get(path)
        if mine is None:
            into.lines[path] = list(values)
        elif mine != values:
            into.lines[path] = union([mine, values], branch)
    into.opened |= other.opened
    into.imports |= other.imports
    into.opaque = into.opaque or other.opaque
    into.drew = into.drew or other.drew


def union(sets: Iterable[Sequence[int]], branch: bool) -> list[int]:
    """Sorted line lists, or sorted flat arc lists (``branch``), as one."""
    if branch:
        pairs: set[tuple[int, int]] = set()
        for s in sets:  # zip of two slices: the pairs are made in C.
            pairs.update(zip(s[0::2], s[1::2], strict=True))
        return [n for pair in sorted(pairs) for n in pair]
    return sorted(set().union(*sets))


def from_outputs(outputs: Iterable[Mapping[str, Any]]) -> Recording:
    """Merge what each test process recorded.

    Raises :class:`RecordingError` when a process could not record, or
    none did.
    """
    recording: Recording | None = None
    texts: dict[str, Lines] = {}  # Packed lines -> their value, shared.
    for out in outputs:
        if not out.get("ok"):
            raise RecordingError(str(out.get("reason") or "a test process did not record"))
        if recording is None:
            recording = Recording(str(out["core"]), bool(out["branch"]))
        elif bool(out["branch"]) != recording.branch:
            raise RecordingError("test processes measured in different branch modes")
        for nodeid, raw in out["tests"].items():
            recording.tests[nodeid] = _unit(raw, texts)
            recording.tests[nodeid].module = nodeid.split("::", 1)[0]
        for kind, table in (
            ("fixtures", recording.fixtures),
            ("imports", recording.imports),
            ("modules", recording.modules),
        ):
            for key, raw in out[kind].items():
                unit = _unit(raw, texts)
                if key in table:
                    merge(table[key], unit, recording.branch)
                else:
                    table[key] = unit
        merge(recording.session, _unit(out["session"], texts), recording.branch)
        for module, ids in out["collected"].items():
            known = recording.collected.setdefault(module, [])
            known += [i for i in ids if i not in known]
        seen = {path for _, path in recording.import_order}
        for name, path in out["import_order"]:
            if path not in seen:
                recording.import_order.append((name, path))
                seen.add(path)
        recording.foreign.update(out.get("foreign", ()))
        recording.failed_imports.update(out.get("failed_imports", ()))
        recording.preload_failures.update(out.get("preload_failures", {}))
        recording.preloaded.update(out.get("preloaded", ()))
        recording.pool.update(out.get("pool", ()))
    if recording is None:
        raise RecordingError("the test run recorded nothing (did pytest run?)")
    return recording
