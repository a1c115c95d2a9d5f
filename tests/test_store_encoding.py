"""The test map's line sets survive encoding exactly, whatever their shape."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet import lastrun
from ratchet.encoded import decode, encode

lines = st.lists(st.integers(1, 2**40), unique=True).map(sorted)
arcs = st.lists(
    st.tuples(st.integers(-(2**20), 2**20), st.integers(-(2**20), 2**20)), unique=True
).map(lambda pairs: [n for pair in sorted(pairs) for n in pair])


@given(st.one_of(lines, arcs))
def test_round_trip(values: list[int]) -> None:
    assert decode(encode(values)) == values


def test_consecutive_lines_are_small() -> None:
    # A covered function body: consecutive lines, one byte each before compression.
    values = list(range(100, 1100))
    blob = encode(values)
    assert decode(blob) == values
    assert len(blob) < 64


@given(st.one_of(lines, arcs))
def test_lines_read_lazily_are_the_lines(values: list[int]) -> None:
    from ratchet.encoded import Lines

    lazy = Lines(encode(values))
    assert lazy == values
    assert lazy == tuple(values)
    assert list(lazy) == values
    assert len(lazy) == len(values)
    assert lazy[:3] == values[:3]
    assert encode(lazy) == encode(values)  # Written back as it was read: not re-encoded.
    assert lazy != [*values, 1]
    assert lazy == Lines(encode(values))


@given(st.one_of(lines, arcs))
def test_lines_the_test_process_packs_are_stored_as_encode_writes_them(
    values: list[int],
) -> None:
    # The plugin runs in the project's environment and packs without zlib;
    # ratchet compresses what it reads exactly as encode() would, so a set
    # from a recording and the same set carried by ratchet share one row.
    from base64 import b64decode

    from ratchet.encoded import canonical
    from ratchet.selection.plugin import pack_lines

    assert canonical(b64decode(pack_lines(values))) == encode(values)


@pytest.mark.parametrize("raw", [b"", b"x12", b"h123", b"z" + b"b" * 10])
def test_what_is_not_a_packed_encoding_is_refused(raw: bytes) -> None:
    from ratchet.encoded import canonical

    with pytest.raises(ValueError, match="not an uncompressed line encoding"):
        canonical(raw)


@pytest.mark.parametrize("text", ["not base64!", "eDEy", 7])
def test_a_recording_whose_lines_cannot_be_read_is_refused(text: object) -> None:
    # "eDEy" is base64, of no line encoding.
    from ratchet.selection.recording import RecordingError, from_outputs

    unit = {"lines": {"pkg/mod.py": text}, "opened": [], "imports": [], "opaque": False}
    out = {
        "ok": True,
        "core": "ctrace",
        "branch": False,
        "tests": {"tests/test_mod.py::test_add": unit},
        "fixtures": {},
        "imports": {},
        "modules": {},
        "session": {"lines": {}, "opened": [], "imports": [], "opaque": False},
        "collected": {},
        "import_order": [],
    }
    with pytest.raises(RecordingError, match="wrote lines that cannot be read"):
        from_outputs([out])


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.text(st.characters(blacklist_categories=["Cs"]), min_size=1) | st.just("a\udcff.py"),
        st.lists(st.integers(1, 10**6), unique=True).map(sorted),
        max_size=6,
    )
)
def test_a_last_run_record_reads_back_whole_and_not_cut(files: dict[str, list[int]]) -> None:
    """Each record of uncovered lines reads back as written; cut anywhere,
    or read under another key, it is none (a check then says "unknown")."""
    key = "ab" * 32
    raw = lastrun._pack(key, {path: encode(lines) for path, lines in files.items()})
    back = lastrun._unpack(key, raw)
    assert back is not None
    assert {path: list(lines) for path, lines in back.items()} == files
    assert lastrun._unpack("cd" * 32, raw) is None
    for cut in range(len(raw)):
        assert lastrun._unpack(key, raw[:cut]) is None
