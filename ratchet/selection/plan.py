"""Which tests a change needs, and why the whole suite runs when it must.

Decided from the test map (:mod:`ratchet.selection.store`) and the files as
they are now; nothing runs here.  The argument for exactness: a full run's
lines of a file are the union of what every unit (test, fixture instance,
module import, test module collection, session) executed in it.  A unit
whose inputs did not change executes the same lines again; so only units
that executed a changed block, opened a changed file, or depend on a module
whose import-time code changed need to run, and every other unit's lines
are carried over (to their new line numbers, :func:`blocks.line_map`).

The rules, change by change:

- a function body changed: the units that executed it run again;
- a module's import-time code changed (a constant, a default, a decorator, a
  class attribute; not a function or an installed module's import added):
  every unit that imported it, directly or through other modules, and every
  unit that executed any of it or of a module importing it; a module
  imported by a ``conftest.py`` changes what every test may see: the whole
  suite runs;
- a function that ran at import time changed: as its importer's import-time
  code;
- a test module changed: its changed tests (all of them when its own
  module-level code changed; the whole suite when that code also changes
  state other modules see);
- a file a unit opened changed: that unit again;
- configuration, ``conftest.py``, dependency files, a watched file no test
  was seen reading: the whole suite.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ratchet.relevance import CONFIG_FILES
from ratchet.selection.blocks import (
    MODULE,
    Shape,
    changed_functions,
    from_json,
    line_map,
    module_level_change,
    shape,
)
from ratchet.selection.pool import could_join, signature
from ratchet.selection.store import FIXTURE, IMPORT, SESSION, TEST, Store
from ratchet.selection.store import MODULE as COLLECTION

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
    tests: set[str] = field(default_factory=set)  # Test ids to run.
    collect: set[str] = field(default_factory=set)  # Test modules to collect.
    # Test modules to import as their collection would, without making their
    # tests: only their import changes what the selected tests can see.
    import_only: set[str] = field(default_factory=set)
    preload: list[str] = field(default_factory=list)  # Modules to import first, by name.
    # Modules whose import runs new lines (a function added), by name: imported
    # again so that their import-time lines are recorded at the new numbers.
    reimport: dict[str, str] = field(default_factory=dict)  # Path -> name.
    changed: set[str] = field(default_factory=set)  # Paths whose content changed.
    shapes: dict[str, Shape | None] = field(default_factory=dict)  # Changed files', now.
    maps: dict[str, dict[int, int]] = field(default_factory=dict)  # Old line -> new.
    def_at_one: set[str] = field(default_factory=set)  # Old text: a def or class on line 1.
    reasons: list[str] = field(default_factory=list)  # What made tests run, for people.


def config_change(path: str) -> str:
    """Why a change to ``path`` needs the whole suite ('' when it does not)."""
    name = path.rsplit("/", 1)[-1]
    if name == "conftest.py":
        return "a conftest.py changed"
    if name in CONFIG_FILES or name.startswith(".coveragerc") or path.endswith(".pth"):
        return "configuration changed"
    if any(fnmatch.fnmatch(name, pattern) for pattern in DEPENDENCY_FILES):
        return "dependencies changed"
    return ""


def tracked_kind(path: str, watch: Iterable[str] = ()) -> bool:
    """Whether the map keeps this file's blob id even when no test opened it."""
    return (
        path.endswith(".py")
        or bool(config_change(path))
        or any(fnmatch.fnmatchcase(path, p) for p in watch)
    )


def looks_like_test(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


# What a test module's collection may run of its own code, past its import:
# a pytest_generate_tests hook, a function that makes ids (a list of them is
# made by the import), a __getattr__ that pytest's look-ups run.  The map
# sees that code only where it runs lines of measured files, and test files
# are often not measured.
_OWN_COLLECTION_CODE = re.compile(
    rb"pytest_generate_tests|__getattr(?:ibute)?__|\bids\s*=\s*[^\s\[(]"
)


def _runs_own_code_when_collected(source: bytes | None) -> bool:
    return source is None or _OWN_COLLECTION_CODE.search(source) is not None


def _same_constants(was: bytes | None, now: bytes | None) -> bool:
    """Whether two versions of a file give Hypothesis the same constants
    (False when either is unknown)."""
    if was is None or now is None:
        return False
    found = signature(was)
    return found is not None and found == signature(now)


class Planner:
    """One plan: the map, what the files are now, and the policy."""

    def __init__(
        self,
        store: Store,
        content: Mapping[str, str],
        read: Callable[[str], bytes | None],
        *,
        watch: tuple[str, ...] = (),
        max_share: float = 0.5,
        installed: Callable[[str], bool] = lambda name: True,
        read_blob: Callable[[str], bytes | None] = lambda oid: None,
    ) -> None:
        self.store = store
        self.content = content
        self.read = read
        self.watch = watch
        self.max_share = max_share
        self.installed = installed
        self.read_blob = read_blob  # A file's content by its blob id, if git has it.
        # Tests are looked up by what the change touches, not read whole:
        # a map of 100,000 tests costs a check a query, not a load.
        self.kinds: dict[int, tuple[str, str]] = {}
        self._with_tests: set[str] | None = None
        self.active = store.active()
        self.plan = Plan()

    # -- the whole ----------------------------------------------------------------

    def decide(self) -> Plan:
        plan = self.plan
        old = self.store.content()
        plan.changed = {p for p, oid in old.items() if self.content.get(p) != oid}
        plan.changed |= {p for p in self.content if p not in old and tracked_kind(p, self.watch)}
        for path in sorted(plan.changed):
            why = config_change(path)
            if why:
                return self._full(f"{path}: {why}")
        # Collected test modules, those that had no test then included.
        test_modules = self._test_modules()
        units: set[int] = set()  # Units that must run again.
        changed_modules: dict[str, str] = {}  # Module file -> why its import changed.
        for path in sorted(plan.changed):
            if path in test_modules or (path not in old and looks_like_test(path)):
                why = self._test_module(path, units, changed_modules)
            elif path.endswith(".py"):
                why = self._code_module(path, units, changed_modules)
            else:
                why = self._data_file(path, units, changed_modules)
            if why:
                return self._full(f"{path}: {why}")
        self._pool_change(old, units)
        why = self._import_cascade(units, changed_modules)
        if why:
            return self._full(why)
        tests = self._tests_of(units)
        tests.update((t, module) for t, (_, module, _) in self.store.opaque_tests().items())
        plan.tests = set(tests)
        total = self.store.count(TEST)
        if total and len(tests) > self.max_share * total:
            return self._full(
                f"{len(tests)} of {total} tests are affected, more than "
                f"select-max-share ({self.max_share:g}) allows"
            )
        plan.collect |= set(tests.values())
        if tests:  # No test runs: no one to see what collecting them does.
            self._active_test_modules(test_modules)
        plan.preload = self._preload()
        return plan

    def _reimport(self, path: str) -> None:
        names = [name for name, p in self.store.module_names() if p == path]
        if names and path in self.store.units(IMPORT):
            self.plan.reimport[path] = names[0]

    def _full(self, why: str) -> Plan:
        return Plan(full=why, changed=self.plan.changed)

    # -- changed files ------------------------------------------------------------

    def _shapes(self, path: str) -> tuple[Shape | None, Shape | None]:
        raw = self.store.shape(path)
        try:
            old = from_json(raw) if raw is not None else None
        except (ValueError, KeyError, TypeError):
            old = None
        current = self.read(path) if path in self.content else None
        new = shape(current) if current is not None else None
        self.plan.shapes[path] = new
        if old is not None and new is not None:
            self.plan.maps[path] = line_map(old, new)
            if old.def_at_one:
                self.plan.def_at_one.add(path)
        return old, new

    def _code_module(self, path: str, units: set[int], changed: dict[str, str]) -> str:
        """A repository module (not a test module) changed."""
        self._readers(path, units)
        old, new = self._shapes(path)
        executed = self.store.executed_by([path]).get(path, set())
        if old is None or new is None:
            # Deleted, new, or not parsing: whoever imported or ran it runs again.
            units |= executed
            changed[path] = "it was added, deleted or does not parse"
            return ""
        why = module_level_change(old, new, self.installed)
        if why:
            changed[path] = why
            units |= executed
            return ""
        if old.module != new.module:  # Functions or installed imports added.
            self._reimport(path)
        fns = changed_functions(old, new)
        mapping = self.plan.maps[path]
        ran = {
            uid: line_numbers(values)
            for (uid, _), values in self.store.lines(executed, [path]).items()
        }
        # Each distinct line once: units share most of theirs.
        seen: set[int] = set().union(*ran.values())
        dirty = {n for n in seen if n not in mapping or old.block_of(n) in fns}
        units |= {uid for uid, lines in ran.items() if not lines.isdisjoint(dirty)}
        return ""

    def _test_module(self, path: str, units: set[int], changed: dict[str, str]) -> str:
        """A test module changed, appeared or went."""
        self.plan.collect.add(path)
        self._readers(path, units)
        old, new = self._shapes(path)
        tests = {key: uid for key, (uid, _, _) in self.store.tests_in([path]).items()}
        own = set(tests.values())
        if new is None:
            if path in self.content:
                units |= own  # It does not parse: collecting it says so.
            changed[path] = "a test module changed"
            return ""
        if old is None:
            changed[path] = "a test module appeared"
            return ""
        if module_level_change(old, new, self.installed):
            if new.mutates or path in self.active:
                return "its module-level code changed, and it sets state other tests can see"
            units |= own
            changed[path] = "its module-level code changed"
            return ""
        fns = changed_functions(old, new)
        if not fns:
            return ""
        for fn in fns:
            hits = {uid for key, uid in tests.items() if _function_of(key) == fn}
            if hits:
                units |= hits
            else:  # A helper or a fixture: any test of the module may use it.
                units |= own
                changed[path] = "a helper it defines changed"
        return ""

    def _pool_change(self, old: Mapping[str, str], units: set[int]) -> None:
        """Hypothesis's pool of local constants changed (a pooled file's
        constants, or a module that could join it appeared or went): the
        units that drew from it run again."""
        drew = self.store.drew()
        if not drew or drew <= units:
            return
        pool = self.store.pool()
        if any(self._changes_pool(p, old.get(p), pool) for p in sorted(self.plan.changed)):
            units |= drew

    def _changes_pool(self, path: str, before: str | None, pool: set[str]) -> bool:
        """Whether the change of ``path`` (``before``: its blob id in the map)
        changes what Hypothesis's pool holds."""
        if before is None or path not in self.content:  # Added or deleted.
            return path in pool or could_join(path)
        return path in pool and not _same_constants(self.read_blob(before), self.read(path))

    def _readers(self, path: str, units: set[int]) -> set[int]:
        """Whoever opened ``path`` (as data: a test that reads a module's
        source, say; not its import) runs again."""
        openers = self.store.opened_by([path]).get(path, set())
        units |= openers
        return openers

    def _data_file(self, path: str, units: set[int], changed: dict[str, str]) -> str:
        """A file that is not Python changed: whoever opened it runs again."""
        openers = self._readers(path, units)
        watched = any(fnmatch.fnmatchcase(path, p) for p in self.watch)
        if watched and not openers:
            return "a watched file changed, and no test was seen reading it"
        return ""

    # -- from units to tests ----------------------------------------------------------

    def _kind(self, uid: int) -> tuple[str, str]:
        if uid not in self.kinds:
            self.kinds.update(self.store.unit_keys([uid]))
        return self.kinds[uid]

    def _import_cascade(self, units: set[int], changed: dict[str, str]) -> str:
        """Close ``units`` over import-time changes ('' or why everything runs).

        A unit that runs again and is the import of a module, or the
        collection of a test module, makes that module's import-time code
        changed; a changed module makes its importers and the units that ran
        any of it run again.
        """
        queue = list(changed)
        done: set[str] = set()
        while True:
            for uid in list(units):
                kind, key = self._kind(uid)
                if kind == SESSION:
                    return "code that runs for the whole session (a conftest, a plugin) changed"
                if kind == IMPORT and key not in done and key not in queue:
                    if key.rsplit("/", 1)[-1] == "conftest.py":
                        return f"{key}: what it runs at import time changed"
                    queue.append(key)
            if not queue:
                return ""
            module = queue.pop()
            if module in done:
                continue
            done.add(module)
            importers = self.store.imported_by([module]).get(module, set())
            for uid in importers:
                kind, key = self._kind(uid)
                if kind == IMPORT and key.rsplit("/", 1)[-1] == "conftest.py":
                    return f"{module}: its import-time code changed, and {key} imports it"
                if kind == SESSION:
                    return f"{module}: its import-time code changed, and the session imports it"
            units |= importers
            units |= self.store.executed_by([module]).get(module, set())

    def _tests_of(self, units: set[int]) -> dict[str, str]:
        """The tests the units stand for (test id -> its module): themselves,
        a fixture's users, a module's tests."""
        test_ids: set[int] = set()
        fixtures = []
        modules = set()
        for uid in units:
            kind, key = self._kind(uid)
            if kind == TEST:
                test_ids.add(uid)
            elif kind == FIXTURE:
                fixtures.append(uid)
            elif kind == COLLECTION or (kind == IMPORT and key in self._modules_with_tests()):
                modules.add(key)
        if fixtures:
            test_ids |= self.store.users_of(fixtures)
        tests = dict(self.store.tests_by_id(test_ids).values())
        tests.update((t, module) for t, (_, module, _) in self.store.tests_in(modules).items())
        return tests

    def _test_modules(self) -> set[str]:
        """Collected test modules, those that had no test then included."""
        return self._modules_with_tests() | self.store.units(COLLECTION).keys()

    def _modules_with_tests(self) -> set[str]:
        if self._with_tests is None:
            self._with_tests = self.store.test_modules()
        return self._with_tests

    # -- what the run imports as a full run would ----------------------------------------

    def _active_test_modules(self, test_modules: set[str]) -> None:
        """Test modules whose collection changes what other tests see: always
        collected (their tests deselected), as a full run collects them.  Only
        imported, when the map says that of their collection only the import
        reached other files (and they are as the map has them)."""
        plan = self.plan
        active = {m for m in test_modules & self.active if m in self.content} - plan.collect
        collecting = self.store.collecting() if active else None
        for module in sorted(active):
            if (
                collecting is None
                or module in collecting
                or module in plan.changed
                or not looks_like_test(module)  # A module of doctests, say.
                or _runs_own_code_when_collected(self.read(module))
            ):
                plan.collect.add(module)
            else:
                plan.import_only.add(module)

    def _preload(self) -> list[str]:
        """Repository modules (not test modules) whose import changes other
        modules' state, in the order a full run first imported them."""
        if not self.active:  # Most maps: the order of 20,000 modules is not read.
            return []
        tests = self._test_modules()
        wanted = [
            (name, path)
            for name, path in self.store.module_names()
            if path in self.active
            and path not in tests
            and path in self.content
            and not path.endswith("conftest.py")
        ]
        gone = {m for m in tests if m not in self.content}
        if wanted and gone:
            reach = self._still_imported(gone)
            wanted = [(name, path) for name, path in wanted if path in reach]
        return [name for name, _ in wanted]

    def _still_imported(self, gone: set[str]) -> set[str]:
        """Module files something still imports once the test modules
        ``gone`` are: a full run would not import the others."""
        edges = self.store.import_edges()
        imports = {key: uid for key, (uid, _, _) in self.store.units(IMPORT).items()}
        skip = set(imports.values())
        skip |= {uid for uid, _, _ in self.store.tests_in(gone).values()}
        skip |= {uid for key, (uid, _, _) in self.store.units(COLLECTION).items() if key in gone}
        start = [m for uid, modules in edges.items() if uid not in skip for m in modules]
        return import_closure(start, lambda m: edges.get(imports[m], ()) if m in imports else ())


def import_closure(start: Iterable[str], imports_of: Callable[[str], Iterable[str]]) -> set[str]:
    """The modules ``start`` names and, through their imports, every module
    a run importing them imports."""
    reach: set[str] = set()
    frontier = list(start)
    while frontier:
        module = frontier.pop()
        if module not in reach:
            reach.add(module)
            frontier += imports_of(module)
    return reach


def line_numbers(values: Sequence[int]) -> set[int]:
    """The line numbers in a unit's lines, or in its flat arcs (both ends)."""
    return {abs(v) for v in values if v}


def _function_of(test_id: str) -> str:
    """The function a test id names: ``t.py::Cls::test_x[1]`` -> ``Cls.test_x``."""
    parts = test_id.split("::")[1:]
    if not parts:
        return MODULE
    parts[-1] = parts[-1].split("[", 1)[0]
    return ".".join(parts)


def installed_checker(roots: Iterable[str]) -> Callable[[str], bool]:
    """Is a module name an installed module, not one of the repository's?"""

    def installed(name: str) -> bool:
        top = name.split(".", 1)[0]
        return not any(
            os.path.exists(os.path.join(root, top + ".py"))
            or os.path.isdir(os.path.join(root, top))
            for root in roots
        )

    return installed
