"""``update`` and the merge driver keep what a user wrote in the baseline."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.baseline import Baseline, dumps, loads
from ratchet.baseline_edit import rewrite
from ratchet.cli import main
from testing.baselines import baseline_text, covered_of
from testing.project import TESTS, Project
from testing.strategies import baselines

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

UNUSED_TEST = "\n\ndef test_unused():\n    from pkg.mod import unused\n    assert unused(0) == 2\n"
HEADER = re.compile(r'^\[files\.(".*")\]$')
KEY = re.compile(r"^[a-z_-]+ = [^#]*$")  # A value line without a comment yet.


@st.composite
def commented(draw: st.DrawFn, text: str) -> tuple[str, dict[str, tuple[str | None, str | None]]]:
    """``text`` with comments of a user's: full lines before table headers, and
    after values.  Each comment, mapped to the file whose table it is about
    (None: the top of the file) and the key whose line it is on."""
    out: list[str] = []
    owners: dict[str, tuple[str | None, str | None]] = {}
    table: str | None = None
    for number, line in enumerate(text.split("\n")[:-1]):
        header = HEADER.match(line)
        if header and draw(st.booleans()):
            note = f"note {number} about the next table"
            out += [f"# {note}", ""] if draw(st.booleans()) else [f"# {note}"]
            owners[note] = (loads_path(header[1]), None)
        if header:
            table = loads_path(header[1])
        elif line.startswith("["):
            table = None
        if KEY.match(line) and draw(st.booleans()):
            note = f"note {number} on a value"
            line += f"  # {note}"
            owners[note] = (table, line.split(" = ")[0])
        out.append(line)
        if not line and draw(st.integers(0, 4)) == 0:
            out.append("")  # A blank line of the user's.
    return "\n".join(out) + "\n", owners


def loads_path(quoted: str) -> str:
    return str(tomllib.loads(f"p = {quoted}")["p"])


@settings(max_examples=200, deadline=None)
@given(st.data(), baselines(), baselines())
def test_a_rewrite_holds_the_new_numbers_and_keeps_every_comment_it_can(
    data: st.DataObject, old: Baseline, other: Baseline
) -> None:
    # The new baseline: old entries kept, changed or gone, and new ones.
    files = {}
    for path, entry in old.files.items():
        choice = data.draw(st.sampled_from(["keep", "change", "drop"]))
        if choice == "keep":
            files[path] = entry
        elif choice == "change" and other.files:
            files[path] = data.draw(st.sampled_from(list(other.files.values())))
    for path, entry in other.files.items():
        if path not in old.files and data.draw(st.booleans()):
            files[path] = entry
    if other.branch != old.branch:
        files = {p: e for p, e in files.items() if p in old.files and e == old.files[p]}
    new = Baseline(old.coverage_version, old.branch, files, old.overall_target, old.overall_start)
    text, owners = data.draw(commented(dumps(old)))
    assert loads(text) == old
    written, lost = rewrite(text, old, new)
    assert loads(written) == new
    kept = {note for note in owners if note in written}
    tables = tomllib.loads(dumps(new))
    for note, (owner, key) in owners.items():
        table = tables if owner is None else tables.get("files", {}).get(owner)
        if table is not None and (key is None or key in table):
            assert note in kept, (note, written)
    assert lost == len(owners) - len(kept)


def test_a_canonical_baseline_is_rewritten_byte_for_byte() -> None:
    text = dumps(Baseline("7.6.1", False, {}))
    assert rewrite(text, loads(text), loads(text)) == (text, 0)


def test_update_keeps_a_users_comments_and_blank_lines(baselined: Project) -> None:
    project = baselined
    text = project.read("coverage-baseline.toml")
    mine = "# Our team's baseline: raise it, never lower it.\n\n" + text.replace(
        '[files."pkg/mod.py"]', '# mod.py: see the plan in #12\n\n[files."pkg/mod.py"]'
    ).replace("statements = 8\n", "statements = 8  # counted by coverage.py\n")
    project.write("coverage-baseline.toml", mine)
    project.write("tests/test_mod.py", TESTS + UNUSED_TEST)
    result = project.ratchet("update")
    assert result.code == 0, result.err
    assert "could not be kept" not in result.out
    after = project.read("coverage-baseline.toml")
    assert after == (mine.replace("covered = 5  # 62.50%", "covered = 7  # 87.50%"))


def test_the_merge_driver_keeps_our_sides_comments(tmp_path: Path) -> None:
    base, ours, theirs = (tmp_path / n for n in ("base", "ours", "theirs"))
    base.write_text(baseline_text(a=1, b=1))
    mine = "# kept through merges\n" + baseline_text(a=2, b=1).replace(
        '[files."pkg/b.py"]', '# b is next\n[files."pkg/b.py"]'
    )
    ours.write_text(mine)
    theirs.write_text(baseline_text(a=1, b=3))
    assert main(["merge-driver", str(base), str(ours), str(theirs)]) == 0
    merged = ours.read_text()
    assert covered_of(merged) == {"pkg/a.py": 2, "pkg/b.py": 3}
    assert "# kept through merges\n" in merged
    assert '# b is next\n[files."pkg/b.py"]' in merged
