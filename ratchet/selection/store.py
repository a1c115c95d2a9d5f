"""The test map: what each unit of a test run executed, kept per clone in SQLite.

A *unit* is a test, a fixture instance above function scope, the import of
one repository module, the collection of a test module, or the rest of the
session (see :mod:`ratchet.selection.plugin`).  For each unit the map keeps,
per file, the lines (or arcs) it executed; the repository files it opened;
the repository modules it imported; for a test, its fixtures.  Identical line
sets are stored once.  Besides: the content (blob ids) the map describes,
the blocks of each Python file (:mod:`ratchet.selection.blocks`), each
measured file's numbers as coverage.py reported them, and a fingerprint of
the environment.

Queries touch what an edit needs (indexes by file); a selected run replaces
its units' rows in one transaction, so an interrupted write leaves the old
map whole.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from ratchet.encoded import Lines, decode, encode

FORMAT = 10
NAME = "testmap.db"
GARBAGE_EVERY = 16  # Merges between two collections of unused line sets.
_COLLECTING = "collecting"  # Meta key: see Store.collecting.

TEST, FIXTURE, IMPORT, MODULE, SESSION = "test", "fixture", "import", "module", "session"
# A unit's kind as stored, and its key: a test's as its module's path id and
# the rest of its id (the module's path is not repeated in 100,000 rows);
# an import's or a collection's, whose key is its file, as that file's path
# id and no name; any other unit's whole, with module id 0.
_KIND = {TEST: 1, FIXTURE: 2, IMPORT: 3, MODULE: 4, SESSION: 5}
_KIND_NAME = {code: kind for kind, code in _KIND.items()}
_BY_FILE = (IMPORT, MODULE)
_BY_FILE_CODES = f"({_KIND[IMPORT]}, {_KIND[MODULE]})"
_UNIT_KEY = (
    f"CASE WHEN unit.kind IN {_BY_FILE_CODES} THEN mp.path"
    " WHEN unit.module_id = 0 THEN unit.name ELSE mp.path || '::' || unit.name END"
)
_UNIT_OWNER = f"CASE WHEN unit.kind IN {_BY_FILE_CODES} THEN NULL ELSE mp.path END"
_UNIT_MODULE = "LEFT JOIN path AS mp ON mp.id = unit.module_id"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE path (id INTEGER PRIMARY KEY, path TEXT NOT NULL);  -- See Store._path_ids.
CREATE TABLE content (path_id INTEGER PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE shape (
    path_id INTEGER PRIMARY KEY, shape BLOB, mutates INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE numbers (
    path_id INTEGER PRIMARY KEY, statements INTEGER NOT NULL, covered INTEGER NOT NULL,
    branches INTEGER NOT NULL, covered_branches INTEGER NOT NULL, missing BLOB NOT NULL,
    tracer TEXT NOT NULL DEFAULT '', ran BLOB
);
CREATE TABLE unit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL, module_id INTEGER NOT NULL,
    name TEXT NOT NULL, opaque INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0
);
-- A unit is found by its module, then by name among that module's few (a
-- test's key is unique by put_unit): an index of the names would repeat
-- every test's name, an eighth of the map.  Units keyed by name alone (the
-- fixtures, the session) are indexed by name.
CREATE INDEX unit_by_module ON unit (kind, module_id);
CREATE UNIQUE INDEX unit_by_name ON unit (kind, name) WHERE module_id = 0;
CREATE TABLE lineset (id INTEGER PRIMARY KEY, digest BLOB UNIQUE NOT NULL, data BLOB NOT NULL);
CREATE TABLE executed (
    unit_id INTEGER NOT NULL, path_id INTEGER NOT NULL, lineset_id INTEGER NOT NULL,
    PRIMARY KEY (unit_id, path_id)
) WITHOUT ROWID;
CREATE INDEX executed_by_path ON executed (path_id);
CREATE TABLE opened (
    unit_id INTEGER NOT NULL, path_id INTEGER NOT NULL, PRIMARY KEY (unit_id, path_id)
) WITHOUT ROWID;
CREATE INDEX opened_by_path ON opened (path_id);
CREATE TABLE imported (
    unit_id INTEGER NOT NULL, path_id INTEGER NOT NULL, PRIMARY KEY (unit_id, path_id)
) WITHOUT ROWID;
CREATE INDEX imported_by_path ON imported (path_id);
CREATE TABLE uses (
    test_id INTEGER NOT NULL, fixture_id INTEGER NOT NULL, PRIMARY KEY (test_id, fixture_id)
) WITHOUT ROWID;
CREATE INDEX uses_by_fixture ON uses (fixture_id);
-- A module's name is its file's dotted path, less ``skip`` leading folders
-- (``src/``), unless ``name`` says otherwise: most names are not stored.
CREATE TABLE module_name (
    seq INTEGER PRIMARY KEY, path_id INTEGER NOT NULL, skip INTEGER NOT NULL, name TEXT
);
CREATE TABLE active (path_id INTEGER PRIMARY KEY);
-- Hypothesis's pool of local constants (ratchet/selection/pool.py): the
-- files it took them from, and the units that drew from it.
CREATE TABLE pool (path_id INTEGER PRIMARY KEY);
CREATE TABLE drew (unit_id INTEGER PRIMARY KEY);
"""


# What every shape's JSON (``blocks.to_json``) is made of, given to zlib as a
# preset dictionary: most files' shapes are a few hundred bytes, too short
# for zlib to learn these words from the shape itself.  Part of the format.
_SHAPE_WORDS = (
    b'{"m":0,"i":[[0,"'
    b'"],[],"",[0]],[0,"'
    b',"import",["'
    b'"],[],"",['
    b'0,"def",[],[],"",['
    b'0,"other",[],[],"",['
    b'0,"class",[],[[0,"'
    b"]]],0,["
    b']]],"f":{"'
    b'":[0,'
    b',[0,0,0,0,0,0,0,0],[]],"'
    b'"x":false,"o":false,"p":[]}'
)


_DIGESTS = ',"d":"'  # How a shape's JSON ends: its digests, then '"}' (blocks.to_json).


def _split_digests(shape_json: str) -> tuple[str, bytes]:
    """A shape's JSON without its digests, and the digests as bytes (none
    split off where the JSON does not end as blocks.to_json's does)."""
    at = shape_json.rfind(_DIGESTS)
    if at >= 0 and shape_json.endswith('"}'):
        digests = _hex_bytes(shape_json[at + len(_DIGESTS) : -2])
        if digests:
            return shape_json[:at], digests
    return shape_json, b""


def _oid(oid: str) -> bytes | str:
    """A blob id as stored: its bytes (half its hex), or as given if not hex."""
    return _hex_bytes(oid) or oid


def _hex_bytes(text: str) -> bytes | None:
    """The bytes ``text`` spells in lower-case hex, exactly (so that they
    give the same text back); None when it spells none."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    return raw if raw and raw.hex() == text else None


def _dotted(path: str, skip: int) -> str:
    """The dotted name of module file ``path`` less its first ``skip`` folders."""
    if path.endswith("/__init__.py"):
        stem = path[:-12]
    elif path.endswith(".py"):
        stem = path[:-3]
    else:
        stem = path
    return ".".join(stem.split("/")[skip:]) if skip else stem.replace("/", ".")


def _stored_name(name: str, path: str) -> tuple[int, str | None]:
    """(skip, name) as module_name keeps them: no name where the path gives it."""
    for skip in range(path.count("/") + 1):
        if _dotted(path, skip) == name:
            return skip, None
    return 0, name


class StoreError(Exception):
    """The map is absent, of another format, or damaged."""


# -- line sets --------------------------------------------------------------------------


def ran_digest(values: Sequence[int]) -> bytes:
    """A digest of a file's executed lines (sorted) or flat arcs (sorted pairs).

    The report script of :mod:`ratchet.runner`, run by the project's
    coverage.py after a whole run, hashes the same text: the two agree."""
    return hashlib.blake2b(" ".join(map(str, values)).encode(), digest_size=16).digest()


# -- the unit as the map has it ------------------------------------------------------------


@dataclass
class UnitData:
    """What one unit executed, opened and imported (paths repository-relative)."""

    lines: dict[str, Sequence[int]] = field(default_factory=dict)  # Lines, or flat arcs.
    opened: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)
    opaque: bool = False
    fixtures: list[str] = field(default_factory=list)  # A test's fixture instances.
    module: str = ""  # A test's module.
    drew: bool = False  # It drew from Hypothesis's pool of local constants (pool.py).


class FileNumbers(NamedTuple):
    """A file's numbers as the map keeps them.  A tuple, not a frozen
    dataclass: a check reads every file's (20,000 in a large map), and
    making those was 30 ms."""

    statements: int
    covered: int
    branches: int
    covered_branches: int
    missing: Sequence[int]  # Read from the map: :class:`Lines`, decoded when used.
    tracer: str = ""
    # What the numbers were computed from: :func:`ran_digest` of the lines
    # (or arcs) executed in the file; None when not known.
    ran: bytes | None = None


def _sorted(lines: Sequence[int]) -> Sequence[int]:
    return lines if isinstance(lines, Lines) else tuple(sorted(lines))


def _in_chunks(ids: Iterable[int]) -> Iterator[tuple[list[int], str]]:
    """``ids`` in parts SQLite takes as ``IN (...)`` parameters, with their marks."""
    every = list(ids)
    for start in range(0, len(every), 500):
        part = every[start : start + 500]
        yield part, ",".join("?" * len(part))


class Store:
    """An open map.  Use :func:`open_store` or :func:`new_store`."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.file = path
        self._paths: dict[str, int] = {}  # See _path_ids().
        self._paths_read = False
        self._linesets: dict[bytes, int] = {}  # Line sets written, by their encoding.
        self._units: dict[str, dict[str, tuple[int, str, bool]]] = {}  # See units().
        self._test_modules: set[str] | None = None  # See test_modules().
        self._counts: dict[str, int] = {}  # See count().
        self._elsewhere: dict[int, list[tuple[int, str, str]]] | None = None  # ran_elsewhere()
        self._edges: dict[tuple[int, ...], dict[int, list[str]]] = {}  # See import_edges().
        self._importers: dict[tuple[int, ...], dict[int, int]] = {}  # See imported_by_others().
        self._mutates: set[str] | None = None  # Files whose shape says so; see mutating().
        self._names: dict[int, str] = {}
        # Tables read whole, kept until written: a check reads each several
        # times, and at 20,000 files each read costs.
        self._content: dict[str, str] | None = None
        self._numbers: dict[str, FileNumbers] | None = None
        self._module_names: list[tuple[str, str]] | None = None

    def close(self) -> None:
        self.db.close()

    def pack(self) -> None:
        """Rewrite the file without free space (after writing a whole map)."""
        self.db.execute("VACUUM")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: an interrupted write leaves the map as it was."""
        try:
            self.db.execute("BEGIN")
            yield
        except BaseException:
            self.db.rollback()
            self._paths_read = False  # Ids given out inside are gone with it.
            self._linesets.clear()
            self._units.clear()
            self._test_modules = None
            self._counts.clear()
            self._elsewhere = None
            self._edges.clear()
            self._importers.clear()
            self._mutates = None
            self._content = self._numbers = self._module_names = None
            raise
        self.db.commit()

    # -- paths ---------------------------------------------------------------------

    def _path_ids(self) -> dict[str, int]:
        """Every path's id, read whole once: the table has no index of its
        paths, which would hold each a second time (a check reads the import
        graph, which names most of them, anyway).  Only path_id adds paths."""
        if not self._paths_read:
            rows = self.db.execute("SELECT id, path FROM path").fetchall()
            self._names = dict(rows)
            self._paths = {path: pid for pid, path in rows}
            self._paths_read = True
        return self._paths

    def path_id(self, path: str) -> int:
        ids = self._path_ids()
        pid = ids.get(path)
        if pid is None:
            pid = self.db.execute("INSERT INTO path (path) VALUES (?)", (path,)).lastrowid
            assert pid is not None
            ids[path] = pid
            self._names[pid] = path
        return pid

    def path_of(self, pid: int) -> str:
        self._path_ids()
        return self._names[pid]

    def _ids(self, paths: Iterable[str]) -> list[int]:
        ids = self._path_ids()
        return [ids[p] for p in paths if p in ids]

    # -- meta ----------------------------------------------------------------------

    def meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- content and shapes -------------------------------------------------------------

    def content(self) -> dict[str, str]:
        """The blob id of every file the map describes (callers must not change it)."""
        if self._content is None:
            rows = self.db.execute(
                "SELECT path.path, content.blob FROM content"
                " JOIN path ON path.id = content.path_id"
            )
            self._content = {p: oid.hex() if isinstance(oid, bytes) else oid for p, oid in rows}
        return self._content

    def set_content(self, content: Mapping[str, str]) -> None:
        # Only what differs is written: most files are as they were.
        old = self.content()
        gone = [p for p in old if p not in content]
        self.db.executemany(
            "DELETE FROM content WHERE path_id = ?", [(i,) for i in self._ids(gone)]
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO content (path_id, blob) VALUES (?, ?)",
            [(self.path_id(p), _oid(oid)) for p, oid in content.items() if old.get(p) != oid],
        )
        self._content = dict(content)

    def shape(self, path: str) -> str | None:
        """The JSON of ``path``'s blocks as recorded (None: none, or unparsable)."""
        ids = self._ids([path])
        if not ids:
            return None
        row = self.db.execute("SELECT shape FROM shape WHERE path_id = ?", (ids[0],)).fetchone()
        if row is None or row[0] is None:
            return None
        try:
            unpack = zlib.decompressobj(-zlib.MAX_WBITS, zdict=_SHAPE_WORDS)
            text = (unpack.decompress(row[0]) + unpack.flush()).decode()
        except (zlib.error, UnicodeDecodeError):
            return None  # Damaged: as if there were none.
        if not unpack.eof:
            return None  # Cut short.
        digests = unpack.unused_data
        return text + _DIGESTS + digests.hex() + '"}' if digests else text

    def set_shape(self, path: str, shape_json: str | None) -> None:
        # Compressed: shapes were most of the map (JSON of node lines compresses
        # to a third), the digests after the stream as raw bytes (as hex in the
        # stream they took two thirds of a test module's shape).  A raw deflate
        # stream: zlib's header, dictionary id and checksum were 10 bytes of
        # each shape (one cut short reads as none: see shape()).  Whether the
        # module level changes state is a column, so that finding those files
        # reads no shape.
        blob = None
        if shape_json is not None:
            text, digests = _split_digests(shape_json)
            pack = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=_SHAPE_WORDS)
            blob = pack.compress(text.encode()) + pack.flush() + digests
        mutates = shape_json is not None and '"x":true' in shape_json
        self.db.execute(
            "INSERT OR REPLACE INTO shape (path_id, shape, mutates) VALUES (?, ?, ?)",
            (self.path_id(path), blob, int(mutates)),
        )
        if self._mutates is not None:
            if mutates:
                self._mutates.add(path)
            else:
                self._mutates.discard(path)

    # -- numbers ----------------------------------------------------------------------

    def numbers(self) -> dict[str, FileNumbers]:
        """Each measured file's numbers (callers must not change them)."""
        if self._numbers is None:
            rows = self.db.execute(
                "SELECT path.path, statements, covered, branches, covered_branches, missing,"
                " tracer, ran FROM numbers JOIN path ON path.id = numbers.path_id"
            )
            self._numbers = {
                p: FileNumbers(s, c, b, cb, Lines(m), t, r) for p, s, c, b, cb, m, t, r in rows
            }
        return self._numbers

    def set_numbers(self, numbers: Mapping[str, FileNumbers], *, replace_all: bool) -> None:
        if replace_all:
            self.db.execute("DELETE FROM numbers")
            self._numbers = {}
        self.db.executemany(
            "INSERT OR REPLACE INTO numbers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    self.path_id(p),
                    n.statements,
                    n.covered,
                    n.branches,
                    n.covered_branches,
                    encode(_sorted(n.missing)),
                    n.tracer,
                    n.ran,
                )
                for p, n in numbers.items()
            ],
        )
        if self._numbers is not None:  # As a read gives them back: missing lines sorted.
            self._numbers.update(
                (p, n._replace(missing=_sorted(n.missing))) for p, n in numbers.items()
            )

    def drop_numbers(self, paths: Iterable[str]) -> None:
        paths = list(paths)
        self.db.executemany(
            "DELETE FROM numbers WHERE path_id = ?", [(i,) for i in self._ids(paths)]
        )
        if self._numbers is not None:
            for p in paths:
                self._numbers.pop(p, None)

    # -- units ------------------------------------------------------------------------

    def units(self, kind: str) -> dict[str, tuple[int, str, bool]]:
        """Every unit of ``kind``: key -> (id, module, opaque), in recorded order.

        Read once until units are written (callers must not change it)."""
        found = self._units.get(kind)
        if found is None:
            rows = self.db.execute(
                f"SELECT {_UNIT_KEY}, unit.id, {_UNIT_OWNER}, unit.opaque FROM unit {_UNIT_MODULE}"
                " WHERE unit.kind = ? ORDER BY unit.seq, unit.id",
                (_KIND[kind],),
            )
            found = self._units[kind] = {
                key: (uid, module or "", bool(opaque)) for key, uid, module, opaque in rows
            }
        return found

    def tests_in(self, modules: Iterable[str]) -> dict[str, tuple[int, str, bool]]:
        """The tests of ``modules``: key -> (id, module, opaque), in recorded order
        (by the key index: a module's tests, not all 100,000)."""
        rows = []
        for part, marks in _in_chunks(self._ids(set(modules))):
            rows += self.db.execute(
                "SELECT unit.seq, unit.id, mp.path || '::' || unit.name, mp.path, unit.opaque"
                " FROM unit JOIN path AS mp ON mp.id = unit.module_id"
                f" WHERE unit.kind = ? AND unit.module_id IN ({marks})",
                [_KIND[TEST], *part],
            ).fetchall()
        rows.sort()
        return {key: (uid, module, bool(opaque)) for _, uid, key, module, opaque in rows}

    def tests_by_id(self, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        """(key, module) of each test among ``ids``."""
        out: dict[int, tuple[str, str]] = {}
        for part, marks in _in_chunks(ids):
            for uid, key, module in self.db.execute(
                "SELECT unit.id, mp.path || '::' || unit.name, mp.path"
                " FROM unit JOIN path AS mp ON mp.id = unit.module_id"
                f" WHERE unit.kind = ? AND unit.id IN ({marks})",
                [_KIND[TEST], *part],
            ):
                out[uid] = (key, module)
        return out

    def opaque_tests(self) -> dict[str, tuple[int, str, bool]]:
        """Tests whose runs cannot be attributed (they always run again)."""
        rows = self.db.execute(
            "SELECT mp.path || '::' || unit.name, unit.id, mp.path FROM unit"
            " JOIN path AS mp ON mp.id = unit.module_id WHERE unit.kind = ? AND unit.opaque",
            (_KIND[TEST],),
        )
        return {key: (uid, module, True) for key, uid, module in rows}

    def test_modules(self) -> set[str]:
        """The modules the map has tests of (read once until tests are written;
        callers must not change it)."""
        if self._test_modules is None:
            rows = self.db.execute(
                "SELECT path.path FROM path WHERE path.id IN"
                " (SELECT DISTINCT module_id FROM unit WHERE kind = ?)",
                (_KIND[TEST],),
            )
            self._test_modules = {p for (p,) in rows}
        return self._test_modules

    def count(self, kind: str) -> int:
        """How many units of ``kind`` the map has (read once until units are written)."""
        n = self._counts.get(kind)
        if n is None:
            (found,) = self.db.execute(
                "SELECT count(*) FROM unit WHERE kind = ?", (_KIND[kind],)
            ).fetchone()
            n = self._counts[kind] = int(found)
        return n

    def unit_id(self, kind: str, key: str, module: str = "") -> int | None:
        """The id of unit ``kind``/``key`` (a test's ``module`` given), if recorded."""
        owner, name = self._slot(kind, key, module)
        ids = self._ids([owner]) if owner else [0]
        return self._find_unit(kind, ids[0], name) if ids else None

    def _find_unit(self, kind: str, module_id: int, name: str) -> int | None:
        if module_id:
            sql = "SELECT id FROM unit WHERE kind = ? AND module_id = ? AND name = ?"
            args: tuple[object, ...] = (_KIND[kind], module_id, name)
        else:  # Written out, so that SQLite takes the index of these units' names.
            sql = "SELECT id FROM unit WHERE kind = ? AND module_id = 0 AND name = ?"
            args = (_KIND[kind], name)
        row = self.db.execute(sql, args).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def _slot(kind: str, key: str, module: str) -> tuple[str, str]:
        """Where a unit's key is stored: the file whose path id it has ('' for
        none) and its name (see _KIND)."""
        if kind in _BY_FILE:
            return key, ""
        if not module:
            return "", key
        if not key.startswith(module + "::") or len(key) == len(module) + 2:
            raise ValueError(f"test id {key!r} is not in its module {module!r}")
        return module, key[len(module) + 2 :]

    def unit_keys(self, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        """(kind, key) of each of ``ids``."""
        out: dict[int, tuple[str, str]] = {}
        for part, marks in _in_chunks(ids):
            for uid, kind, key in self.db.execute(
                f"SELECT unit.id, unit.kind, {_UNIT_KEY} FROM unit {_UNIT_MODULE}"
                f" WHERE unit.id IN ({marks})",
                part,
            ):
                out[uid] = (_KIND_NAME[kind], key)
        return out

    def ran_elsewhere(self) -> list[tuple[int, str, str]]:
        """(unit id, key, file) of each import or collection unit (keyed by
        its own file) that executed lines of another file.

        Read once, then kept as units are written: a check reads it while
        its tests run and again after the merge has written."""
        if self._elsewhere is None:
            rows = self.db.execute(
                "SELECT DISTINCT unit.id, mp.path, path.path FROM unit"
                " JOIN path AS mp ON mp.id = unit.module_id"
                " JOIN executed ON executed.unit_id = unit.id"
                " JOIN path ON path.id = executed.path_id"
                f" WHERE unit.kind IN {_BY_FILE_CODES} AND executed.path_id != unit.module_id"
            )
            found: dict[int, list[tuple[int, str, str]]] = {}
            for row in rows:
                found.setdefault(row[0], []).append(row)
            self._elsewhere = found
        return [row for rows in self._elsewhere.values() for row in rows]

    def _by_paths(self, table: str, paths: Iterable[str]) -> dict[str, set[int]]:
        """For each of ``paths``: the units that have it in ``table``."""
        out: dict[str, set[int]] = {}
        for part, marks in _in_chunks(self._ids(paths)):
            for uid, pid in self.db.execute(
                f"SELECT unit_id, path_id FROM {table} WHERE path_id IN ({marks})", part
            ):
                out.setdefault(self.path_of(pid), set()).add(uid)
        return out

    def executed_by(self, paths: Iterable[str]) -> dict[str, set[int]]:
        return self._by_paths("executed", paths)

    def lines_of(self, uid: int) -> dict[str, list[int]]:
        """What unit ``uid`` executed, per file."""
        rows = self.db.execute(
            "SELECT executed.path_id, lineset.data FROM executed"
            " JOIN lineset ON lineset.id = executed.lineset_id WHERE executed.unit_id = ?",
            (uid,),
        )
        return {self.path_of(pid): decode(data) for pid, data in rows}

    def mutating(self) -> set[str]:
        """Files of the map's content whose module level changes state (their
        shape says so: ``"x":true``).

        The files whose shape says so are read once, then kept as shapes are
        written: the column follows each shape in its row, so finding them
        reads every shape (9 MB at 20,000 files)."""
        if self._mutates is None:
            rows = self.db.execute(
                "SELECT path.path FROM shape JOIN path ON path.id = shape.path_id"
                " WHERE shape.mutates"
            )
            self._mutates = {p for (p,) in rows}
        content = self.content()
        return {p for p in self._mutates if p in content}

    # -- Hypothesis's pool of local constants ---------------------------------------------

    def pool(self) -> set[str]:
        """The files Hypothesis took local constants from, in any run recorded."""
        rows = self.db.execute("SELECT path.path FROM pool JOIN path ON path.id = pool.path_id")
        return {p for (p,) in rows}

    def add_pool(self, paths: Iterable[str], *, replace_all: bool) -> None:
        if replace_all:
            self.db.execute("DELETE FROM pool")
        self.db.executemany(
            "INSERT OR IGNORE INTO pool VALUES (?)", [(self.path_id(p),) for p in paths]
        )

    def drew(self) -> set[int]:
        """The units that drew from the pool."""
        return {uid for (uid,) in self.db.execute("SELECT unit_id FROM drew")}

    def opened_by(self, paths: Iterable[str]) -> dict[str, set[int]]:
        return self._by_paths("opened", paths)

    def imported_by(self, paths: Iterable[str]) -> dict[str, set[int]]:
        return self._by_paths("imported", paths)

    def lines(
        self, unit_ids: Iterable[int], paths: Iterable[str]
    ) -> dict[tuple[int, str], list[int]]:
        """The lines (or flat arcs) each of ``unit_ids`` executed in ``paths``."""
        wanted_units = set(unit_ids)
        out: dict[tuple[int, str], list[int]] = {}
        decoded: dict[int, list[int]] = {}
        for pid in self._ids(paths):
            rows = self.db.execute(
                "SELECT executed.unit_id, lineset.id, lineset.data FROM executed"
                " JOIN lineset ON lineset.id = executed.lineset_id WHERE executed.path_id = ?",
                (pid,),
            )
            path = self.path_of(pid)
            for uid, lid, data in rows:
                if uid in wanted_units:
                    values = decoded.get(lid)
                    if values is None:
                        values = decoded[lid] = decode(data)
                    out[(uid, path)] = values
        return out

    def run_by(
        self, unit_ids: Iterable[int], keep: Callable[[str], bool] = lambda path: True
    ) -> dict[int, dict[str, list[int]]]:
        """What each of ``unit_ids`` executed, by file: its lines (or flat
        arcs); only in the files ``keep`` wants (the others are not decoded)."""
        ids = sorted(set(unit_ids))
        if not ids:
            return {}
        rows = self.db.execute(
            "SELECT DISTINCT path.path FROM executed JOIN path ON path.id = executed.path_id"
            f" WHERE executed.unit_id IN ({','.join('?' * len(ids))})",
            ids,
        )
        paths = [p for (p,) in rows if keep(p)]
        out: dict[int, dict[str, list[int]]] = {}
        for (uid, path), values in self.lines(ids, paths).items():
            out.setdefault(uid, {})[path] = values
        return out

    def failed_imports(self) -> set[str]:
        """Module files whose first import raised in the run the map holds."""
        return set(json.loads(self.meta("failed_imports") or "[]"))

    def set_failed_imports(self, paths: Iterable[str]) -> None:
        self.set_meta("failed_imports", json.dumps(sorted(paths)))

    def fixtures_of(self) -> dict[int, set[int]]:
        """Each test's fixture instances (tests that used none are left out)."""
        out: dict[int, set[int]] = {}
        for tid, fid in self.db.execute("SELECT test_id, fixture_id FROM uses"):
            out.setdefault(tid, set()).add(fid)
        return out

    def users_of(self, fixture_ids: Iterable[int]) -> set[int]:
        """Tests that used any of the fixture instances."""
        found: set[int] = set()
        for part, marks in _in_chunks(fixture_ids):
            found.update(
                tid
                for (tid,) in self.db.execute(
                    f"SELECT test_id FROM uses WHERE fixture_id IN ({marks})", part
                )
            )
        return found

    def import_edges(self, kinds: Iterable[str] | None = None) -> dict[int, list[str]]:
        """The imported modules of every unit (of ``kinds``): the import graph's edges.

        Read once until units are written (callers must not change it): a
        check reads it while its tests run, for a merge that may need it."""
        codes = tuple(_KIND[k] for k in kinds) if kinds is not None else ()
        found = self._edges.get(codes)
        if found is not None:
            return found
        names = self._all_paths()
        # The table's key orders its rows by unit: one group per unit.
        if not codes:
            rows = self.db.execute("SELECT unit_id, path_id FROM imported ORDER BY unit_id")
        else:
            rows = self.db.execute(
                "SELECT imported.unit_id, imported.path_id FROM imported"
                " JOIN unit ON unit.id = imported.unit_id"
                f" WHERE unit.kind IN ({','.join('?' * len(codes))}) ORDER BY imported.unit_id",
                codes,
            )
        found = self._edges[codes] = {
            uid: [names[pid] for _, pid in group] for uid, group in groupby(rows, itemgetter(0))
        }
        return found

    def imports_of_units(self, ids: Iterable[int]) -> dict[int, list[str]]:
        """The modules each of ``ids`` imported (those that imported any)."""
        return self._paths_of_units("imported", ids)

    def opened_of_units(self, ids: Iterable[int]) -> dict[int, list[str]]:
        """The files each of ``ids`` opened (those that opened any)."""
        return self._paths_of_units("opened", ids)

    def _paths_of_units(self, table: str, ids: Iterable[int]) -> dict[int, list[str]]:
        names = self._all_paths()
        out: dict[int, list[str]] = {}
        for part, marks in _in_chunks(sorted(set(ids))):
            for uid, pid in self.db.execute(
                f"SELECT unit_id, path_id FROM {table} WHERE unit_id IN ({marks})", part
            ):
                out.setdefault(uid, []).append(names[pid])
        return out

    def imported_by_others(self, kinds: Iterable[str], excluded: Iterable[int]) -> set[str]:
        """Modules that a unit of ``kinds``, other than those ``excluded``, imports.

        Counted in SQL, per module: at 100,000 tests the edges are not read
        one by one; only the excluded units' own edges are."""
        codes = tuple(_KIND[k] for k in kinds)
        counted = self._importers.get(codes)
        if counted is None:  # Kept until units are written: a check counts while tests run.
            counted = self._importers[codes] = dict(
                self.db.execute(
                    "SELECT imported.path_id, count(*) FROM imported"
                    " JOIN unit ON unit.id = imported.unit_id"
                    f" WHERE unit.kind IN ({','.join('?' * len(codes))})"
                    " GROUP BY imported.path_id",
                    codes,
                )
            )
        importers = dict(counted)
        for part, marks in _in_chunks(sorted(set(excluded))):
            for (pid,) in self.db.execute(
                "SELECT imported.path_id FROM imported JOIN unit ON unit.id = imported.unit_id"
                f" WHERE unit.kind IN ({','.join('?' * len(codes))})"
                f" AND imported.unit_id IN ({marks})",
                [*codes, *part],
            ):
                importers[pid] -= 1
        names = self._all_paths()
        return {names[pid] for pid, n in importers.items() if n > 0}

    def _all_paths(self) -> dict[int, str]:
        """Every path by id (read whole: 100,000 edges cost one query, not one each)."""
        self._path_ids()
        return self._names

    def module_names(self) -> list[tuple[str, str]]:
        """(module name, file) of every repository module, in first-import order
        (callers must not change it)."""
        if self._module_names is None:
            paths = self._all_paths()
            rows = self.db.execute("SELECT path_id, skip, name FROM module_name ORDER BY seq")
            found = self._module_names = []
            for pid, skip, name in rows:
                path = paths[pid]
                found.append((_dotted(path, skip) if name is None else name, path))
        return self._module_names

    def set_module_names(self, names: Sequence[tuple[str, str]]) -> None:
        old = self.module_names()
        start = len(old) if list(names[: len(old)]) == old else 0  # Most often appended to.
        if not start:
            self.db.execute("DELETE FROM module_name")
        self.db.executemany(
            "INSERT OR REPLACE INTO module_name (seq, path_id, skip, name) VALUES (?, ?, ?, ?)",
            [
                (n, self.path_id(p), *_stored_name(name, p))
                for n, (name, p) in enumerate(names[start:], start)
            ],
        )
        self._module_names = list(names)

    def active(self) -> set[str]:
        """Modules whose import (or collection) changes what other code sees."""
        rows = self.db.execute(
            "SELECT path.path FROM active JOIN path ON path.id = active.path_id"
        )
        return {p for (p,) in rows}

    def set_active(self, paths: Iterable[str]) -> None:
        self.db.execute("DELETE FROM active")
        self.db.executemany(
            "INSERT OR IGNORE INTO active VALUES (?)", [(self.path_id(p),) for p in paths]
        )

    def collecting(self) -> set[str] | None:
        """Of the active test modules, those whose collection itself (its
        unit, past the module's import) ran lines of other files that can
        change state.  None when the map does not say, or says it of other
        collections than it holds (older code wrote them since)."""
        try:
            found = json.loads(self.meta(_COLLECTING, "{}"))
            modules, token = found["modules"], found["collections"]
        except (ValueError, TypeError, KeyError):
            return None
        if not isinstance(modules, list) or not all(isinstance(p, str) for p in modules):
            return None
        return set(modules) if token == self._collections() else None

    def set_collecting(self, paths: Iterable[str]) -> None:
        found = {"modules": sorted(paths), "collections": self._collections()}
        self.set_meta(_COLLECTING, json.dumps(found))

    def _collections(self) -> str:
        """A digest of what every collection unit executed, file by file."""
        rows = self.db.execute(
            "SELECT mp.path, executed.path_id, executed.lineset_id FROM unit"
            " JOIN path AS mp ON mp.id = unit.module_id"
            " JOIN executed ON executed.unit_id = unit.id"
            " WHERE unit.kind = ? ORDER BY 1, 2",
            (_KIND[MODULE],),
        )
        return hashlib.blake2b(json.dumps(rows.fetchall()).encode(), digest_size=16).hexdigest()

    # -- writing units -------------------------------------------------------------------

    def remove_units(self, ids: Iterable[int]) -> None:
        self._units.clear()
        self._test_modules = None
        self._edges.clear()
        self._importers.clear()
        rows = [(i,) for i in ids]
        if self._counts and rows:  # Kept counts follow: the kinds of what goes.
            for part, marks in _in_chunks(i for (i,) in rows):
                found = self.db.execute(
                    f"SELECT kind, count(*) FROM unit WHERE id IN ({marks}) GROUP BY kind", part
                )
                for code, n in found:
                    kind = _KIND_NAME[code]
                    if kind in self._counts:
                        self._counts[kind] -= n
        if self._elsewhere is not None:
            for (i,) in rows:
                self._elsewhere.pop(i, None)
        for table in ("executed", "opened", "imported", "drew"):
            self.db.executemany(f"DELETE FROM {table} WHERE unit_id = ?", rows)
        self.db.executemany(
            "DELETE FROM uses WHERE test_id = ? OR fixture_id = ?", [(i, i) for (i,) in rows]
        )
        self.db.executemany("DELETE FROM unit WHERE id = ?", rows)

    def put_unit(self, kind: str, key: str, data: UnitData, seq: int = 0) -> int:
        """Record ``data`` as the unit ``kind``/``key``, replacing what it had."""
        self._units.pop(kind, None)
        if kind == TEST:
            self._test_modules = None
        self._edges.clear()
        self._importers.clear()
        owner, name = self._slot(kind, key, data.module)
        module_id = self.path_id(owner) if owner else 0
        old = self._find_unit(kind, module_id, name)
        if old is not None:
            self.remove_units([old])
        uid = self.db.execute(
            "INSERT INTO unit (kind, module_id, name, opaque, seq) VALUES (?, ?, ?, ?, ?)",
            (_KIND[kind], module_id, name, int(data.opaque), seq),
        ).lastrowid
        assert uid is not None
        if kind in self._counts:  # Kept, as remove_units keeps it.
            self._counts[kind] += 1
        executed = [
            (uid, self.path_id(path), self._lineset(values)) for path, values in data.lines.items()
        ]
        self.db.executemany("INSERT INTO executed VALUES (?, ?, ?)", executed)
        if self._elsewhere is not None and kind in _BY_FILE:
            elsewhere = [(uid, key, path) for path in data.lines if path != key]
            if elsewhere:
                self._elsewhere[uid] = elsewhere
        # An import reads its module's source, a collection its test module's:
        # not files opened as data (their changes are the module's own).
        opened = data.opened - {key} if kind in _BY_FILE else data.opened
        self.db.executemany(
            "INSERT OR IGNORE INTO opened VALUES (?, ?)",
            [(uid, self.path_id(p)) for p in opened],
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO imported VALUES (?, ?)",
            [(uid, self.path_id(p)) for p in data.imports],
        )
        if data.drew:
            self.db.execute("INSERT INTO drew VALUES (?)", (uid,))
        return uid

    def _lineset(self, values: Sequence[int]) -> int:
        # Most units' sets in a file equal another unit's: found by their
        # encoding first (which a recording's sets come in, undecoded).
        blob = encode(values)
        lid = self._linesets.get(blob)
        if lid is None:
            if len(self._linesets) >= 100_000:  # A bound on memory: a cache only.
                self._linesets.clear()
            lid = self._linesets[blob] = self._lineset_row(blob)
        return lid

    def _lineset_row(self, blob: bytes) -> int:
        digest = hashlib.blake2b(blob, digest_size=16).digest()
        found = self.db.execute("SELECT id FROM lineset WHERE digest = ?", (digest,)).fetchone()
        if found is not None:
            return int(found[0])
        lid = self.db.execute(
            "INSERT INTO lineset (digest, data) VALUES (?, ?)", (digest, blob)
        ).lastrowid
        assert lid is not None
        return lid

    def set_lines(self, uid: int, path: str, values: Sequence[int]) -> None:
        """What unit ``uid`` executed in ``path`` is now ``values`` (the file
        changed, and its lines were carried to their new numbers)."""
        self.db.execute(
            "UPDATE executed SET lineset_id = ? WHERE unit_id = ? AND path_id = ?",
            (self._lineset(values), uid, self.path_id(path)),
        )

    def link_fixtures(self, uses: Mapping[int, Iterable[str]]) -> None:
        """Tests' fixture instances, by fixture key (after both are put)."""
        fixtures = {key: uid for key, (uid, _, _) in self.units(FIXTURE).items()}
        self.db.executemany(
            "INSERT OR IGNORE INTO uses VALUES (?, ?)",
            [
                (tid, fixtures[key])
                for tid, keys in uses.items()
                for key in keys
                if key in fixtures
            ],
        )

    def collect_garbage(self, *, now: bool = False) -> None:
        """Forget line sets nothing refers to any more: with ``now``, or at
        every :data:`GARBAGE_EVERY`-th call.  Finding them reads every unit's
        rows (40 ms at 100,000 tests); until then they only take space, and
        a set written again finds its row."""
        try:
            calls = int(self.meta("garbage", "0")) + 1
        except ValueError:  # Not what this code writes: collected now.
            calls = GARBAGE_EVERY
        if not now and calls < GARBAGE_EVERY:
            self.set_meta("garbage", str(calls))
            return
        self._linesets.clear()
        self.db.execute(
            "DELETE FROM lineset WHERE id NOT IN (SELECT DISTINCT lineset_id FROM executed)"
        )
        self.set_meta("garbage", "0")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = DELETE")
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def open_store(git_dir: Path) -> Store:
    """The stored map; :class:`StoreError` when absent, of another format or damaged."""
    from ratchet import state

    path = state.path(git_dir, NAME)
    if not path.is_file():
        raise StoreError("no test map yet")
    try:
        db = _connect(path)
        fmt = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except sqlite3.Error as e:
        raise StoreError(f"the test map is unreadable ({e})") from None
    if fmt is None or fmt[0] != str(FORMAT):
        db.close()
        raise StoreError("the test map has another format")
    return Store(db, path)


def new_store(path: Path) -> Store:
    """An empty map at ``path`` (a temporary file, renamed into place when done)."""
    path.unlink(missing_ok=True)
    db = _connect(path)
    # Large pages: a test module's compressed shape is a few KB, and on 4 KB
    # pages each one beside small rows left most of a page unused.
    db.execute("PRAGMA page_size = 16384")
    db.executescript(_SCHEMA)
    store = Store(db, path)
    store.set_meta("format", str(FORMAT))
    return store


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
