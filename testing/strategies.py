"""Hypothesis strategies for what users write: baselines, ``[tool.ratchet]``
tables and coverage reports, valid and damaged; and the judges that hold
each reader to its promise (it loads, or refuses in one line with exit 2).

Used by the fuzz tests and, for many more examples, by
``benchmarks/soak_inputs.py``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from hypothesis import strategies as st

from ratchet import errors
from ratchet.baseline import Baseline, Entry, Lowering, dumps, loads, quote
from ratchet.config import _KEYS as config_keys
from ratchet.config import load_config
from ratchet.errors import RatchetError
from ratchet.numbers import Numbers
from ratchet.paths import check_repo_path

segment = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/\\"), min_size=1, max_size=8
).filter(lambda s: s not in (".", "..") and check_repo_path(s) is None)

repo_path = st.lists(segment, min_size=1, max_size=3).map("/".join)


@st.composite
def numbers(draw: st.DrawFn, branch: bool) -> Numbers:
    statements = draw(st.integers(0, 10**6))
    covered = draw(st.integers(0, statements))
    if not branch:
        return Numbers(statements, covered)
    branches = draw(st.integers(0, 10**5))
    return Numbers(statements, covered, branches, draw(st.integers(0, branches)))


@st.composite
def baselines(draw: st.DrawFn) -> Baseline:
    branch = draw(st.booleans())
    files = {}
    for path in draw(st.lists(repo_path, max_size=8, unique=True)):
        n = draw(numbers(branch))
        entry = Entry(n)
        if draw(st.booleans()):
            entry = Entry(
                n, "Tier 1", Fraction(draw(st.integers(0, 200)), 2), draw(numbers(branch))
            )
        if draw(st.booleans()):
            # Words for people: any text without control characters (which
            # the reader refuses; see test_known_holes).
            words = st.characters(exclude_categories=["Cc", "Cs"])
            reason = draw(st.text(words, min_size=1).filter(lambda s: s.strip() != ""))
            entry = Entry(
                entry.numbers,
                entry.tier,
                entry.target,
                entry.start,
                Lowering(draw(numbers(branch)), reason, "2026-11-21"),
            )
        files[path] = entry
    target = draw(st.none() | st.integers(0, 100).map(Fraction))
    start = draw(st.none() | numbers(branch))
    return Baseline(draw(st.text(max_size=10)), branch, files, target, start)


BASELINE_ERROR = re.compile(r"coverage-baseline\.toml(:(\d+))?: \S")


CONFIG_ERROR = re.compile(r"pyproject\.toml(:(\d+))?: \S")


# Values of every TOML type, and the edge cases of each.
toml_scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, -1, 1, 100, 101, 10**18]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
)


toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


# Paths a baseline may hold, and paths it must refuse.
odd_segment = st.sampled_from(
    ["é", "名前", "a b", "it's", 'say "hi"', "a.b.c", ".hidden", "...", "-x", "#", "=", "[x]"]
)


odd_path = st.lists(odd_segment, min_size=1, max_size=3).map("/".join).map(lambda p: p + ".py")


bad_path = st.sampled_from(
    [
        "",
        "/etc/passwd",
        "C:/x.py",
        "../outside.py",
        "a/../../b.py",
        "./a.py",
        "a//b.py",
        "a/",
        "a\\b.py",
        "a\x00b.py",
        "a\nb.py",
        "a\x7fb.py",
    ]
)


def toml_value(value: object) -> str:
    """``value`` as inline TOML; nan and inf as TOML spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{quote(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


# Hostile text any TOML file may be given: nesting deeper than a recursive
# parser goes, integers longer than Python converts, control characters in
# keys and names, a byte-order mark.
@st.composite
def hostile_toml(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["array", "inline", "integer", "key", "string", "bom"]))
    depth = draw(st.integers(1, 2000))
    if kind == "array":
        return "x = " + "[" * depth + "]" * depth + "\n"
    if kind == "inline":
        return "x = " + "{a = " * depth + "1" + "}" * depth + "\n"
    if kind == "integer":
        return f"x = {draw(st.sampled_from(['', '-']))}{'9' * draw(st.integers(1, 6000))}\n"
    controls = st.text(st.characters(max_codepoint=0x9F, categories=["Cc"]), min_size=1)
    if kind == "key":
        return f"{quote(draw(controls))} = 1\n"
    if kind == "string":
        return f"tier = {quote(draw(controls))}\n"
    return "\ufeff"


def with_hostile(draw: st.DrawFn, text: str) -> str:
    """``text`` with hostile TOML put at the start, at the end, or in a table."""
    hostile = draw(hostile_toml())
    if hostile == "\ufeff":
        return hostile + text
    where = draw(st.sampled_from(["start", "end", "table"]))
    if where == "start":
        return hostile + text
    if where == "end":
        return text + hostile
    at = text.find("\n[", 1)
    return text if at < 0 else text[: at + 1] + hostile + text[at + 1 :]


@st.composite
def baseline_inputs(draw: st.DrawFn) -> str:
    """A baseline as written by us, then damaged in one of the ways people do."""
    baseline = draw(baselines())
    if draw(st.booleans()):
        entry = Entry(draw(numbers(baseline.branch)))
        baseline = replace(baseline, files={**baseline.files, draw(odd_path): entry})
    text = dumps(baseline)
    lines = text.splitlines(keepends=True)
    how = draw(
        st.sampled_from(
            ["none", "truncate", "value", "line", "duplicate", "format", "path", "over", "hostile"]
        )
    )
    if how == "hostile":
        return with_hostile(draw, text)
    if how == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if how == "value":
        # Any value of any type in place of one of the numbers or strings.
        spots = [m.span(1) for m in re.finditer(r"= (\S+)", text)]
        if spots:
            start, end = draw(st.sampled_from(spots))
            return text[:start] + toml_value(draw(toml_values)) + text[end:]
    if how == "line" and lines:
        del lines[draw(st.integers(0, len(lines) - 1))]
        return "".join(lines)
    if how == "duplicate":
        tables: list[str] = re.findall(r"\n\[files\..*?(?=\n\n|\Z)", text, re.S)
        if tables:
            return text + draw(st.sampled_from(tables)) + "\n"
    if how == "format":
        return text.replace("format = 1", f"format = {draw(st.integers(-3, 10**6))}")
    if how == "path":
        bad = draw(bad_path)
        n = "statements = 1\ncovered = 1\n" + (
            "branches = 0\ncovered_branches = 0\n" * baseline.branch
        )
        return text + f"\n[files.{quote(bad)}]\n{n}"
    if how == "over":
        return re.sub(r"covered = (\d+)", lambda m: f"covered = {10**9}", text, count=1)
    return text


def _refused_in_one_line(error: RatchetError, form: re.Pattern[str]) -> str:
    """The message of an input error, checked: exit 2, ``file(:line)?: problem``."""
    assert error.exit_code == errors.USAGE
    assert form.match(error.message), error.message
    return error.message


def judge_baseline(text: str) -> Baseline | str:
    """The loaded baseline, or the error line; anything else is a failure."""
    try:
        return loads(text)
    except RatchetError as e:
        error = e
    assert "\n" not in error.message.split(": not valid TOML: ")[0]
    return _refused_in_one_line(error, BASELINE_ERROR)


# Every key but the tiers (generated apart), and one unknown key.
CONFIG_KEYS = [*sorted(config_keys - {"tiers"}), "colour"]


@st.composite
def config_inputs(draw: st.DrawFn) -> str:
    """A ``pyproject.toml`` whose ``[tool.ratchet]`` holds anything."""
    keys = draw(st.lists(st.sampled_from(CONFIG_KEYS), unique=True, max_size=4))
    lines = ["[project]", 'name = "x"', "", "[tool.ratchet]"]
    for key in keys:
        value = draw(st.one_of(toml_values, bad_path, odd_path))
        lines.append(f"{key} = {toml_value(value)}")
    for _ in range(draw(st.integers(0, 2))):
        tier = draw(
            st.dictionaries(
                st.sampled_from(["name", "target", "min-statements", "max-statements", "size"]),
                toml_scalars,
            )
        )
        lines.append("[[tool.ratchet.tiers]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in tier.items()]
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    elif draw(st.integers(0, 4)) == 0:
        text = with_hostile(draw, text)
    return text


def judge_config(folder: Path, text: str) -> object:
    (folder / "pyproject.toml").write_text(text, "utf-8")
    try:
        return load_config(folder)
    except RatchetError as e:
        return _refused_in_one_line(e, CONFIG_ERROR)


json_scalars = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(max_size=6),
)


json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=5,
)


report_keys = st.one_of(
    st.sampled_from(["pkg/mod.py", "pkg/other.py", "", ".", "/", "pkg/", "../out.py"]),
    st.text(max_size=8),
    st.text(st.characters(categories=["Cc"]), min_size=1, max_size=3).map(lambda t: f"p{t}.py"),
)


@st.composite
def data_inputs(draw: st.DrawFn) -> str:
    """A ``coverage json`` report, right or damaged, as the text of a file."""
    import json

    files: dict[str, object] = {}
    for key in draw(st.lists(report_keys, max_size=4, unique=True)):
        statements = draw(st.integers(0, 50))
        entry: dict[str, object] = {
            "summary": {
                "num_statements": statements,
                "covered_lines": draw(st.integers(0, statements)),
            },
            "missing_lines": draw(st.lists(st.integers(1, 60), max_size=4)),
        }
        if draw(st.booleans()):
            # Any value of any type somewhere in the entry.
            spot = draw(st.sampled_from(["num_statements", "covered_lines", "missing_lines"]))
            target = entry if spot == "missing_lines" else entry["summary"]
            assert isinstance(target, dict)
            target[spot] = draw(json_values)
        files[key] = entry
    doc: object = {"meta": {"version": "7.0", "branch_coverage": False}, "files": files}
    if draw(st.integers(0, 9)) == 0:
        doc = draw(json_values)
    text = json.dumps(doc)
    damage = draw(st.sampled_from(["none", "none", "truncate", "nest", "integer"]))
    if damage == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if damage == "nest":
        depth = draw(st.integers(1, 200_000))
        return '{"a":' * depth + text + "}" * depth
    if damage == "integer":
        return text.replace("0", "9" * draw(st.integers(1, 6000)), 1)
    return text


DATA_ERROR = re.compile(r".*r\.json: \S")


def judge_data(folder: Path, text: str) -> object:
    """The measurement, or the error line; anything else is a failure."""
    from ratchet.measurement import load_json_report

    path = folder / "r.json"
    path.write_text(text, "utf-8")
    try:
        return load_json_report(path, folder)
    except RatchetError as e:
        error = e
    assert "\n" not in error.message
    return _refused_in_one_line(error, DATA_ERROR)
