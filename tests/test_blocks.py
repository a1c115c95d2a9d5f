"""What a change to a Python file can affect: its blocks, and where lines moved."""

from __future__ import annotations

import json

from ratchet.selection.blocks import (
    MODULE,
    Shape,
    attribute_probe_lines,
    changed_functions,
    from_json,
    line_map,
    module_level_change,
    probes_of,
    shape,
    to_json,
)

SOURCE = b"""\
import os

LIMIT = 3


def helper(x):
    return x + 1


class Thing:
    size = helper(1)

    @property
    def area(self):
        if self.size:
            return self.size * 2
        return 0
"""


def shaped(source: bytes) -> Shape:
    s = shape(source)
    assert s is not None
    return s


def installed(name: str) -> bool:
    return name in ("os", "json")


def test_blocks_are_the_module_level_and_one_per_function_body() -> None:
    s = shaped(SOURCE)
    assert sorted(s.functions) == ["Thing.area", "helper"]
    assert s.block_of(7) == "helper"
    assert s.block_of(16) == "Thing.area"
    assert s.block_of(11) == MODULE  # A class attribute.
    assert s.block_of(3) == MODULE


def test_a_body_edit_changes_one_function_and_not_the_module_level() -> None:
    old = shaped(SOURCE)
    new = shaped(SOURCE.replace(b"self.size * 2", b"self.size * 3"))
    assert changed_functions(old, new) == {"Thing.area"}
    assert module_level_change(old, new, installed) == ""


def test_digests_do_not_depend_on_line_numbers() -> None:
    old = shaped(SOURCE)
    new = shaped(b"\n\n# moved down\n" + SOURCE)
    assert changed_functions(old, new) == set()
    assert module_level_change(old, new, installed) == ""
    assert line_map(old, new)[7] == 10
    assert line_map(old, new)[16] == 19


def test_adding_a_function_a_method_or_an_installed_import_is_not_a_module_level_change() -> None:
    old = shaped(SOURCE)
    for new in [
        SOURCE + b"\n\ndef added(y):\n    return y\n",
        SOURCE.replace(
            b"    @property\n", b"    def extra(self):\n        return 1\n\n    @property\n"
        ),
        SOURCE.replace(b"import os\n", b"import os\nimport json\n"),
    ]:
        assert module_level_change(old, shaped(new), installed) == "", new
        assert changed_functions(old, shaped(new)) == set()


def test_constants_decorators_defaults_class_attributes_and_repo_imports_are() -> None:
    old = shaped(SOURCE)
    for before, after in [
        (b"LIMIT = 3", b"LIMIT = 4"),
        (b"    @property\n", b""),
        (b"def helper(x):", b"def helper(x=2):"),
        (b"    size = helper(1)", b"    size = helper(2)"),
        (b"import os\n", b"import os\nimport mypkg\n"),
        (b"import os\n", b""),
    ]:
        new = shaped(SOURCE.replace(before, after))
        assert module_level_change(old, new, installed) == "its module-level code changed", before


def test_a_changed_block_keeps_no_line_in_the_map() -> None:
    old = shaped(SOURCE)
    new = shaped(SOURCE.replace(b"return x + 1", b"y = x\n    return y + 1"))
    mapping = line_map(old, new)
    assert 7 not in mapping  # helper's body changed: its tests run again.
    assert mapping[16] == 17  # area's body did not: its lines moved by one.
    assert mapping[3] == 3


def test_a_statement_that_changes_other_modules_state_is_seen() -> None:
    assert shaped(b"import policy\npolicy.MODE['value'] = 'strict'\n").mutates
    assert shaped(b"import policy\npolicy.setup()\n").mutates
    assert not shaped(b"import policy\nVALUE = 1\n").mutates


def test_shapes_survive_json_and_bad_syntax_has_none() -> None:
    s = shaped(SOURCE)
    assert from_json(to_json(s)) == s
    assert shape(b"def broken(:\n") is None


def test_alike_bodies_write_alike_json_wherever_they_are() -> None:
    # Node lines are written from each body's first line (and each item's
    # first node), so that a module of alike tests compresses to little.
    s = shaped(b"def a(x):\n    y = x\n    return y\n\n\ndef b(x):\n    y = x\n    return y\n")
    a, b = s.functions["a"], s.functions["b"]
    assert a.positions != b.positions  # In the shape, lines are lines.
    doc = json.loads(to_json(s))
    assert doc["f"]["a"][3] == doc["f"]["b"][3]
    assert doc["i"][0][5][1:] == doc["i"][1][5][1:]
    assert from_json(to_json(s)) == s


PROBED = b"""\
def __getattr__(name):
    import warnings

    if name == "Old":
        from .core import New

        warnings.warn("Old is deprecated", DeprecationWarning)
        return New
    elif name in ("A", "B") or name != "C":
        return 1

    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
"""


def test_a_packages_getattr_probed_for_a_missing_name_runs_only_harmless_lines() -> None:
    # def; import warnings; the two tests; the raise (what a probe runs).
    assert sorted(attribute_probe_lines(PROBED)) == [1, 2, 4, 9, 12]


def test_a_shape_records_its_probe_lines() -> None:
    for source in (
        PROBED,
        SOURCE,
        b"x = 1\n",
        b"class C:\n    def __getattr__(self, n):\n        pass\n",
    ):
        found = shape(source)
        assert found is not None
        assert found.probes == attribute_probe_lines(source)
        text = to_json(found)
        assert from_json(text).probes == found.probes
        assert probes_of(text) == found.probes
    assert shaped(PROBED).probes
    # A shape written before shapes held them: unknown, not none.
    old = json.loads(to_json(shaped(PROBED)))
    del old["p"]
    assert from_json(json.dumps(old)).probes is None
    assert "p" not in json.loads(to_json(from_json(json.dumps(old))))  # Still unknown.
    assert probes_of(json.dumps(old)) is None
    assert probes_of("not JSON") is None


def test_anything_else_a_getattr_runs_is_not_a_harmless_probe() -> None:
    def lines(source: str) -> list[int]:
        return sorted(attribute_probe_lines(source.encode()))

    raise_it = "    raise AttributeError(name)\n"
    assert lines("def __getattr__(name):\n" + raise_it) == [1, 2]
    # A call in the test, an import of a module pytest has not loaded, a
    # registry changed, another exception, a global formatted into it.
    assert lines("def __getattr__(name):\n    if check(name):\n        pass\n" + raise_it) == [
        1,
        4,
    ]
    assert lines("def __getattr__(name):\n    import json\n" + raise_it) == [1, 3]
    assert lines("def __getattr__(name):\n    SEEN.append(name)\n" + raise_it) == [1, 3]
    assert lines("def __getattr__(name):\n    raise KeyError(name)\n") == [1]
    assert lines("def __getattr__(name):\n    raise AttributeError(f'{THING}')\n") == [1]
    # AttributeError rebound, a decorated __getattr__, one that is not the module's.
    rebound = "AttributeError = list\ndef __getattr__(name):\n" + raise_it
    assert lines(rebound) == [2]
    assert lines("@cache\ndef __getattr__(name):\n" + raise_it) == []
    assert lines("class C:\n    def __getattr__(self, name):\n    " + raise_it) == []
    assert lines("def __getattr__(name:\n") == []  # Does not parse.


def test_line_one_of_a_module_that_starts_with_a_comment_is_its_entry() -> None:
    """Branch data name a module's entry and exit by line 1 (-1) even when a
    comment is there; a body edit below leaves it where it is.  A statement
    on line 1 maps as its node does."""
    text = "# Licence header\n\n\ndef f(x):\n    return x\n\n\ndef g(x):\n    return 2\n"
    edited = text.replace("    return 2\n", "    pass\n    return 2\n")
    old, new = shape(text.encode()), shape(edited.encode())
    assert old is not None
    assert new is not None
    assert line_map(old, new)[1] == 1
    moved = shape(b"# a new first line\nimport os\n")
    first = shape(b"import os\n")
    assert moved is not None
    assert first is not None
    assert line_map(first, moved)[1] == 2  # The import's line, not the entry.


STATEFUL = b"""\
import sys
_CACHE = []
_REG = {}
COUNT = 0


def fill():
    if not _CACHE:
        _CACHE.append(1)
    return _CACHE[0]


def register(name, value, items):
    _REG[name] = value
    local = {}
    local[name] = 1
    local.update(x=1)
    items.append(name)


def bump():
    global COUNT
    COUNT += 1


def shadow():
    COUNT = 3
    return COUNT


class Meta(type):
    def __call__(cls, *args):
        if cls._instance is None:
            cls._instance = super().__call__(*args)
        return cls._instance


class C:
    def m(self):
        self.x = 1
        type(self).n = 2
        sys.path.insert(0, "x")
        setattr(sys, "flag", 1)

        def inner():
            _REG.clear()

        return inner

    def more(self, pairs):
        try:
            pass
        except ValueError as err:
            err.note = 1
        del _REG["x"]
        first, _REG["y"] = pairs
        self.__class__.count = 1
        match pairs:
            case [x]:
                _CACHE.append(x)
        return first
"""


def test_statements_that_change_state_a_call_leaves_behind_are_found() -> None:
    """A module's cache, a registry, a ``global``, a class through ``cls``
    or ``type(self)``; not the function's own names, its arguments, or
    ``self``'s attributes."""
    found = shape(STATEFUL)
    assert found is not None
    lines = STATEFUL.decode().splitlines()
    state = {name: [lines[n - 1].strip() for n in f.state] for name, f in found.functions.items()}
    assert state == {
        "fill": ["_CACHE.append(1)"],
        "register": ["_REG[name] = value"],
        "bump": ["COUNT += 1"],
        "shadow": [],
        "Meta.__call__": ["cls._instance = super().__call__(*args)"],
        "C.m": ["type(self).n = 2", 'sys.path.insert(0, "x")', 'setattr(sys, "flag", 1)'],
        "C.m.inner": ["_REG.clear()"],
        "C.more": [
            'del _REG["x"]',
            'first, _REG["y"] = pairs',
            "self.__class__.count = 1",
            "_CACHE.append(x)",
        ],
    }
    assert from_json(to_json(found)) == found
