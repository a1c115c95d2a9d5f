"""Which tests a check must run, and which files it can then judge exactly.

Pure decisions over a :class:`~ratchet.selection.testmap.TestMap`; running
is done by :mod:`ratchet.selection.session`.  The argument for exactness, file by file: a judged
file's coverage in a full run is what collection ran plus what each test
ran in it.  Collection always runs whole.  A test that executed none of the
changed files behaves as before, so its lines are unchanged.  Every test
that executed a changed file runs again (round one); a file whose lines
changed for one of those tests becomes judged, and every other test that
executed it runs too (round two), so its number is the full run's.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ratchet.relevance import CONFIG_FILES
from ratchet.selection.shapes import Shape, import_time_change, shape
from ratchet.selection.testmap import Record, TestMap

DEPENDENCY_FILES = (
    "setup.py",
    "requirements*.txt",
    "requirements*.in",
    "constraints*.txt",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "pdm.lock",
    "uv.lock",
    "MANIFEST.in",
)


@dataclass
class Plan:
    full: str = ""  # Why the whole suite runs; empty for a selection.
    select: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)
    changed_measured: set[str] = field(default_factory=set)


def is_test_module(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def _is_config(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name == "conftest.py":
        return "a conftest.py changed"
    if name in CONFIG_FILES or name.startswith(".coveragerc") or path.endswith(".pth"):
        return "configuration changed"
    if any(fnmatch.fnmatch(name, pattern) for pattern in DEPENDENCY_FILES):
        return "dependencies changed"
    return ""


def changed_paths(tmap: TestMap, content: Mapping[str, str]) -> set[str]:
    """Files whose content differs from what the map was built from."""
    changed = {p for p, oid in tmap.content.items() if content.get(p) != oid}
    changed |= {p for p in content if p not in tmap.content and tracked_kind(p)}
    return changed


def tracked_kind(path: str) -> bool:
    """Whether the map keeps this file's blob id even when no test opened it."""
    return path.endswith(".py") or bool(_is_config(path))


def plan(
    tmap: TestMap,
    content: Mapping[str, str],
    read: Callable[[str], bytes | None],
    mentions: Callable[[str, str], bool],
    max_share: float,
) -> Plan:
    """The tests to run first, or why everything must run.

    ``read`` gives a file's current content; ``mentions(word, path)`` says
    whether a Python file other than ``path`` names ``word`` (importers of a
    test module).
    """
    changed = changed_paths(tmap, content)
    result = Plan(changed=changed)
    users = _users(tmap, changed)
    test_modules = tmap.test_modules
    for path in sorted(changed):
        why = _why_everything(tmap, path, content, read, mentions)
        if why:
            return Plan(full=f"{path}: {why}", changed=changed)
        new = path not in tmap.content
        if path in test_modules:
            result.select |= {t for t in tmap.tests if t.split("::", 1)[0] == path}
        if path.endswith(".py") and (path in tmap.measured or (new and not is_test_module(path))):
            result.changed_measured.add(path)
        result.select |= users.get(path, set())
    result.select |= {t for t in tmap.tests if tmap.is_opaque(t)}
    if len(result.select) > max_share * max(len(tmap.tests), 1):
        return Plan(
            full=f"{len(result.select)} of {len(tmap.tests)} tests are affected, more than "
            f"select-max-share ({max_share:g}) allows",
            changed=changed,
        )
    return result


def _why_everything(
    tmap: TestMap,
    path: str,
    content: Mapping[str, str],
    read: Callable[[str], bytes | None],
    mentions: Callable[[str, str], bool],
) -> str:
    """Why a change to ``path`` needs the whole suite ('' when it does not)."""
    why = _is_config(path)
    if why:
        return why
    new = path not in tmap.content
    if not path.endswith(".py"):
        return "read at import time, and changed" if path in tmap.imported else ""
    measured = path in tmap.measured
    if path in tmap.test_modules:
        if not new and _importable_elsewhere(path, mentions):
            return "a test module other modules import, changed"
    elif not measured and not new and path in tmap.imported:
        return "imported by the tests but not measured, so its users are unknown"
    ran_at_import = tmap.import_lines.get(path)
    if not measured or ran_at_import is None:
        return ""
    if path not in content:
        return "deleted after it was imported"
    current = read(path)
    new_shape: Shape | None = shape(current) if current is not None else None
    return import_time_change(tmap.shapes.get(path), new_shape, ran_at_import)


def _importable_elsewhere(path: str, mentions: Callable[[str, str], bool]) -> bool:
    stem = path.rsplit("/", 1)[-1].removesuffix(".py")
    return mentions(stem, path)


def _users(tmap: TestMap, paths: set[str]) -> dict[str, set[str]]:
    """For each of ``paths``: the tests that executed or opened it."""
    users: dict[str, set[str]] = {}
    if not paths:
        return users
    fixture_hits = {key: paths.intersection(record.files) for key, record in tmap.fixtures.items()}
    for test, record in tmap.tests.items():
        hit = paths.intersection(record.files)
        for key in record.fixtures:
            hit |= fixture_hits.get(key, set())
        module = test.split("::", 1)[0]
        if module in paths:
            hit.add(module)
        for path in hit:
            users.setdefault(path, set()).add(test)
    return users


def _differs(old: Record | None, new: Record | None) -> set[str]:
    """Measured files whose lines differ between two records of one test or fixture."""
    before = {p: d for p, d in old.files.items() if d} if old else {}
    after = {p: d for p, d in new.files.items() if d} if new else {}
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def _signature(record: Record) -> tuple[object, ...]:
    """What a test contributes to the numbers: its lines per file, its fixtures."""
    lines = sorted((p, d) for p, d in record.files.items() if d)
    return (tuple(lines), tuple(sorted(record.fixtures)))


def _renamed(tmap: TestMap, ran: TestMap, still: set[str]) -> set[str]:
    """Deleted and new tests that pair up with identical records.

    A test whose id changed (renamed, or with a parameter id such as a time
    of day) but executed exactly the same lines takes the old one's place:
    no file's covered lines change, so nothing needs measuring again.
    """
    new: dict[tuple[object, ...], list[str]] = {}
    for test, record in ran.tests.items():
        if test not in tmap.tests and not record.opaque:
            new.setdefault(_signature(record), []).append(test)
    paired: set[str] = set()
    for test, record in tmap.tests.items():
        if test in still or record.opaque:
            continue
        candidates = new.get(_signature(record))
        if candidates:
            paired |= {test, candidates.pop()}
    return paired


def judged_after_first_round(
    tmap: TestMap, ran: TestMap, collected: Iterable[str], changed_measured: set[str]
) -> tuple[set[str], list[str]]:
    """Files to judge after round one, and the tests round two must run."""
    judged = set(changed_measured)
    still = set(collected)
    renamed = _renamed(tmap, ran, still)
    for test, record in ran.tests.items():
        if test in renamed:
            continue
        old = tmap.tests.get(test)
        judged |= _differs(old, record)
        if old is not None:
            for key in set(old.fixtures) - set(record.fixtures):
                judged |= _differs(tmap.fixtures.get(key), None)
    for key, record in ran.fixtures.items():
        judged |= _differs(tmap.fixtures.get(key), record)
    for test in tmap.tests:
        if test not in still and test not in renamed:
            # Deleted or renamed: what it ran may now be uncovered.
            record = tmap.tests[test]
            judged |= _differs(record, None)
            for key in record.fixtures:
                judged |= _differs(tmap.fixtures.get(key), None)
    judged |= ran.measured - tmap.measured
    second = [
        t
        for t in tmap.tests
        if t in still and t not in ran.tests and not judged.isdisjoint(tmap.files_of(t))
    ]
    return judged, second


def updated(tmap: TestMap, ran: TestMap, collected: list[str], changed: set[str]) -> TestMap:
    """The map after a selected run: fresh records for what ran, the rest kept."""
    tests: dict[str, Record] = {}
    for test in collected:
        record = ran.tests.get(test) or tmap.tests.get(test)
        if record is not None:
            tests[test] = record
    fixtures = {**tmap.fixtures, **ran.fixtures}
    used = {k for r in tests.values() for k in r.fixtures}
    import_lines = {p: set(v) for p, v in tmap.import_lines.items() if p not in changed}
    for path, lines in ran.import_lines.items():
        import_lines.setdefault(path, set()).update(lines)
    return TestMap(
        tmap.fingerprint,
        tests,
        {k: r for k, r in fixtures.items() if k in used},
        import_lines,
        (tmap.imported - changed) | ran.imported,
        (tmap.measured - changed) | ran.measured,
        {},
        {},
    )
