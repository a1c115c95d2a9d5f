"""The test map: which files each test executed, kept per clone under the git directory.

Recorded by every full run and refreshed by every selected one.  For each
test: a digest per file it executed (or opened), its own phases and the
fixture instances it used kept apart; the lines that ran while modules were
imported; the blob id of every file the map depends on; the shape of each
Python file (:mod:`ratchet.selection.shapes`); and a fingerprint of the environment.
Paths and fixture keys are stored once and referred to by number.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ratchet import state
from ratchet.selection.shapes import Function, Shape

FORMAT = 1
NAME = "testmap.json.gz"


@dataclass
class Record:
    """What one test, or one fixture instance above function scope, executed."""

    files: dict[str, int]  # path -> digest of its lines (0: only opened)
    fixtures: list[str] = field(default_factory=list)
    opaque: bool = False  # Started Python that coverage did not measure.


@dataclass
class TestMap:
    fingerprint: str
    tests: dict[str, Record]  # In collection order.
    fixtures: dict[str, Record]
    import_lines: dict[str, set[int]]  # Lines run while modules were imported.
    imported: set[str]  # Repository files imported or opened at import time.
    measured: set[str]
    content: dict[str, str]  # path -> blob id of the content the map describes
    shapes: dict[str, Shape | None]
    # The exact numbers of every measured file for this content, as a full
    # run gives them: (statements, covered, branches, covered branches).
    numbers: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    coverage_version: str = ""
    branch: bool = False

    def files_of(self, test: str) -> set[str]:
        """Every file the test executed or opened, through its fixtures too."""
        record = self.tests[test]
        files = set(record.files)
        for key in record.fixtures:
            fixture = self.fixtures.get(key)
            if fixture is not None:
                files |= fixture.files.keys()
        files.add(test.split("::", 1)[0])
        return files

    def is_opaque(self, test: str) -> bool:
        record = self.tests[test]
        return record.opaque or any(
            self.fixtures[k].opaque for k in record.fixtures if k in self.fixtures
        )

    @property
    def test_modules(self) -> set[str]:
        return {t.split("::", 1)[0] for t in self.tests}


class MapError(Exception):
    """The plugin's output or a stored map cannot be used."""


# -- the plugin's output -----------------------------------------------------


def from_plugin(outputs: Iterable[Mapping[str, Any]]) -> tuple[TestMap, list[str]]:
    """Merge what each test process recorded; the map and the collected test ids.

    Raises :class:`MapError` when a process could not record.
    """
    tests: dict[str, Record] = {}
    fixtures: dict[str, Record] = {}
    import_lines: dict[str, set[int]] = {}
    imported: set[str] = set()
    collected: list[str] = []
    seen = False
    for out in outputs:
        seen = True
        if not out.get("ok"):
            raise MapError(str(out.get("reason") or "a test process did not record"))
        if len(out["collected"]) > len(collected):  # pytest-xdist's controller collects none.
            collected = list(out["collected"])
        for nodeid, t in out["tests"].items():
            tests[nodeid] = Record(dict(t["files"]), list(t["fixtures"]), bool(t["opaque"]))
        for key, fx in out["fixtures"].items():
            record = Record(dict(fx["files"]), [], bool(fx["opaque"]))
            old = fixtures.get(key)
            if old is not None:  # Set up in several workers: any difference counts.
                for path, digest in old.files.items():
                    if record.files.get(path, digest) != digest:
                        record.files[path] = (record.files[path] ^ digest) or 1
                    else:
                        record.files[path] = digest
                record.opaque = record.opaque or old.opaque
            fixtures[key] = record
        for path, lines in out["import_lines"].items():
            import_lines.setdefault(path, set()).update(lines)
        imported.update(out["import_opened"])
        imported.update(out.get("imported_modules", ()))
    if not seen:
        raise MapError("the test run recorded nothing (did pytest run?)")
    ordered = {t: tests[t] for t in collected if t in tests}
    ordered.update((t, r) for t, r in tests.items() if t not in ordered)
    measured = set(import_lines)
    for record in [*tests.values(), *fixtures.values()]:
        measured.update(p for p, d in record.files.items() if d)
    empty = TestMap("", ordered, fixtures, import_lines, imported, measured, {}, {})
    return empty, collected


# -- storage -------------------------------------------------------------------


def save(git_dir: Path, tmap: TestMap) -> None:
    paths: dict[str, int] = {}

    def ix(path: str) -> int:
        return paths.setdefault(path, len(paths))

    def flat(files: Mapping[str, int]) -> list[int]:
        out: list[int] = []
        for path, digest in sorted(files.items()):
            out += [ix(path), digest]
        return out

    keys = {key: n for n, key in enumerate(tmap.fixtures)}
    doc = {
        "format": FORMAT,
        "fingerprint": tmap.fingerprint,
        "tests": [
            [t, flat(r.files), [keys[k] for k in r.fixtures if k in keys], int(r.opaque)]
            for t, r in tmap.tests.items()
        ],
        "fixtures": [[k, flat(r.files), int(r.opaque)] for k, r in tmap.fixtures.items()],
        "import_lines": {str(ix(p)): sorted(v) for p, v in tmap.import_lines.items()},
        "imported": sorted(ix(p) for p in tmap.imported),
        "measured": sorted(ix(p) for p in tmap.measured),
        "content": {str(ix(p)): oid for p, oid in tmap.content.items()},
        "shapes": {
            str(ix(p)): None
            if s is None
            else [s.skeleton, {q: [f.digest, f.first, f.last] for q, f in s.functions.items()}]
            for p, s in tmap.shapes.items()
        },
    }
    doc["numbers"] = {str(ix(p)): list(n) for p, n in tmap.numbers.items()}
    doc["coverage_version"] = tmap.coverage_version
    doc["branch"] = tmap.branch
    doc["paths"] = list(paths)
    state.write(git_dir, NAME, gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), 5))


def load(git_dir: Path) -> TestMap:
    """The stored map; :class:`MapError` when absent or unreadable."""
    raw = state.read(git_dir, NAME)
    if raw is None:
        raise MapError("no test map yet")
    try:
        doc = json.loads(gzip.decompress(raw))
    except (OSError, ValueError, EOFError, RecursionError) as e:
        raise MapError(f"the test map is unreadable ({type(e).__name__})") from None
    try:
        if doc["format"] != FORMAT:
            raise MapError("the test map has another format")
        paths: list[str] = doc["paths"]

        def files(flat: list[int]) -> dict[str, int]:
            return {paths[flat[i]]: flat[i + 1] for i in range(0, len(flat), 2)}

        fixtures = {k: Record(files(fl), [], bool(op)) for k, fl, op in doc["fixtures"]}
        keys = list(fixtures)
        tests = {
            t: Record(files(fl), [keys[i] for i in fx], bool(op)) for t, fl, fx, op in doc["tests"]
        }
        shapes: dict[str, Shape | None] = {}
        for i, s in doc["shapes"].items():
            shapes[paths[int(i)]] = (
                None
                if s is None
                else Shape(s[0], {q: Function(d, a, b) for q, (d, a, b) in s[1].items()})
            )
        return TestMap(
            doc["fingerprint"],
            tests,
            fixtures,
            {paths[int(i)]: set(v) for i, v in doc["import_lines"].items()},
            {paths[i] for i in doc["imported"]},
            {paths[i] for i in doc["measured"]},
            {paths[int(i)]: oid for i, oid in doc["content"].items()},
            shapes,
            {paths[int(i)]: (n[0], n[1], n[2], n[3]) for i, n in doc["numbers"].items()},
            str(doc["coverage_version"]),
            bool(doc["branch"]),
        )
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise MapError(f"the test map is damaged ({type(e).__name__})") from None


def remove(git_dir: Path) -> None:
    state.remove(git_dir, NAME)


def merged(a: TestMap, b: TestMap) -> TestMap:
    """Two partial runs' records as one (``b``'s records win)."""
    import_lines = {p: set(v) for p, v in a.import_lines.items()}
    for path, lines in b.import_lines.items():
        import_lines.setdefault(path, set()).update(lines)
    return TestMap(
        a.fingerprint,
        {**a.tests, **b.tests},
        {**a.fixtures, **b.fixtures},
        import_lines,
        a.imported | b.imported,
        a.measured | b.measured,
        {**a.content, **b.content},
        {**a.shapes, **b.shapes},
    )
