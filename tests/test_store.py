"""The test map's queries answer what reading it whole would, and its caches
agree with the file once it is opened again."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.selection.store import (
    FIXTURE,
    IMPORT,
    MODULE,
    TEST,
    FileNumbers,
    Store,
    UnitData,
    new_store,
)

modules = st.sampled_from(["tests/test_a.py", "tests/b/test_b.py", "tests/test_c::odd.py"])
names = st.text("abcxyz_[]:-.", min_size=1, max_size=12)
files = st.sampled_from(["pkg/a.py", "pkg/b.py", "pkg/c.py", "pkg/__init__.py"])
tests = st.lists(
    st.tuples(modules, names, st.booleans(), st.sets(files, max_size=3)),
    max_size=25,
    unique_by=lambda t: (t[0], t[1]),
)
others = st.lists(
    st.tuples(st.sampled_from([FIXTURE, IMPORT, MODULE]), files, st.sets(files, max_size=3)),
    max_size=8,
    unique_by=lambda t: (t[0], t[1]),
)


def _reopened(store: Store) -> Store:
    store.close()
    return Store(sqlite3.connect(store.file, isolation_level=None), store.file)


@given(tests, others, st.data())
@settings(max_examples=60, deadline=None)
def test_queries_agree_with_the_whole_map(
    recorded: list[tuple[str, str, bool, set[str]]],
    units: list[tuple[str, str, set[str]]],
    data: st.DataObject,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = new_store(Path(tmp) / "map.db")
        with store.transaction():
            for seq, (module, name, opaque, imports) in enumerate(recorded):
                unit = UnitData(imports=imports, opaque=opaque, module=module)
                store.put_unit(TEST, f"{module}::{name}", unit, seq)
            for kind, key, imports in units:
                store.put_unit(kind, key, UnitData(imports=imports))
        store = _reopened(store)
        every = store.units(TEST)
        assert list(every) == [f"{m}::{n}" for m, n, _, _ in recorded]  # Recorded order.
        assert {k: (m, o) for k, (_, m, o) in every.items()} == {
            f"{m}::{n}": (m, o) for m, n, o, _ in recorded
        }
        wanted = data.draw(st.sets(modules))
        assert store.tests_in(wanted) == {k: v for k, v in every.items() if v[1] in wanted}
        ids = data.draw(st.sets(st.sampled_from([v[0] for v in every.values()] or [0])))
        assert store.tests_by_id(ids) == {
            uid: (key, module) for key, (uid, module, _) in every.items() if uid in ids
        }
        assert store.opaque_tests() == {k: v for k, v in every.items() if v[2]}
        assert store.test_modules() == {m for _, m, _ in every.values()}
        assert store.count(TEST) == len(every)
        for kind, key, _ in units:
            uid, module, _ = store.units(kind)[key]
            assert store.unit_id(kind, key) == uid
            assert module == ""
            assert store.unit_keys([uid]) == {uid: (kind, key)}
        # Modules still imported once some units are left out, counted in SQL.
        kinds = (TEST, FIXTURE, MODULE)
        ids_by_kind = {uid for k in kinds for (uid, _, _) in store.units(k).values()}
        excluded = data.draw(st.sets(st.sampled_from(sorted(ids_by_kind) or [0])))
        edges = store.import_edges()
        expected = {m for uid, ms in edges.items() if uid in ids_by_kind - excluded for m in ms}
        assert store.imported_by_others(kinds, excluded) == expected
        store.close()


def test_a_test_id_outside_its_module_is_refused(tmp_path: Path) -> None:
    store = new_store(tmp_path / "map.db")
    with pytest.raises(ValueError, match="not in its module"):
        store.put_unit(TEST, "tests/test_a.py::t", UnitData(module="tests/test_b.py"))
    with pytest.raises(ValueError, match="not in its module"):
        store.put_unit(TEST, "tests/test_a.py::", UnitData(module="tests/test_a.py"))
    store.close()


def test_units_keyed_by_their_file_and_what_they_opened(tmp_path: Path) -> None:
    store = new_store(tmp_path / "map.db")
    with store.transaction():
        # A module's import reads its own source: not a file opened as data.
        opened = {"pkg/a.py", "pkg/c.py", "data/x.txt"}
        lines: dict[str, Sequence[int]] = {"pkg/a.py": [1, 2], "pkg/b.py": [3]}
        imported = store.put_unit(IMPORT, "pkg/a.py", UnitData(lines, opened, {"pkg/b.py"}))
        collected = store.put_unit(MODULE, "pkg/a.py", UnitData({"pkg/a.py": [1]}, opened))
        test = store.put_unit(TEST, "pkg/a.py::t", UnitData(lines, opened, module="pkg/a.py"))
        fixture = store.put_unit(FIXTURE, "pkg/a.py::fx", UnitData(lines))
    assert len({imported, collected, test, fixture}) == 4  # One file, four units.
    for reopen in (False, True):
        store = _reopened(store) if reopen else store
        assert store.opened_by(["pkg/a.py"]) == {"pkg/a.py": {test}}
        assert store.opened_by(["pkg/c.py", "data/x.txt"]) == {
            "pkg/c.py": {imported, collected, test},
            "data/x.txt": {imported, collected, test},
        }
        assert store.ran_elsewhere() == [(imported, "pkg/a.py", "pkg/b.py")]
        assert store.unit_keys([imported, collected, test, fixture]) == {
            imported: (IMPORT, "pkg/a.py"),
            collected: (MODULE, "pkg/a.py"),
            test: (TEST, "pkg/a.py::t"),
            fixture: (FIXTURE, "pkg/a.py::fx"),
        }
        assert store.unit_id(IMPORT, "pkg/a.py") == imported
        assert store.unit_id(MODULE, "pkg/a.py") == collected
        assert store.unit_id(FIXTURE, "pkg/a.py::fx") == fixture
        assert store.unit_id(IMPORT, "pkg/b.py") is None
        assert store.imports_of_units([imported]) == {imported: ["pkg/b.py"]}
    with store.transaction():  # Written again: replaced, not added.
        again = store.put_unit(IMPORT, "pkg/a.py", UnitData({"pkg/a.py": [1]}))
        store.put_unit(FIXTURE, "pkg/a.py::fx", UnitData({"pkg/a.py": [1]}))
    assert store.units(IMPORT) == {"pkg/a.py": (again, "", False)}
    assert store.count(FIXTURE) == 1
    assert store.ran_elsewhere() == []
    # The units keyed by name alone are found by name, not by reading them all.
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM unit WHERE kind = 2 AND module_id = 0 AND name = 'x'"
    ).fetchall()
    assert "unit_by_name" in str(plan)
    store.close()


def _numbers(missing: tuple[int, ...]) -> FileNumbers:
    return FileNumbers(5, 5 - len(missing), 0, 0, missing)


def test_tables_written_in_parts_read_back_whole(tmp_path: Path) -> None:
    store = new_store(tmp_path / "map.db")
    with store.transaction():
        store.set_content({"a.py": "1", "b.py": "2", "c.py": "3"})
        store.set_numbers({"a.py": _numbers((3, 1)), "b.py": _numbers(())}, replace_all=True)
        store.set_module_names([("a", "a.py"), ("b", "b.py")])
    assert store.numbers()["a.py"].missing == (1, 3)  # Sorted, as a read gives them.
    with store.transaction():
        # c.py gone, d.py new; blob ids in hex are kept as bytes, others as given.
        ids = {"a.py": "1", "b.py": "20", "d.py": "4", "e.py": "ab" * 20, "f.py": "AB"}
        store.set_content(ids)
        store.set_numbers({"d.py": _numbers((2,))}, replace_all=False)
        store.drop_numbers(["b.py"])
        store.set_module_names([("a", "a.py"), ("b", "b.py"), ("d", "d.py")])  # Appended.
    cached = (store.content().copy(), store.numbers().copy(), list(store.module_names()))
    # Names the path gives are not stored; the others are.
    names = [
        ("d", "d.py"),
        ("a", "a.py"),
        ("pkg", "src/pkg/__init__.py"),
        ("pkg.mod", "src/pkg/mod.py"),
        ("lib.x", "lib/x.py"),
        ("other", "lib/y.py"),
        ("pkg._speed", "src/pkg/_speed.cpython-311-x86_64-linux-gnu.so"),
        ("__init__", "__init__.py"),
    ]
    with store.transaction():
        store.set_module_names(names)  # Not appended: rewritten.
    stored = store.db.execute("SELECT name FROM module_name WHERE name NOT NULL").fetchall()
    assert sorted(stored) == [("other",), ("pkg._speed",)]
    store = _reopened(store)
    content = {"a.py": "1", "b.py": "20", "d.py": "4", "e.py": "ab" * 20, "f.py": "AB"}
    assert store.content() == cached[0] == content
    assert store.db.execute("SELECT sum(length(blob)) FROM content").fetchone() == (25,)
    assert store.numbers() == cached[1]
    assert set(cached[1]) == {"a.py", "d.py"}
    assert cached[2] == [("a", "a.py"), ("b", "b.py"), ("d", "d.py")]
    assert store.module_names() == names
    store.close()


def test_a_rolled_back_write_leaves_no_cached_trace(tmp_path: Path) -> None:
    store = new_store(tmp_path / "map.db")
    with store.transaction():
        store.set_content({"a.py": "1"})
    assert store.numbers() == {}  # Read, so kept.

    def interrupted() -> None:
        with store.transaction():
            store.set_content({"a.py": "2", "b.py": "3"})
            store.set_numbers({"b.py": _numbers(())}, replace_all=False)
            store.set_module_names([("b", "b.py")])
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted()
    assert store.content() == {"a.py": "1"}
    assert store.numbers() == {}
    assert store.module_names() == []
    store.close()


def test_what_is_kept_of_units_until_written_follows_every_write(tmp_path: Path) -> None:
    """A check reads unit counts, units and the imports that ran code
    elsewhere while its tests run, and again after writing: each read after
    a write, or after a rolled-back one, is what the map holds."""
    store = new_store(tmp_path / "map.db")

    def kept() -> tuple[int, list[str], int, list[tuple[str, str]], list[list[str]]]:
        elsewhere = sorted((key, path) for _, key, path in store.ran_elsewhere())
        edges = sorted(sorted(m) for m in store.import_edges((IMPORT,)).values())
        return store.count(TEST), list(store.units(TEST)), store.count(FIXTURE), elsewhere, edges

    with store.transaction():
        uid = store.put_unit(TEST, "tests/t.py::a", UnitData(module="tests/t.py"), 1)
        store.put_unit(
            IMPORT, "a.py", UnitData(lines={"a.py": [1], "b.py": [2]}, imports={"b.py"})
        )
    assert kept() == (1, ["tests/t.py::a"], 0, [("a.py", "b.py")], [["b.py"]])

    def importers() -> set[str]:
        return store.imported_by_others((TEST, FIXTURE, MODULE), ())

    assert importers() == set()
    with store.transaction():
        store.put_unit(TEST, "tests/t.py::b", UnitData(module="tests/t.py"), 2)
        store.put_unit(FIXTURE, "f", UnitData(lines={"c.py": [1]}))
        store.put_unit(
            MODULE,
            "tests/t.py",
            UnitData(lines={"a.py": [3], "tests/t.py": [1]}, imports={"a.py"}),
        )
        store.put_unit(IMPORT, "a.py", UnitData(lines={"a.py": [1]}, imports={"c.py"}))  # Again.
        store.put_unit(IMPORT, "c.py", UnitData(imports={"d.py", "e.py"}))
        store.remove_units([uid])
        store.remove_units([uid, 10**6])  # Gone already, and never there: no change.
        during = kept()
        assert importers() == {"a.py"}
    assert during == kept()
    assert importers() == {"a.py"}
    assert during == (
        1,
        ["tests/t.py::b"],
        1,
        [("tests/t.py", "a.py")],
        [["c.py"], ["d.py", "e.py"]],
    )

    def interrupted() -> None:
        with store.transaction():
            store.put_unit(TEST, "tests/t.py::c", UnitData(module="tests/t.py"), 3)
            store.put_unit(IMPORT, "d.py", UnitData(lines={"e.py": [1]}, imports={"f.py"}))
            assert len(kept()[4]) == 3
            assert kept()[0] == 2
            store.put_unit(FIXTURE, "g", UnitData(imports={"g.py"}))
            assert importers() == {"a.py", "g.py"}
            store.put_unit(TEST, "tests/u.py::d", UnitData(module="tests/u.py"), 4)
            assert store.test_modules() == {"tests/t.py", "tests/u.py"}
            raise RuntimeError("interrupted")

    assert store.test_modules() == {"tests/t.py"}  # Read, and kept.

    with pytest.raises(RuntimeError):
        interrupted()
    assert kept() == during
    assert importers() == {"a.py"}
    assert store.test_modules() == {"tests/t.py"}
    store = _reopened(store)
    assert kept() == during
    store.close()


def test_files_that_mutate_follow_shapes_and_content(tmp_path: Path) -> None:
    store = new_store(tmp_path / "map.db")
    with store.transaction():
        store.set_content({"a.py": "1", "b.py": "2"})
        store.set_shape("a.py", '{"x":true}')
        store.set_shape("b.py", '{"x":false}')
    assert store.mutating() == {"a.py"}
    with store.transaction():
        store.set_shape("a.py", '{"x":false}')
        store.set_shape("b.py", '{"x":true}')
        store.set_shape("c.py", '{"x":true}')  # Not in the content: not counted.
        assert store.mutating() == {"b.py"}
        store.set_content({"a.py": "1", "c.py": "3"})
        assert store.mutating() == {"c.py"}
        during = store.mutating()

    def interrupted() -> None:
        with store.transaction():
            store.set_shape("a.py", '{"x":true}')
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted()
    assert store.mutating() == during
    assert _reopened(store).mutating() == during


def test_unused_line_sets_are_collected_every_so_often(tmp_path: Path) -> None:
    from ratchet.selection.store import GARBAGE_EVERY

    store = new_store(tmp_path / "map.db")

    def line_sets() -> int:
        return int(store.db.execute("SELECT count(*) FROM lineset").fetchone()[0])

    with store.transaction():
        for n in range(3):
            store.put_unit(IMPORT, f"m{n}.py", UnitData(lines={f"m{n}.py": [1, n + 2]}))
        store.put_unit(IMPORT, "m0.py", UnitData(lines={"m0.py": [1, 9]}))  # [1, 2] unused.
    assert line_sets() == 4
    for _ in range(GARBAGE_EVERY - 1):
        with store.transaction():
            store.collect_garbage()
    assert line_sets() == 4  # Kept until the next collection: only space.
    with store.transaction():
        store.collect_garbage()
    assert line_sets() == 3
    with store.transaction():
        store.put_unit(IMPORT, "m1.py", UnitData(lines={"m1.py": [1, 2]}))  # [1, 3] unused.
        store.collect_garbage(now=True)
    assert line_sets() == 3
    assert sorted(
        store.lines({u for u, _, _ in store.units(IMPORT).values()}, ["m1.py"]).values()
    ) == [[1, 2]]
    store.set_meta("garbage", "damaged")
    with store.transaction():
        store.collect_garbage()
    assert store.meta("garbage") == "0"
    store.close()


def test_shapes_are_kept_compressed_and_damage_reads_as_none(tmp_path: Path) -> None:
    store = new_store(tmp_path / "map.db")
    shape = '{"m":"x","i":[],"f":{},"x":true,"o":false}'
    with store.transaction():
        store.set_content({"a.py": "1", "b.py": "2", "c.py": "3"})
        store.set_shape("a.py", shape)
        store.set_shape("b.py", shape.replace('"x":true', '"x":false'))
        store.set_shape("c.py", None)
    assert store.shape("a.py") == shape
    assert store.shape("c.py") is None
    assert store.mutating() == {"a.py"}
    (stored,) = store.db.execute("SELECT shape FROM shape WHERE shape NOT NULL").fetchone()
    assert shape.encode() not in stored  # Compressed.
    store.db.execute("UPDATE shape SET shape = x'00ff'")
    assert store.shape("a.py") is None
    store.close()


def test_a_shapes_digests_are_kept_as_bytes_and_read_back_as_written(tmp_path: Path) -> None:
    from ratchet.selection import blocks

    source = (
        b"import os\n\n\nclass C:\n    def m(self):\n        return os.sep\n\n\n"
        b"def f():\n    pass\n"
    )
    found = blocks.shape(source)
    assert found is not None
    text = blocks.to_json(found)
    digests = bytes.fromhex(json.loads(text)["d"])
    assert len(digests) == 8 * 8  # Module, 3 items, a class head, its member, 2 bodies.
    store = new_store(tmp_path / "map.db")
    with store.transaction():
        store.set_content({"a.py": "1"})
        store.set_shape("a.py", text)
    assert store.shape("a.py") == text
    assert blocks.from_json(store.shape("a.py") or "") == found
    (stored,) = store.db.execute("SELECT shape FROM shape").fetchone()
    assert stored.endswith(digests)  # Raw, after the compressed rest.
    assert text[-40:].encode() not in stored
    # JSON that does not end as to_json's does is kept whole, as written.
    hexes = json.loads(text)["d"]
    for odd in (text.replace(hexes, hexes.upper()), text + " "):
        with store.transaction():
            store.set_shape("a.py", odd)
        assert store.shape("a.py") == odd
    # A shape's digests, cut short or grown, are damage (not another shape).
    doc = json.loads(text)
    for hexes in (doc["d"][:-16], doc["d"] + "00" * 8, doc["d"][:-1], ""):
        with pytest.raises(ValueError, match="digests damaged"):
            blocks.from_json(json.dumps({**doc, "d": hexes}))
    store.close()


_FLAT = st.lists(st.tuples(st.integers(-50, 500), st.integers(-50, 500)), max_size=30)


@given(st.lists(_FLAT, max_size=6), st.booleans())
@settings(max_examples=300, deadline=None)
def test_union_of_line_or_arc_sets(sets: list[list[tuple[int, int]]], branch: bool) -> None:
    """What several units ran in one file, as one sorted set: arcs as flat
    pairs, or lines."""
    from ratchet.selection.recording import union

    if branch:
        flats = [[n for arc in arcs for n in arc] for arcs in sets]
        expected = [n for arc in sorted({arc for arcs in sets for arc in arcs}) for n in arc]
    else:
        flats = [[a for a, _ in arcs] for arcs in sets]
        expected = sorted({a for arcs in sets for a, _ in arcs})
    assert union(flats, branch) == expected
    assert union([tuple(f) for f in flats], branch) == expected  # Tuples, as decoded.
    if branch and any(flats):
        with pytest.raises(ValueError, match="zip"):
            union([*flats, [1]], branch)  # Half an arc: an error, never a guess.
